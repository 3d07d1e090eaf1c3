/**
 * FIFO admission weighted by parts: every part of every file takes one of `limit` slots, and
 * parts are granted strictly in the order their files arrived. A file with more parts than the
 * limit is never starved: its parts sit ahead of every later file's.
 */
export type Release = () => void;

interface Waiter {
  grant: (release: Release) => void;
  cancel: (error: unknown) => void;
}

export class PartQueue {
  readonly limit: number;
  #active = 0;
  #waiting: Waiter[] = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`parallelism must be a whole number ≥ 1, got ${limit}`);
    this.limit = limit;
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Queues `count` slots for one file, in order. Returns one promise per slot; `cancel` drops the
   * file's slots that were not granted yet (their promises reject with `reason`).
   */
  enqueue(count: number): { slots: Promise<Release>[]; cancel: (reason: unknown) => void } {
    const mine: Waiter[] = [];
    const slots = Array.from(
      { length: count },
      () =>
        new Promise<Release>((grant, cancel) => {
          const waiter = { grant, cancel };
          mine.push(waiter);
          this.#waiting.push(waiter);
        }),
    );
    // Rejections of cancelled slots nobody awaits must not surface as unhandled.
    for (const slot of slots) slot.catch(() => {});
    this.#pump();
    return {
      slots,
      cancel: (reason) => {
        const dropped = new Set(mine);
        this.#waiting = this.#waiting.filter((w) => !dropped.has(w));
        for (const w of mine) w.cancel(reason);
      },
    };
  }

  #pump(): void {
    while (this.#active < this.limit && this.#waiting.length > 0) {
      const next = this.#waiting.shift()!;
      this.#active++;
      let released = false;
      next.grant(() => {
        if (released) return;
        released = true;
        this.#active--;
        this.#pump();
      });
    }
  }
}
