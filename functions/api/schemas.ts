/** Request and response shapes of the plan function (DESIGN.md "Interfaces"), as zod schemas that also generate /openapi.json. */
import { z } from '@hono/zod-openapi';
import { maxExpiresIn } from '../s3/presign.ts';

const bucket = z.string().min(1).openapi({ example: 'observatory-raw', description: 'Bucket name' });
const key = z.string().min(1).openapi({ example: 'night/2026-11-24/exp_000123.fits', description: 'Object key, stored exactly as given' });
const expiresIn = z
  .number()
  .int()
  .positive()
  .openapi({ example: 3600, description: `URL lifetime in seconds; default min(3600, token maxExpiresIn); at most ${maxExpiresIn} (7 days)` });
const uploadId = z.string().min(1).openapi({ example: '2~abcdEFGH' });
const partNumber = z.number().int().min(1).max(10_000);
const expiresAt = z.string().openapi({ example: '2026-11-24T13:00:00.000Z', description: 'ISO-8601 UTC' });

export const ErrorResponse = z
  .object({ error: z.object({ code: z.string(), message: z.string() }) })
  .openapi('Error');

export const PlanRequest = z
  .object({
    bucket,
    key,
    size: z.number().int().min(0).openapi({ example: 1073741824, description: 'Object size in bytes' }),
    partSize: z.number().int().optional().openapi({ example: 104857600, description: '5 MiB – 5 GiB; default S3ND_UPLOAD_PARTSIZE' }),
    contentType: z.string().min(1).max(256).optional().openapi({ example: 'application/fits' }),
    expiresIn: expiresIn.optional(),
  })
  .openapi('PlanRequest');

const PlannedPart = z.object({ partNumber, offset: z.number().int(), size: z.number().int(), url: z.string() });

export const MultipartPlan = z
  .object({
    kind: z.literal('multipart'),
    bucket,
    key,
    uploadId,
    size: z.number().int(),
    partSize: z.number().int(),
    partCount: z.number().int(),
    partSizeReason: z.string().optional(),
    expiresAt,
    parts: z.array(PlannedPart).optional(),
    template: z.string().optional().openapi({ description: 'compact format: part URL with {partNumber} and {signature}' }),
    signatures: z.array(z.string()).optional().openapi({ description: 'compact format: signatures[i] belongs to part i+1' }),
    completeUrl: z.string(),
    abortUrl: z.string(),
  })
  .openapi('MultipartPlan');

export const SinglePlan = z
  .object({ kind: z.literal('single'), bucket, key, size: z.number().int(), expiresAt, url: z.string() })
  .openapi('SinglePlan');

export const PlanQuery = z.object({ format: z.enum(['full', 'compact']).optional() });

export const PartsRequest = z
  .object({ bucket, key, uploadId, partNumbers: z.array(partNumber).min(1).max(10_000), expiresIn: expiresIn.optional() })
  .openapi('PartsRequest');
export const PartsResponse = z
  .object({ parts: z.array(z.object({ partNumber, url: z.string() })), expiresAt })
  .openapi('PartsResponse');

export const CompleteRequest = z
  .object({ bucket, key, uploadId, parts: z.array(z.object({ partNumber, etag: z.string().min(1) })).min(1).max(10_000) })
  .openapi('CompleteRequest');
export const CompleteResponse = z.object({ bucket, key, etag: z.string() }).openapi('CompleteResponse');

export const AbortRequest = z.object({ bucket, key, uploadId }).openapi('AbortRequest');

export const UploadsQuery = z.object({ bucket, prefix: z.string().optional() });
export const UploadsResponse = z
  .object({ uploads: z.array(z.object({ key, uploadId, initiated: z.string() })) })
  .openapi('UploadsResponse');

export const PresignRequest = z
  .object({
    bucket,
    items: z.array(z.object({ key, method: z.enum(['GET', 'PUT', 'HEAD']), expiresIn: expiresIn.optional() })).min(1).max(10_000),
  })
  .openapi('PresignRequest');
export const PresignResponse = z
  .object({ urls: z.array(z.object({ key, method: z.string(), url: z.string(), expiresAt })) })
  .openapi('PresignResponse');

export const SweepResponse = z
  .object({ aborted: z.array(z.object({ bucket, key, uploadId })) })
  .openapi('SweepResponse');
