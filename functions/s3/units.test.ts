import { describe, expect, test } from 'vitest';
import { formatSize, parseDuration, parseSize } from './units.ts';

describe('parseSize', () => {
  test.each([
    ['123', 123],
    ['5Mi', 5 * 2 ** 20],
    ['100MiB', 100 * 2 ** 20],
    ['64Ki', 65536],
    ['1G', 1e9],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['0', 0],
    [' 8 mib ', 8 * 2 ** 20],
  ])('%s', (text, bytes) => expect(parseSize(text)).toBe(bytes));

  test('bad sizes say what was expected', () => {
    expect(() => parseSize('5 parsecs', 'S3ND_UPLOAD_PARTSIZE')).toThrow(
      'Invalid S3ND_UPLOAD_PARTSIZE "5 parsecs": expected a byte count with an optional unit, e.g. 5242880, 5Mi, 100MiB, 1G',
    );
    expect(() => parseSize('-1')).toThrow(/Invalid size "-1"/);
    expect(() => parseSize('')).toThrow();
  });
});

describe('parseDuration', () => {
  test.each([
    ['10s', 10],
    ['1m30s', 90],
    ['250ms', 0.25],
    ['1h', 3600],
    ['1.5h', 5400],
    ['5', 5],
    ['0', 0],
    ['2d', 172800],
  ])('%s', (text, seconds) => expect(parseDuration(text)).toBeCloseTo(seconds, 9));

  test('bad durations say what was expected', () => {
    expect(() => parseDuration('10 sec', 'S3ND_QUEUE_TIMEOUT')).toThrow(
      'Invalid S3ND_QUEUE_TIMEOUT "10 sec": expected a duration such as 10s, 1m30s, 250ms or 1h',
    );
    expect(() => parseDuration('s')).toThrow();
    expect(() => parseDuration('')).toThrow();
    expect(() => parseDuration('10x')).toThrow();
  });
});

test('formatSize', () => {
  expect(formatSize(0)).toBe('0 B');
  expect(formatSize(3 * 2 ** 20)).toBe('3 MiB');
  expect(formatSize(1.5 * 2 ** 30)).toBe('1.5 GiB');
  expect(formatSize(5 * 2 ** 40)).toBe('5 TiB');
  expect(formatSize(1023)).toBe('1023 B');
});
