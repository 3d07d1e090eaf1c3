import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { maxPartSize, maxParts, minPartSize, partAt, planParts } from './plan.ts';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

describe('planParts', () => {
  test('zero bytes and sizes up to one part are a single PUT', () => {
    expect(planParts(0)).toEqual({ size: 0, partSize: minPartSize, partCount: 1 });
    expect(planParts(1)).toEqual({ size: 1, partSize: minPartSize, partCount: 1 });
    expect(planParts(5 * MiB)).toEqual({ size: 5 * MiB, partSize: 5 * MiB, partCount: 1 });
  });

  test('exact boundaries', () => {
    expect(planParts(5 * MiB + 1).partCount).toBe(2);
    expect(planParts(10 * MiB).partCount).toBe(2);
    expect(planParts(maxParts * minPartSize)).toEqual({ size: maxParts * minPartSize, partSize: minPartSize, partCount: maxParts });
    expect(planParts(100 * MiB, { partSize: maxPartSize }).partCount).toBe(1);
  });

  test('a requested part size outside 5 MiB – 5 GiB is a clear error', () => {
    expect(() => planParts(100, { partSize: 3 * MiB })).toThrow(
      'Cannot plan upload: part size 3 MiB is below the 5 MiB minimum',
    );
    expect(() => planParts(100, { partSize: 5 * GiB + 1 })).toThrow(/above the 5 GiB maximum/);
    expect(() => planParts(100, { partSize: 5 * MiB - 1 })).toThrow(/below the 5 MiB minimum/);
  });

  test('a legal part size that needs more than 10,000 parts is raised and says why', () => {
    const plan = planParts(maxParts * minPartSize + 1);
    expect(plan.partSize).toBe(6 * MiB);
    expect(plan.partCount).toBeLessThanOrEqual(maxParts);
    expect(plan.partSizeReason).toMatch(/raised from 5 MiB to 6 MiB.*10001 parts.*10000 limit/);
  });

  test('bad sizes and objects over the limit are refused', () => {
    expect(() => planParts(-1)).toThrow(/size must be a whole number of bytes ≥ 0, got -1/);
    expect(() => planParts(1.5)).toThrow(/got 1.5/);
    expect(() => planParts(5 * 2 ** 40 + 1)).toThrow(/above the 5 TiB object limit/);
    expect(() => planParts(2 * GiB, { maxObjectSize: GiB })).toThrow(/above the 1 GiB object limit/);
  });

  test('parts tile the object exactly within S3 limits (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5 * 2 ** 40 }),
        fc.integer({ min: minPartSize, max: maxPartSize }),
        (size, partSize) => {
          const plan = planParts(size, { partSize });
          expect(plan.partCount).toBeGreaterThanOrEqual(1);
          expect(plan.partCount).toBeLessThanOrEqual(maxParts);
          expect(plan.partSize).toBeGreaterThanOrEqual(partSize);
          expect(plan.partSize).toBeLessThanOrEqual(maxPartSize);
          const last = partAt(plan, plan.partCount);
          expect(last.offset + last.size).toBe(size);
          expect(last.size).toBeGreaterThanOrEqual(plan.partCount === 1 ? 0 : 1);
          expect(last.size).toBeLessThanOrEqual(plan.partSize);
          if (plan.partCount > 1) expect(partAt(plan, 2).offset).toBe(plan.partSize);
          if (plan.partSize !== partSize) expect(Math.ceil(size / partSize)).toBeGreaterThan(maxParts);
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('partAt rejects part numbers outside the plan', () => {
    const plan = planParts(12 * MiB);
    expect(partAt(plan, 3)).toEqual({ partNumber: 3, offset: 10 * MiB, size: 2 * MiB });
    expect(() => partAt(plan, 0)).toThrow('Part number must be 1 to 3, got 0');
    expect(() => partAt(plan, 4)).toThrow('Part number must be 1 to 3, got 4');
  });
});
