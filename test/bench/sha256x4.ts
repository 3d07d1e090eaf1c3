/**
 * SigV4 presign chains/s (canonical request → string-to-sign → HMAC, from cached midstates) with
 * the WASM SIMD kernel (functions/s3/simd) against a plain-JS scalar chain over the same midstates
 * and against node:crypto (createHash + createHmac per URL, no midstates), and the Presigner's own
 * call (`presignParts`: part numbers written and shared tail blocks expanded once in the module).
 * Same run, warm-up, 3 repetitions, best reported. Run: `node_modules/.bin/tsx test/bench/sha256x4.ts`
 * (Node) and `node_modules/.bin/bun test/bench/sha256x4.ts` (Bun). Last line: one JSON object.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { K } from '../../functions/s3/sha256.ts';
import { loadSha256x4 } from '../../functions/s3/simd/index.ts';

const runtime = typeof Bun !== 'undefined' ? `bun ${Bun.version}` : `node ${process.version}`;
const seconds = Number(process.env.BENCH_SECONDS ?? 0.7);

// ---- minimal scalar SHA-256 with midstates (the comparison baseline) ----
const IV = Int32Array.from([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);
const W = new Int32Array(64);
function compress(s: Int32Array, b: Uint8Array, o: number): void {
  const w = W;
  for (let i = 0; i < 16; i++, o += 4) w[i] = (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15]!;
    const y = w[i - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
  }
  let a = s[0]!, bb = s[1]!, c = s[2]!, d = s[3]!, e = s[4]!, f = s[5]!, g = s[6]!, h = s[7]!;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & bb) ^ (a & c) ^ (bb & c))) | 0;
    h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = bb; bb = a; a = (t1 + t2) | 0;
  }
  s[0] = (s[0]! + a) | 0; s[1] = (s[1]! + bb) | 0; s[2] = (s[2]! + c) | 0; s[3] = (s[3]! + d) | 0;
  s[4] = (s[4]! + e) | 0; s[5] = (s[5]! + f) | 0; s[6] = (s[6]! + g) | 0; s[7] = (s[7]! + h) | 0;
}
function midstate(prefix: Uint8Array): Int32Array {
  const s = Int32Array.from(IV);
  for (let o = 0; o < prefix.length; o += 64) compress(s, prefix, o);
  return s;
}
function padInto(buf: Uint8Array, len: number, total: number): number {
  const end = (len + 72) & ~63;
  buf.fill(0, len, end);
  buf[len] = 0x80;
  const bits = total * 8;
  buf[end - 4] = bits >>> 24; buf[end - 3] = bits >>> 16; buf[end - 2] = bits >>> 8; buf[end - 1] = bits;
  return end;
}
const HEX = new TextEncoder().encode('0123456789abcdef');
function hexInto(s: Int32Array, out: Uint8Array, o: number): void {
  for (let i = 0; i < 8; i++) for (let j = 28; j >= 0; j -= 4) out[o++] = HEX[(s[i]! >>> j) & 15]!;
}

// ---- one realistic chain: UploadPart canonical request tail ~ 200 bytes ----
const encoder = new TextEncoder();
const signingKey = randomBytes(32);
const uploadId = 'Ax8' + 'q'.repeat(60);
const canonicalPrefix = encoder.encode('PUT\n/bucket/some/key/object.fits\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&'.padEnd(192, 'x')).subarray(0, 192);
const tailFor = (part: number) => encoder.encode(`partNumber=${part}&uploadId=${uploadId}\nhost:s3.us-east-1.example.org\n\nhost\nUNSIGNED-PAYLOAD`);
const tailLen = tailFor(1000).length;
const sts = encoder.encode('AWS4-HMAC-SHA256\n20260101T000000Z\n20260101/us-east-1/s3/aws4_request\n');
const whole = sts.length & ~63;
const pad = (x: number) => Uint8Array.from({ length: 64 }, (_, i) => (signingKey[i] ?? 0) ^ x);
const midInner = new Uint8Array(64 + whole);
midInner.set(pad(0x36));
midInner.set(sts.subarray(0, whole), 64);
const chain = {
  midA: midstate(canonicalPrefix),
  prefixLenA: canonicalPrefix.length,
  midB: midstate(midInner),
  prefixLenB: midInner.length,
  stsRest: sts.slice(whole),
  midC: midstate(pad(0x5c)),
};

function bench(name: string, perCall: number, fn: () => void): number {
  let best = 0;
  for (let rep = 0; rep < 4; rep++) {
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < seconds * 1000) {
      fn();
      n += perCall;
      t = performance.now();
    }
    if (rep > 0) best = Math.max(best, (n / (t - t0)) * 1000); // rep 0 is warm-up
  }
  console.log(`${name.padEnd(44)} ${Math.round(best).toLocaleString('en-US').padStart(12)} chains/s`);
  return best;
}

const batch = 1000; // part numbers 1000–1999: one digit count, equal tails
const results: Record<string, number> = {};
const expected = createHmac('sha256', signingKey).update(sts).update(createHash('sha256').update(canonicalPrefix).update(tailFor(1000)).digest('hex')).digest('hex');

// scalar JS chain over the same midstates
const sA = new Int32Array(8), sB = new Int32Array(8), sC = new Int32Array(8);
const bufA = new Uint8Array(512), bufB = new Uint8Array(192), bufC = new Uint8Array(64), outS = new Uint8Array(64);
bufB.set(chain.stsRest);
padInto(bufB, chain.stsRest.length + 64, chain.prefixLenB + chain.stsRest.length + 64);
padInto(bufC, 32, 96);
const tails = Array.from({ length: batch }, (_, i) => tailFor(1000 + i));
function scalarChain(tail: Uint8Array): void {
  sA.set(chain.midA);
  bufA.set(tail);
  const endA = padInto(bufA, tail.length, chain.prefixLenA + tail.length);
  for (let o = 0; o < endA; o += 64) compress(sA, bufA, o);
  hexInto(sA, bufB, chain.stsRest.length);
  sB.set(chain.midB);
  for (let o = 0; o < bufB.length && o < ((chain.stsRest.length + 64 + 72) & ~63); o += 64) compress(sB, bufB, o);
  for (let i = 0; i < 8; i++) {
    const x = sB[i]!;
    bufC[4 * i] = x >>> 24; bufC[4 * i + 1] = x >>> 16; bufC[4 * i + 2] = x >>> 8; bufC[4 * i + 3] = x;
  }
  sC.set(chain.midC);
  compress(sC, bufC, 0);
  hexInto(sC, outS, 0);
}
scalarChain(tails[0]!);
if (new TextDecoder().decode(outS) !== expected) throw new Error('scalar chain is wrong');
results['scalar JS (midstates)'] = bench('scalar JS chain (midstates)', batch, () => {
  for (const t of tails) scalarChain(t);
});

results['node:crypto'] = bench('node:crypto createHash + createHmac', 200, () => {
  for (let i = 0; i < 200; i++) {
    const h1 = createHash('sha256').update(canonicalPrefix).update(tails[i]!).digest('hex');
    createHmac('sha256', signingKey).update(sts).update(h1).digest('hex');
  }
});

const simd = loadSha256x4();
if (!simd) throw new Error('WASM SIMD did not load');
simd.setChain(chain);
if (simd.presignHex(tails)[0] !== expected) throw new Error('SIMD chain is wrong');
simd.reserve(batch, tailLen);
// kernel only: tails already in memory (the kernel rewrites only the padding after them)
results['wasm simd kernel'] = bench('WASM SIMD x4 kernel only', batch, () => simd.presignChain(batch, tailLen));
// what a presigner pays: write each tail's bytes, run the kernel, read the 64 hex chars as strings
const decoder = new TextDecoder();
let sink = '';
results['wasm simd + tails + strings'] = bench('WASM SIMD x4 + tail writes + hex strings', batch, () => {
  const bytes = simd.bytes;
  for (let i = 0; i < batch; i++) bytes.set(tails[i]!, simd.tailOffset(i, tailLen));
  simd.presignChain(batch, tailLen);
  const out = simd.outputOffset(batch, tailLen, 0);
  for (let i = 0; i < batch; i++) sink = decoder.decode(bytes.subarray(out + 64 * i, out + 64 * i + 64));
});
if (sink.length !== 64) throw new Error('no output');
// what the Presigner calls: the module writes the part numbers into the tails, hashes the blocks
// after them (the same in every lane) from one expanded schedule, and returns the hex as one string
const numbers = Array.from({ length: batch }, (_, i) => 1000 + i);
const template = tailFor(1000);
simd.setTail(template, template.indexOf(49 /* '1' of 1000 */), 4);
if (simd.presignParts(numbers, 0, 1).slice(0, 64) !== expected) throw new Error('presignParts is wrong');
results['wasm simd presignParts'] = bench('WASM SIMD x4 presignParts (Presigner path)', batch, () => {
  sink = simd.presignParts(numbers, 0, batch);
});
const ratio = (results['wasm simd + tails + strings'] ?? 0) / (results['scalar JS (midstates)'] ?? 1);
console.log(`SIMD (with I/O) / scalar JS: ${ratio.toFixed(2)}x`);
console.log(JSON.stringify({ runtime, tailLen, batch, ...Object.fromEntries(Object.entries(results).map(([k, v]) => [k, Math.round(v)])) }));
