/**
 * The daemon as s3nd/deliverator clients use it, against the local Ceph RGW: s3nd's documented curl
 * commands, every status code from a real condition, deliverator's swagger for every body, batch,
 * metrics, auth, allowed roots, client disconnects, load and FIFO order.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../worker/config.ts';
import { type Daemon, startDaemon } from '../../worker/daemon.ts';
import { localS3, uniqueBucket } from '../s3/helpers.ts';
import { s3Env } from '../worker/s3.ts';
import deliverator from '../fixtures/deliverator-swagger.json' with { type: 'json' };
import { definitionFor, validate } from './swagger.ts';

const env = s3Env();
const { client } = localS3(env);
const bucket = uniqueBucket('daemon');
const root = mkdtempSync(join(tmpdir(), 's3nd-daemon-'));
const outside = mkdtempSync(join(tmpdir(), 's3nd-outside-'));
const MiB = 2 ** 20;
const daemons: Daemon[] = [];

function daemon(settings: Record<string, string> = {}): Daemon {
  const d = startDaemon(loadConfig(new Map(), { ...env, S3ND_PORT: '0', S3ND_ALLOWED_ROOTS: root, ...settings }));
  daemons.push(d);
  return d;
}

const base = (d: Daemon) => `http://localhost:${d.server.port}`;

function file(name: string, data: Uint8Array | string, dir = root): string {
  const path = join(dir, name);
  writeFileSync(path, data);
  return path;
}

async function curl(args: string[]): Promise<{ status: number; headers: string; body: Record<string, unknown> }> {
  const proc = Bun.spawn(['curl', '-sS', '-D', '-', ...args], { stdout: 'pipe', stderr: 'pipe' });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  const split = out.indexOf('\r\n\r\n');
  const headers = out.slice(0, split);
  const status = Number(/^HTTP\/[\d.]+ (\d+)/.exec(headers)?.[1]);
  return { status, headers, body: JSON.parse(out.slice(split + 4)) as Record<string, unknown> };
}

async function post(d: Daemon, form: Record<string, string>) {
  const response = await fetch(`${base(d)}/upload`, { method: 'POST', body: new URLSearchParams(form) });
  return { status: response.status, error: response.headers.get('x-error'), body: (await response.json()) as Record<string, unknown> };
}

function expectConforms(status: number, body: unknown) {
  expect(validate(definitionFor[status]!, body)).toEqual([]);
}

async function noUploadsLeft() {
  expect(await client.listMultipartUploads(bucket)).toEqual([]);
}

beforeAll(() => client.createBucket(bucket));
afterAll(async () => {
  for (const d of daemons) await d.shutdown(1000);
  await client.emptyAndDeleteBucket(bucket);
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

describe('s3nd usage, replayed with curl', () => {
  test('curl -d file=… -d uri=… (form-urlencoded) and -F (multipart form)', async () => {
    const d = daemon();
    const data = randomBytes(7 * MiB + 3);
    const path = file('curl.bin', data);
    const r1 = await curl(['-X', 'POST', `${base(d)}/upload`, '-d', `file=${path}`, '-d', `uri=s3://${bucket}/curl/one`, '-d', 'slug=Gray Garden Slug']);
    expect(r1.status).toBe(200);
    expectConforms(200, r1.body);
    expect(r1.body).toMatchObject({ code: 200, msg: 'upload succeeded', task: { file: path, uri: `s3://${bucket}/curl/one`, slug: 'Gray Garden Slug', upload_parts: 2, upload_size_bytes: data.length, transport: 'fetch' } });
    const r2 = await curl(['-X', 'POST', `${base(d)}/upload`, '-F', `file=${path}`, '-F', `uri=s3://${bucket}/curl/two`]);
    expect(r2.status).toBe(200);
    expectConforms(200, r2.body);
    const json = await fetch(`${base(d)}/upload`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ file: path, uri: `s3://${bucket}/curl/three` }) });
    expect(json.status).toBe(200);
    for (const key of ['curl/one', 'curl/two', 'curl/three']) {
      expect(createHash('md5').update(await client.getObject(bucket, key)).digest('hex')).toBe(createHash('md5').update(data).digest('hex'));
    }
  }, 60_000);
});

describe('status codes from real conditions, bodies as deliverator’s swagger says, X-Error on every error', () => {
  test('400: missing field, relative path, missing file, non-s3 URI, bucket-only URI, outside the allowed roots (also via symlink)', async () => {
    const d = daemon();
    const ok = file('ok.txt', 'x');
    const secret = file('secret.txt', 'x', outside);
    symlinkSync(secret, join(root, 'escape'));
    const cases: [Record<string, string>, RegExp][] = [
      [{ file: ok }, /missing field: uri/],
      [{ uri: `s3://${bucket}/k` }, /missing field: file/],
      [{ file: 'relative/path', uri: `s3://${bucket}/k` }, /absolute path/],
      [{ file: join(root, 'missing'), uri: `s3://${bucket}/k` }, /cannot stat/],
      [{ file: ok, uri: 'https://example.com/k' }, /s3:\/\/bucket\/key/],
      [{ file: ok, uri: `s3://${bucket}` }, /names no object key/],
      [{ file: secret, uri: `s3://${bucket}/k` }, /outside S3ND_ALLOWED_ROOTS/],
      [{ file: join(root, 'escape'), uri: `s3://${bucket}/k` }, /outside S3ND_ALLOWED_ROOTS/],
    ];
    for (const [form, message] of cases) {
      const r = await post(d, form);
      expect(r.status).toBe(400);
      expect(r.error ?? '').toMatch(message);
      expect(String(r.body.msg)).toMatch(message);
      expectConforms(400, r.body);
    }
  });

  test('404: the bucket does not exist', async () => {
    const r = await post(daemon(), { file: file('nb.txt', 'x'), uri: 's3://no-such-bucket-s3nd/k' });
    expect(r.status).toBe(404);
    expect(r.error).toBe('upload failed because the bucket does not exist');
    expectConforms(404, r.body);
  });

  test('408: queue timeout while another upload holds the only slot', async () => {
    const d = daemon({ S3ND_UPLOAD_MAX_PARALLEL: '1', S3ND_QUEUE_TIMEOUT: '50ms' });
    const holder = post(d, { file: file('holder.bin', randomBytes(40 * MiB)), uri: `s3://${bucket}/holder` });
    await Bun.sleep(20);
    const r = await post(d, { file: file('waiter.txt', 'x'), uri: `s3://${bucket}/waiter` });
    expect(r.status).toBe(408);
    expect(r.error).toMatch(/queue/);
    expectConforms(408, r.body);
    expect((await holder).status).toBe(200);
    await noUploadsLeft();
  });

  describe('against a stalled endpoint', () => {
    let stall: Server;
    let port = 0;
    const sockets = new Set<import('node:net').Socket>();
    beforeAll(async () => {
      // Accepts, never answers.
      stall = createServer((socket) => {
        sockets.add(socket);
        socket.on('error', () => {});
      });
      await new Promise<void>((r) => stall.listen(0, '127.0.0.1', r));
      port = (stall.address() as { port: number }).port;
    });
    afterAll(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((r) => stall.close(() => r()));
    });

    test('504: the attempt times out', async () => {
      const d = daemon({ S3ND_ENDPOINT_URL: `http://127.0.0.1:${port}`, S3ND_UPLOAD_TIMEOUT: '300ms', S3ND_UPLOAD_TRIES: '2' });
      const r = await post(d, { file: file('stalled.txt', 'x'), uri: `s3://${bucket}/stalled` });
      expect(r.status).toBe(504);
      expect(r.error).toMatch(/timeout during upload attempt 2\/2/);
      expectConforms(504, r.body);
    });
  });

  test('502: S3 refuses the request (wrong secret key), body shaped like requestStatus500', async () => {
    const d = daemon({ AWS_SECRET_ACCESS_KEY: 'wrong-secret' });
    const r = await post(d, { file: file('denied.txt', 'x'), uri: `s3://${bucket}/denied` });
    expect(r.status).toBe(502);
    expect(r.error).toMatch(/SignatureDoesNotMatch|AccessDenied|InvalidAccessKeyId/);
    expectConforms(502, r.body);
  });

  test('400: a FIFO is not a regular file and is refused before anything is sent', async () => {
    const d = daemon();
    const fifo = join(root, 'fifo');
    Bun.spawnSync(['mkfifo', fifo]);
    const r = await post(d, { file: fifo, uri: `s3://${bucket}/fifo` });
    expect(r.status).toBe(400);
    expect(String(r.body.msg)).toMatch(/not a regular file/);
  });

  test('a client that disconnects aborts its upload and the multipart upload', async () => {
    const d = daemon();
    const path = file('disconnect.bin', randomBytes(60 * MiB));
    await curl(['--max-time', '0.15', '-X', 'POST', `${base(d)}/upload`, '-d', `file=${path}`, '-d', `uri=s3://${bucket}/disconnect`]).catch(() => undefined);
    for (let i = 0; i < 50 && d.engine.stats().activeFiles > 0; i++) await Bun.sleep(100);
    expect(d.engine.stats().activeFiles).toBe(0);
    await noUploadsLeft();
    expect(await client.headObject(bucket, 'disconnect')).toBeUndefined();
  });
});

describe('beyond s3nd', () => {
  test('POST /uploads streams one NDJSON line per finished file', async () => {
    const d = daemon();
    const files = [0, 1, 2].map((i) => ({ file: file(`batch-${i}`, randomBytes(i * 3 * MiB + 1)), uri: `s3://${bucket}/batch/${i}` }));
    files.push({ file: join(root, 'missing'), uri: `s3://${bucket}/batch/missing` });
    const response = await fetch(`${base(d)}/uploads`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ files }) });
    expect(response.headers.get('content-type')).toBe('application/x-ndjson');
    const lines = (await response.text()).trim().split('\n').map((l) => JSON.parse(l) as { code: number; task: { uri: string } });
    expect(lines).toHaveLength(4);
    expect(lines.filter((l) => l.code === 200).map((l) => l.task.uri).sort()).toEqual(files.slice(0, 3).map((f) => f.uri));
    expect(lines.find((l) => l.code === 400)?.task.uri).toBe(`s3://${bucket}/batch/missing`);
    for (const line of lines) expectConforms(line.code, line);
  });

  test('/version (secrets redacted), /healthz, /metrics, /swagger/', async () => {
    const d = daemon({ S3ND_TOKEN: 'tok-123', S3ND_FUNCTION_TOKEN: '' });
    const auth = { authorization: 'Bearer tok-123' };
    expect((await fetch(`${base(d)}/healthz`)).status).toBe(200);
    expect((await fetch(`${base(d)}/version`)).status).toBe(401);
    const version = (await (await fetch(`${base(d)}/version`, { headers: auth })).json()) as { version: string; config: Record<string, string> };
    expect(validate('VersionInfo', version)).toEqual([]);
    expect(version.config.S3ND_TOKEN).toBe('(redacted)');
    expect(JSON.stringify(version)).not.toContain('tok-123');
    expect(JSON.stringify(version)).not.toContain(env.AWS_SECRET_ACCESS_KEY!);
    expect(version.config.transport).toBe('fetch');
    const unauthorized = await fetch(`${base(d)}/upload`, { method: 'POST', body: new URLSearchParams({ file: file('a', 'x'), uri: `s3://${bucket}/a` }) });
    expect(unauthorized.status).toBe(401);
    const ok = await fetch(`${base(d)}/upload`, { method: 'POST', headers: auth, body: new URLSearchParams({ file: file('a', 'x'), uri: `s3://${bucket}/a` }) });
    expect(ok.status).toBe(200);
    const metrics = await (await fetch(`${base(d)}/metrics`, { headers: auth })).text();
    expect(metrics).toContain('s3nd_uploads_total{outcome="ok"} 1');
    expect(metrics).toContain('s3nd_upload_duration_seconds_count 1');
    expect(metrics).toContain('s3nd_transport_info{transport="fetch"} 1');
    expect(await (await fetch(`${base(d)}/swagger/index.html`, { headers: auth })).text()).toContain('SwaggerUIBundle');
    expect(((await (await fetch(`${base(d)}/swagger/doc.json`, { headers: auth })).json()) as { paths: object }).paths).toHaveProperty('/upload');
  });

  test('the daemon binds to loopback by default', () => {
    const d = daemon();
    expect(['localhost', '127.0.0.1', '::1']).toContain(d.server.hostname ?? '');
  });

  test('1,000 concurrent uploads of small files: all land, bounded memory, no fd leak', async () => {
    // The daemon runs in its own process, as deployed: in one process the test's fetch and the
    // engine's would share Bun's process-wide fetch connection limit (256) and starve each other.
    // Raw sockets make all 1,000 requests truly concurrent. Plain HTTP and generous attempt
    // timeouts: the daemon is under test here, not Ceph's speed on a shared 2-core machine.
    const daemonProcess = await spawnDaemon({ S3ND_QUEUE_TIMEOUT: '120s', S3ND_ENDPOINT_URL: env.S3ND_HTTP_ENDPOINT_URL!, S3ND_UPLOAD_TIMEOUT: '60s', S3ND_UPLOAD_TRIES: '3' });
    try {
      mkdirSync(join(root, 'load'), { recursive: true });
      const paths = Array.from({ length: 1000 }, (_, i) => file(`load/${i}`, `file ${i}`));
      const idleFds = daemonProcess.fds();
      const round = async () => {
        const started = performance.now();
        const results = await Promise.all(paths.map((p, i) => rawPost(daemonProcess.port, { file: p, uri: `s3://${bucket}/load/${i}` })));
        expect(results.filter((r) => r.status !== 200).map((r) => r.body)).toEqual([]);
        for (const r of results.slice(0, 20)) expectConforms(200, JSON.parse(r.body));
        await Bun.sleep(300);
        return { seconds: (performance.now() - started) / 1000, fds: daemonProcess.fds(), rss: daemonProcess.rssBytes() };
      };
      // Two rounds: the first warms the connection pool (keep-alive sockets to S3, at most one per
      // part slot); the second must not add descriptors or memory to what the first left.
      const first = await round();
      const second = await round();
      expect((await client.listObjects(bucket, { prefix: 'load/' })).length).toBe(1000);
      console.log(
        `1,000 concurrent /upload ×2: ${first.seconds.toFixed(2)} s, ${second.seconds.toFixed(2)} s; daemon fds idle ${idleFds}, after ${first.fds}, ${second.fds}; RSS ${(first.rss / MiB).toFixed(0)}, ${(second.rss / MiB).toFixed(0)} MiB`,
      );
      expect(first.fds).toBeLessThanOrEqual(idleFds + 100 + 20);
      expect(second.fds).toBeLessThanOrEqual(first.fds + 10);
      expect(second.rss).toBeLessThan(400 * MiB);
      expect(second.rss - first.rss).toBeLessThan(64 * MiB);
      await noUploadsLeft();
    } finally {
      await daemonProcess.stop();
    }
  }, 180_000);

  test('with parallelism 1, requests sent one after another start in that order', async () => {
    const d = daemon({ S3ND_UPLOAD_MAX_PARALLEL: '1', S3ND_QUEUE_TIMEOUT: '60s' });
    const finished: number[] = [];
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 8; i++) {
      const path = file(`order-${i}`, randomBytes(MiB));
      pending.push(post(d, { file: path, uri: `s3://${bucket}/order/${i}` }).then(() => void finished.push(i)));
      await Bun.sleep(15);
    }
    await Promise.all(pending);
    expect(finished).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  }, 60_000);
});

describe('docs, limits and shutdown', () => {
  test('/swagger/doc.yaml is the same document as doc.json, deliverator’s definitions plus ours', async () => {
    const d = daemon();
    const doc = (await (await fetch(`${base(d)}/swagger/doc.json`)).json()) as { definitions: Record<string, unknown>; paths: Record<string, unknown> };
    const yaml = await (await fetch(`${base(d)}/swagger/doc.yaml`)).text();
    expect(Bun.YAML.parse(yaml)).toEqual(doc);
    expect(Object.keys(doc.paths).sort()).toEqual(['/healthz', '/metrics', '/upload', '/uploads', '/version']);
    expect(doc.definitions.requestStatus408).toEqual(deliverator.definitions.requestStatus408);
    expect((await fetch(`${base(d)}/swagger/`)).headers.get('content-type')).toContain('text/html');
  });

  test('413 for an oversized /upload body, 404 with X-Error for an unknown route, 400 for an unknown content type', async () => {
    const d = daemon();
    const big = await fetch(`${base(d)}/upload`, { method: 'POST', body: new URLSearchParams({ file: 'x'.repeat(100_000), uri: 's3://b/k' }) });
    expect(big.status).toBe(413);
    expect(big.headers.get('x-error')).toMatch(/larger than/);
    const none = await fetch(`${base(d)}/nothing`);
    expect(none.status).toBe(404);
    expect(none.headers.get('x-error')).toBe('no route GET /nothing');
    const text = await fetch(`${base(d)}/upload`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'file=/x' });
    expect(text.status).toBe(400);
    expect(text.headers.get('x-error')).toMatch(/unsupported content type/);
  });

  test('without S3ND_ALLOWED_ROOTS the daemon warns at start and in /version', async () => {
    const proc = Bun.spawn(['node_modules/.bin/bun', 'worker/main.ts', '-port', '0'], { env: { ...process.env, ...env, S3ND_ALLOWED_ROOTS: '' }, stdout: 'pipe', stderr: 'pipe' });
    try {
      const { port, stderr } = await listening(proc);
      expect(stderr).toContain('S3ND_ALLOWED_ROOTS is not set');
      const version = (await (await fetch(`http://localhost:${port}/version`)).json()) as { config: Record<string, string> };
      expect(version.config.warning).toMatch(/S3ND_ALLOWED_ROOTS is not set/);
      expect(JSON.stringify(version)).not.toContain(env.AWS_SECRET_ACCESS_KEY!);
    } finally {
      proc.kill();
      await proc.exited;
    }
  });

  test('SIGTERM: stops accepting, aborts what cannot finish in the grace period, leaves no multipart upload, exits 0', async () => {
    const proc = Bun.spawn(['node_modules/.bin/bun', 'worker/main.ts', 'serve', '--port', '0'], {
      env: { ...process.env, ...env, S3ND_ALLOWED_ROOTS: root, S3ND_SHUTDOWN_GRACE_MS: '0' },
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const { port } = await listening(proc);
    const path = file('sigterm.bin', randomBytes(200 * MiB));
    const held = fetch(`http://localhost:${port}/upload`, { method: 'POST', body: new URLSearchParams({ file: path, uri: `s3://${bucket}/sigterm` }) }).then(
      async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }),
      (error: Error) => ({ status: 0, body: { msg: error.message } }),
    );
    // Wait until the multipart upload exists, so there is something to abort.
    for (let i = 0; i < 100 && (await client.listMultipartUploads(bucket, { prefix: 'sigterm' })).length === 0; i++) await Bun.sleep(20);
    proc.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    const answer = await held;
    // The held request is answered (aborted: 500) or its connection closed (status 0), never a 200.
    expect([0, 500]).toContain(answer.status);
    await expect(fetch(`http://localhost:${port}/healthz`)).rejects.toThrow();
    await noUploadsLeft();
    expect(await client.headObject(bucket, 'sigterm')).toBeUndefined();
  }, 60_000);
});

/** Waits for the daemon's "listening on http://host:port" line and keeps draining its output; returns the port and its stderr so far. */
async function listening(proc: { stdout: ReadableStream<Uint8Array>; stderr: ReadableStream<Uint8Array> }): Promise<{ port: number; stderr: string }> {
  const output = { stdout: '', stderr: '' };
  const drain = async (stream: ReadableStream<Uint8Array>, name: 'stdout' | 'stderr') => {
    const reader = stream.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      output[name] += decoder.decode(value);
    }
  };
  const ended = Promise.all([drain(proc.stdout, 'stdout'), drain(proc.stderr, 'stderr')]);
  for (let i = 0; i < 200; i++) {
    const m = /listening on http:\/\/[^:]+:(\d+)/.exec(output.stdout);
    if (m) return { port: Number(m[1]), stderr: output.stderr };
    await Promise.race([Bun.sleep(50), ended]);
  }
  throw new Error(`the daemon did not start: ${output.stdout} ${output.stderr}`);
}

/** The daemon as its own process (`bun worker/main.ts serve`), on a free port, with the suite's S3 settings. */
async function spawnDaemon(settings: Record<string, string>) {
  const proc = Bun.spawn(['node_modules/.bin/bun', 'worker/main.ts', 'serve', '--port', '0'], {
    env: { ...process.env, ...env, S3ND_ALLOWED_ROOTS: root, ...settings },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const { port } = await listening(proc);
  return {
    proc,
    port,
    fds: () => readdirSync(`/proc/${proc.pid}/fd`).length,
    rssBytes: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))?.[1]) * 1024,
    async stop() {
      proc.kill('SIGTERM');
      return proc.exited;
    },
  };
}

/** One form-urlencoded POST /upload over its own TCP connection (no client-side connection limit). */
function rawPost(port: number, form: Record<string, string>): Promise<{ status: number; body: string }> {
  const body = new URLSearchParams(form).toString();
  const head = `POST /upload HTTP/1.1\r\nHost: localhost:${port}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
  return new Promise((resolve, reject) => {
    // write, not end: a half-closed connection reads as a client that went away.
    const socket = connect(port, 'localhost', () => socket.write(head + body));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString();
      const split = text.indexOf('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0), body: text.slice(split + 4) });
    });
  });
}

describe('the swagger check itself', () => {
  test('flags wrong types and missing fields', () => {
    expect(validate('requestStatus200', { code: '200', msg: 'x', version: '0', task: { id: 'x' } })).toContainEqual('requestStatus200.code: expected integer, got "200"');
    expect(validate('requestStatus200', { code: 200, msg: 'x', version: '0', task: { id: 'x' } })).toContainEqual('requestStatus200.task: missing upload_rate_bytes');
    expect(validate('requestStatus408', { code: 408, version: '0', task: {} })).toEqual(['requestStatus408: missing msg']);
  });
});
