/**
 * The FFI pump (DESIGN.md "The FFI pump"): one Bun Worker thread owns sendfile(2) for many sockets,
 * so the main event loop never blocks in a copy. Jobs go through a SharedArrayBuffer (slot states
 * moved with Atomics.compareExchange) and an eventfd wakes the worker's poll(); the worker posts the
 * slot number back when a job ends.
 */
import { close as closeFd, ErrnoError, eventfd, eventfdSignal } from './libc.ts';
import {
  pumpBuffer,
  pumpViews,
  SLOT_CANCELLED,
  SLOT_DONE,
  SLOT_DOUBLES,
  SLOT_FAILED,
  SLOT_FREE,
  SLOT_INTS,
  SLOT_SUBMITTED,
  type PumpViews,
} from './pump-shared.ts';

interface Pending {
  resolve: () => void;
  reject: (error: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

interface Queued {
  socketFd: number;
  fileFd: number;
  offset: number;
  length: number;
  pending: Pending;
}

export class PumpClosedError extends Error {
  override readonly name = 'PumpClosedError';
}

export interface PumpStats {
  active: number;
  queued: number;
  jobs: number;
  bytes: number;
}

export class Pump {
  private readonly worker: Worker;
  private readonly views: PumpViews;
  private readonly eventFd: number;
  private readonly pending = new Map<number, Pending>();
  private readonly free: number[] = [];
  private readonly queue: Queued[] = [];
  private closed = false;
  private exited: Promise<void>;
  private jobs = 0;
  private bytes = 0;

  constructor(readonly slots = 256) {
    const buffer = pumpBuffer(slots);
    this.views = pumpViews(buffer, slots);
    for (let s = slots - 1; s >= 0; s--) this.free.push(s);
    this.eventFd = eventfd();
    this.worker = new Worker(new URL('./pump-worker.ts', import.meta.url).href);
    let exited!: () => void;
    this.exited = new Promise<void>((r) => {
      exited = r;
    });
    this.worker.onmessage = (event: MessageEvent<number>) => {
      if (event.data === -1) exited();
      else this.settle(event.data);
    };
    this.worker.onerror = (event) => {
      const error = new Error(`pump worker failed: ${event.message}`);
      for (const [, p] of this.pending) p.reject(error);
      this.pending.clear();
      exited();
    };
    this.worker.postMessage({ buffer, slots, eventFd: this.eventFd });
    (this.worker as unknown as { unref(): void }).unref();
  }

  /** Hands bytes [offset, offset + length) of fileFd to socketFd; resolves when all are in the kernel. */
  sendfile(socketFd: number, fileFd: number, offset: number, length: number, signal?: AbortSignal): Promise<void> {
    if (this.closed) return Promise.reject(new PumpClosedError('pump is closed'));
    if (length === 0) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const pending: Pending = { resolve, reject, signal, onAbort: undefined };
      const slot = this.free.pop();
      if (slot === undefined) {
        const item: Queued = { socketFd, fileFd, offset, length, pending };
        this.queue.push(item);
        if (signal) {
          pending.onAbort = () => {
            const i = this.queue.indexOf(item);
            if (i >= 0) this.queue.splice(i, 1);
            reject(signal.reason);
          };
          signal.addEventListener('abort', pending.onAbort, { once: true });
        }
        return;
      }
      this.submit(slot, socketFd, fileFd, offset, length, pending);
    });
  }

  stats(): PumpStats {
    return { active: this.pending.size, queued: this.queue.length, jobs: this.jobs, bytes: this.bytes };
  }

  /** Stops the worker: active jobs reject; waits up to deadlineMs, then terminates the thread. */
  async close(deadlineMs = 1000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const q of this.queue.splice(0)) q.pending.reject(new PumpClosedError('pump closed'));
    Atomics.store(this.views.ctl, 0, 1);
    eventfdSignal(this.eventFd);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.exited, new Promise<void>((r) => (timer = setTimeout(r, deadlineMs)))]);
    clearTimeout(timer);
    this.worker.terminate();
    for (const [, p] of this.pending) p.reject(new PumpClosedError('pump closed'));
    this.pending.clear();
    closeFd(this.eventFd);
  }

  private submit(slot: number, socketFd: number, fileFd: number, offset: number, length: number, pending: Pending) {
    const { ints, nums } = this.views;
    const b = slot * SLOT_INTS;
    ints[b + 1] = socketFd;
    ints[b + 2] = fileFd;
    ints[b + 3] = 0;
    ints[b + 4] = 0;
    nums[slot * SLOT_DOUBLES] = offset;
    nums[slot * SLOT_DOUBLES + 1] = length;
    nums[slot * SLOT_DOUBLES + 2] = 0;
    this.pending.set(slot, pending);
    if (pending.signal) {
      const signal = pending.signal;
      pending.onAbort = () => {
        Atomics.store(ints, b + 3, 1);
        eventfdSignal(this.eventFd);
      };
      signal.addEventListener('abort', pending.onAbort, { once: true });
    }
    if (Atomics.compareExchange(ints, b, SLOT_FREE, SLOT_SUBMITTED) !== SLOT_FREE) {
      throw new Error(`pump slot ${slot} was not free`);
    }
    eventfdSignal(this.eventFd);
  }

  private settle(slot: number): void {
    const { ints, nums } = this.views;
    const b = slot * SLOT_INTS;
    const state = Atomics.load(ints, b);
    const pending = this.pending.get(slot);
    const sent = nums[slot * SLOT_DOUBLES + 2] ?? 0;
    const errno = ints[b + 4] ?? 0;
    if (state !== SLOT_DONE && state !== SLOT_FAILED && state !== SLOT_CANCELLED) return;
    Atomics.compareExchange(ints, b, state, SLOT_FREE);
    this.pending.delete(slot);
    this.jobs++;
    this.bytes += sent;
    if (pending) {
      if (pending.onAbort) pending.signal?.removeEventListener('abort', pending.onAbort);
      if (state === SLOT_DONE) pending.resolve();
      else if (state === SLOT_FAILED) pending.reject(new ErrnoError(errno, 'sendfile'));
      else pending.reject(pending.signal?.aborted ? pending.signal.reason : new PumpClosedError('pump closed'));
    }
    const next = this.closed ? undefined : this.queue.shift();
    if (next) {
      if (next.pending.onAbort) next.pending.signal?.removeEventListener('abort', next.pending.onAbort);
      next.pending.onAbort = undefined;
      this.submit(slot, next.socketFd, next.fileFd, next.offset, next.length, next.pending);
    } else this.free.push(slot);
  }
}
