/**
 * The transfer engine: admits files to the part-weighted FIFO, gets a plan, pushes every part
 * through the transport with per-part retries (re-signed URL, fresh connection, equal-jitter
 * backoff, attempt n timing out after UPLOAD_TIMEOUT × FACTOR^(n−1)), re-checks the file's
 * identity, completes, and aborts the multipart upload on every failure path.
 */
import { createHash, randomUUID } from 'node:crypto';
import { type Stats, closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { S3Error } from '../functions/s3/errors.ts';
import { partAt, planParts } from '../functions/s3/plan.ts';
import { validateBucketName, validateKey } from '../functions/s3/uri.ts';
import type { CompletedPart } from '../functions/s3/xml.ts';
import type { PlanSource, UploadPlan } from './plan-source.ts';
import { PartQueue, type Release } from './queue.ts';
import { goDuration, mbitRate } from './report.ts';
import type { Transport } from './transport/types.ts';
import { type Engine, type EngineObserver, type TaskReport, type TransportName, UploadError, type UploadRequest } from './types.ts';

export interface EngineOptions {
  plans: PlanSource;
  transport: Transport;
  partSize: number;
  /** Parts in flight across all files (S3ND_UPLOAD_MAX_PARALLEL). */
  maxParallel: number;
  /** Seconds a file may wait for its first part slot (S3ND_QUEUE_TIMEOUT). */
  queueTimeout: number;
  /** Seconds for a part's first attempt (S3ND_UPLOAD_TIMEOUT); 0 = no limit. */
  uploadTimeout: number;
  timeoutFactor: number;
  /** Tries per part (S3ND_UPLOAD_TRIES). */
  tries: number;
  observer?: EngineObserver | undefined;
  /** Backoff base in ms (tests make it small). */
  backoffMs?: number;
  /** The S3 origin part URLs go to, when known before the first plan (local signing). */
  origin?: string | undefined;
}

interface Identity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

const identityOf = (s: Stats): Identity => ({ dev: s.dev, ino: s.ino, size: s.size, mtimeMs: s.mtimeMs });
const sameIdentity = (a: Identity, b: Identity) => a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });

export function createEngine(options: EngineOptions): Engine {
  const queue = new PartQueue(options.maxParallel);
  const running = new Set<AbortController>();
  let files = 0;
  let closing = false;
  // Where parts go: known up front when signing locally, learnt from the first plan otherwise.
  let origin = options.origin;
  const observer = options.observer ?? {};
  const backoffMs = options.backoffMs ?? 200;

  async function upload(request: UploadRequest, { signal }: { signal?: AbortSignal } = {}): Promise<TaskReport> {
    const id = request.id ?? randomUUID();
    const base = { id, uri: request.uri, file: request.file, ...(request.slug === undefined ? {} : { slug: request.slug }) };
    const fail = (code: ConstructorParameters<typeof UploadError>[0], message: string, extra: Partial<TaskReport> = {}, cause?: unknown) =>
      new UploadError(code, message, { ...base, ...extra }, cause);
    if (closing) throw fail('Aborted', 'the worker is shutting down');
    const controller = new AbortController();
    // Aborted from outside (client gone, shutdown), as opposed to by a part that failed for good.
    let abortedByCaller = false;
    const onAbort = () => {
      abortedByCaller = true;
      controller.abort(signal?.reason ?? new Error('client went away'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    running.add(controller);
    files++;
    const started = performance.now();
    let fd: number | undefined;
    let plan: UploadPlan | undefined;
    let completed = false;
    let maxAttempts = 0;
    // What carried the bytes: the transport's own name unless a part had to fall back.
    let carrier = options.transport.name;
    let partCount = 0;
    let size = 0;
    let queuedSeconds = 0;
    try {
      try {
        validateBucketName(request.bucket);
        validateKey(request.key);
      } catch (error) {
        throw fail('BadRequest', (error as Error).message, {}, error);
      }
      try {
        fd = openSync(request.file, 'r');
      } catch (error) {
        throw fail('BadRequest', `cannot open ${request.file}: ${(error as Error).message}`, {}, error);
      }
      const stat = fstatSync(fd);
      if (!stat.isFile()) throw fail('BadRequest', `${request.file} is not a regular file`);
      const identity = identityOf(stat);
      size = stat.size;
      let layout: ReturnType<typeof planParts>;
      try {
        layout = planParts(size, { partSize: options.partSize });
      } catch (error) {
        throw fail('BadRequest', (error as Error).message, {}, error);
      }
      partCount = layout.partCount;
      const single = size <= layout.partSize;

      // Single PUTs carry Content-MD5 of what was read, so bytes that change before S3 has them
      // are refused (BadDigest) instead of stored.
      let contentMd5: string | undefined;
      if (single) {
        // In 1 MiB reads: a single PUT may be up to 5 GiB, memory stays flat.
        const hash = createHash('md5');
        const buffer = Buffer.allocUnsafe(Math.min(size, 1 << 20));
        for (let at = 0; at < size; ) {
          const n = readSync(fd, buffer, 0, Math.min(buffer.length, size - at), at);
          if (n <= 0) throw fail('FileChanged', `${request.file} shrank while being read`);
          hash.update(buffer.subarray(0, n));
          at += n;
        }
        contentMd5 = hash.digest('base64');
        if (!sameIdentity(identity, identityOf(fstatSync(fd)))) throw fail('FileChanged', `${request.file} changed during upload`);
      }

      const { slots, cancel } = queue.enqueue(partCount);
      const queuedAt = performance.now();
      let first: Release;
      try {
        first = await withDeadline(slots[0]!, options.queueTimeout, controller.signal);
      } catch (error) {
        cancel(error);
        if (controller.signal.aborted) throw fail('Aborted', 'upload aborted while queued', {}, error);
        throw fail('QueueTimeout', `timeout waiting in queue after ${goDuration(options.queueTimeout)}`, { upload_parts: partCount, upload_size_bytes: size });
      }
      queuedSeconds = (performance.now() - queuedAt) / 1000;
      observer.queued?.(queuedSeconds);
      const transferStart = performance.now();
      // Open the connections the parts will need while CreateMultipartUpload is on its way: at
      // 200 ms RTT a TLS connection costs two round trips that would otherwise come after it.
      if (origin !== undefined) void options.transport.warm?.(origin, Math.min(partCount, options.maxParallel));
      try {
        plan = await options.plans.create({ bucket: request.bucket, key: request.key, size, partSize: layout.partSize, contentType: request.contentType }, controller.signal);
      } catch (error) {
        first();
        cancel(error);
        throw error;
      }
      const file = { path: request.file, fd };
      const parts: CompletedPart[] = new Array(partCount);
      const current = plan;
      origin ??= new URL(current.urls(1)).origin;
      let rootCause: unknown;
      const results = await Promise.allSettled(
        slots.map(async (slot, i) => {
          const release = i === 0 ? first : await slot;
          try {
            if (controller.signal.aborted) throw controller.signal.reason;
            const part = partAt({ size, partSize: current.partSize, partCount }, i + 1);
            const headers: Record<string, string> = {};
            if (contentMd5 !== undefined) headers['content-md5'] = contentMd5;
            if (single && request.contentType) headers['content-type'] = request.contentType;
            const { etag, attempts, transport } = await putPart(current, file, part, headers, controller.signal);
            maxAttempts = Math.max(maxAttempts, attempts);
            if (transport !== undefined) carrier = transport;
            parts[i] = { partNumber: i + 1, etag };
          } catch (error) {
            // One part failed for good: stop the others, they would be aborted anyway.
            if (rootCause === undefined) rootCause = error;
            controller.abort(error);
            cancel(error);
            throw error;
          } finally {
            release();
          }
        }),
      );
      if (results.some((r) => r.status === 'rejected')) throw rootCause;
      if (!sameIdentity(identity, identityOf(fstatSync(fd)))) {
        throw fail('FileChanged', `${request.file} changed during upload (size, mtime or inode differ); the upload was aborted`);
      }
      if (!single) await options.plans.complete(current, parts, controller.signal);
      completed = true;
      const transferSeconds = (performance.now() - transferStart) / 1000;
      const totalSeconds = (performance.now() - started) / 1000;
      const rate = transferSeconds > 0 ? size / transferSeconds : 0;
      const report: TaskReport = {
        ...base,
        upload_attempts: maxAttempts,
        upload_parts: partCount,
        upload_size_bytes: size,
        upload_queued_seconds: round(queuedSeconds),
        upload_transfer_seconds: round(transferSeconds),
        upload_total_seconds: round(totalSeconds),
        upload_total: goDuration(totalSeconds),
        upload_rate: mbitRate(rate),
        upload_rate_bytes: round(rate),
        transport: carrier,
      };
      observer.taskFinished?.(report);
      return report;
    } catch (error) {
      const uploadError = toUploadError(error, fail, abortedByCaller || closing, { upload_attempts: maxAttempts, upload_parts: partCount, upload_size_bytes: size, upload_queued_seconds: round(queuedSeconds) });
      observer.taskFinished?.(uploadError.report, uploadError);
      throw uploadError;
    } finally {
      if (plan && plan.kind === 'multipart' && !completed) await abortQuietly(plan);
      if (fd !== undefined) closeSync(fd);
      signal?.removeEventListener('abort', onAbort);
      running.delete(controller);
      files--;
    }
  }

  async function putPart(
    plan: UploadPlan,
    file: { path: string; fd: number },
    part: { partNumber: number; offset: number; size: number },
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<{ etag: string; attempts: number; transport: TransportName | undefined }> {
    let url = plan.urls(part.partNumber);
    for (let attempt = 1; ; attempt++) {
      const timeoutMs = options.uploadTimeout > 0 ? options.uploadTimeout * options.timeoutFactor ** (attempt - 1) * 1000 : 0;
      const attemptSignal = timeoutMs > 0 ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : signal;
      const t0 = performance.now();
      observer.partStarted?.();
      try {
        if (plan.expiresAt - Date.now() < 60_000) url = await options.plans.resign(plan, part.partNumber, signal);
        const { etag, transport } = await options.transport.put(url, file, part.offset, part.size, { signal: attemptSignal, headers, fresh: attempt > 1 });
        observer.partFinished?.(part.size, (performance.now() - t0) / 1000);
        return { etag, attempts: attempt, transport };
      } catch (error) {
        observer.partFinished?.(0, (performance.now() - t0) / 1000);
        if (signal.aborted) throw signal.reason;
        const timedOut = !signal.aborted && attemptSignal.aborted;
        const retryable = timedOut || (error instanceof S3Error && error.retryable);
        if (!retryable || attempt >= options.tries) {
          if (timedOut) {
            throw new S3Error('AttemptTimeout', `timeout during upload attempt ${attempt}/${options.tries} of part ${part.partNumber}`, { status: 504, cause: error });
          }
          throw error;
        }
        observer.retry?.(timedOut ? 'timeout' : error instanceof S3Error ? error.code : 'error');
        // Equal jitter: half the exponential step for sure, the other half at random.
        const step = Math.min(backoffMs * 2 ** (attempt - 1), 10_000);
        await sleep(step / 2 + Math.random() * (step / 2), signal);
        url = await options.plans.resign(plan, part.partNumber, signal);
      }
    }
  }

  async function abortQuietly(plan: UploadPlan): Promise<void> {
    // The request's own signal may be dead: the abort gets a fresh deadline.
    try {
      await options.plans.abort(plan, AbortSignal.timeout(30_000));
    } catch (error) {
      console.error(`s3nd: could not abort multipart upload ${plan.uploadId} of s3://${plan.bucket}/${plan.key}: ${(error as Error).message}`);
    }
  }

  return {
    transport: options.transport.name,
    upload,
    stats: () => ({ inFlightParts: queue.active, activeFiles: files, queuedFiles: queue.waiting }),
    async close(deadlineMs: number) {
      closing = true;
      const deadline = sleep(Math.max(0, deadlineMs - Date.now()), new AbortController().signal);
      const drained = (async () => {
        while (running.size > 0) await new Promise((r) => setTimeout(r, 50));
      })();
      await Promise.race([drained, deadline]);
      for (const controller of running) controller.abort(new Error('shutting down'));
      while (running.size > 0) await new Promise((r) => setTimeout(r, 20));
      options.transport.close();
    },
  };
}

function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

async function withDeadline<T>(promise: Promise<T>, seconds: number, signal: AbortSignal): Promise<T> {
  const timeout = AbortSignal.timeout(Math.max(1, seconds * 1000));
  const both = AbortSignal.any([timeout, signal]);
  if (both.aborted) throw both.reason;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(both.reason);
    both.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        both.removeEventListener('abort', onAbort);
        if (both.aborted) {
          // Granted just as the deadline passed: hand the slot back.
          (value as unknown as Release)();
          return;
        }
        resolve(value);
      },
      reject,
    );
  });
}

function toUploadError(
  error: unknown,
  fail: (code: ConstructorParameters<typeof UploadError>[0], message: string, extra?: Partial<TaskReport>, cause?: unknown) => UploadError,
  aborted: boolean,
  extra: Partial<TaskReport>,
): UploadError {
  if (error instanceof UploadError) {
    Object.assign(error.report, { ...extra, ...error.report });
    return error;
  }
  if (error instanceof S3Error) {
    if (error.code === 'NoSuchBucket') return fail('NoSuchBucket', 'upload failed because the bucket does not exist', extra, error);
    if (error.code === 'AttemptTimeout') return fail('AttemptTimeout', error.message, extra, error);
    if (error.code === 'BadDigest') return fail('FileChanged', 'file changed during upload (S3 refused the bytes: BadDigest)', extra, error);
    if (error.status === 400 && error.code.startsWith('Invalid')) return fail('BadRequest', error.message, extra, error);
    if (error.code === 'Aborted' || aborted) return fail('Aborted', 'upload aborted', extra, error);
    return fail('S3Error', `upload failed: ${error.code}: ${error.message}`, extra, error);
  }
  if (aborted) return fail('Aborted', `upload aborted: ${(error as Error)?.message ?? String(error)}`, extra, error);
  return fail('Unknown', `unknown error: ${(error as Error)?.message ?? String(error)}`, extra, error);
}
