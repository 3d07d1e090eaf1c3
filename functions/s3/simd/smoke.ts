/**
 * Runtime smoke test with Web APIs only (WebCrypto as the oracle), for the runtimes vitest does not
 * cover: `node_modules/.bin/bun functions/s3/simd/smoke.ts`,
 * `node_modules/.bin/deno run functions/s3/simd/smoke.ts`. Exits non-zero on any mismatch.
 */
import { compress, initialState } from '../sha256.ts';
import { loadSha256x4 } from './index.ts';

const hex = (buf: ArrayBuffer): string => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
const text = (s: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(s);
const concat = (...parts: Uint8Array[]): Uint8Array<ArrayBuffer> => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
};
function midstate(prefix: Uint8Array): Int32Array {
  const state = Int32Array.from(initialState);
  for (let off = 0; off < prefix.length; off += 64) compress(state, prefix, off);
  return state;
}

const simd = loadSha256x4();
if (!simd) throw new Error('WASM SIMD module did not load on this runtime');

// Plain SHA-256 of 4 messages behind a 128-byte prefix, tails across block boundaries.
const prefix = text('p'.repeat(128));
for (const tailLen of [0, 55, 56, 64, 119, 300]) {
  const tails = [0, 1, 2, 3].map((i) => text(String.fromCharCode(97 + i).repeat(tailLen)));
  const got = simd.sha256x4(midstate(prefix), prefix.length, tails);
  for (const [i, tail] of tails.entries()) {
    const want = hex(await crypto.subtle.digest('SHA-256', concat(prefix, tail)));
    if (got[i] !== want) throw new Error(`sha256x4 lane ${i}, tail ${tailLen} B: ${got[i]} != ${want}`);
  }
}

// The presign chain against WebCrypto HMAC.
const signingKey = crypto.getRandomValues(new Uint8Array(32));
const stsPrefix = text('AWS4-HMAC-SHA256\n20260101T000000Z\n20260101/us-east-1/s3/aws4_request\n');
const pad = (x: number) => Uint8Array.from({ length: 64 }, (_, i) => (signingKey[i] ?? 0) ^ x);
const whole = stsPrefix.length & ~63;
simd.setChain({
  midA: midstate(prefix),
  prefixLenA: prefix.length,
  midB: midstate(concat(pad(0x36), stsPrefix.subarray(0, whole))),
  prefixLenB: 64 + whole,
  stsRest: stsPrefix.slice(whole),
  midC: midstate(pad(0x5c)),
});
const hmacKey = await crypto.subtle.importKey('raw', signingKey, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
const tails = Array.from({ length: 9 }, (_, i) => text(`partNumber=${i + 1}&uploadId=abc\nhost:localhost\n\nhost\nUNSIGNED-PAYLOAD`));
const got = simd.presignHex(tails);
for (const [i, tail] of tails.entries()) {
  const h1 = hex(await crypto.subtle.digest('SHA-256', concat(prefix, tail)));
  const want = hex(await crypto.subtle.sign('HMAC', hmacKey, concat(stsPrefix, text(h1))));
  if (got[i] !== want) throw new Error(`presignChain lane ${i}: ${got[i]} != ${want}`);
}
console.log('sha256x4 smoke ok');
