import { createHash, createHmac, randomBytes } from 'node:crypto';
import { expect, test } from 'vitest';
import { hmacSha256, PaddedTail, Sha256, sha256, toHex, wordsToBytes } from './sha256.ts';

const lengths = [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4096 + 7];

test('sha256 equals node:crypto at block and padding boundaries', () => {
  for (const n of lengths) {
    const data = randomBytes(n);
    expect(toHex(sha256(data))).toBe(createHash('sha256').update(data).digest('hex'));
  }
  expect(toHex(sha256('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('streaming updates in odd pieces', () => {
  const data = randomBytes(1000);
  const h = new Sha256();
  for (let i = 0; i < data.length; i += 37) h.update(data.subarray(i, i + 37));
  expect(toHex(h.digest())).toBe(createHash('sha256').update(data).digest('hex'));
});

test('a padded tail resumes from a midstate', () => {
  for (const prefixBlocks of [0, 1, 3]) {
    for (const n of lengths) {
      const prefix = randomBytes(prefixBlocks * 64);
      const tail = randomBytes(n);
      const mid = new Sha256().update(prefix);
      expect(mid.aligned).toBe(true);
      const out = new Int32Array(8);
      new PaddedTail(tail, prefix.length).digestInto(mid.state, out);
      expect(Buffer.from(wordsToBytes(out)).toString('hex')).toBe(
        createHash('sha256').update(prefix).update(tail).digest('hex'),
      );
    }
  }
  expect(() => new PaddedTail(new Uint8Array(1), 10)).toThrow(/whole blocks/);
});

test('hmacSha256 equals node:crypto, short and long keys', () => {
  for (const keyLength of [0, 1, 32, 64, 65, 200]) {
    const key = randomBytes(keyLength);
    const data = randomBytes(keyLength * 3 + 1);
    expect(toHex(hmacSha256(key, data))).toBe(createHmac('sha256', key).update(data).digest('hex'));
  }
});
