/**
 * The transfer engine against the local Ceph RGW: sizes around every boundary, a ≥ 5 GiB sparse
 * file with random markers past 2^32, remote plans through the plan function, retries, and the
 * failure paths (missing bucket, file changed, part failing for good) — each leaves no
 * in-progress multipart upload behind.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign } from 'hono/jwt';
import { S3Error } from '../../functions/s3/errors.ts';
import worker from '../../functions/index.ts';
import { createEngine, type EngineOptions } from '../../worker/engine.ts';
import { LocalPlanSource, RemotePlanSource } from '../../worker/plan-source.ts';
import { FetchTransport } from '../../worker/transport/fetch.ts';
import { SendfileTransport } from '../../worker/transport/sendfile.ts';
import type { Transport } from '../../worker/transport/types.ts';
import { UploadError } from '../../worker/types.ts';
import { localS3, uniqueBucket } from '../s3/helpers.ts';
import { s3Env } from './s3.ts';

const env = s3Env();
const https = localS3(env, true);
const http = localS3(env, false);
const bucket = uniqueBucket('engine');
const dir = mkdtempSync(join(tmpdir(), 's3nd-engine-'));
const MiB = 2 ** 20;

function options(overrides: Partial<EngineOptions> = {}): EngineOptions {
  return {
    plans: new LocalPlanSource(https.endpoint, https.credentials),
    transport: new FetchTransport(),
    partSize: 5 * MiB,
    maxParallel: 16,
    queueTimeout: 30,
    uploadTimeout: 60,
    timeoutFactor: 1,
    tries: 3,
    backoffMs: 10,
    ...overrides,
  };
}

function file(name: string, data: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, data);
  return path;
}

const md5 = (data: Uint8Array) => createHash('md5').update(data).digest('hex');

async function noUploadsLeft() {
  expect(await https.client.listMultipartUploads(bucket)).toEqual([]);
}

beforeAll(() => https.client.createBucket(bucket));
afterAll(async () => {
  await https.client.emptyAndDeleteBucket(bucket);
  rmSync(dir, { recursive: true, force: true });
});

describe('engine uploads, read back byte-exact', () => {
  // Every transport the host has, on the schemes it serves (sendfile is plain HTTP only).
  const variants = [
    { name: 'https-fetch', target: https, transport: () => new FetchTransport() },
    { name: 'http-fetch', target: http, transport: () => new FetchTransport() },
    { name: 'http-sendfile', target: http, transport: () => new SendfileTransport() },
  ] as const;
  for (const { name, target, transport } of variants) {
    test(`sizes around the part boundaries (${name})`, async () => {
      const t = transport();
      const engine = createEngine(options({ plans: new LocalPlanSource(target.endpoint, target.credentials), transport: t }));
      for (const size of [0, 1, 5 * MiB - 1, 5 * MiB, 5 * MiB + 1, 17 * MiB + 12345]) {
        const data = randomBytes(size);
        const key = `${name}/size-${size} ü`;
        const report = await engine.upload({ file: file(`${name}-${size}`, data), uri: `s3://${bucket}/${key}`, bucket, key });
        expect(report.upload_size_bytes).toBe(size);
        expect(report.upload_parts).toBe(Math.max(1, Math.ceil(size / (5 * MiB))));
        expect(report.transport).toBe(t.name);
        expect(report.upload_attempts).toBe(1);
        const back = await https.client.getObject(bucket, key);
        expect(md5(back)).toBe(md5(data));
      }
      await engine.close(Date.now());
      await noUploadsLeft();
    }, 120_000);
  }

  test.each([
    ['https', 'fetch'],
    ['http', 'sendfile'],
  ] as const)('≥ 5 GiB sparse file with random markers past 2^32, ranged reads (%s, %s)', async (scheme, transportName) => {
    const size = 5 * 2 ** 30 + 3 * MiB + 17;
    const path = join(dir, 'big.sparse');
    const fd = openSync(path, 'w');
    const markers = [0, 2 ** 31 - 100, 2 ** 32 - 5, 2 ** 32 + 4096, 4.5 * 2 ** 30, size - 4096].map((offset) => ({ offset, bytes: randomBytes(4096) }));
    for (const m of markers) writeSync(fd, m.bytes, 0, Math.min(4096, size - m.offset), m.offset);
    closeSync(fd);
    const target = scheme === 'https' ? https : http;
    const transport = transportName === 'fetch' ? new FetchTransport() : new SendfileTransport();
    const engine = createEngine(options({ plans: new LocalPlanSource(target.endpoint, target.credentials), transport, partSize: 512 * MiB, maxParallel: 4, uploadTimeout: 600 }));
    const key = `big/sparse-${scheme}.bin`;
    const report = await engine.upload({ file: path, uri: `s3://${bucket}/${key}`, bucket, key });
    await engine.close(Date.now());
    expect(report.upload_parts).toBe(11);
    expect(report.transport).toBe(transportName);
    expect((await https.client.headObject(bucket, key))?.size).toBe(size);
    for (const m of markers) {
      const length = Math.min(4096, size - m.offset);
      const got = await https.client.getObject(bucket, key, { range: [m.offset, m.offset + length - 1] });
      expect(Buffer.from(got).equals(m.bytes.subarray(0, length))).toBe(true);
    }
    await https.client.deleteObject(bucket, key);
    rmSync(path);
    Bun.spawnSync(['bash', 'test/s3/server.sh', 'gc']);
    await noUploadsLeft();
  }, 900_000);
});

test('remote plans through the plan function', async () => {
  const secret = 'engine-test-secret';
  const fnEnv = { ...env, S3ND_JWT_SECRET: secret };
  const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: (request) => worker.fetch(request, fnEnv) });
  try {
    const token = await sign({ exp: Math.floor(Date.now() / 1000) + 600, buckets: [bucket], prefixes: ['remote/'] }, secret, 'HS256');
    const engine = createEngine(options({ plans: new RemotePlanSource(`http://127.0.0.1:${server.port}`, token) }));
    for (const size of [0, 3, 11 * MiB + 1]) {
      const data = randomBytes(size);
      const key = `remote/obj-${size}`;
      await engine.upload({ file: file(`remote-${size}`, data), uri: `s3://${bucket}/${key}`, bucket, key });
      expect(md5(await https.client.getObject(bucket, key))).toBe(md5(data));
    }
    const outside = engine.upload({ file: file('remote-out', randomBytes(10)), uri: `s3://${bucket}/other/x`, bucket, key: 'other/x' });
    expect(outside).rejects.toMatchObject({ code: 'S3Error', status: 502 });
    await outside.catch(() => {});
    await noUploadsLeft();
  } finally {
    server.stop(true);
  }
}, 60_000);

/** Fails chosen parts with a retryable S3 error before passing the request on (the store stays real). */
function flakyTransport(failures: (partOffset: number, attempt: number) => boolean): Transport {
  const real = new FetchTransport();
  const attempts = new Map<number, number>();
  return {
    name: 'fetch',
    async put(url, f, offset, size, opts) {
      const attempt = (attempts.get(offset) ?? 0) + 1;
      attempts.set(offset, attempt);
      if (failures(offset, attempt)) throw new S3Error('SlowDown', 'injected: slow down', { status: 503, retryable: true });
      return real.put(url, f, offset, size, opts);
    },
    close() {},
  };
}

describe('retries and failure paths', () => {
  test('a part that fails once is retried with a fresh URL; upload_attempts says so', async () => {
    const engine = createEngine(options({ transport: flakyTransport((offset, attempt) => offset === 5 * MiB && attempt === 1) }));
    const data = randomBytes(12 * MiB);
    const report = await engine.upload({ file: file('retry', data), uri: `s3://${bucket}/retry`, bucket, key: 'retry' });
    expect(report.upload_attempts).toBe(2);
    expect(md5(await https.client.getObject(bucket, 'retry'))).toBe(md5(data));
    await noUploadsLeft();
  });

  test('a part failing on every try aborts the multipart upload', async () => {
    const engine = createEngine(options({ tries: 2, transport: flakyTransport((offset) => offset === 5 * MiB) }));
    const error = await engine.upload({ file: file('doomed', randomBytes(12 * MiB)), uri: `s3://${bucket}/doomed`, bucket, key: 'doomed' }).catch((e) => e);
    expect(error).toBeInstanceOf(UploadError);
    expect(error).toMatchObject({ code: 'S3Error', status: 502 });
    expect(await https.client.headObject(bucket, 'doomed')).toBeUndefined();
    await noUploadsLeft();
  });

  test('missing bucket → NoSuchBucket (404)', async () => {
    const engine = createEngine(options());
    for (const size of [10, 6 * MiB]) {
      const error = await engine.upload({ file: file(`nb-${size}`, randomBytes(size)), uri: 's3://no-such-bucket-s3nd/k', bucket: 'no-such-bucket-s3nd', key: 'k' }).catch((e) => e);
      expect(error).toMatchObject({ code: 'NoSuchBucket', status: 404 });
    }
  });

  test('a file changed during upload fails and leaves no object', async () => {
    const path = file('changing', randomBytes(16 * MiB));
    let appended = false;
    const engine = createEngine(
      options({
        maxParallel: 1,
        observer: {
          partFinished: () => {
            if (!appended) {
              appended = true;
              appendFileSync(path, 'more');
            }
          },
        },
      }),
    );
    const error = await engine.upload({ file: path, uri: `s3://${bucket}/changing`, bucket, key: 'changing' }).catch((e) => e);
    expect(error).toMatchObject({ code: 'FileChanged' });
    expect(await https.client.headObject(bucket, 'changing')).toBeUndefined();
    await noUploadsLeft();
  });

  test('a missing file is a BadRequest; an aborted upload leaves nothing behind', async () => {
    const engine = createEngine(options());
    expect(engine.upload({ file: join(dir, 'nope'), uri: `s3://${bucket}/nope`, bucket, key: 'nope' })).rejects.toMatchObject({ code: 'BadRequest', status: 400 });
    const controller = new AbortController();
    const pending = engine.upload({ file: file('aborted', randomBytes(30 * MiB)), uri: `s3://${bucket}/aborted`, bucket, key: 'aborted' }, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('client went away')), 30);
    expect(await pending.catch((e) => e)).toMatchObject({ code: 'Aborted' });
    expect(await https.client.headObject(bucket, 'aborted')).toBeUndefined();
    await noUploadsLeft();
  });

  test('queue timeout: a file waiting longer than S3ND_QUEUE_TIMEOUT is refused (408)', async () => {
    const engine = createEngine(options({ maxParallel: 1, queueTimeout: 0.05 }));
    const big = engine.upload({ file: file('holder', randomBytes(40 * MiB)), uri: `s3://${bucket}/holder`, bucket, key: 'holder' });
    const waiting = await engine.upload({ file: file('waiter', randomBytes(10)), uri: `s3://${bucket}/waiter`, bucket, key: 'waiter' }).catch((e) => e);
    expect(waiting).toMatchObject({ code: 'QueueTimeout', status: 408 });
    await big;
    await noUploadsLeft();
  });
});

test('remote plans: a retried part is re-signed by the function (POST /v1/uploads/parts)', async () => {
  const secret = 'engine-test-secret';
  const fnEnv = { ...env, S3ND_JWT_SECRET: secret };
  const paths: string[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: (request) => {
      paths.push(new URL(request.url).pathname);
      return worker.fetch(request, fnEnv);
    },
  });
  try {
    const token = await sign({ exp: Math.floor(Date.now() / 1000) + 600, buckets: [bucket], prefixes: ['remote-retry/'] }, secret, 'HS256');
    const engine = createEngine(
      options({ plans: new RemotePlanSource(`http://127.0.0.1:${server.port}`, token), transport: flakyTransport((offset, attempt) => offset === 5 * MiB && attempt === 1) }),
    );
    const data = randomBytes(12 * MiB);
    const report = await engine.upload({ file: file('remote-retry', data), uri: `s3://${bucket}/remote-retry/x`, bucket, key: 'remote-retry/x' });
    expect(report.upload_attempts).toBe(2);
    expect(paths).toEqual(['/v1/plans', '/v1/uploads/parts', '/v1/uploads/complete']);
    expect(md5(await https.client.getObject(bucket, 'remote-retry/x'))).toBe(md5(data));
    await noUploadsLeft();
  } finally {
    server.stop(true);
  }
}, 60_000);

test('close(deadline): refuses new uploads, aborts the running ones at the deadline, leaves no multipart upload', async () => {
  const engine = createEngine(options({ maxParallel: 1 }));
  const running = engine.upload({ file: file('closing', randomBytes(40 * MiB)), uri: `s3://${bucket}/closing`, bucket, key: 'closing' });
  await new Promise((r) => setTimeout(r, 50));
  expect(engine.stats().activeFiles).toBe(1);
  const closed = engine.close(Date.now() + 20);
  expect(engine.upload({ file: file('late', randomBytes(1)), uri: `s3://${bucket}/late`, bucket, key: 'late' })).rejects.toMatchObject({ code: 'Aborted' });
  expect(await running.catch((e) => e)).toMatchObject({ code: 'Aborted' });
  await closed;
  expect(engine.stats()).toEqual({ inFlightParts: 0, activeFiles: 0, queuedFiles: 0 });
  expect(await https.client.headObject(bucket, 'closing')).toBeUndefined();
  await noUploadsLeft();
}, 60_000);

test('the pool is warmed for the parts about to fly while the upload is created; the origin is learnt from the first plan', async () => {
  const transport = new SendfileTransport();
  const warmed: [string, number][] = [];
  const warm = transport.warm.bind(transport);
  transport.warm = async (origin, connections) => {
    warmed.push([origin, connections]);
    await warm(origin, connections);
  };
  const origin = new URL(http.endpoint.url).origin;
  const engine = createEngine(options({ plans: new LocalPlanSource(http.endpoint, http.credentials), transport, maxParallel: 4 }));
  const data = randomBytes(23 * MiB);
  for (const key of ['warm/a', 'warm/b']) {
    await engine.upload({ file: file(key.replace('/', '-'), data), uri: `s3://${bucket}/${key}`, bucket, key });
    expect(md5(await https.client.getObject(bucket, key))).toBe(md5(data));
  }
  await engine.upload({ file: file('warm-small', data.subarray(0, 1000)), uri: `s3://${bucket}/warm/small`, bucket, key: 'warm/small' });
  // No origin known before the first plan; then min(parts, parallelism) connections per file.
  expect(warmed).toEqual([
    [origin, 4],
    [origin, 1],
  ]);
  expect(transport.stats().idle).toBeGreaterThanOrEqual(4);
  await engine.close(Date.now());
  await noUploadsLeft();
}, 60_000);
