/**
 * The bulk presigner (DESIGN.md "The S3 core"): SigV4 query signing with the signing key cached
 * and, for part URLs, every constant prefix hashed once. A part URL differs from its neighbours
 * only in `partNumber`, so each one costs the compressions of three short padded tails
 * (canonical request tail, string-to-sign tail, HMAC outer block) and one string concatenation.
 */
import { InvalidInput } from './errors.ts';
import { hexWords, hmacPads, PaddedTail, Sha256, writeHexWords } from './sha256.ts';
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

  constructor(options: PresignerOptions) {
    this.endpoint = options.endpoint;
    this.#credentials = options.credentials;
    this.#service = options.service ?? 's3';
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
    const signer = this.#partSigner(bucket, key, uploadId, expiresIn, date ?? new Date());
    const urls = new Array<string>(count);
    for (let i = 0; i < count; i++) {
      const n = firstPart + i;
      urls[i] = `${signer.urlPrefix}${n}${signer.urlMiddle}${signer.sign(n)}`;
    }
    return urls;
  }

  /** Presigned UploadPart URLs for the given part numbers (re-signing for retries). */
  partUrlList(bucket: string, key: string, uploadId: string, partNumbers: readonly number[], expiresIn: number, date?: Date): string[] {
    for (const n of partNumbers) checkPartNumbers(n, 1);
    const signer = this.#partSigner(bucket, key, uploadId, expiresIn, date ?? new Date());
    return partNumbers.map((n) => `${signer.urlPrefix}${n}${signer.urlMiddle}${signer.sign(n)}`);
  }

  /** Parts 1 … count as one URL template plus a signature per part (the compact plan). */
  partTemplate(bucket: string, key: string, uploadId: string, count: number, expiresIn: number, date?: Date): PartTemplate {
    checkPartNumbers(1, count);
    const signer = this.#partSigner(bucket, key, uploadId, expiresIn, date ?? new Date());
    const signatures = new Array<string>(count);
    for (let i = 0; i < count; i++) signatures[i] = signer.sign(i + 1);
    return { template: `${signer.urlPrefix}{partNumber}${signer.urlMiddle}{signature}`, signatures };
  }

  #partSigner(bucket: string, key: string, uploadId: string, expiresIn: number, date: Date): PartSigner {
    validateBucketName(bucket);
    validateKey(key);
    if (uploadId === '') throw new InvalidInput('InvalidUploadId', 'uploadId must not be empty');
    const { origin, host, path } = objectLocation(this.endpoint, bucket, key);
    const { params, datetime, scope, key: signing } = this.#authQuery(date, expiresIn);
    params.push(['X-Amz-SignedHeaders', 'host']);
    // X-Amz-* sort before `partNumber`, which sorts before `uploadId`: the canonical query is
    // `<auth params>&partNumber=N&uploadId=U`, so everything before N is one constant prefix.
    const authQuery = canonicalQuery(params);
    const encodedUploadId = encodeRfc3986(uploadId);
    return new PartSigner({
      canonicalPrefix: `PUT\n${path}\n${authQuery}&partNumber=`,
      canonicalSuffix: `&uploadId=${encodedUploadId}\nhost:${host}\n\nhost\n${unsignedPayload}`,
      stringToSignPrefix: `${algorithm}\n${datetime}\n${scope}\n`,
      signingKey: signing,
      urlPrefix: `${origin}${path}?${authQuery}&partNumber=`,
      urlMiddle: `&uploadId=${encodedUploadId}&X-Amz-Signature=`,
    });
  }
}

/**
 * Signs UploadPart requests that differ only in the part number. Midstates: A after the
 * canonical request's whole blocks before the part number, B after the HMAC inner pad and the
 * string-to-sign's constant whole blocks, C after the HMAC outer pad.
 */
class PartSigner {
  readonly urlPrefix: string;
  readonly urlMiddle: string;
  readonly #stateA: Int32Array;
  readonly #digitsAt: number;
  /** Canonical-request tails by digit count of the part number (1 … 5 digits). */
  readonly #tails: PaddedTail[] = [];
  readonly #stateB: Int32Array;
  readonly #stsTail: PaddedTail;
  readonly #hexAt: number;
  readonly #stateC: Int32Array;
  readonly #outerTail: PaddedTail;
  readonly #words = new Int32Array(8);
  readonly #rest: Uint8Array;
  readonly #suffix: Uint8Array;
  readonly #prefixLength: number;

  constructor(parts: {
    canonicalPrefix: string;
    canonicalSuffix: string;
    stringToSignPrefix: string;
    signingKey: Uint8Array;
    urlPrefix: string;
    urlMiddle: string;
  }) {
    this.urlPrefix = parts.urlPrefix;
    this.urlMiddle = parts.urlMiddle;

    const prefix = encoder.encode(parts.canonicalPrefix);
    const whole = prefix.length - (prefix.length % 64);
    this.#stateA = new Sha256().update(prefix.subarray(0, whole)).state;
    const rest = prefix.subarray(whole);
    const suffix = encoder.encode(parts.canonicalSuffix);
    this.#digitsAt = rest.length;
    this.#rest = rest;
    this.#suffix = suffix;
    this.#prefixLength = whole;

    const { inner, outer } = pads(parts.signingKey);
    const sts = encoder.encode(parts.stringToSignPrefix);
    const stsWhole = sts.length - (sts.length % 64);
    this.#stateB = stsWhole === 0 ? inner.state : inner.clone().update(sts.subarray(0, stsWhole)).state;
    const stsTail = new Uint8Array(sts.length - stsWhole + 64);
    stsTail.set(sts.subarray(stsWhole));
    this.#hexAt = sts.length - stsWhole;
    this.#stsTail = new PaddedTail(stsTail, 64 + stsWhole);
    this.#stateC = outer.state;
    this.#outerTail = new PaddedTail(new Uint8Array(32), 64);
  }

  /** The canonical-request tail for part numbers of `digits` digits, made when first needed. */
  #tail(digits: number): PaddedTail {
    const tail = new Uint8Array(this.#rest.length + digits + this.#suffix.length);
    tail.set(this.#rest);
    tail.set(this.#suffix, this.#rest.length + digits);
    this.#tails[digits] = new PaddedTail(tail, this.#prefixLength);
    return this.#tails[digits];
  }

  /** The hex signature of part `n` (1 … 10,000). */
  sign(n: number): string {
    const words = this.#words;
    const digits = n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : n < 10000 ? 4 : 5;
    const tail = this.#tails[digits] ?? this.#tail(digits);
    const bytes = tail.bytes;
    for (let i = this.#digitsAt + digits - 1, v = n; i >= this.#digitsAt; i--, v = (v / 10) | 0) bytes[i] = 48 + (v % 10);
    tail.digestInto(this.#stateA, words);
    writeHexWords(words, this.#stsTail.bytes, this.#hexAt);
    this.#stsTail.digestInto(this.#stateB, words);
    const outer = this.#outerTail.bytes;
    for (let i = 0; i < 8; i++) {
      const w = words[i]!;
      outer[i * 4] = w >>> 24;
      outer[i * 4 + 1] = w >>> 16;
      outer[i * 4 + 2] = w >>> 8;
      outer[i * 4 + 3] = w;
    }
    this.#outerTail.digestInto(this.#stateC, words);
    return hexWords(words);
  }
}
