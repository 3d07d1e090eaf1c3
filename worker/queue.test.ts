import { describe, expect, test } from 'bun:test';
import { PartQueue, type Release } from './queue.ts';

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('PartQueue: FIFO admission weighted by parts', () => {
  test('grants at most `limit` slots; released slots go to the oldest waiting part', async () => {
    const queue = new PartQueue(2);
    const order: string[] = [];
    const a = queue.enqueue(3);
    const b = queue.enqueue(1);
    const releases = new Map<string, Release>();
    const track = (name: string) => (release: Release) => {
      order.push(name);
      releases.set(name, release);
    };
    for (const [i, slot] of a.slots.entries()) slot.then(track(`a${i}`));
    for (const [i, slot] of b.slots.entries()) slot.then(track(`b${i}`));
    await tick();
    expect(order).toEqual(['a0', 'a1']);
    expect(queue.active).toBe(2);
    expect(queue.waiting).toBe(2);
    releases.get('a0')!();
    releases.get('a0')!(); // a second release of the same slot is a no-op
    await tick();
    expect(order).toEqual(['a0', 'a1', 'a2']);
    expect(queue.active).toBe(2);
    releases.get('a1')!();
    await tick();
    expect(order).toEqual(['a0', 'a1', 'a2', 'b0']);
  });

  test('a file with more parts than the limit is not starved by later small files', async () => {
    const queue = new PartQueue(4);
    const big = queue.enqueue(10);
    let bigDone = 0;
    const smallGranted: number[] = [];
    const run = big.slots.map(async (slot) => {
      const release = await slot;
      await tick();
      bigDone++;
      release();
    });
    // Small files keep arriving while the big one runs: none may jump ahead of its parts.
    const smalls = Array.from({ length: 5 }, async () => {
      const { slots } = queue.enqueue(1);
      const release = await slots[0]!;
      smallGranted.push(bigDone);
      release();
    });
    await Promise.all([...run, ...smalls]);
    expect(bigDone).toBe(10);
    // Every small file got its slot only once all but the last in-flight big parts were granted.
    expect(Math.min(...smallGranted)).toBeGreaterThanOrEqual(10 - 4);
  });

  test("cancel drops the file's waiting slots (they reject) and frees the line for the next file", async () => {
    const queue = new PartQueue(1);
    const holder = queue.enqueue(1);
    const release = await holder.slots[0]!;
    const cancelled = queue.enqueue(3);
    const next = queue.enqueue(1);
    cancelled.cancel(new Error('queue timeout'));
    expect(cancelled.slots[1]).rejects.toThrow('queue timeout');
    expect(queue.waiting).toBe(1);
    release();
    const r = await next.slots[0]!;
    expect(queue.active).toBe(1);
    r();
    expect(queue.active).toBe(0);
  });

  test('refuses a limit below 1', () => {
    expect(() => new PartQueue(0)).toThrow('parallelism must be a whole number ≥ 1, got 0');
  });
});
