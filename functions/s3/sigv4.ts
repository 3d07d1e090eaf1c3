/**
 * AWS Signature Version 4, stage by stage (like aws4fetch: canonical request, string to sign,
 * signing key, signature), with the signing key cached per credential, UTC day, region and
 * service. Synchronous and Web-standard: the hashing is ./sha256.ts.
 */
import { hmacSha256, sha256, toHex } from './sha256.ts';
import { encodeRfc3986 } from './uri.ts';

export const algorithm = 'AWS4-HMAC-SHA256';
export const unsignedPayload = 'UNSIGNED-PAYLOAD';

/** `20150830T123600Z` */
export function amzDate(date: Date): string {
  return date.toISOString().replace(/[-:]|\.\d{3}/g, '');
}

export function credentialScope(date8: string, region: string, service: string): string {
  return `${date8}/${region}/${service}/aws4_request`;
}

const encoder = new TextEncoder();
const keyCache = new Map<string, Uint8Array>();

/** HMAC chain "AWS4"+secret → date → region → service → "aws4_request", cached (it changes once a day). */
export function signingKey(secretAccessKey: string, date8: string, region: string, service: string): Uint8Array {
  const id = `${date8}\n${region}\n${service}\n${secretAccessKey}`;
  let key = keyCache.get(id);
  if (key === undefined) {
    const kDate = hmacSha256(encoder.encode(`AWS4${secretAccessKey}`), date8);
    key = hmacSha256(hmacSha256(hmacSha256(kDate, region), service), 'aws4_request');
    if (keyCache.size >= 64) keyCache.delete(keyCache.keys().next().value as string);
    keyCache.set(id, key);
  }
  return key;
}

/** Query parameters (not yet encoded) as SigV4 wants them: each name and value RFC 3986 encoded, sorted. */
export function canonicalQuery(params: Iterable<readonly [string, string]>): string {
  const encoded = [...params].map(([k, v]) => [encodeRfc3986(k), encodeRfc3986(v)] as const);
  encoded.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return encoded.map(([k, v]) => `${k}=${v}`).join('&');
}

/** Lower-cased names, values trimmed with inner whitespace runs folded, repeated names joined by `,`. */
export function canonicalHeaders(headers: Iterable<readonly [string, string]>): {
  canonical: string;
  signedHeaders: string;
} {
  const byName = new Map<string, string[]>();
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    const folded = value.trim().replace(/\s+/g, ' ');
    const values = byName.get(lower);
    if (values) values.push(folded);
    else byName.set(lower, [folded]);
  }
  const names = [...byName.keys()].sort();
  return {
    canonical: names.map((n) => `${n}:${byName.get(n)!.join(',')}\n`).join(''),
    signedHeaders: names.join(';'),
  };
}

export interface CanonicalRequestInput {
  method: string;
  /** The canonical URI: the request path, already encoded once (S3 does not normalise or double-encode). */
  path: string;
  query: Iterable<readonly [string, string]>;
  headers: Iterable<readonly [string, string]>;
  /** Hex SHA-256 of the body, or UNSIGNED-PAYLOAD. */
  payloadHash: string;
}

export function canonicalRequest(input: CanonicalRequestInput): { canonicalRequest: string; signedHeaders: string } {
  const { canonical, signedHeaders } = canonicalHeaders(input.headers);
  return {
    canonicalRequest: `${input.method}\n${input.path}\n${canonicalQuery(input.query)}\n${canonical}\n${signedHeaders}\n${input.payloadHash}`,
    signedHeaders,
  };
}

export function stringToSign(datetime: string, scope: string, canonicalRequestText: string): string {
  return `${algorithm}\n${datetime}\n${scope}\n${toHex(sha256(canonicalRequestText))}`;
}

export function signature(key: Uint8Array, stringToSignText: string): string {
  return toHex(hmacSha256(key, stringToSignText));
}
