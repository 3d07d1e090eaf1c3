/**
 * s3:// URIs, bucket and key validation, and key encoding (DESIGN.md "Keys").
 * A key is stored exactly as given: each byte outside RFC 3986's unreserved set is
 * percent-encoded once, `/` separates segments and nothing is ever normalised (no
 * `new URL()`, which would fold `a/../b` and `//`).
 */
import { InvalidInput } from './errors.ts';
import type { Endpoint } from './types.ts';

export const maxKeyBytes = 1024;

export interface S3Location {
  bucket: string;
  key: string;
}

/**
 * Parses `s3://bucket/key`. The key is taken verbatim (not URL-decoded). With
 * `allowEmptyKey` (a CLI destination such as `s3://bucket` or `s3://bucket/`), the key may be "".
 */
export function parseS3Uri(uri: string, options: { allowEmptyKey?: boolean } = {}): S3Location {
  if (!uri.startsWith('s3://')) {
    throw new InvalidInput('InvalidUri', `Expected an S3 URI of the form s3://bucket/key, got ${JSON.stringify(uri)}`);
  }
  const rest = uri.slice(5);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const key = slash === -1 ? '' : rest.slice(slash + 1);
  validateBucketName(bucket);
  if (key === '' && !options.allowEmptyKey) {
    throw new InvalidInput(
      'InvalidUri',
      `S3 URI ${JSON.stringify(uri)} names no object key: expected s3://${bucket}/key`,
    );
  }
  if (key !== '') validateKey(key);
  return { bucket, key };
}

const bucketPattern = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const ipv4Pattern = /^\d{1,3}(\.\d{1,3}){3}$/;

/** S3's bucket naming rules (3–63 of a-z 0-9 . -, alphanumeric ends, not an IP, no `..`). */
export function validateBucketName(bucket: string): void {
  let problem: string | undefined;
  if (bucket.length < 3 || bucket.length > 63) problem = `must be 3 to 63 characters long, got ${bucket.length}`;
  else if (!bucketPattern.test(bucket)) {
    problem = 'may contain only lowercase letters, digits, dots and hyphens, and must begin and end with a letter or digit';
  } else if (bucket.includes('..')) problem = 'must not contain two adjacent dots';
  else if (ipv4Pattern.test(bucket)) problem = 'must not be formatted as an IP address';
  if (problem !== undefined) {
    throw new InvalidInput('InvalidBucketName', `Invalid bucket name ${JSON.stringify(bucket)}: ${problem}`);
  }
}

const encoder = new TextEncoder();

/** A key is 1 to 1024 bytes of valid UTF-8 (no lone surrogates). */
export function validateKey(key: string): void {
  if (key.length === 0) throw new InvalidInput('InvalidKey', 'Object key must not be empty');
  if (!key.isWellFormed()) {
    throw new InvalidInput('InvalidKey', 'Object key must be valid UTF-8: it contains a lone surrogate');
  }
  const bytes = key.length <= maxKeyBytes / 3 ? key.length : encoder.encode(key).length;
  if (bytes > maxKeyBytes) {
    throw new InvalidInput('KeyTooLong', `Object key is ${bytes} bytes of UTF-8; S3 allows at most ${maxKeyBytes}`);
  }
}

const unreservedPath = /^[A-Za-z0-9\-._~/]*$/;

/**
 * Percent-encodes a key for a URL path (and the SigV4 canonical URI, which for S3 is the
 * same string): RFC 3986 unreserved characters and `/` stay, every other UTF-8 byte becomes %XX.
 */
export function encodeKey(key: string): string {
  if (unreservedPath.test(key)) return key;
  return encodeURIComponent(key).replace(/[!'()*]|%2F/g, escapeExtra);
}

/** RFC 3986 query/path component encoding (`/` encoded too), as SigV4 wants for query values. */
export function encodeRfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, escapeExtra);
}

function escapeExtra(c: string): string {
  return c === '%2F' ? '/' : `%${c.charCodeAt(0).toString(16).toUpperCase()}`;
}

const awsHost = /(^|\.)amazonaws\.com(\.cn)?$/;

/** Virtual-hosted style only for AWS endpoints and DNS-safe bucket names without dots. */
export function usePathStyle(endpoint: Endpoint, bucket: string): boolean {
  if (endpoint.pathStyle !== undefined) return endpoint.pathStyle;
  const host = new URL(endpoint.url).hostname;
  return !awsHost.test(host) || bucket.includes('.');
}

export interface ObjectLocation {
  /** `https://host[:port]` the request goes to. */
  origin: string;
  /** The Host header value (host[:port]) that is signed. */
  host: string;
  /** The encoded path, starting with `/`; also the SigV4 canonical URI. */
  path: string;
}

/** Where an object (or, with key "", a bucket) lives on an endpoint. */
export function objectLocation(endpoint: Endpoint, bucket: string, key: string): ObjectLocation {
  const url = new URL(endpoint.url);
  const encoded = encodeKey(key);
  if (usePathStyle(endpoint, bucket)) {
    return { origin: url.origin, host: url.host, path: `/${bucket}/${encoded}` };
  }
  const host = `${bucket}.${url.host}`;
  return { origin: `${url.protocol}//${host}`, host, path: `/${encoded}` };
}
