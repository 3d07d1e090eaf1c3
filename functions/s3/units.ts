/**
 * Sizes and durations as s3nd's settings write them: sizes `5Mi`, `100MiB`, `64Ki`, `1G`, `123`;
 * durations in Go's syntax `10s`, `1m30s`, `250ms`, `1.5h` (a bare number means seconds).
 */
import { InvalidInput } from './errors.ts';

const sizeUnits: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  ki: 2 ** 10,
  kib: 2 ** 10,
  mi: 2 ** 20,
  mib: 2 ** 20,
  gi: 2 ** 30,
  gib: 2 ** 30,
  ti: 2 ** 40,
  tib: 2 ** 40,
};

const sizePattern = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/;

/** Bytes in a size such as `5Mi` (binary), `5M` (decimal) or `5242880`. */
export function parseSize(text: string, name = 'size'): number {
  const m = sizePattern.exec(text);
  const unit = m ? sizeUnits[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new InvalidInput(
      'InvalidSize',
      `Invalid ${name} ${JSON.stringify(text)}: expected a byte count with an optional unit, e.g. 5242880, 5Mi, 100MiB, 1G`,
    );
  }
  const bytes = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new InvalidInput('InvalidSize', `Invalid ${name} ${JSON.stringify(text)}: too large`);
  return bytes;
}

const durationUnits: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600, d: 86400 };
const durationPattern = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/y;

/** Seconds in a Go-style duration such as `10s`, `1m30s`, `250ms`; a bare number is seconds. */
export function parseDuration(text: string, name = 'duration'): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  let seconds = 0;
  durationPattern.lastIndex = 0;
  let matched = 0;
  while (durationPattern.lastIndex < trimmed.length) {
    const m = durationPattern.exec(trimmed);
    if (!m) break;
    seconds += Number(m[1]) * durationUnits[m[2]!]!;
    matched = durationPattern.lastIndex;
  }
  if (trimmed === '' || matched !== trimmed.length) {
    throw new InvalidInput(
      'InvalidDuration',
      `Invalid ${name} ${JSON.stringify(text)}: expected a duration such as 10s, 1m30s, 250ms or 1h`,
    );
  }
  return seconds;
}

const binaryUnits = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** `5 MiB`, `1.5 GiB`, `0 B`: for messages. */
export function formatSize(bytes: number): string {
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < binaryUnits.length - 1) {
    value /= 1024;
    i++;
  }
  const text = Number.isInteger(value) ? String(value) : value.toFixed(value < 10 ? 2 : 1).replace(/\.?0+$/, '');
  return `${text} ${binaryUnits[i]}`;
}
