/**
 * Where plans come from: signed locally with the worker's own credentials (the S3 core), or from
 * the plan function (`S3ND_FUNCTION_URL` + a bearer token) when the worker holds no S3 keys.
 * Both hand the engine the same `UploadPlan` and re-sign URLs for retries and long uploads.
 */
import { S3Client } from '../functions/s3/client.ts';
import { S3Error } from '../functions/s3/errors.ts';
import { Presigner } from '../functions/s3/presign.ts';
import type { Credentials, Endpoint } from '../functions/s3/types.ts';
import type { CompletedPart } from '../functions/s3/xml.ts';

export interface UploadPlan {
  kind: 'single' | 'multipart';
  bucket: string;
  key: string;
  size: number;
  partSize: number;
  partCount: number;
  uploadId: string;
  /** When the URLs below stop working (ms since epoch). */
  expiresAt: number;
  /** Part URL n (1-based); a single plan has one. */
  urls: (partNumber: number) => string;
}

export interface PlanRequest {
  bucket: string;
  key: string;
  size: number;
  partSize: number;
  contentType?: string | undefined;
}

export interface PlanSource {
  readonly kind: 'local' | 'remote';
  create(request: PlanRequest, signal: AbortSignal): Promise<UploadPlan>;
  /** A freshly signed URL for one part (retries, or a plan near its expiry). */
  resign(plan: UploadPlan, partNumber: number, signal: AbortSignal): Promise<string>;
  complete(plan: UploadPlan, parts: CompletedPart[], signal: AbortSignal): Promise<{ etag: string }>;
  abort(plan: UploadPlan, signal: AbortSignal): Promise<void>;
}

/** URL lifetime asked for: long enough for slow links, re-signed on retries anyway. */
const expiresIn = 3600;

function templateUrls(template: string, signatures: string[]): (n: number) => string {
  return (n) => template.replace('{partNumber}', String(n)).replace('{signature}', signatures[n - 1]!);
}

export class LocalPlanSource implements PlanSource {
  readonly kind = 'local' as const;
  readonly client: S3Client;
  readonly #presigner: Presigner;

  constructor(endpoint: Endpoint, credentials: Credentials) {
    this.client = new S3Client({ endpoint, credentials });
    this.#presigner = new Presigner({ endpoint, credentials });
  }

  async create(request: PlanRequest): Promise<UploadPlan> {
    const now = new Date();
    const base = { bucket: request.bucket, key: request.key, size: request.size, partSize: request.partSize, expiresAt: now.getTime() + expiresIn * 1000 };
    if (request.size <= request.partSize) {
      const url = this.#presigner.presign({ method: 'PUT', bucket: request.bucket, key: request.key, expiresIn, date: now, ...(request.contentType ? { headers: { 'content-type': request.contentType } } : {}) });
      return { ...base, kind: 'single', partCount: 1, uploadId: '', urls: () => url };
    }
    const uploadId = await this.client.createMultipartUpload(request.bucket, request.key, request.contentType ? { contentType: request.contentType } : {});
    const partCount = Math.ceil(request.size / request.partSize);
    const { template, signatures } = this.#presigner.partTemplate(request.bucket, request.key, uploadId, partCount, expiresIn, now);
    return { ...base, kind: 'multipart', partCount, uploadId, urls: templateUrls(template, signatures) };
  }

  async resign(plan: UploadPlan, partNumber: number): Promise<string> {
    if (plan.kind === 'single') {
      return this.#presigner.presign({ method: 'PUT', bucket: plan.bucket, key: plan.key, expiresIn });
    }
    return this.#presigner.partUrlList(plan.bucket, plan.key, plan.uploadId, [partNumber], expiresIn)[0]!;
  }

  complete(plan: UploadPlan, parts: CompletedPart[]): Promise<{ etag: string }> {
    return this.client.completeMultipartUpload(plan.bucket, plan.key, plan.uploadId, parts);
  }

  abort(plan: UploadPlan, signal: AbortSignal): Promise<void> {
    return this.client.abortMultipartUpload(plan.bucket, plan.key, plan.uploadId, signal);
  }
}

interface FunctionError {
  error?: { code?: string; message?: string };
}

export class RemotePlanSource implements PlanSource {
  readonly kind = 'remote' as const;
  readonly #url: string;
  readonly #token: string;

  constructor(functionUrl: string, token: string) {
    this.#url = functionUrl.replace(/\/+$/, '');
    this.#token = token;
  }

  async #call<T>(method: string, path: string, body: unknown, signal: AbortSignal): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.#url}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.#token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.any([signal, AbortSignal.timeout(60_000)]),
      });
    } catch (cause) {
      if (signal.aborted) throw cause;
      throw new S3Error('FunctionUnreachable', `plan function ${this.#url}: ${(cause as Error).message}`, { status: 502, retryable: true, cause });
    }
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    if (!response.ok) {
      let parsed: FunctionError = {};
      try {
        parsed = JSON.parse(text) as FunctionError;
      } catch {
        // Not our function's JSON (a proxy page, say): the status and text still explain it.
      }
      const code = parsed.error?.code ?? `Http${response.status}`;
      throw new S3Error(code, `plan function: ${parsed.error?.message ?? text.slice(0, 200)}`, {
        status: response.status,
        retryable: response.status >= 500 && response.status !== 501,
      });
    }
    return JSON.parse(text) as T;
  }

  async create(request: PlanRequest, signal: AbortSignal): Promise<UploadPlan> {
    const plan = await this.#call<{
      kind: 'single' | 'multipart';
      uploadId?: string;
      partSize?: number;
      partCount?: number;
      expiresAt: string;
      url?: string;
      template?: string;
      signatures?: string[];
    }>('POST', '/v1/plans?format=compact', { bucket: request.bucket, key: request.key, size: request.size, partSize: request.partSize, expiresIn, ...(request.contentType ? { contentType: request.contentType } : {}) }, signal);
    const base = { bucket: request.bucket, key: request.key, size: request.size, expiresAt: Date.parse(plan.expiresAt) };
    if (plan.kind === 'single') return { ...base, kind: 'single', partSize: request.partSize, partCount: 1, uploadId: '', urls: () => plan.url! };
    return {
      ...base,
      kind: 'multipart',
      uploadId: plan.uploadId!,
      partSize: plan.partSize!,
      partCount: plan.partCount!,
      urls: templateUrls(plan.template!, plan.signatures!),
    };
  }

  async resign(plan: UploadPlan, partNumber: number, signal: AbortSignal): Promise<string> {
    if (plan.kind === 'single') {
      const { urls } = await this.#call<{ urls: { url: string }[] }>('POST', '/v1/presign', { bucket: plan.bucket, items: [{ key: plan.key, method: 'PUT', expiresIn }] }, signal);
      return urls[0]!.url;
    }
    const { parts } = await this.#call<{ parts: { url: string }[] }>(
      'POST',
      '/v1/uploads/parts',
      { bucket: plan.bucket, key: plan.key, uploadId: plan.uploadId, partNumbers: [partNumber], expiresIn },
      signal,
    );
    return parts[0]!.url;
  }

  complete(plan: UploadPlan, parts: CompletedPart[], signal: AbortSignal): Promise<{ etag: string }> {
    return this.#call('POST', '/v1/uploads/complete', { bucket: plan.bucket, key: plan.key, uploadId: plan.uploadId, parts }, signal);
  }

  async abort(plan: UploadPlan, signal: AbortSignal): Promise<void> {
    await this.#call('POST', '/v1/uploads/abort', { bucket: plan.bucket, key: plan.key, uploadId: plan.uploadId }, signal);
  }
}
