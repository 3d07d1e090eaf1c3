/**
 * `npm run bench:upload`: the same files (1 GiB and 4 GiB of random bytes by default) uploaded to the
 * local Ceph RGW by s3nd (each transport the endpoint allows), aws-cli v2, rclone, s3cmd and
 * @aws-sdk/lib-storage, in the same run, each under `/usr/bin/time -v`: CPU seconds (user + sys), peak
 * RSS and wall time per tool, as a table plus ratios against s3nd, and one JSON line per upload.
 * Ceph ingests ~80–105 MiB/s here, so wall time says little; CPU and RSS are the point. Every tool
 * gets 16 parts in flight of 8 MiB (s3cmd: one at a time, it has no concurrency). The object is
 * checked by HEAD (size), deleted, and `test/s3/server.sh gc` runs between uploads.
 *
 * Settings: BENCH_SIZES (MiB, comma list; default 1024,4096), BENCH_SCHEME (http | https; default
 * http, the scheme sendfile needs), BENCH_TOOLS (comma list to run a subset). Needs the env of
 * `bash test/s3/server.sh env` (upload.sh provides it).
 *
 * Run as `node --import tsx test/bench/upload.ts --sdk FILE BUCKET KEY` it is the lib-storage peer.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MiB = 2 ** 20;
const partMiB = 8;
const parallel = 16;

if (process.argv[2] === '--sdk') {
  const [file, bucket, key] = process.argv.slice(3) as [string, string, string];
  await sdkUpload(file, bucket, key);
  process.exit(0);
}

async function sdkUpload(file: string, bucket: string, key: string): Promise<void> {
  const { S3Client } = await import('@aws-sdk/client-s3');
  const { Upload } = await import('@aws-sdk/lib-storage');
  const { createReadStream } = await import('node:fs');
  const endpoint = process.env.BENCH_ENDPOINT ?? '';
  const client = new S3Client({ endpoint, forcePathStyle: true, region: process.env.AWS_REGION ?? 'us-east-1' });
  const upload = new Upload({ client, params: { Bucket: bucket, Key: key, Body: createReadStream(file) }, queueSize: parallel, partSize: partMiB * MiB });
  await upload.done();
}

interface Result {
  tool: string;
  sizeMiB: number;
  ok: boolean;
  wallSeconds: number;
  cpuSeconds: number;
  peakRssMiB: number;
  error?: string;
}

const env = process.env as Record<string, string>;
const scheme = env.BENCH_SCHEME === 'https' ? 'https' : 'http';
const endpoint = scheme === 'https' ? env.S3ND_ENDPOINT_URL : env.S3ND_HTTP_ENDPOINT_URL;
if (!endpoint || !env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY) {
  console.error('bench:upload: run through test/bench/upload.sh (it starts the local S3 and exports its settings)');
  process.exit(2);
}
const caBundle = env.AWS_CA_BUNDLE ?? '';
const sizes = (env.BENCH_SIZES ?? '1024,4096').split(',').map(Number);
const host = new URL(endpoint).host;

const { S3Client } = await import('../../functions/s3/client.ts');
const s3 = new S3Client({ endpoint: { url: env.S3ND_ENDPOINT_URL ?? endpoint, region: env.AWS_REGION ?? 'us-east-1' }, credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY } });
const bucket = `bench-upload-${Date.now().toString(36)}`;
await s3.createBucket(bucket);

const work = mkdtempSync(join(tmpdir(), 's3nd-bench-upload-'));
const awsConfig = join(work, 'aws-config');
writeFileSync(awsConfig, `[default]\nregion = us-east-1\ns3 =\n  max_concurrent_requests = ${parallel}\n  multipart_chunksize = ${partMiB}MB\n  multipart_threshold = ${partMiB}MB\n`);
const s3cfg = join(work, 's3cfg');
writeFileSync(
  s3cfg,
  `[default]\naccess_key = ${env.AWS_ACCESS_KEY_ID}\nsecret_key = ${env.AWS_SECRET_ACCESS_KEY}\nhost_base = ${host}\nhost_bucket = ${host}\nuse_https = ${scheme === 'https' ? 'True' : 'False'}\nca_certs_file = ${caBundle}\nmultipart_chunk_size_mb = ${partMiB}\nsignature_v2 = False\nbucket_location = us-east-1\n`,
);

interface Tool {
  name: string;
  argv: (file: string, key: string) => string[];
  env?: Record<string, string | undefined>;
}

const bun = 'node_modules/.bin/bun';
const s3ndArgs = (transport: string) => (file: string, key: string) => [
  bun,
  'worker/main.ts',
  'upload',
  file,
  `s3://${bucket}/${key}`,
  '--endpoint-url',
  endpoint,
  '--transport',
  transport,
  '--upload-partsize',
  `${partMiB}Mi`,
  '--upload-max-parallel',
  String(parallel),
  '--upload-timeout',
  '120s',
];
const tools: Tool[] = [
  { name: 's3nd fetch', argv: s3ndArgs('fetch') },
  ...(scheme === 'http' ? [{ name: 's3nd sendfile', argv: s3ndArgs('sendfile') }] : []),
  {
    name: 'aws-cli v2',
    argv: (file, key) => ['/usr/bin/aws', '--endpoint-url', endpoint, 's3', 'cp', '--only-show-errors', file, `s3://${bucket}/${key}`],
    env: { AWS_CONFIG_FILE: awsConfig },
  },
  {
    name: 'rclone',
    argv: (file, key) => [
      'rclone',
      'copyto',
      file,
      `bench:${bucket}/${key}`,
      '--s3-chunk-size',
      `${partMiB}M`,
      '--s3-upload-concurrency',
      String(parallel),
      '--s3-upload-cutoff',
      `${partMiB}M`,
      ...(scheme === 'https' ? ['--ca-cert', caBundle] : []),
    ],
    // rclone refuses to start with AWS_CA_BUNDLE set; it gets the bundle through --ca-cert instead.
    env: {
      AWS_CA_BUNDLE: undefined,
      RCLONE_CONFIG_BENCH_TYPE: 's3',
      RCLONE_CONFIG_BENCH_PROVIDER: 'Ceph',
      RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID,
      RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY,
      RCLONE_CONFIG_BENCH_ENDPOINT: endpoint,
      RCLONE_CONFIG_BENCH_REGION: 'us-east-1',
    },
  },
  { name: 's3cmd', argv: (file, key) => ['s3cmd', '-c', s3cfg, '--no-progress', 'put', file, `s3://${bucket}/${key}`] },
  {
    name: 'lib-storage',
    argv: (file, key) => ['node', '--import', 'tsx', 'test/bench/upload.ts', '--sdk', file, bucket, key],
    env: { BENCH_ENDPOINT: endpoint },
  },
];
const only = env.BENCH_TOOLS?.split(',').map((t) => t.trim());
const selected = only ? tools.filter((t) => only.includes(t.name)) : tools;

function makeFile(sizeMiB: number): string {
  const path = join(work, `file-${sizeMiB}MiB`);
  const fd = openSync(path, 'w');
  const block = Buffer.allocUnsafe(8 * MiB);
  for (let written = 0; written < sizeMiB * MiB; written += block.length) writeSync(fd, randomFillSync(block));
  closeSync(fd);
  return path;
}

function timed(tool: Tool, file: string, key: string): Omit<Result, 'tool' | 'sizeMiB'> {
  const report = join(work, 'time.txt');
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...tool.env })) if (v !== undefined) childEnv[k] = v;
  const run = spawnSync('/usr/bin/time', ['-v', '-o', report, ...tool.argv(file, key)], { env: childEnv, encoding: 'utf8', maxBuffer: 64 * MiB });
  const text = readFileSync(report, 'utf8');
  const field = (name: string) => new RegExp(`${name}: (.*)`).exec(text)?.[1]?.trim() ?? '0';
  const wall = field('Elapsed \\(wall clock\\) time \\(h:mm:ss or m:ss\\)')
    .split(':')
    .reduce((acc, part) => acc * 60 + Number(part), 0);
  const cpu = Number(field('User time \\(seconds\\)')) + Number(field('System time \\(seconds\\)'));
  const rss = Number(field('Maximum resident set size \\(kbytes\\)')) / 1024;
  const ok = run.status === 0;
  return { ok, wallSeconds: wall, cpuSeconds: Math.round(cpu * 100) / 100, peakRssMiB: Math.round(rss * 10) / 10, ...(ok ? {} : { error: `${run.stderr}${run.stdout}`.slice(-400) }) };
}

const results: Result[] = [];
try {
  for (const sizeMiB of sizes) {
    const file = makeFile(sizeMiB);
    // Warm the page cache and the bucket so no tool pays for the first read or the first request.
    execFileSync('cat', [file], { stdio: ['ignore', 'ignore', 'inherit'] });
    for (const tool of selected) {
      const key = `${tool.name.replace(/\W+/g, '-')}/${sizeMiB}`;
      const measured = timed(tool, file, key);
      let ok = measured.ok;
      const head = ok ? await s3.headObject(bucket, key) : undefined;
      if (ok && head?.size !== sizeMiB * MiB) {
        ok = false;
        measured.error = `object size ${head?.size} ≠ ${sizeMiB * MiB}`;
      }
      const result: Result = { tool: tool.name, sizeMiB, ...measured, ok };
      results.push(result);
      console.log(JSON.stringify(result));
      await s3.deleteObject(bucket, key).catch(() => {
        // Nothing landed (the tool failed): nothing to delete.
      });
      for (const upload of await s3.listMultipartUploads(bucket)) await s3.abortMultipartUpload(bucket, upload.key, upload.uploadId);
      execFileSync('bash', ['test/s3/server.sh', 'gc'], { stdio: 'ignore' });
    }
    rmSync(file);
  }
} finally {
  await s3.emptyAndDeleteBucket(bucket).catch((error) => console.error(`bench:upload: could not delete ${bucket}: ${error.message}`));
  rmSync(work, { recursive: true, force: true });
}

console.log(`\nupload benchmark over ${scheme} to ${endpoint} (${partMiB} MiB parts, ${parallel} in flight), ${new Date().toISOString()}`);
const header = ['tool', 'size', 'wall s', 'MiB/s', 'CPU s', 'CPU s/GiB', 'peak RSS MiB', 'CPU vs s3nd', 'RSS vs s3nd'];
const rows: string[][] = [];
for (const sizeMiB of sizes) {
  const here = results.filter((r) => r.sizeMiB === sizeMiB);
  const best = here.filter((r) => r.ok && r.tool.startsWith('s3nd')).sort((a, b) => a.cpuSeconds - b.cpuSeconds)[0];
  for (const r of here) {
    rows.push([
      r.tool,
      sizeMiB >= 1024 ? `${sizeMiB / 1024} GiB` : `${sizeMiB} MiB`,
      r.wallSeconds.toFixed(1),
      r.ok ? (sizeMiB / r.wallSeconds).toFixed(0) : 'FAILED',
      r.cpuSeconds.toFixed(2),
      ((r.cpuSeconds * 1024) / sizeMiB).toFixed(2),
      r.peakRssMiB.toFixed(0),
      best ? `${(r.cpuSeconds / best.cpuSeconds).toFixed(1)}×` : '-',
      best ? `${(r.peakRssMiB / best.peakRssMiB).toFixed(1)}×` : '-',
    ]);
  }
}
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
console.log(line(header));
for (const row of rows) console.log(line(row));
for (const r of results.filter((x) => !x.ok)) console.log(`${r.tool} ${r.sizeMiB} MiB failed: ${r.error}`);
