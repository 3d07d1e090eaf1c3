/**
 * Part planning (DESIGN.md "Part planning"): parts of 5 MiB – 5 GiB, at most 10,000 of them, the
 * last one may be smaller. A requested part size outside the range is the caller's error; a legal
 * one that would need more than 10,000 parts is raised to the smallest that fits, and says why.
 */
import { InvalidInput } from './errors.ts';
import { formatSize } from './units.ts';

export const minPartSize = 5 * 2 ** 20;
export const maxPartSize = 5 * 2 ** 30;
export const maxParts = 10_000;
export const defaultMaxObjectSize = 5 * 2 ** 40;

export interface PartPlan {
  size: number;
  partSize: number;
  /** 1 for an object that goes as a single PUT (size ≤ partSize, zero included). */
  partCount: number;
  /** Present when the requested part size had to be raised to stay within 10,000 parts. */
  partSizeReason?: string;
}

export interface Part {
  partNumber: number;
  offset: number;
  size: number;
}

export function planParts(size: number, options: { partSize?: number; maxObjectSize?: number } = {}): PartPlan {
  const maxObjectSize = options.maxObjectSize ?? defaultMaxObjectSize;
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new InvalidInput('InvalidSize', `Cannot plan upload: size must be a whole number of bytes ≥ 0, got ${size}`);
  }
  if (size > maxObjectSize) {
    throw new InvalidInput(
      'EntityTooLarge',
      `Cannot plan upload: size ${formatSize(size)} is above the ${formatSize(maxObjectSize)} object limit`,
    );
  }
  const requested = options.partSize ?? minPartSize;
  if (!Number.isSafeInteger(requested)) {
    throw new InvalidInput('InvalidPartSize', `Cannot plan upload: part size must be a whole number of bytes, got ${requested}`);
  }
  if (requested < minPartSize) {
    throw new InvalidInput(
      'InvalidPartSize',
      `Cannot plan upload: part size ${formatSize(requested)} is below the ${formatSize(minPartSize)} minimum`,
    );
  }
  if (requested > maxPartSize) {
    throw new InvalidInput(
      'InvalidPartSize',
      `Cannot plan upload: part size ${formatSize(requested)} is above the ${formatSize(maxPartSize)} maximum`,
    );
  }
  let partSize = requested;
  let partSizeReason: string | undefined;
  if (Math.ceil(size / partSize) > maxParts) {
    // Smallest size that fits, rounded up to a whole MiB so offsets stay page aligned.
    partSize = Math.ceil(size / maxParts / 2 ** 20) * 2 ** 20;
    partSizeReason = `part size raised from ${formatSize(requested)} to ${formatSize(partSize)}: ${formatSize(size)} in ${formatSize(requested)} parts would need ${Math.ceil(size / requested)} parts, above the ${maxParts} limit`;
  }
  const partCount = Math.max(1, Math.ceil(size / partSize));
  return partSizeReason === undefined ? { size, partSize, partCount } : { size, partSize, partCount, partSizeReason };
}

/** Part `partNumber` (1-based) of a plan. */
export function partAt(plan: PartPlan, partNumber: number): Part {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > plan.partCount) {
    throw new InvalidInput('InvalidPartNumber', `Part number must be 1 to ${plan.partCount}, got ${partNumber}`);
  }
  const offset = (partNumber - 1) * plan.partSize;
  return { partNumber, offset, size: Math.min(plan.partSize, plan.size - offset) };
}
