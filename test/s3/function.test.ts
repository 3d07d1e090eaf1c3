/**
 * One HTTP-level suite for the plan function, run against the same app served by Node, Bun, Deno
 * and workerd (wrangler dev), all talking to the local Ceph RGW. Plans are used to upload real
 * objects that are read back byte-exact; bad input and scope violations get clear 4xx answers and
 * never create a multipart upload.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { sign } from 'hono/jwt';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { completeMultipartUploadXml } from '../../functions/s3/xml.ts';
import { localS3, uniqueBucket } from './helpers.ts';

const { client } = localS3();
const bucket = uniqueBucket('fn');
const otherBucket = uniqueBucket('fn-other');
const secret = `test-secret-${randomBytes(8).toString('hex')}`;
const runtimes = ['node', 'bun', 'deno', 'workerd'] as const;

beforeAll(async () => {
  await client.createBucket(bucket);
  await client.createBucket(otherBucket);
});
afterAll(async () => {
  await client.emptyAndDeleteBucket(bucket);
  await client.emptyAndDeleteBucket(otherBucket);
});

async function token(claims: Record<string, unknown> = {}, key: string = secret, alg: 'HS256' | 'EdDSA' = 'HS256') {
  const now = Math.floor(Date.now() / 1000);
  return sign({ exp: now + 600, buckets: [bucket, otherBucket], prefixes: ['in/'], ...claims }, key, alg);
}

async function inProgress(): Promise<number> {
  return (await client.listMultipartUploads(bucket)).length + (await client.listMultipartUploads(otherBucket)).length;
}

describe.each(runtimes.map((r, i) => [r, 18790 + i] as const))('plan function on %s', (runtime, port) => {
  const base = `http://127.0.0.1:${port}`;
  let server: ChildProcess;
  let auth: string;

  beforeAll(async () => {
    const env: Record<string, string | undefined> = { ...process.env, S3ND_JWT_SECRET: secret, S3ND_SWEEP_AGE: '0s', S3ND_SWEEP_PREFIXES: `${bucket}/in/sweep/` };
    // workerd cannot be told about the test CA: it talks to Ceph over plain HTTP.
    if (runtime === 'workerd') env.S3ND_ENDPOINT_URL = process.env.S3ND_HTTP_ENDPOINT_URL;
    server = spawn('node_modules/.bin/tsx', ['scripts/serve-function.ts', '--runtime', runtime, '--port', String(port)], {
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    for (let i = 0; i < 200; i++) {
      if (await fetch(`${base}/healthz`).then((r) => r.ok, () => false)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    auth = `Bearer ${await token()}`;
  }, 60_000);
  afterAll(async () => {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  test('healthz, OpenAPI document and docs page', async () => {
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ ok: true });
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/plans', '/v1/uploads/parts', '/v1/uploads/complete', '/v1/uploads/abort', '/v1/uploads', '/v1/presign', '/v1/sweep']),
    );
    expect(await (await fetch(`${base}/docs`)).text()).toContain('swagger');
  });

  test('a multipart plan uploads a real object, read back byte-exact (full and compact formats)', async () => {
    for (const format of ['full', 'compact']) {
      const key = `in/${runtime}/${format} ünï+obj.bin`;
      const size = 11 * 2 ** 20 + 3;
      const data = randomBytes(size);
      const response = await post(`/v1/plans?format=${format}`, { bucket, key, size, contentType: 'application/x-test' });
      expect(response.status).toBe(200);
      const plan = (await response.json()) as {
        kind: string;
        uploadId: string;
        partSize: number;
        partCount: number;
        parts?: { partNumber: number; offset: number; size: number; url: string }[];
        template?: string;
        signatures?: string[];
        completeUrl: string;
      };
      expect(plan).toMatchObject({ kind: 'multipart', partSize: 5 * 2 ** 20, partCount: 3 });
      const parts =
        plan.parts ??
        plan.signatures!.map((sig, i) => ({
          partNumber: i + 1,
          offset: i * plan.partSize,
          size: Math.min(plan.partSize, size - i * plan.partSize),
          url: plan.template!.replace('{partNumber}', String(i + 1)).replace('{signature}', sig),
        }));
      expect(parts.map((p) => p.size)).toEqual([5 * 2 ** 20, 5 * 2 ** 20, 2 ** 20 + 3]);
      const etags = await Promise.all(
        parts.map(async (p) => {
          const r = await fetch(p.url, { method: 'PUT', body: data.subarray(p.offset, p.offset + p.size) });
          expect(r.status).toBe(200);
          return { partNumber: p.partNumber, etag: r.headers.get('etag')! };
        }),
      );
      if (format === 'full') {
        const done = await fetch(plan.completeUrl, { method: 'POST', body: completeMultipartUploadXml(etags) });
        expect(done.status).toBe(200);
      } else {
        const done = await post('/v1/uploads/complete', { bucket, key, uploadId: plan.uploadId, parts: etags });
        expect(done.status).toBe(200);
        expect(await done.json()).toMatchObject({ bucket, key, etag: expect.stringMatching(/^"[0-9a-f]{32}-3"$/) });
      }
      const back = await client.getObject(bucket, key);
      expect(createHash('md5').update(back).digest('hex')).toBe(createHash('md5').update(data).digest('hex'));
    }
    expect(await inProgress()).toBe(0);
  });

  test('a single plan (zero bytes and ≤ part size) is one presigned PUT', async () => {
    for (const size of [0, 5 * 2 ** 20]) {
      const key = `in/${runtime}/single-${size}`;
      const response = await post('/v1/plans', { bucket, key, size });
      const plan = (await response.json()) as { kind: string; url: string };
      expect(plan.kind).toBe('single');
      const data = randomBytes(size);
      expect((await fetch(plan.url, { method: 'PUT', body: data })).status).toBe(200);
      expect((await client.headObject(bucket, key))?.size).toBe(size);
    }
    expect(await inProgress()).toBe(0);
  });

  test('re-sign parts, list, abort, sweep', async () => {
    const plan = (await (await post('/v1/plans', { bucket, key: `in/sweep/${runtime}`, size: 6 * 2 ** 20 })).json()) as { uploadId: string };
    const resigned = (await (await post('/v1/uploads/parts', { bucket, key: `in/sweep/${runtime}`, uploadId: plan.uploadId, partNumbers: [2] })).json()) as {
      parts: { partNumber: number; url: string }[];
    };
    expect(resigned.parts[0]!.partNumber).toBe(2);
    expect((await fetch(resigned.parts[0]!.url, { method: 'PUT', body: randomBytes(2 ** 20) })).status).toBe(200);
    const listed = (await (await fetch(`${base}/v1/uploads?bucket=${bucket}&prefix=in/`, { headers: { authorization: auth } })).json()) as {
      uploads: { uploadId: string }[];
    };
    expect(listed.uploads.map((u) => u.uploadId)).toContain(plan.uploadId);
    const swept = (await (await post('/v1/sweep', '')).json()) as { aborted: { uploadId: string }[] };
    expect(swept.aborted.map((u) => u.uploadId)).toContain(plan.uploadId);
    const other = (await (await post('/v1/plans', { bucket, key: `in/${runtime}/abort`, size: 6 * 2 ** 20 })).json()) as { uploadId: string };
    expect((await post('/v1/uploads/abort', { bucket, key: `in/${runtime}/abort`, uploadId: other.uploadId })).status).toBe(204);
    expect(await inProgress()).toBe(0);
  });

  test('bulk presign', async () => {
    const response = await post('/v1/presign', { bucket, items: [{ key: 'in/p1', method: 'PUT' }, { key: 'in/p1', method: 'GET', expiresIn: 60 }] });
    const { urls } = (await response.json()) as { urls: { url: string; method: string }[] };
    expect((await fetch(urls[0]!.url, { method: 'PUT', body: 'hello' })).status).toBe(200);
    expect(await (await fetch(urls[1]!.url)).text()).toBe('hello');
  });

  test('auth: missing, malformed, badly signed and expired tokens are 401', async () => {
    const plan = { bucket, key: 'in/x', size: 10 };
    expect((await post('/v1/plans', plan, { authorization: '' })).status).toBe(401);
    expect((await post('/v1/plans', plan, { authorization: 'Bearer not-a-jwt' })).status).toBe(401);
    expect((await post('/v1/plans', plan, { authorization: `Bearer ${await token({}, 'wrong-secret')}` })).status).toBe(401);
    const expired = await post('/v1/plans', plan, { authorization: `Bearer ${await token({ exp: Math.floor(Date.now() / 1000) - 10 })}` });
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as { error: { message: string } }).error.message).toMatch(/expired/);
    const { privateKey } = generateKeyPairSync('ed25519');
    const eddsa = await token({}, privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), 'EdDSA');
    expect((await post('/v1/plans', plan, { authorization: `Bearer ${eddsa}` })).status).toBe(401);
  });

  test('bad input and scope violations: clear 4xx, no multipart upload created', async () => {
    const before = await inProgress();
    const big = 'k'.repeat(1025);
    const cases: [string, unknown, number, RegExp, Record<string, string>?][] = [
      ['missing size', { bucket, key: 'in/x' }, 400, /size/],
      ['missing body fields', {}, 400, /bucket/],
      ['negative size', { bucket, key: 'in/x', size: -1 }, 400, /size/],
      ['fractional size', { bucket, key: 'in/x', size: 1.5 }, 400, /size/],
      ['huge size', { bucket, key: 'in/x', size: 6 * 2 ** 40 }, 400, /object limit/],
      ['part size too small', { bucket, key: 'in/x', size: 2 ** 30, partSize: 2 ** 20 }, 400, /below the 5 MiB minimum/],
      ['part size too big', { bucket, key: 'in/x', size: 2 ** 30, partSize: 6 * 2 ** 30 }, 400, /above the 5 GiB maximum/],
      ['key too long', { bucket, key: `in/${big}`, size: 2 ** 30 }, 400, /1028 bytes/],
      ['bad bucket name', { bucket: 'Bad_Bucket', key: 'in/x', size: 2 ** 30 }, 400, /Invalid bucket name/],
      ['expiry above 7 days', { bucket, key: 'in/x', size: 2 ** 30, expiresIn: 8 * 86400 }, 400, /7 days/],
      ['malformed JSON', '{"bucket":', 400, /JSON/i],
      ['wrong content type', 'bucket=x', 415, /./, { 'content-type': 'application/x-www-form-urlencoded' }],
      ['other bucket', { bucket: 'not-in-scope', key: 'in/x', size: 2 ** 30 }, 403, /outside the token's scope/],
      ['other prefix', { bucket, key: 'out/x', size: 2 ** 30 }, 403, /outside the token's prefixes/],
    ];
    for (const [name, body, status, message, headers] of cases) {
      const response = await post('/v1/plans', body, headers);
      expect(response.status, name).toBe(status);
      const text = await response.text();
      expect(text, name).toMatch(message);
    }
    const limited = `Bearer ${await token({ maxBytes: 2 ** 20, maxExpiresIn: 600 })}`;
    const tooBig = await post('/v1/plans', { bucket, key: 'in/x', size: 2 ** 30 }, { authorization: limited });
    expect(tooBig.status).toBe(403);
    expect(await tooBig.text()).toMatch(/maxBytes/);
    const tooLong = await post('/v1/plans', { bucket, key: 'in/x', size: 100, expiresIn: 601 }, { authorization: limited });
    expect(tooLong.status).toBe(403);
    expect(await tooLong.text()).toMatch(/maxExpiresIn 600/);
    expect(await inProgress()).toBe(before);
  });
});
