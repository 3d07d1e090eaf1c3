/**
 * The plan function as a Hono app (Web standards only): multipart plans with presigned part,
 * complete and abort URLs, re-signing, complete/abort/list, bulk presign and the sweep. One
 * `onError` maps every error (validation, auth, S3) to `{error: {code, message}}`.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { swaggerUI } from '@hono/swagger-ui';
import { HTTPException } from 'hono/http-exception';
import { S3Client } from '../s3/client.ts';
import { InvalidInput, S3Error } from '../s3/errors.ts';
import { partAt, planParts } from '../s3/plan.ts';
import { maxExpiresIn, Presigner } from '../s3/presign.ts';
import { validateBucketName, validateKey } from '../s3/uri.ts';
import { authenticate, checkBucket, checkKey, forbidden, keyInScope, type TokenScope } from './auth.ts';
import { ConfigError, type FunctionConfig, type FunctionEnv, loadConfig } from './config.ts';
import * as s from './schemas.ts';
import { sweep } from './sweep.ts';

export interface Services {
  config: FunctionConfig;
  presigner: Presigner;
  client: S3Client;
}

type Env = { Bindings: FunctionEnv; Variables: { services: Services; scope: TokenScope } };

const services = new WeakMap<object, Services>();

/** Settings and S3 clients for an environment, built once per env object (workerd passes the same one). */
export function servicesFor(env: FunctionEnv): Services {
  let found = services.get(env);
  if (!found) {
    const config = loadConfig(env);
    found = {
      config,
      presigner: new Presigner({ endpoint: config.endpoint, credentials: config.credentials }),
      client: new S3Client({ endpoint: config.endpoint, credentials: config.credentials }),
    };
    services.set(env, found);
  }
  return found;
}

const json = <T extends z.ZodType>(schema: T) => ({ content: { 'application/json': { schema } } });
const body = <T extends z.ZodType>(schema: T) => ({ body: { ...json(schema), required: true } });
const errors = {
  400: { ...json(s.ErrorResponse), description: 'Invalid input: the message names the field and the expected form' },
  401: { ...json(s.ErrorResponse), description: 'Missing, invalid or expired bearer token' },
  403: { ...json(s.ErrorResponse), description: 'Outside the token scope' },
  502: { ...json(s.ErrorResponse), description: 'S3 failed' },
};
const security = [{ bearer: [] }];

function lifetime(scope: TokenScope, requested: number | undefined): number {
  const limit = scope.maxExpiresIn;
  const expiresIn = requested ?? Math.min(3600, limit ?? 3600);
  if (expiresIn > maxExpiresIn) {
    throw new InvalidInput('InvalidExpiresIn', `expiresIn must be at most ${maxExpiresIn} seconds (7 days), got ${expiresIn}`);
  }
  if (limit !== undefined && expiresIn > limit) {
    throw forbidden(`expiresIn ${expiresIn} s is above the token's maxExpiresIn ${limit} s`);
  }
  return expiresIn;
}

function checkObject(bucket: string, key: string): void {
  validateBucketName(bucket);
  validateKey(key);
}

export function createApp(): OpenAPIHono<Env> {
  const app = new OpenAPIHono<Env>({
    defaultHook: (result, c) => {
      if (result.success) return;
      const issues = result.error.issues.map((issue) => {
        const field = issue.path.join('.') || '(body)';
        return `${field}: ${issue.message}`;
      });
      return c.json({ error: { code: 'InvalidRequest', message: `Invalid request: ${issues.join('; ')}` } }, 400);
    },
  });

  app.onError((error, c) => {
    if (error instanceof HTTPException) {
      if (error.res) return error.res;
      const code = error.status === 403 ? 'Forbidden' : error.status === 415 ? 'UnsupportedMediaType' : error.status === 401 ? 'Unauthorized' : 'BadRequest';
      return c.json({ error: { code, message: error.message } }, error.status);
    }
    if (error instanceof InvalidInput) return c.json({ error: { code: error.code, message: error.message } }, 400);
    if (error instanceof S3Error) {
      // 404s (bucket, upload) are the caller's to fix; anything else is an upstream failure.
      const status = error.status === 404 ? 404 : error.code === 'RequestTimeout' ? 504 : 502;
      return c.json({ error: { code: error.code, message: `S3: ${error.message}` } }, status);
    }
    if (error instanceof ConfigError) {
      console.error(`s3nd function misconfigured: ${error.message}`);
      return c.json({ error: { code: 'ServerMisconfigured', message: error.message } }, 500);
    }
    console.error('s3nd function: unexpected error', error);
    return c.json({ error: { code: 'InternalError', message: 'Internal error' } }, 500);
  });

  app.get('/healthz', (c) => c.json({ ok: true }));
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 's3nd plan function', version: '0.1.0', description: 'Presigned multipart upload plans for S3-compatible storage' },
  });
  app.get('/docs', swaggerUI({ url: '/openapi.json' }));

  app.use('/v1/*', async (c, next) => {
    const found = servicesFor(c.env ?? {});
    c.set('services', found);
    c.set('scope', await authenticate(c.req.header('authorization'), found.config));
    await next();
  });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/plans',
      summary: 'Start an upload and return its plan',
      security,
      request: { query: s.PlanQuery, ...body(s.PlanRequest) },
      responses: {
        200: { ...json(z.union([s.MultipartPlan, s.SinglePlan])), description: 'The plan' },
        ...errors,
      },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const { config, presigner, client } = c.get('services');
      const scope = c.get('scope');
      checkObject(input.bucket, input.key);
      checkKey(scope, config, input.bucket, input.key);
      if (scope.maxBytes !== undefined && input.size > scope.maxBytes) {
        throw forbidden(`size ${input.size} bytes is above the token's maxBytes ${scope.maxBytes}`);
      }
      const expiresIn = lifetime(scope, input.expiresIn);
      const plan = planParts(input.size, { partSize: input.partSize ?? config.partSize });
      const now = new Date();
      const expiresAt = new Date(now.getTime() + expiresIn * 1000).toISOString();
      const headers = input.contentType ? { 'content-type': input.contentType } : undefined;
      if (input.size <= plan.partSize) {
        const url = presigner.presign({ method: 'PUT', bucket: input.bucket, key: input.key, expiresIn, date: now, ...(headers ? { headers } : {}) });
        return c.json({ kind: 'single' as const, bucket: input.bucket, key: input.key, size: input.size, expiresAt, url }, 200);
      }
      const uploadId = await client.createMultipartUpload(input.bucket, input.key, input.contentType ? { contentType: input.contentType } : {});
      const common = {
        kind: 'multipart' as const,
        bucket: input.bucket,
        key: input.key,
        uploadId,
        size: plan.size,
        partSize: plan.partSize,
        partCount: plan.partCount,
        ...(plan.partSizeReason ? { partSizeReason: plan.partSizeReason } : {}),
        expiresAt,
        completeUrl: presigner.presign({ method: 'POST', bucket: input.bucket, key: input.key, query: { uploadId }, expiresIn, date: now }),
        abortUrl: presigner.presign({ method: 'DELETE', bucket: input.bucket, key: input.key, query: { uploadId }, expiresIn, date: now }),
      };
      if (c.req.valid('query').format === 'compact') {
        const { template, signatures } = presigner.partTemplate(input.bucket, input.key, uploadId, plan.partCount, expiresIn, now);
        return c.json({ ...common, template, signatures }, 200);
      }
      const urls = presigner.partUrls(input.bucket, input.key, uploadId, 1, plan.partCount, expiresIn, now);
      const parts = urls.map((url, i) => ({ ...partAt(plan, i + 1), url }));
      return c.json({ ...common, parts }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/uploads/parts',
      summary: 'Re-sign parts of an upload (retries, long uploads)',
      security,
      request: body(s.PartsRequest),
      responses: { 200: { ...json(s.PartsResponse), description: 'Fresh part URLs' }, ...errors },
    }),
    (c) => {
      const input = c.req.valid('json');
      const { config, presigner } = c.get('services');
      const scope = c.get('scope');
      checkObject(input.bucket, input.key);
      checkKey(scope, config, input.bucket, input.key);
      const expiresIn = lifetime(scope, input.expiresIn);
      const now = new Date();
      const urls = presigner.partUrlList(input.bucket, input.key, input.uploadId, input.partNumbers, expiresIn, now);
      return c.json(
        {
          parts: input.partNumbers.map((partNumber, i) => ({ partNumber, url: urls[i]! })),
          expiresAt: new Date(now.getTime() + expiresIn * 1000).toISOString(),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/uploads/complete',
      summary: 'Complete a multipart upload',
      security,
      request: body(s.CompleteRequest),
      responses: { 200: { ...json(s.CompleteResponse), description: 'The object' }, ...errors },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const { config, client } = c.get('services');
      checkObject(input.bucket, input.key);
      checkKey(c.get('scope'), config, input.bucket, input.key);
      const { etag } = await client.completeMultipartUpload(input.bucket, input.key, input.uploadId, input.parts);
      return c.json({ bucket: input.bucket, key: input.key, etag }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/uploads/abort',
      summary: 'Abort a multipart upload',
      security,
      request: body(s.AbortRequest),
      responses: { 204: { description: 'Aborted (or already gone)' }, ...errors },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const { config, client } = c.get('services');
      checkObject(input.bucket, input.key);
      checkKey(c.get('scope'), config, input.bucket, input.key);
      await client.abortMultipartUpload(input.bucket, input.key, input.uploadId);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/uploads',
      summary: 'In-progress uploads under a prefix (within the token scope)',
      security,
      request: { query: s.UploadsQuery },
      responses: { 200: { ...json(s.UploadsResponse), description: 'Uploads' }, ...errors },
    }),
    async (c) => {
      const { bucket, prefix } = c.req.valid('query');
      const { config, client } = c.get('services');
      const scope = c.get('scope');
      validateBucketName(bucket);
      checkBucket(scope, config, bucket);
      const uploads = await client.listMultipartUploads(bucket, prefix ? { prefix } : {});
      return c.json(
        {
          uploads: uploads
            .filter((u) => keyInScope(scope, u.key))
            .map((u) => ({ key: u.key, uploadId: u.uploadId, initiated: u.initiated.toISOString() })),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/presign',
      summary: 'Presign GET/PUT/HEAD URLs in bulk (up to 10,000)',
      security,
      request: body(s.PresignRequest),
      responses: { 200: { ...json(s.PresignResponse), description: 'URLs' }, ...errors },
    }),
    (c) => {
      const { bucket, items } = c.req.valid('json');
      const { config, presigner } = c.get('services');
      const scope = c.get('scope');
      validateBucketName(bucket);
      const now = new Date();
      const urls = items.map((item) => {
        validateKey(item.key);
        checkKey(scope, config, bucket, item.key);
        const expiresIn = lifetime(scope, item.expiresIn);
        return {
          key: item.key,
          method: item.method,
          url: presigner.presign({ method: item.method, bucket, key: item.key, expiresIn, date: now }),
          expiresAt: new Date(now.getTime() + expiresIn * 1000).toISOString(),
        };
      });
      return c.json({ urls }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/sweep',
      summary: 'Abort in-progress uploads older than S3ND_SWEEP_AGE under S3ND_SWEEP_PREFIXES, within the token scope',
      security,
      responses: { 200: { ...json(s.SweepResponse), description: 'What was aborted' }, ...errors },
    }),
    async (c) => {
      const { config, client } = c.get('services');
      const scope = c.get('scope');
      const aborted = await sweep(config, client, new Date(), (bucket, key) => {
        if (config.allowedBuckets && !config.allowedBuckets.has(bucket)) return false;
        return (!scope.buckets || scope.buckets.includes(bucket)) && keyInScope(scope, key);
      });
      return c.json({ aborted }, 200);
    },
  );

  return app;
}
