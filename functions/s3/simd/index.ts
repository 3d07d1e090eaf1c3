/**
 * Multi-buffer SHA-256 (4 messages per pass in WASM SIMD i32x4 lanes) and the whole SigV4 presign
 * chain for a batch of part URLs in one call (`presignParts`: the module writes each part number
 * into the canonical-request tail itself). `loadSha256x4()` compiles the embedded module where
 * the runtime allows it (Node, Bun, Deno); workerd refuses runtime compilation, so there a module
 * imported at bundle time is passed in, and without one the caller keeps the scalar path.
 */
import { layout } from './layout.ts';
import { sha256x4Base64 } from './sha256x4.base64.ts';

interface Exports {
  memory: WebAssembly.Memory;
  sha256x4(mid: number, prefixLen: number, tails: number, tailLen: number, out: number): void;
  presignChain(
    n: number,
    tails: number,
    tailLen: number,
    varBlocks: number,
    prefixLenA: number,
    stsRestLen: number,
    prefixLenB: number,
    out: number,
    kw: number,
  ): void;
  writeTails(n: number, tails: number, tailLen: number, numbers: number, digitsAt: number, digits: number): void;
}

/** Most part numbers one `presignParts` call takes (the module's numbers area, one i32 each). */
export const maxBatch = (layout.data - layout.numbers) / 4;

const decoder = new TextDecoder();

/** Bytes each lane's tail slot takes: the tail plus SHA-256 padding, in whole 64-byte blocks. */
export function tailStride(tailLen: number): number {
  return (tailLen + 72) & ~63;
}

/** The constant parts of one presign chain (one credential/day, bucket, key, uploadId, expiry). */
export interface ChainConstants {
  /** Midstate after the canonical request's constant prefix (`prefixLenA` bytes, a multiple of 64). */
  midA: Int32Array;
  prefixLenA: number;
  /** Midstate after the HMAC ipad block and the string-to-sign's prefix up to a block boundary. */
  midB: Int32Array;
  prefixLenB: number;
  /** The rest of the string-to-sign before hex(h1), < 64 bytes. */
  stsRest: Uint8Array;
  /** Midstate after the HMAC opad block (64 bytes). */
  midC: Int32Array;
}

export class Sha256x4 {
  readonly #exports: Exports;
  #stsRestLen = 0;
  #prefixLenA = 0;
  #prefixLenB = 0;
  #tailLen = 0;
  #digitsAt = 0;
  #digits = 0;
  #numbers: Int32Array;

  constructor(instance: WebAssembly.Instance) {
    this.#exports = instance.exports as unknown as Exports;
    this.#numbers = new Int32Array(this.#exports.memory.buffer, layout.numbers, maxBatch);
  }

  /** The module's memory as bytes; take it again after `reserve` (growing detaches the old view). */
  get bytes(): Uint8Array {
    return new Uint8Array(this.#exports.memory.buffer);
  }

  /** Offset of lane `lane`'s tail slot in `bytes` for a batch with `tailLen`-byte tails. */
  tailOffset(lane: number, tailLen: number): number {
    return layout.data + lane * tailStride(tailLen);
  }

  /** Offset of lane `lane`'s 64 hex output bytes after `presignChain(n, tailLen)`. */
  outputOffset(n: number, tailLen: number, lane: number): number {
    return layout.data + ((n + 3) & ~3) * tailStride(tailLen) + 64 * lane;
  }

  /** Offset of the expanded message schedules (1 KiB per shared tail block) after the outputs. */
  #scheduleOffset(n: number, tailLen: number): number {
    return this.outputOffset(n, tailLen, (n + 3) & ~3);
  }

  /** Grows memory so a batch of `n` lanes with `tailLen`-byte tails fits. */
  reserve(n: number, tailLen: number): void {
    const need = this.#scheduleOffset(n, tailLen) + 16 * tailStride(tailLen);
    const memory = this.#exports.memory;
    if (need > memory.buffer.byteLength) {
      memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536));
      this.#numbers = new Int32Array(memory.buffer, layout.numbers, maxBatch);
    }
  }

  /** Loads the chain's constants; they stay until the next call. */
  setChain(c: ChainConstants): void {
    if (c.stsRest.length >= 64) throw new RangeError(`stsRest must be < 64 bytes, got ${c.stsRest.length}`);
    if (c.prefixLenA % 64 !== 0 || c.prefixLenB % 64 !== 0) {
      throw new RangeError(`prefix lengths must be multiples of 64, got ${c.prefixLenA} and ${c.prefixLenB}`);
    }
    const words = new Int32Array(this.#exports.memory.buffer, 0, 32);
    words.set(c.midA, layout.midA / 4);
    words.set(c.midB, layout.midB / 4);
    words.set(c.midC, layout.midC / 4);
    this.bytes.set(c.stsRest, layout.stsRest);
    this.#stsRestLen = c.stsRest.length;
    this.#prefixLenA = c.prefixLenA;
    this.#prefixLenB = c.prefixLenB;
  }

  /**
   * Runs the chain for lanes 0…n-1 whose tails (all `tailLen` bytes) are already written at
   * `tailOffset(lane, tailLen)`; hex signatures land at `outputOffset(n, tailLen, lane)`.
   * Call `reserve(n, tailLen)` first. The padding after each tail is overwritten. Tail blocks
   * from `varBlocks` on must be equal in all lanes: their message schedule is expanded once.
   */
  presignChain(n: number, tailLen: number, varBlocks = tailStride(tailLen) / 64): void {
    this.#exports.presignChain(
      n,
      layout.data,
      tailLen,
      varBlocks,
      this.#prefixLenA,
      this.#stsRestLen,
      this.#prefixLenB,
      this.outputOffset(n, tailLen, 0),
      this.#scheduleOffset(n, tailLen),
    );
  }

  /**
   * Sets the canonical-request tail that `presignParts` fills in: `tail`, whose bytes
   * `digitsAt … digitsAt + digits` are placeholders for a part number of `digits` digits.
   */
  setTail(tail: Uint8Array, digitsAt: number, digits: number): void {
    this.reserve(maxBatch, tail.length);
    this.bytes.set(tail, layout.data);
    this.#tailLen = tail.length;
    this.#digitsAt = digitsAt;
    this.#digits = digits;
  }

  /**
   * Hex signatures, 64 characters each back to back, for the parts `numbers[from…to)` (at most
   * `maxBatch`, each of the digit count `setTail` was given), under the constants of `setChain`.
   */
  presignParts(numbers: readonly number[], from: number, to: number): string {
    const n = to - from;
    if (n < 1 || n > maxBatch) throw new RangeError(`presignParts takes 1 to ${maxBatch} parts, got ${n}`);
    const words = this.#numbers;
    for (let i = 0; i < n; i++) words[i] = numbers[from + i]!;
    this.#exports.writeTails(n, layout.data, this.#tailLen, layout.numbers, this.#digitsAt, this.#digits);
    // Only the blocks holding the part number differ between lanes.
    this.presignChain(n, this.#tailLen, ((this.#digitsAt + this.#digits - 1) >> 6) + 1);
    const out = this.outputOffset(n, this.#tailLen, 0);
    return decoder.decode(new Uint8Array(this.#exports.memory.buffer, out, 64 * n));
  }

  /** Convenience for tests and small batches: hex signatures of the chain for each tail. */
  presignHex(tails: readonly Uint8Array[]): string[] {
    const tailLen = tails[0]?.length ?? 0;
    this.reserve(tails.length, tailLen);
    const bytes = this.bytes;
    tails.forEach((tail, lane) => {
      if (tail.length !== tailLen) throw new RangeError('all tails of one batch must have the same length');
      bytes.set(tail, this.tailOffset(lane, tailLen));
    });
    this.presignChain(tails.length, tailLen);
    const out = this.outputOffset(tails.length, tailLen, 0);
    return tails.map((_, lane) => hexAt(this.bytes, out + 64 * lane));
  }

  /**
   * SHA-256 (hex) of 4 messages sharing a prefix: `midstate` after `prefixLen` bytes (a multiple
   * of 64) continued with each of the 4 equal-length `tails`.
   */
  sha256x4(midstate: Int32Array, prefixLen: number, tails: readonly Uint8Array[]): string[] {
    if (tails.length !== 4) throw new RangeError(`sha256x4 takes 4 messages, got ${tails.length}`);
    const tailLen = tails[0]!.length;
    this.reserve(4, tailLen);
    new Int32Array(this.#exports.memory.buffer, layout.midA, 8).set(midstate);
    const bytes = this.bytes;
    tails.forEach((tail, lane) => {
      if (tail.length !== tailLen) throw new RangeError('all 4 messages must have the same length');
      bytes.set(tail, this.tailOffset(lane, tailLen));
    });
    const out = this.outputOffset(4, tailLen, 0);
    this.#exports.sha256x4(layout.midA, prefixLen, layout.data, tailLen, out);
    return tails.map((_, lane) => hexAt(this.bytes, out + 64 * lane));
  }
}

function hexAt(bytes: Uint8Array, offset: number): string {
  return String.fromCharCode(...bytes.subarray(offset, offset + 64));
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * The SIMD hasher, or undefined where it cannot run: the runtime refuses to compile code at run
 * time (workerd, unless `module` was imported at bundle time) or lacks WASM SIMD.
 */
export function loadSha256x4(module?: WebAssembly.Module): Sha256x4 | undefined {
  try {
    const compiled = module ?? new WebAssembly.Module(decodeBase64(sha256x4Base64));
    return new Sha256x4(new WebAssembly.Instance(compiled, {}));
  } catch (error) {
    // Compile refused (CompileError / "code generation disallowed") or SIMD missing: the caller
    // falls back to the scalar SHA-256, which gives identical results.
    if (error instanceof Error) return undefined;
    throw error;
  }
}
