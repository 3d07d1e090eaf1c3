/**
 * Control-plane S3 calls (create/complete/abort/list/head, and the few object calls tests and the
 * demo need), signed with aws4fetch — the well-kept edge signer. The bulk presigner (presign.ts) is
 * the only hand-written SigV4 path.
 */
import { AwsClient } from 'aws4fetch';
import { S3Error } from './errors.ts';
import type { Credentials, Endpoint } from './types.ts';
import { encodeRfc3986, objectLocation } from './uri.ts';
import {
  type CompletedPart,
  completeMultipartUploadXml,
  type ListedObject,
  type ListedPart,
  type ListedUpload,
  parseCompleteResult,
  parseCreateResult,
  parseError,
  parseListMultipartUploads,
  parseListObjects,
  parseListParts,
} from './xml.ts';

export interface S3ClientOptions {
  endpoint: Endpoint;
  credentials: Credentials;
  /** Per-request timeout in milliseconds (default 60 s). */
  timeoutMs?: number;
}

export interface ObjectHead {
  size: number;
  etag: string;
  lastModified: Date;
}

type Body = string | Uint8Array | ArrayBuffer | Blob | ReadableStream<Uint8Array>;

export class S3Client {
  readonly endpoint: Endpoint;
  readonly #aws: AwsClient;
  readonly #timeoutMs: number;

  constructor(options: S3ClientOptions) {
    this.endpoint = options.endpoint;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#aws = new AwsClient({
      accessKeyId: options.credentials.accessKeyId,
      secretAccessKey: options.credentials.secretAccessKey,
      ...(options.credentials.sessionToken ? { sessionToken: options.credentials.sessionToken } : {}),
      region: options.endpoint.region,
      service: 's3',
      retries: 0,
    });
  }

  /** Signs and sends one request; non-2xx answers become S3Error (network failures too, retryable). */
  async request(
    method: string,
    bucket: string,
    key: string,
    options: { query?: string; body?: Body; headers?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<Response> {
    const { origin, path } = objectLocation(this.endpoint, bucket, key);
    const url = `${origin}${path}${options.query ? `?${options.query}` : ''}`;
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let response: Response;
    try {
      response = await this.#aws.fetch(url, {
        method,
        ...(options.headers ? { headers: options.headers } : {}),
        ...(options.body === undefined ? {} : { body: options.body as BodyInit }),
        signal,
      });
    } catch (cause) {
      if (options.signal?.aborted) throw cause;
      const timedOut = timeout.aborted;
      throw new S3Error(
        timedOut ? 'RequestTimeout' : 'NetworkError',
        `${method} ${url} ${timedOut ? `timed out after ${this.#timeoutMs} ms` : `failed: ${describe(cause)}`}`,
        { status: timedOut ? 504 : 502, retryable: true, cause },
      );
    }
    if (!response.ok) {
      throw parseError(response.status, await response.text(), response.headers.get('x-amz-request-id'));
    }
    return response;
  }

  async createMultipartUpload(bucket: string, key: string, options: { contentType?: string } = {}): Promise<string> {
    const headers: Record<string, string> = options.contentType ? { 'content-type': options.contentType } : {};
    const response = await this.request('POST', bucket, key, { query: 'uploads=', headers });
    return parseCreateResult(await response.text());
  }

  /**
   * Completes an upload. Stores that answer with an empty ETag (Ceph) are checked with HEAD, so
   * the caller always learns the object's ETag or gets an error.
   */
  async completeMultipartUpload(
    bucket: string,
    key: string,
    uploadId: string,
    parts: readonly CompletedPart[],
  ): Promise<{ etag: string }> {
    const response = await this.request('POST', bucket, key, {
      query: `uploadId=${encodeRfc3986(uploadId)}`,
      body: completeMultipartUploadXml(parts),
      headers: { 'content-type': 'application/xml' },
    });
    const result = parseCompleteResult(response.status, await response.text(), response.headers.get('x-amz-request-id'));
    if (result.etag !== '') return result;
    const head = await this.headObject(bucket, key);
    if (!head) throw new S3Error('NoSuchKey', `Completed ${key} but HEAD finds no object`, { status: 502 });
    return { etag: head.etag };
  }

  async abortMultipartUpload(bucket: string, key: string, uploadId: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.request('DELETE', bucket, key, {
        query: `uploadId=${encodeRfc3986(uploadId)}`,
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      // Already gone (completed or aborted before): the goal of an abort is met.
      if (error instanceof S3Error && error.code === 'NoSuchUpload') return;
      throw error;
    }
  }

  async listMultipartUploads(bucket: string, options: { prefix?: string } = {}): Promise<ListedUpload[]> {
    const uploads: ListedUpload[] = [];
    let marker: { keyMarker: string; uploadIdMarker: string } | undefined;
    do {
      const query = queryString({ uploads: '' });
      if (options.prefix) query.set('prefix', options.prefix);
      if (marker) {
        query.set('key-marker', marker.keyMarker);
        query.set('upload-id-marker', marker.uploadIdMarker);
      }
      const response = await this.request('GET', bucket, '', { query: query.toString() });
      const page = parseListMultipartUploads(await response.text());
      uploads.push(...page.uploads);
      marker = page.next;
    } while (marker);
    return uploads;
  }

  async listParts(bucket: string, key: string, uploadId: string): Promise<ListedPart[]> {
    const parts: ListedPart[] = [];
    let marker: string | undefined;
    do {
      const query = queryString({ uploadId });
      if (marker) query.set('part-number-marker', marker);
      const response = await this.request('GET', bucket, key, { query: query.toString() });
      const page = parseListParts(await response.text());
      parts.push(...page.parts);
      marker = page.nextMarker;
    } while (marker);
    return parts;
  }

  async headObject(bucket: string, key: string): Promise<ObjectHead | undefined> {
    try {
      const response = await this.request('HEAD', bucket, key);
      return {
        size: Number(response.headers.get('content-length')),
        etag: response.headers.get('etag') ?? '',
        lastModified: new Date(response.headers.get('last-modified') ?? 0),
      };
    } catch (error) {
      if (error instanceof S3Error && error.status === 404) return undefined;
      throw error;
    }
  }

  async getObject(bucket: string, key: string, options: { range?: [number, number] } = {}): Promise<Uint8Array> {
    const headers: Record<string, string> = options.range ? { range: `bytes=${options.range[0]}-${options.range[1]}` } : {};
    const response = await this.request('GET', bucket, key, { headers });
    return new Uint8Array(await response.arrayBuffer());
  }

  async putObject(bucket: string, key: string, body: Body, options: { contentType?: string } = {}): Promise<{ etag: string }> {
    const headers: Record<string, string> = options.contentType ? { 'content-type': options.contentType } : {};
    const response = await this.request('PUT', bucket, key, { body, headers });
    return { etag: response.headers.get('etag') ?? '' };
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    await this.request('DELETE', bucket, key);
  }

  /** Creates a bucket; one that already exists and is ours is fine. */
  async createBucket(bucket: string): Promise<void> {
    try {
      await this.request('PUT', bucket, '');
    } catch (error) {
      if (error instanceof S3Error && error.code === 'BucketAlreadyOwnedByYou') return;
      throw error;
    }
  }

  async deleteBucket(bucket: string): Promise<void> {
    await this.request('DELETE', bucket, '');
  }

  async listObjects(bucket: string, options: { prefix?: string } = {}): Promise<ListedObject[]> {
    const objects: ListedObject[] = [];
    let token: string | undefined;
    do {
      const query = queryString({ 'list-type': '2' });
      if (options.prefix) query.set('prefix', options.prefix);
      if (token) query.set('continuation-token', token);
      const response = await this.request('GET', bucket, '', { query: query.toString() });
      const page = parseListObjects(await response.text());
      objects.push(...page.objects);
      token = page.continuationToken;
    } while (token);
    return objects;
  }

  /** Deletes every object and in-progress upload, then the bucket: for tests and the demo. */
  async emptyAndDeleteBucket(bucket: string): Promise<void> {
    for (const upload of await this.listMultipartUploads(bucket)) {
      await this.abortMultipartUpload(bucket, upload.key, upload.uploadId);
    }
    for (const object of await this.listObjects(bucket)) await this.deleteObject(bucket, object.key);
    await this.deleteBucket(bucket);
  }
}

function describe(cause: unknown): string {
  if (cause instanceof Error) {
    const inner = cause.cause instanceof Error ? `: ${cause.cause.message}` : '';
    return `${cause.message}${inner}`;
  }
  return String(cause);
}

/** Query strings with RFC 3986 encoding (URLSearchParams would write a space as `+`). */
function queryString(initial: Record<string, string>) {
  const params = new Map(Object.entries(initial));
  return {
    set(name: string, value: string) {
      params.set(name, value);
    },
    toString(): string {
      return [...params].map(([k, v]) => (v === '' && k === 'uploads' ? k : `${encodeRfc3986(k)}=${encodeRfc3986(v)}`)).join('&');
    },
  };
}
