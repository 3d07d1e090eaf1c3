/**
 * `npm start`: s3nd's main job on a local default. scripts/start.sh has started the local S3 (Ceph
 * RGW) and put its settings and CA trust in the environment. This starts the plan function (the
 * module worker of functions/index.ts, served by Bun.serve, with a JWT secret made for this run) and
 * the worker daemon, which plans through the function with a token scoped to the demo bucket. Then,
 * as a deliverator client would: one large file by `POST /upload` and a burst of small ones by
 * `POST /uploads`, every object read back and compared, a summary; then both keep serving until
 * Ctrl-C (`npm start -- --once` exits after the summary).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign } from 'hono/jwt';
import worker from '../functions/index.ts';
import { localS3 } from '../test/s3/helpers.ts';
import { loadConfig } from '../worker/config.ts';
import { startDaemon } from '../worker/daemon.ts';
import type { TaskReport } from '../worker/types.ts';

const once = process.argv.includes('--once');
const MiB = 2 ** 20;
const bucket = 's3nd-demo';
const prefix = `demo/${new Date().toISOString().replace(/[:.]/g, '-')}/`;
const { endpoint, client } = localS3(process.env);
await client.createBucket(bucket);

/** Bun.serve on the preferred port, or any free one when it is taken. */
function serve(port: number, fetch: (request: Request) => Response | Promise<Response>) {
  try {
    return Bun.serve({ hostname: '127.0.0.1', port, fetch });
  } catch {
    return Bun.serve({ hostname: '127.0.0.1', port: 0, fetch });
  }
}

// The plan function, holding the S3 credentials.
const secret = randomBytes(32).toString('base64url');
const functionEnv = { ...process.env, S3ND_JWT_SECRET: secret, S3ND_ALLOWED_BUCKETS: bucket };
const fn = serve(8787, (request) => worker.fetch(request, functionEnv));
const functionUrl = `http://127.0.0.1:${fn.port}`;
const token = await sign({ sub: 'npm-start', exp: Math.floor(Date.now() / 1000) + 86_400, buckets: [bucket], prefixes: ['demo/'] }, secret, 'HS256');

// The worker daemon: no S3 credentials of its own, only the function and its token.
const dir = mkdtempSync(join(tmpdir(), 's3nd-demo-'));
const daemonEnv: Record<string, string | undefined> = {
  ...process.env,
  AWS_ACCESS_KEY_ID: undefined,
  AWS_SECRET_ACCESS_KEY: undefined,
  S3ND_FUNCTION_URL: functionUrl,
  S3ND_FUNCTION_TOKEN: token,
  S3ND_ALLOWED_ROOTS: dir,
  S3ND_UPLOAD_PARTSIZE: '8Mi',
  S3ND_UPLOAD_MAX_PARALLEL: '16',
  S3ND_UPLOAD_TIMEOUT: '60s',
  S3ND_UPLOAD_TRIES: '3',
};
let daemon: ReturnType<typeof startDaemon>;
try {
  daemon = startDaemon(loadConfig(new Map(), daemonEnv));
} catch {
  // 15555 (s3nd's port) is taken: any free one.
  daemon = startDaemon(loadConfig(new Map([['port', '0']]), daemonEnv));
}
const daemonUrl = `http://localhost:${daemon.server.port}`;

function generate(name: string, size: number): { path: string; sha256: string } {
  const path = join(dir, name);
  const data = randomBytes(size);
  writeFileSync(path, data);
  return { path, sha256: createHash('sha256').update(data).digest('hex') };
}

async function sameBytes(key: string, sha256: string): Promise<boolean> {
  return createHash('sha256').update(await client.getObject(bucket, key)).digest('hex') === sha256;
}

interface Answer {
  code: number;
  msg: string;
  task: TaskReport;
}

const failures: string[] = [];
const started = performance.now();

// One large file, s3nd's documented way: curl -X POST localhost:15555/upload -d file=… -d uri=s3://…
const big = generate('big.bin', 96 * MiB + 12_345);
const bigKey = `${prefix}big.bin`;
const bigAnswer = (await (
  await fetch(`${daemonUrl}/upload`, { method: 'POST', body: new URLSearchParams({ file: big.path, uri: `s3://${bucket}/${bigKey}` }) })
).json()) as Answer;
if (bigAnswer.code !== 200) failures.push(`${bigKey}: ${bigAnswer.code} ${bigAnswer.msg}`);
else if (!(await sameBytes(bigKey, big.sha256))) failures.push(`${bigKey}: read back differs`);

// A burst: 32 files of 1–6 MiB in one batch, one NDJSON line per finished file.
const burst = Array.from({ length: 32 }, (_, i) => ({ ...generate(`burst-${i}.bin`, MiB + ((i * 163_841) % (5 * MiB))), key: `${prefix}burst/${i}.bin` }));
const burstStarted = performance.now();
const lines = (
  await (
    await fetch(`${daemonUrl}/uploads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ files: burst.map((f) => ({ file: f.path, uri: `s3://${bucket}/${f.key}` })) }),
    })
  ).text()
)
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line) as Answer);
const burstSeconds = (performance.now() - burstStarted) / 1000;
for (const answer of lines) if (answer.code !== 200) failures.push(`${answer.task.uri}: ${answer.code} ${answer.msg}`);
for (const f of burst) if (!(await sameBytes(f.key, f.sha256))) failures.push(`${f.key}: read back differs`);
if (lines.length !== burst.length) failures.push(`batch answered ${lines.length} lines for ${burst.length} files`);

const version = (await (await fetch(`${daemonUrl}/version`)).json()) as { config: { transport: string; transport_reason: string } };
const burstBytes = burst.reduce((sum, f) => sum + readFileSync(f.path).length, 0);
const mib = (bytes: number) => Number((bytes / MiB).toFixed(1));
const task = bigAnswer.task;
console.log(
  JSON.stringify(
    {
      s3: endpoint.url,
      function: functionUrl,
      worker: daemonUrl,
      transport: version.config.transport,
      transportReason: version.config.transport_reason,
      upload: {
        uri: task.uri,
        MiB: mib(task.upload_size_bytes ?? 0),
        parts: task.upload_parts,
        seconds: task.upload_total_seconds,
        rate: task.upload_rate,
      },
      burst: { files: burst.length, MiB: mib(burstBytes), seconds: Number(burstSeconds.toFixed(3)), rate: `${mib(burstBytes / burstSeconds)} MiB/s` },
      totalSeconds: Number(((performance.now() - started) / 1000).toFixed(3)),
      readBackIdentical: failures.length === 0,
    },
    null,
    2,
  ),
);

async function stop(code: number): Promise<never> {
  await daemon.shutdown(10_000);
  await fn.stop(true);
  rmSync(dir, { recursive: true, force: true });
  process.exit(code);
}

if (failures.length > 0) {
  for (const f of failures) console.error(`npm start: ${f}`);
  await stop(1);
}
if (once) await stop(0);
console.log(`\nserving: worker ${daemonUrl} (POST /upload, /uploads; /version, /metrics, /swagger/), plan function ${functionUrl} (/docs, /openapi.json)`);
console.log(`try: curl -X POST ${daemonUrl}/upload -d file=${big.path} -d uri=s3://${bucket}/${prefix}again.bin`);
console.log('Ctrl-C stops both (in-flight uploads finish or are aborted)');
process.once('SIGINT', () => void stop(0));
process.once('SIGTERM', () => void stop(0));
