import { execFileSync } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compress, initialState } from '../sha256.ts';
import { loadSha256x4, type Sha256x4 } from './index.ts';

const here = new URL('.', import.meta.url).pathname;
const simd = loadSha256x4();

function midstate(prefix: Uint8Array): Int32Array {
  const state = Int32Array.from(initialState);
  for (let off = 0; off < prefix.length; off += 64) compress(state, prefix, off);
  return state;
}

const tailLengths = [0, 1, 55, 56, 63, 64, 65, 119, 120, 183, 300];

describe('sha256x4', () => {
  it('compiles here (Node has WASM SIMD)', () => {
    expect(simd).toBeDefined();
  });
  const h = simd as Sha256x4;

  for (const prefixLen of [0, 64, 192]) {
    for (const tailLen of tailLengths) {
      it(`4 lanes after a ${prefixLen}-byte prefix with ${tailLen}-byte tails equal node:crypto`, () => {
        const prefix = randomBytes(prefixLen);
        const tails = [0, 1, 2, 3].map(() => randomBytes(tailLen));
        const got = h.sha256x4(midstate(prefix), prefixLen, tails);
        const want = tails.map((t) => createHash('sha256').update(prefix).update(t).digest('hex'));
        expect(got).toEqual(want);
      });
    }
  }

  it('keeps lanes apart: one changed byte changes only its lane', () => {
    const tails = [0, 1, 2, 3].map(() => new Uint8Array(100).fill(7));
    tails[2]![99] = 8;
    const got = h.sha256x4(Int32Array.from(initialState), 0, tails);
    expect(got[0]).toBe(got[1]);
    expect(got[1]).toBe(got[3]);
    expect(got[2]).not.toBe(got[0]);
  });
});

// The SigV4 chain the presigner needs, built the slow way with node:crypto.
function chainCase(stsPrefixLen: number, prefixLenA: number) {
  const signingKey = randomBytes(32);
  const canonicalPrefix = randomBytes(prefixLenA);
  const stsPrefix = new TextEncoder().encode(
    'AWS4-HMAC-SHA256\n20260101T000000Z\n20260101/us-east-1/s3/aws4_request\n'.padEnd(stsPrefixLen, 'x'),
  ).subarray(0, stsPrefixLen);
  const pad = (x: number) => Uint8Array.from({ length: 64 }, (_, i) => (signingKey[i] ?? 0) ^ x);
  const whole = Math.floor(stsPrefix.length / 64) * 64;
  const inner = new Uint8Array(64 + whole);
  inner.set(pad(0x36));
  inner.set(stsPrefix.subarray(0, whole), 64);
  const constants = {
    midA: midstate(canonicalPrefix),
    prefixLenA,
    midB: midstate(inner),
    prefixLenB: inner.length,
    stsRest: stsPrefix.slice(whole),
    midC: midstate(pad(0x5c)),
  };
  const expected = (tail: Uint8Array) => {
    const h1 = createHash('sha256').update(canonicalPrefix).update(tail).digest('hex');
    return createHmac('sha256', signingKey).update(stsPrefix).update(h1).digest('hex');
  };
  return { constants, expected };
}

describe('presignChain', () => {
  const h = simd as Sha256x4;
  for (const stsPrefixLen of [0, 55, 56, 63, 64, 90, 127, 200]) {
    for (const tailLen of [0, 56, 64, 119, 183, 300]) {
      it(`string-to-sign prefix ${stsPrefixLen} B, tails ${tailLen} B: HMAC-SHA256 equals node:crypto`, () => {
        const { constants, expected } = chainCase(stsPrefixLen, 128);
        h.setChain(constants);
        const tails = Array.from({ length: 6 }, () => randomBytes(tailLen));
        expect(h.presignHex(tails)).toEqual(tails.map(expected));
      });
    }
  }

  for (const n of [1, 3, 4, 5, 8, 13, 1000]) {
    it(`a batch of ${n} lanes signs each lane correctly`, () => {
      const { constants, expected } = chainCase(100, 256);
      h.setChain(constants);
      const tails = Array.from({ length: n }, (_, i) =>
        new TextEncoder().encode(`partNumber=${String(i).padStart(4, '0')}&uploadId=${'u'.repeat(150)}\nhost:localhost\n`),
      );
      const got = h.presignHex(tails);
      expect(got).toHaveLength(n);
      for (const lane of [0, n >> 1, n - 1]) expect(got[lane]).toBe(expected(tails[lane]!));
      expect(new Set(got).size).toBe(n);
    });
  }

  for (const [digitsAt, digits, suffixLen] of [
    [0, 1, 30],
    [11, 4, 124],
    [62, 5, 300],
    [63, 3, 1],
  ] as const) {
    it(`presignParts: ${digits}-digit part numbers at byte ${digitsAt} of a ${digitsAt + digits + suffixLen}-byte tail`, () => {
      const { constants, expected } = chainCase(90, 192);
      h.setChain(constants);
      const template = new Uint8Array(randomBytes(digitsAt + digits + suffixLen));
      h.setTail(template, digitsAt, digits);
      const numbers = Array.from({ length: 1100 }, (_, i) => 10 ** (digits - 1) + ((i * 37) % (9 * 10 ** (digits - 1))));
      const tailOf = (n: number) => {
        const tail = template.slice();
        tail.set(new TextEncoder().encode(String(n)), digitsAt);
        return tail;
      };
      for (const [from, to] of [[0, 1], [3, 10], [100, 1100]] as const) {
        const hex = h.presignParts(numbers, from, to);
        expect(hex).toHaveLength(64 * (to - from));
        for (const i of [from, to - 1, (from + to) >> 1]) expect(hex.slice(64 * (i - from), 64 * (i - from + 1))).toBe(expected(tailOf(numbers[i]!)));
      }
      expect(() => h.presignParts(numbers, 0, 1025)).toThrow(/1 to 1024 parts, got 1025/);
    });
  }

  it('rejects constants it cannot handle', () => {
    const { constants } = chainCase(100, 128);
    expect(() => h.setChain({ ...constants, stsRest: new Uint8Array(64) })).toThrow(/< 64 bytes/);
    expect(() => h.setChain({ ...constants, prefixLenA: 100 })).toThrow(/multiples of 64/);
  });

  it('takes a precompiled module (how workerd passes one imported at bundle time)', () => {
    const module = new WebAssembly.Module(readFileSync(join(here, 'sha256x4.wasm')));
    const fromModule = loadSha256x4(module)!;
    const tails = [0, 1, 2, 3].map(() => randomBytes(70));
    expect(fromModule.sha256x4(Int32Array.from(initialState), 0, tails)).toEqual(
      tails.map((t) => createHash('sha256').update(t).digest('hex')),
    );
  });

  it('returns undefined instead of throwing when the module cannot be used', () => {
    // Stands in for a refused compile (workerd without a bundled module): the caller goes scalar.
    expect(loadSha256x4({} as WebAssembly.Module)).toBeUndefined();
  });
});

const hasWat2wasm = (() => {
  try {
    execFileSync('wat2wasm', ['--version']);
    return true;
  } catch {
    // Not installed (apt-get install wabt): the committed bytes are used as they are.
    return false;
  }
})();

describe('committed build output', () => {
  it.skipIf(!hasWat2wasm)('sha256x4.wat/.wasm/.base64.ts are what build.sh makes from emit-wat.ts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sha256x4-'));
    try {
      execFileSync('bash', [join(here, 'build.sh'), dir]);
      for (const name of ['sha256x4.wat', 'sha256x4.wasm', 'sha256x4.base64.ts']) {
        expect(readFileSync(join(dir, name)).equals(readFileSync(join(here, name))), name).toBe(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
