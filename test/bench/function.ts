/**
 * `npm run bench:function`: requests per second and p50/p99 latency of `POST /v1/plans` for 1-,
 * 100- and 10,000-part plans, served by Node, Bun, Deno and workerd (wrangler dev) in the same run,
 * against the local Ceph RGW (started here if it is not running, stopped again if so). Multipart
 * plans include the CreateMultipartUpload call; a 1-part plan is a single presigned PUT (no S3
 * call). Every upload the bench creates is aborted before it exits.
 *
 * Then, in-process on Node and on Bun: signing + serialising alone for a 10,000-part compact plan
 * (goal < 20 ms) and its size (goal < 1 MB), next to the full format.
 *
 * Flags: --runtimes node,bun,deno,workerd  --seconds 1.5 (per cell)  --concurrency 4  --max 300
 * (requests per cell). `--local` runs only the in-process part in this runtime and prints JSON.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sign } from 'hono/jwt';
import { S3Client } from '../../functions/s3/client.ts';
import { minPartSize } from '../../functions/s3/plan.ts';
import { Presigner } from '../../functions/s3/presign.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({
  options: {
    runtimes: { type: 'string', default: 'node,bun,deno,workerd' },
    seconds: { type: 'string', default: '1.5' },
    concurrency: { type: 'string', default: '4' },
    max: { type: 'string', default: '300' },
    local: { type: 'boolean', default: false },
  },
});

const runtimeName = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined' ? 'bun' : 'node';
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

/** Signing + JSON serialising of a 10,000-part plan in this process: median ms and bytes per format. */
function localSigning() {
  const presigner = new Presigner({
    endpoint: { url: 'https://s3.eu-central-1.amazonaws.com', region: 'eu-central-1' },
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
  });
  const bucket = 'observatory-raw';
  const key = 'night/2026-11-24/exposure_000123_detector_042.fits';
  const uploadId = '2~Qm9ndXNVcGxvYWRJZEZvckJlbmNobWFya2luZ1B1cnBvc2VzT25seQ-ab12cd34';
  const count = 10_000;
  const expiresIn = 3600;
  const plan = (format: 'compact' | 'full') => {
    const now = new Date();
    const common = {
      kind: 'multipart',
      bucket,
      key,
      uploadId,
      size: count * minPartSize,
      partSize: minPartSize,
      partCount: count,
      expiresAt: new Date(now.getTime() + expiresIn * 1000).toISOString(),
      completeUrl: presigner.presign({ method: 'POST', bucket, key, query: { uploadId }, expiresIn, date: now }),
      abortUrl: presigner.presign({ method: 'DELETE', bucket, key, query: { uploadId }, expiresIn, date: now }),
    };
    if (format === 'compact') return JSON.stringify({ ...common, ...presigner.partTemplate(bucket, key, uploadId, count, expiresIn, now) });
    const urls = presigner.partUrls(bucket, key, uploadId, 1, count, expiresIn, now);
    return JSON.stringify({ ...common, parts: urls.map((url, i) => ({ partNumber: i + 1, offset: i * minPartSize, size: minPartSize, url })) });
  };
  const result: Record<string, { ms: number; bytes: number }> = {};
  for (const format of ['compact', 'full'] as const) {
    let bytes = 0;
    for (let i = 0; i < 5; i++) bytes = new TextEncoder().encode(plan(format)).length; // warm-up
    const times: number[] = [];
    for (let i = 0; i < 25; i++) {
      const start = performance.now();
      bytes = new TextEncoder().encode(plan(format)).length;
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    result[format] = { ms: percentile(times, 50), bytes };
  }
  return result;
}

if (values.local) {
  console.log(JSON.stringify({ runtime: runtimeName, ...localSigning() }));
  process.exit(0);
}

// Local S3: reuse a running Ceph RGW, or start one (and stop it at the end).
const server = join(root, 'test/s3/server.sh');
let startedS3 = false;
try {
  execFileSync('bash', [server, 'status'], { stdio: 'ignore' });
} catch {
  startedS3 = true;
  execFileSync('bash', [server, 'start'], { stdio: 'inherit' });
}
for (const line of execFileSync('bash', [server, 'env'], { encoding: 'utf8' }).split('\n')) {
  const m = /^export ([A-Z0-9_]+)='(.*)'$/.exec(line);
  if (m) process.env[m[1]!] = m[2]!;
}
const env = process.env as Record<string, string>;
// NODE_EXTRA_CA_CERTS only counts at process start: this process's own client uses plain HTTP
// (the servers it starts inherit the CA and use HTTPS, except workerd).
const client = new S3Client({
  endpoint: { url: env.S3ND_HTTP_ENDPOINT_URL!, region: env.AWS_REGION ?? 'us-east-1' },
  credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! },
});
const bucket = `bench-fn-${Date.now().toString(36)}`;
await client.createBucket(bucket);
const secret = `bench-${Math.random().toString(36).slice(2)}`;
const token = await sign({ exp: Math.floor(Date.now() / 1000) + 3600, buckets: [bucket], prefixes: [''] }, secret, 'HS256');

const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const maxRequests = Number(values.max);
const runtimes = values.runtimes!.split(',').filter(Boolean);
const cells = [
  { name: '1 part (single PUT)', size: minPartSize, format: 'full' },
  { name: '100 parts', size: 100 * minPartSize, format: 'full' },
  { name: '10,000 parts', size: 10_000 * minPartSize, format: 'full' },
  { name: '10,000 parts compact', size: 10_000 * minPartSize, format: 'compact' },
] as const;

interface Row {
  runtime: string;
  plan: string;
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  bytes: number;
}
const rows: Row[] = [];
const children: ChildProcess[] = [];

function serve(runtime: string, port: number): ChildProcess {
  const childEnv: Record<string, string | undefined> = { ...process.env, S3ND_JWT_SECRET: secret };
  // workerd cannot be given the test CA: it talks to Ceph over plain HTTP (as in test/s3/function.test.ts).
  if (runtime === 'workerd') childEnv.S3ND_ENDPOINT_URL = env.S3ND_HTTP_ENDPOINT_URL;
  const child = spawn(join(root, 'node_modules/.bin/tsx'), [join(root, 'scripts/serve-function.ts'), '--runtime', runtime, '--port', String(port)], {
    env: childEnv,
    stdio: ['ignore', 'ignore', 'inherit'],
    cwd: root,
  });
  children.push(child);
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function bench(base: string, cell: (typeof cells)[number], runtime: string, n: number): Promise<Row> {
  const latencies: number[] = [];
  let bytes = 0;
  let issued = 0;
  const one = async () => {
    const key = `${runtime}/${cell.format}-${cell.size}-${n}-${issued}`;
    issued++;
    const start = performance.now();
    const response = await fetch(`${base}/v1/plans?format=${cell.format}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ bucket, key, size: cell.size }),
    });
    const body = await response.arrayBuffer();
    latencies.push(performance.now() - start);
    if (response.status !== 200) throw new Error(`${runtime} ${cell.name}: HTTP ${response.status} ${new TextDecoder().decode(body).slice(0, 300)}`);
    bytes = body.byteLength;
  };
  // Warm-up (JIT, S3 connections), not counted.
  for (let i = 0; i < 3; i++) await one();
  latencies.length = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  // Until the time is up (but at least 2 requests per connection) or --max requests were made.
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let mine = 0; (performance.now() < deadline || mine < 2) && issued < maxRequests + 3; mine++) await one();
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { runtime, plan: cell.name, requests: latencies.length, rps: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), bytes };
}

async function cleanUp(): Promise<void> {
  const uploads = await client.listMultipartUploads(bucket);
  for (let i = 0; i < uploads.length; i += 16) {
    await Promise.all(uploads.slice(i, i + 16).map((u) => client.abortMultipartUpload(bucket, u.key, u.uploadId)));
  }
}

try {
  let port = 18890;
  for (const runtime of runtimes) {
    const base = `http://127.0.0.1:${++port}`;
    const child = serve(runtime, port);
    let up = false;
    for (let i = 0; i < 300 && !up; i++) {
      up = await fetch(`${base}/healthz`).then((r) => r.ok, () => false);
      if (!up) await new Promise((r) => setTimeout(r, 200));
    }
    if (!up) throw new Error(`${runtime}: plan function did not come up on ${base}`);
    for (const cell of cells) {
      rows.push(await bench(base, cell, runtime, port));
      await cleanUp();
    }
    await stop(child);
  }
} finally {
  await Promise.all(children.map(stop));
  await cleanUp().catch(() => undefined);
  await client.emptyAndDeleteBucket(bucket).catch((e) => console.error(`bench: could not delete ${bucket}: ${e}`));
  if (startedS3) execFileSync('bash', [server, 'stop'], { stdio: 'inherit' });
}

const pad = (s: string | number, n: number) => String(s).padStart(n);
console.log(`\nPOST /v1/plans, concurrency ${concurrency}, ${seconds} s or ${maxRequests} requests per cell, Ceph RGW on this machine (client on node ${process.versions.node}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')})`);
console.log(`${'runtime'.padEnd(8)} ${'plan'.padEnd(22)} ${pad('requests', 8)} ${pad('req/s', 8)} ${pad('p50 ms', 8)} ${pad('p99 ms', 8)} ${pad('response', 10)}`);
for (const r of rows) {
  console.log(
    `${r.runtime.padEnd(8)} ${r.plan.padEnd(22)} ${pad(r.requests, 8)} ${pad(r.rps.toFixed(1), 8)} ${pad(r.p50.toFixed(1), 8)} ${pad(r.p99.toFixed(1), 8)} ${pad(`${(r.bytes / 1024).toFixed(0)} KiB`, 10)}`,
  );
}

console.log('\nSigning + serialising a 10,000-part plan in-process (median of 25; goal < 20 ms and < 1 MB for compact)');
const local = [JSON.stringify({ runtime: 'node', ...localSigning() })];
try {
  local.push(execFileSync(join(root, 'node_modules/.bin/bun'), [fileURLToPath(import.meta.url), '--local'], { encoding: 'utf8' }).trim().split('\n').pop()!);
} catch (error) {
  console.error(`bench: bun --local failed: ${error}`);
}
for (const line of local) {
  const r = JSON.parse(line) as { runtime: string; compact: { ms: number; bytes: number }; full: { ms: number; bytes: number } };
  console.log(
    `${r.runtime.padEnd(6)} compact ${r.compact.ms.toFixed(2)} ms, ${(r.compact.bytes / 1e6).toFixed(3)} MB   full ${r.full.ms.toFixed(2)} ms, ${(r.full.bytes / 1e6).toFixed(3)} MB`,
  );
}
console.log(JSON.stringify({ plans: rows, signing: local.map((l) => JSON.parse(l)) }));
