/**
 * SHA-256 in plain TypeScript with access to midstates, for the bulk presigner: a constant prefix
 * is hashed once, and each URL only compresses the blocks that differ. Web-standard only, no
 * allocation in `compress`.
 */

/** SHA-256 round constants (FIPS 180-4 §4.2.2). */
export const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

export const initialState: Readonly<Int32Array> = Int32Array.from([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

const W = new Int32Array(64);

/** Compresses the 64-byte block at `bytes[offset…]` into `state`. */
export function compress(state: Int32Array, bytes: Uint8Array, offset: number): void {
  const w = W;
  for (let i = 0, j = offset; i < 16; i++, j += 4) {
    w[i] = (bytes[j]! << 24) | (bytes[j + 1]! << 16) | (bytes[j + 2]! << 8) | bytes[j + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15]!;
    const y = w[i - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
  }
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let e = state[4]!;
  let f = state[5]!;
  let g = state[6]!;
  let h = state[7]!;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
  state[5] = (state[5]! + f) | 0;
  state[6] = (state[6]! + g) | 0;
  state[7] = (state[7]! + h) | 0;
}

/**
 * A message tail laid out with SHA-256 padding for a fixed total length, so hashing it from a
 * midstate is just `blocks` compressions. Bytes `[0, tailLength)` may be rewritten between runs.
 */
export class PaddedTail {
  readonly bytes: Uint8Array;
  readonly blocks: number;

  /** `prefixLength` bytes (a multiple of 64) are already in the midstate this tail continues. */
  constructor(tail: Uint8Array, prefixLength: number) {
    if (prefixLength % 64 !== 0) throw new RangeError(`midstate prefix must be whole blocks, got ${prefixLength} bytes`);
    this.blocks = Math.ceil((tail.length + 9) / 64);
    this.bytes = new Uint8Array(this.blocks * 64);
    this.bytes.set(tail);
    this.bytes[tail.length] = 0x80;
    const bits = (prefixLength + tail.length) * 8;
    const view = new DataView(this.bytes.buffer);
    view.setUint32(this.bytes.length - 8, Math.floor(bits / 2 ** 32));
    view.setUint32(this.bytes.length - 4, bits >>> 0);
  }

  /** Hashes this tail from `midstate` into `out` (8 words). */
  digestInto(midstate: Readonly<Int32Array>, out: Int32Array): void {
    out.set(midstate);
    for (let i = 0; i < this.blocks; i++) compress(out, this.bytes, i * 64);
  }
}

/** Streaming SHA-256 over bytes; `state` after whole blocks is the midstate. */
export class Sha256 {
  readonly state = Int32Array.from(initialState);
  #buffer = new Uint8Array(64);
  #buffered = 0;
  #length = 0;

  update(data: Uint8Array): this {
    let i = 0;
    this.#length += data.length;
    if (this.#buffered > 0) {
      const take = Math.min(64 - this.#buffered, data.length);
      this.#buffer.set(data.subarray(0, take), this.#buffered);
      this.#buffered += take;
      i = take;
      if (this.#buffered < 64) return this;
      compress(this.state, this.#buffer, 0);
      this.#buffered = 0;
    }
    for (; i + 64 <= data.length; i += 64) compress(this.state, data, i);
    this.#buffer.set(data.subarray(i));
    this.#buffered = data.length - i;
    return this;
  }

  clone(): Sha256 {
    const copy = new Sha256();
    copy.state.set(this.state);
    copy.#buffer.set(this.#buffer);
    copy.#buffered = this.#buffered;
    copy.#length = this.#length;
    return copy;
  }

  /** Bytes hashed so far, and whether the state is a clean midstate (no partial block). */
  get length(): number {
    return this.#length;
  }

  get aligned(): boolean {
    return this.#buffered === 0;
  }

  digest(): Uint8Array {
    const tail = new PaddedTail(this.#buffer.subarray(0, this.#buffered), this.#length - this.#buffered);
    const out = new Int32Array(8);
    tail.digestInto(this.state, out);
    return wordsToBytes(out);
  }
}

export function wordsToBytes(words: Int32Array): Uint8Array {
  const out = new Uint8Array(words.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < words.length; i++) view.setInt32(i * 4, words[i]!);
  return out;
}

const encoder = new TextEncoder();

export function sha256(data: Uint8Array | string): Uint8Array {
  return new Sha256().update(typeof data === 'string' ? encoder.encode(data) : data).digest();
}

/** HMAC-SHA256 (RFC 2104). */
export function hmacSha256(key: Uint8Array, data: Uint8Array | string): Uint8Array {
  const { inner, outer } = hmacPads(key);
  const message = typeof data === 'string' ? encoder.encode(data) : data;
  return outer.update(inner.update(message).digest()).digest();
}

/** The inner and outer hashes of an HMAC with their key pads already absorbed (the HMAC midstates). */
export function hmacPads(key: Uint8Array): { inner: Sha256; outer: Sha256 } {
  const block = new Uint8Array(64);
  block.set(key.length > 64 ? sha256(key) : key);
  const ipad = block.map((b) => b ^ 0x36);
  const opad = block.map((b) => b ^ 0x5c);
  return { inner: new Sha256().update(ipad), outer: new Sha256().update(opad) };
}

const hexDigits = '0123456789abcdef';
/** Lowercase hex of each byte value, for building signatures without toString(16). */
export const hexByte: readonly string[] = Array.from({ length: 256 }, (_, i) => hexDigits[i >> 4]! + hexDigits[i & 15]!);

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += hexByte[b]!;
  return s;
}

/** Writes the 64 lowercase hex ASCII codes of 8 words into `out` at `offset`. */
export function writeHexWords(words: Int32Array, out: Uint8Array, offset: number): void {
  for (let i = 0; i < 8; i++) {
    const w = words[i]!;
    for (let shift = 28; shift >= 0; shift -= 4) {
      const nibble = (w >>> shift) & 15;
      out[offset++] = nibble < 10 ? 48 + nibble : 87 + nibble;
    }
  }
}

/** 64 lowercase hex characters of 8 words. */
export function hexWords(words: Int32Array): string {
  let s = '';
  for (let i = 0; i < 8; i++) {
    const w = words[i]!;
    s += hexByte[(w >>> 24) & 255]! + hexByte[(w >>> 16) & 255]! + hexByte[(w >>> 8) & 255]! + hexByte[w & 255]!;
  }
  return s;
}
