/**
 * The bulk presigner (DESIGN.md "The S3 core"): SigV4 query signing with the signing key cached
 * and, for part URLs, every constant prefix hashed once. A part URL differs from its neighbours
 * only in `partNumber`, so each one costs the compressions of three short padded tails
 * (canonical request tail, string-to-sign tail, HMAC outer block) and one string concatenation.
 * Where WASM SIMD loads (./simd), those compressions run for four part numbers per pass; else,
 * and for `presign`, the pure-TS SHA-256 does them, with byte-identical results.
 */
import { InvalidInput } from './errors.ts';
import { hexWords, hmacPads, PaddedTail, Sha256, writeHexWords } from './sha256.ts';
import { type ChainConstants, loadSha256x4, maxBatch, type Sha256x4 } from './simd/index.ts';
import {
  algorithm,
  amzDate,
  canonicalHeaders,
  canonicalQuery,
  credentialScope,
  signature,
  signingKey,
  stringToSign,
  unsignedPayload,
} from './sigv4.ts';
import type { Credentials, Endpoint, HttpMethod } from './types.ts';
import { encodeRfc3986, objectLocation, validateBucketName, validateKey } from './uri.ts';

export const maxExpiresIn = 7 * 24 * 3600;

export interface PresignerOptions {
  endpoint: Endpoint;
  credentials: Credentials;
  /** `s3` unless a store signs under another name. */
  service?: string;
  /** `false` signs part URLs with the scalar SHA-256 even where WASM SIMD loads (tests, benchmarks). */
  simd?: boolean;
}

export interface PresignInput {
  method: HttpMethod;
  bucket: string;
  key: string;
  /** Extra query parameters, not yet encoded (e.g. `{uploadId}` for complete/abort). */
  query?: Record<string, string>;
  /** Extra headers the URL's user must send exactly (signed with `host`). */
  headers?: Record<string, string>;
  /** Seconds, 1 to 7 days. */
  expiresIn: number;
  date?: Date;
}

export interface PartTemplate {
  /** A part URL with `{partNumber}` and `{signature}` placeholders. */
  template: string;
  /** `signatures[i]` belongs to part i + 1. */
  signatures: string[];
}

const encoder = new TextEncoder();

/** The shared SIMD hasher: undefined until first needed, null where it cannot load. */
let sha256x4: Sha256x4 | null | undefined;

/**
 * Hands the presigner a precompiled sha256x4 module, for runtimes that refuse to compile WASM
 * at run time (workerd: `import module from './s3/simd/sha256x4.wasm'` at bundle time).
 */
export function useSha256x4Module(module: WebAssembly.Module): void {
  sha256x4 = loadSha256x4(module) ?? null;
}

function simdHasher(): Sha256x4 | undefined {
  if (sha256x4 === undefined) sha256x4 = loadSha256x4() ?? null;
  return sha256x4 ?? undefined;
}

/** HMAC pad midstates per signing key (the key changes once a day per credential). */
const padCache = new WeakMap<Uint8Array, { inner: Sha256; outer: Sha256 }>();
function pads(signingKey: Uint8Array): { inner: Sha256; outer: Sha256 } {
  let cached = padCache.get(signingKey);
  if (cached === undefined) {
    cached = hmacPads(signingKey);
    padCache.set(signingKey, cached);
  }
  return cached;
}

function checkExpiresIn(expiresIn: number): void {
  if (!Number.isInteger(expiresIn) || expiresIn < 1 || expiresIn > maxExpiresIn) {
    throw new InvalidInput(
      'InvalidExpiresIn',
      `URL lifetime must be a whole number of seconds from 1 to ${maxExpiresIn} (7 days), got ${expiresIn}`,
    );
  }
}

function checkPartNumbers(first: number, count: number): void {
  const last = first + count - 1;
  if (!Number.isInteger(first) || !Number.isInteger(count) || first < 1 || count < 0 || last > 10_000) {
    throw new InvalidInput('InvalidPartNumber', `Part numbers must be 1 to 10000, got ${first} to ${Math.max(first, last)}`);
  }
}

export class Presigner {
  readonly endpoint: Endpoint;
  readonly #credentials: Credentials;
  readonly #service: string;
  readonly #simd: Sha256x4 | undefined;
  /** The last instant's and lifetime's PartAuth: the part URLs of a burst of plans share it. */
  #lastPartAuth: PartAuth | undefined;

  constructor(options: PresignerOptions) {
    this.endpoint = options.endpoint;
    this.#credentials = options.credentials;
    this.#service = options.service ?? 's3';
    this.#simd = options.simd === false ? undefined : simdHasher();
  }

  /** Whether part URLs are signed four per pass in WASM SIMD (else by the scalar SHA-256). */
  get simd(): boolean {
    return this.#simd !== undefined;
  }

  /** The query parameters every presigned URL carries before the request's own, and the key to sign with. */
  #authQuery(date: Date, expiresIn: number): { params: [string, string][]; datetime: string; scope: string; key: Uint8Array } {
    checkExpiresIn(expiresIn);
    const datetime = amzDate(date);
    const date8 = datetime.slice(0, 8);
    const scope = credentialScope(date8, this.endpoint.region, this.#service);
    const params: [string, string][] = [
      ['X-Amz-Algorithm', algorithm],
      ['X-Amz-Credential', `${this.#credentials.accessKeyId}/${scope}`],
      ['X-Amz-Date', datetime],
      ['X-Amz-Expires', String(expiresIn)],
    ];
    if (this.#credentials.sessionToken) params.push(['X-Amz-Security-Token', this.#credentials.sessionToken]);
    const key = signingKey(this.#credentials.secretAccessKey, date8, this.endpoint.region, this.#service);
    return { params, datetime, scope, key };
  }

  /** One presigned URL for any method, extra query parameters and signed headers. */
  presign(input: PresignInput): string {
    validateBucketName(input.bucket);
    if (input.key !== '') validateKey(input.key);
    const { origin, host, path } = objectLocation(this.endpoint, input.bucket, input.key);
    const { params, datetime, scope, key } = this.#authQuery(input.date ?? new Date(), input.expiresIn);
    const headers: [string, string][] = [['host', host], ...Object.entries(input.headers ?? {})];
    const { canonical, signedHeaders } = canonicalHeaders(headers);
    params.push(['X-Amz-SignedHeaders', signedHeaders], ...Object.entries(input.query ?? {}));
    const query = canonicalQuery(params);
    const request = `${input.method}\n${path}\n${query}\n${canonical}\n${signedHeaders}\n${unsignedPayload}`;
    return `${origin}${path}?${query}&X-Amz-Signature=${signature(key, stringToSign(datetime, scope, request))}`;
  }

  /** Presigned UploadPart URLs for parts `firstPart … firstPart + count − 1`. */
  partUrls(
    bucket: string,
    key: string,
    uploadId: string,
    firstPart: number,
    count: number,
    expiresIn: number,
    date?: Date,
  ): string[] {
    checkPartNumbers(firstPart, count);
    const numbers = new Array<number>(count);
    for (let i = 0; i < count; i++) numbers[i] = firstPart + i;
    return this.#partSigner(bucket, key, uploadId, expiresIn, date ?? new Date()).urls(numbers);
  }

  /** Presigned UploadPart URLs for the given part numbers (re-signing for retries). */
  partUrlList(bucket: string, key: string, uploadId: string, partNumbers: readonly number[], expiresIn: number, date?: Date): string[] {
    for (const n of partNumbers) checkPartNumbers(n, 1);
    return this.#partSigner(bucket, key, uploadId, expiresIn, date ?? new Date()).urls(partNumbers);
  }

  /** Parts 1 … count as one URL template plus a signature per part (the compact plan). */
  partTemplate(bucket: string, key: string, uploadId: string, count: number, expiresIn: number, date?: Date): PartTemplate {
    checkPartNumbers(1, count);
    const signer = this.#partSigner(bucket, key, uploadId, expiresIn, date ?? new Date());
    const numbers = new Array<number>(count);
    for (let i = 0; i < count; i++) numbers[i] = i + 1;
    return { template: `${signer.urlPrefix}{partNumber}${signer.urlMiddle}{signature}`, signatures: signer.signatures(numbers) };
  }

  #partSigner(bucket: string, key: string, uploadId: string, expiresIn: number, date: Date): PartSigner {
    validateBucketName(bucket);
    validateKey(key);
    if (uploadId === '') throw new InvalidInput('InvalidUploadId', 'uploadId must not be empty');
    const { origin, host, path } = objectLocation(this.endpoint, bucket, key);
    const auth = this.#partAuth(date, expiresIn);
    // X-Amz-* sort before `partNumber`, which sorts before `uploadId`: the canonical query is
    // `<auth params>&partNumber=N&uploadId=U`, so everything before N is one constant prefix.
    const encodedUploadId = encodeRfc3986(uploadId);
    return new PartSigner({
      auth,
      canonicalPrefix: `PUT\n${path}\n${auth.query}&partNumber=`,
      canonicalSuffix: `&uploadId=${encodedUploadId}\nhost:${host}\n\nhost\n${unsignedPayload}`,
      urlPrefix: `${origin}${path}?${auth.query}&partNumber=`,
      urlMiddle: `&uploadId=${encodedUploadId}&X-Amz-Signature=`,
      simd: this.#simd,
    });
  }

  #partAuth(date: Date, expiresIn: number): PartAuth {
    // X-Amz-Date has whole seconds; an invalid date (NaN) never matches and fails in #authQuery.
    const second = Math.floor(date.getTime() / 1000);
    const last = this.#lastPartAuth;
    if (last !== undefined && last.second === second && last.expiresIn === expiresIn) return last;
    const { params, datetime, scope, key } = this.#authQuery(date, expiresIn);
    params.push(['X-Amz-SignedHeaders', 'host']);
    this.#lastPartAuth = new PartAuth(second, expiresIn, canonicalQuery(params), `${algorithm}\n${datetime}\n${scope}\n`, key);
    return this.#lastPartAuth;
  }
}

function digitCount(n: number): number {
  return n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : n < 10000 ? 4 : 5;
}

/**
 * What all part URLs signed at one second with one lifetime share, whatever their object: the
 * canonical auth query and the string-to-sign's midstates. Midstates: B after the HMAC inner pad
 * and the string-to-sign's constant whole blocks, C after the HMAC outer pad.
 */
class PartAuth {
  /** The canonical query parameters before `partNumber` (X-Amz-Algorithm … X-Amz-SignedHeaders). */
  readonly query: string;
  readonly stateB: Int32Array;
  readonly prefixLenB: number;
  /** The string-to-sign's rest after B, then room for hex(h1), padded (rewritten per signature). */
  readonly stsTail: PaddedTail;
  readonly hexAt: number;
  readonly stateC: Int32Array;

  constructor(
    readonly second: number,
    readonly expiresIn: number,
    query: string,
    stringToSignPrefix: string,
    signingKey: Uint8Array,
  ) {
    this.query = query;
    const { inner, outer } = pads(signingKey);
    const sts = encoder.encode(stringToSignPrefix);
    const stsWhole = sts.length - (sts.length % 64);
    this.stateB = stsWhole === 0 ? inner.state : inner.clone().update(sts.subarray(0, stsWhole)).state;
    this.prefixLenB = 64 + stsWhole;
    const stsTail = new Uint8Array(sts.length - stsWhole + 64);
    stsTail.set(sts.subarray(stsWhole));
    this.hexAt = sts.length - stsWhole;
    this.stsTail = new PaddedTail(stsTail, this.prefixLenB);
    this.stateC = outer.state;
  }
}

/** Scratch for the scalar `sign` (synchronous, so one set serves every signer). */
const words = new Int32Array(8);
const outerTail = new PaddedTail(new Uint8Array(32), 64);

/**
 * Signs UploadPart requests that differ only in the part number. Midstate A is after the
 * canonical request's whole blocks before the part number; B and C come from the PartAuth.
 */
class PartSigner {
  readonly urlPrefix: string;
  readonly urlMiddle: string;
  readonly #auth: PartAuth;
  readonly #stateA: Int32Array;
  readonly #digitsAt: number;
  /** Canonical-request tails by digit count of the part number (1 … 5 digits). */
  readonly #tails: PaddedTail[] = [];
  readonly #rest: Uint8Array;
  readonly #suffix: Uint8Array;
  readonly #prefixLength: number;
  readonly #simd: Sha256x4 | undefined;
  readonly #chain: ChainConstants;

  constructor(parts: {
    auth: PartAuth;
    canonicalPrefix: string;
    canonicalSuffix: string;
    urlPrefix: string;
    urlMiddle: string;
    simd: Sha256x4 | undefined;
  }) {
    this.urlPrefix = parts.urlPrefix;
    this.urlMiddle = parts.urlMiddle;
    this.#auth = parts.auth;
    this.#simd = parts.simd;

    const prefix = encoder.encode(parts.canonicalPrefix);
    const whole = prefix.length - (prefix.length % 64);
    this.#stateA = new Sha256().update(prefix.subarray(0, whole)).state;
    const rest = prefix.subarray(whole);
    this.#digitsAt = rest.length;
    this.#rest = rest;
    this.#suffix = encoder.encode(parts.canonicalSuffix);
    this.#prefixLength = whole;
    const auth = parts.auth;
    this.#chain = {
      midA: this.#stateA,
      prefixLenA: whole,
      midB: auth.stateB,
      prefixLenB: auth.prefixLenB,
      stsRest: auth.stsTail.bytes.subarray(0, auth.hexAt),
      midC: auth.stateC,
    };
  }

  /** The canonical-request tail for part numbers of `digits` digits, made when first needed. */
  #tail(digits: number): PaddedTail {
    let padded = this.#tails[digits];
    if (padded === undefined) {
      const tail = new Uint8Array(this.#rest.length + digits + this.#suffix.length);
      tail.set(this.#rest);
      tail.set(this.#suffix, this.#rest.length + digits);
      padded = this.#tails[digits] = new PaddedTail(tail, this.#prefixLength);
    }
    return padded;
  }

  /** Presigned URLs of the parts `numbers` (each 1 … 10,000), in order. */
  urls(numbers: readonly number[]): string[] {
    return this.#sign(numbers, true);
  }

  /** Hex signatures of the parts `numbers` (each 1 … 10,000), in order. */
  signatures(numbers: readonly number[]): string[] {
    return this.#sign(numbers, false);
  }

  /** Signatures, or whole URLs with `asUrls`, built as each one is signed (no array in between). */
  #sign(numbers: readonly number[], asUrls: boolean): string[] {
    const out = new Array<string>(numbers.length);
    // One part fills one SIMD lane of four: the scalar SHA-256 is as fast there (faster on Bun).
    const simd = numbers.length > 1 ? this.#simd : undefined;
    if (simd === undefined) {
      for (let i = 0; i < numbers.length; i++) {
        const n = numbers[i]!;
        out[i] = asUrls ? `${this.urlPrefix}${n}${this.urlMiddle}${this.sign(n)}` : this.sign(n);
      }
      return out;
    }
    // The hasher is shared: load this signer's constants, then sign runs of equal digit count
    // (equal tail length), at most maxBatch at a time.
    simd.setChain(this.#chain);
    let tailDigits = 0;
    for (let from = 0; from < numbers.length; ) {
      const digits = digitCount(numbers[from]!);
      let to = from + 1;
      while (to < numbers.length && to - from < maxBatch && digitCount(numbers[to]!) === digits) to++;
      if (digits !== tailDigits) {
        simd.setTail(this.#tail(digits).bytes.subarray(0, this.#rest.length + digits + this.#suffix.length), this.#digitsAt, digits);
        tailDigits = digits;
      }
      const hex = simd.presignParts(numbers, from, to);
      for (let i = from; i < to; i++) {
        const signature = hex.slice(64 * (i - from), 64 * (i - from) + 64);
        out[i] = asUrls ? `${this.urlPrefix}${numbers[i]}${this.urlMiddle}${signature}` : signature;
      }
      from = to;
    }
    return out;
  }

  /** The hex signature of part `n` (1 … 10,000) with the scalar SHA-256. */
  sign(n: number): string {
    const { stsTail, hexAt, stateB, stateC } = this.#auth;
    const digits = digitCount(n);
    const tail = this.#tail(digits);
    const bytes = tail.bytes;
    for (let i = this.#digitsAt + digits - 1, v = n; i >= this.#digitsAt; i--, v = (v / 10) | 0) bytes[i] = 48 + (v % 10);
    tail.digestInto(this.#stateA, words);
    writeHexWords(words, stsTail.bytes, hexAt);
    stsTail.digestInto(stateB, words);
    const outer = outerTail.bytes;
    for (let i = 0; i < 8; i++) {
      const w = words[i]!;
      outer[i * 4] = w >>> 24;
      outer[i * 4 + 1] = w >>> 16;
      outer[i * 4 + 2] = w >>> 8;
      outer[i * 4 + 3] = w;
    }
    outerTail.digestInto(stateC, words);
    return hexWords(words);
  }
}
