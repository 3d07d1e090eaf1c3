/**
 * `s3nd upload` as a user runs it (`node worker/bin/s3nd.js`, the package bin) against the local
 * Ceph RGW: key mapping for files, trailing-slash prefixes and directories, one JSON line per file,
 * exit codes 0/1/2 with messages that say what was expected, remote plans via --function/--token.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign } from 'hono/jwt';
import worker from '../../functions/index.ts';
import { mapKeys } from '../../worker/cli.ts';
import { localS3, uniqueBucket } from '../s3/helpers.ts';
import { s3Env } from './s3.ts';

const env = s3Env();
const https = localS3(env, true);
const bucket = uniqueBucket('cli');
const dir = mkdtempSync(join(tmpdir(), 's3nd-cli-'));
const MiB = 2 ** 20;
const md5 = (data: Uint8Array) => createHash('md5').update(data).digest('hex');

interface Line {
  code: number;
  msg: string;
  task: { uri: string; file: string; upload_size_bytes?: number; upload_parts?: number; transport?: string; upload_total?: string; upload_rate?: string };
}

/** Runs the bin like `npx s3nd` does; stdout is not a TTY, so every file gives one JSON line. */
async function s3nd(args: string[], extraEnv: Record<string, string | undefined> = {}) {
  const child = Bun.spawn(['node', 'worker/bin/s3nd.js', ...args], {
    env: { ...process.env, ...env, ...extraEnv },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  const lines = stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Line);
  return { code, lines, stderr };
}

function write(rel: string, data: Uint8Array): string {
  const path = join(dir, rel);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, data);
  return path;
}

async function noUploadsLeft() {
  expect(await https.client.listMultipartUploads(bucket)).toEqual([]);
}

beforeAll(() => https.client.createBucket(bucket));
afterAll(async () => {
  await https.client.emptyAndDeleteBucket(bucket);
  rmSync(dir, { recursive: true, force: true });
});

describe('key mapping (mapKeys)', () => {
  test('a file to a key, to prefix + name with a trailing slash, a directory to prefix + relative path', () => {
    const a = write('map/a.txt', new Uint8Array(1));
    write('map/tree/x/y.bin', new Uint8Array(1));
    write('map/tree/z.bin', new Uint8Array(1));
    expect(mapKeys([a], 's3://bkt/k/exact')).toEqual([{ file: a, bucket: 'bkt', key: 'k/exact', size: 1 }]);
    expect(mapKeys([a], 's3://bkt/p/')).toEqual([{ file: a, bucket: 'bkt', key: 'p/a.txt', size: 1 }]);
    expect(mapKeys([a], 's3://bkt')).toEqual([{ file: a, bucket: 'bkt', key: 'a.txt', size: 1 }]);
    expect(mapKeys([join(dir, 'map/tree')], 's3://bkt/pre').map((j) => j.key)).toEqual(['pre/x/y.bin', 'pre/z.bin']);
    expect(mapKeys([join(dir, 'map/tree')], 's3://bkt/pre/').map((j) => j.key)).toEqual(['pre/x/y.bin', 'pre/z.bin']);
    expect(mapKeys([join(dir, 'map/tree')], 's3://bkt').map((j) => j.key)).toEqual(['x/y.bin', 'z.bin']);
    // Several sources go under the destination as a folder.
    expect(mapKeys([a, join(dir, 'map/tree/z.bin')], 's3://bkt/many').map((j) => j.key)).toEqual(['many/a.txt', 'many/z.bin']);
  });
});

describe('s3nd upload', () => {
  test('uploads a file, a file under a trailing-slash prefix and a directory; one JSON line each; exit 0', async () => {
    const one = randomBytes(7 * MiB + 3);
    const small = randomBytes(100);
    const nested = randomBytes(5 * MiB);
    const onePath = write('up/one.bin', one);
    write('up/tree/a/small.txt', small);
    write('up/tree/nested.bin', nested);

    const single = await s3nd(['upload', onePath, `s3://${bucket}/exact/key.bin`, '--upload-partsize', '5Mi']);
    expect(single.code).toBe(0);
    expect(single.lines).toHaveLength(1);
    expect(single.lines[0]).toMatchObject({ code: 200, msg: 'upload succeeded', task: { uri: `s3://${bucket}/exact/key.bin`, file: onePath, upload_size_bytes: one.length, upload_parts: 2 } });
    expect(single.lines[0]!.task.upload_rate).toMatch(/^\d+\.\d{3}Mbit\/s$/);
    expect(single.lines[0]!.task.upload_total).toMatch(/^[\d.]+(ms|s|µs)$/);
    expect(md5(await https.client.getObject(bucket, 'exact/key.bin'))).toBe(md5(one));

    const slash = await s3nd(['upload', onePath, `s3://${bucket}/dir/`]);
    expect(slash.code).toBe(0);
    expect(slash.lines.map((l) => l.task.uri)).toEqual([`s3://${bucket}/dir/one.bin`]);
    expect(md5(await https.client.getObject(bucket, 'dir/one.bin'))).toBe(md5(one));

    const tree = await s3nd(['upload', join(dir, 'up/tree'), `s3://${bucket}/tree`, '-upload-max-parallel', '4', '--transport=fetch']);
    expect(tree.code).toBe(0);
    expect(tree.lines.map((l) => l.task.uri).sort()).toEqual([`s3://${bucket}/tree/a/small.txt`, `s3://${bucket}/tree/nested.bin`]);
    expect(tree.lines.every((l) => l.code === 200 && l.task.transport === 'fetch')).toBe(true);
    expect(md5(await https.client.getObject(bucket, 'tree/a/small.txt'))).toBe(md5(small));
    expect(md5(await https.client.getObject(bucket, 'tree/nested.bin'))).toBe(md5(nested));
    await noUploadsLeft();
  }, 120_000);

  test('plain HTTP endpoint via --endpoint-url, with each transport (auto, fetch, sendfile)', async () => {
    const data = randomBytes(6 * MiB);
    const path = write('http/h.bin', data);
    for (const transport of ['auto', 'fetch', 'sendfile']) {
      const key = `http/${transport}.bin`;
      const run = await s3nd(['upload', path, `s3://${bucket}/${key}`, '--endpoint-url', env.S3ND_HTTP_ENDPOINT_URL ?? '', '--transport', transport]);
      expect(run.code).toBe(0);
      expect(run.lines[0]!.task.transport).toBe(transport === 'auto' ? 'fetch' : transport);
      expect(md5(await https.client.getObject(bucket, key))).toBe(md5(data));
    }
    // sendfile cannot encrypt: on an HTTPS endpoint it is a configuration error, not a failed upload.
    const refused = await s3nd(['upload', path, `s3://${bucket}/http/x.bin`, '--transport', 'sendfile']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/sendfile needs a plain HTTP endpoint/);
  }, 60_000);

  test('any failed file → exit 1 with a JSON line naming the error; the others still land', async () => {
    const good = write('fail/good.bin', randomBytes(10));
    const missingBucket = await s3nd(['upload', good, 's3://no-such-bucket-s3nd-cli/x']);
    expect(missingBucket.code).toBe(1);
    expect(missingBucket.lines).toEqual([expect.objectContaining({ code: 404, msg: expect.stringContaining('bucket does not exist') })]);

    // A directory where one file's key would pass S3's 1024-byte limit: that one fails (400), the other lands.
    const landed = randomBytes(6 * MiB);
    write('mixed/ok.bin', landed);
    const deep = Array.from({ length: 5 }, (_, i) => `${i}`.repeat(250)).join('/');
    write(`mixed/${deep}.bin`, randomBytes(10));
    const mixed = await s3nd(['upload', join(dir, 'mixed'), `s3://${bucket}/mixed`]);
    expect(mixed.code).toBe(1);
    expect(mixed.lines).toHaveLength(2);
    const byUri = new Map(mixed.lines.map((l) => [l.task.uri, l]));
    expect(byUri.get(`s3://${bucket}/mixed/ok.bin`)).toMatchObject({ code: 200 });
    expect(byUri.get(`s3://${bucket}/mixed/${deep}.bin`)).toMatchObject({ code: 400, msg: expect.stringMatching(/1024/) });
    expect(md5(await https.client.getObject(bucket, 'mixed/ok.bin'))).toBe(md5(landed));
    await noUploadsLeft();
  }, 60_000);

  test('usage and configuration errors → exit 2 with what was expected and what was seen', async () => {
    const path = write('usage/u.bin', randomBytes(10));
    const cases: [string[], RegExp][] = [
      [['upload'], /expected at least one source and an s3:\/\/ destination/],
      [['upload', path, '/tmp/not-s3'], /last argument must be an s3:\/\/ destination, got "\/tmp\/not-s3"/],
      [['upload', join(dir, 'nope'), `s3://${bucket}/k`], /source .*nope does not exist/],
      [['upload', path, `s3://${bucket}/k`, '--upload-partsize', '3Mi'], /S3ND_UPLOAD_PARTSIZE "3Mi": expected 5Mi to 5Gi/],
      [['upload', path, `s3://${bucket}/k`, '--upload-tries', 'two'], /S3ND_UPLOAD_TRIES "two": expected a whole number/],
      [['upload', path, `s3://${bucket}/k`, '--transport', 'carrier-pigeon'], /--transport "carrier-pigeon": expected auto, ktls, sendfile or fetch/],
      [['upload', path, `s3://${bucket}/k`, '--no-such-flag', 'x'], /unknown flag --no-such-flag/],
      [['upload', path, 's3://ab/k'], /bucket/i],
      [['frobnicate'], /unknown command "frobnicate"/],
    ];
    for (const [args, message] of cases) {
      const run = await s3nd(args);
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
      expect(run.stderr).toMatch(message);
      expect(run.lines).toEqual([]);
    }
    const noCredentials = await s3nd(['upload', path, `s3://${bucket}/k`], { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_PROFILE: 'none', HOME: dir });
    expect(noCredentials.code).toBe(2);
    expect(noCredentials.stderr).toMatch(/No S3 credentials/);
  }, 60_000);

  // `script` gives the CLI a pseudo-terminal on stdout and stderr, as a person at a shell sees it.
  const script = Bun.which('script');
  test.skipIf(script === null)('on a TTY: a progress bar (bytes, files, rate) instead of JSON lines; failures named', async () => {
    const data = randomBytes(12 * MiB);
    const path = write('tty/t.bin', data);
    const command = `node worker/bin/s3nd.js upload ${path} s3://${bucket}/tty/t.bin`;
    const child = Bun.spawn([script!, '-qec', command, '/dev/null'], { env: { ...process.env, ...env }, stdout: 'pipe', stderr: 'pipe' });
    const [out, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
    expect(code).toBe(0);
    expect(out).toContain(`[${'#'.repeat(30)}] 12.0/12.0 MiB, 1/1 files`);
    expect(out).not.toContain('"code"');
    expect(md5(await https.client.getObject(bucket, 'tty/t.bin'))).toBe(md5(data));
    const failing = Bun.spawn([script!, '-qec', `node worker/bin/s3nd.js upload ${path} s3://no-such-bucket-s3nd-tty/k`, '/dev/null'], { env: { ...process.env, ...env }, stdout: 'pipe' });
    const [failOut, failCode] = await Promise.all([new Response(failing.stdout).text(), failing.exited]);
    expect(failCode).toBe(1);
    expect(failOut).toContain('s3://no-such-bucket-s3nd-tty/k: upload failed because the bucket does not exist');
    expect(failOut).toContain('1 failed');
  }, 60_000);

  test('--help prints the usage and exits 0', async () => {
    const run = Bun.spawnSync(['node', 'worker/bin/s3nd.js', 'upload', '--help'], { env: { ...process.env, ...env } });
    expect(run.exitCode).toBe(0);
    expect(run.stdout.toString()).toContain('usage: s3nd upload <file|dir>… s3://bucket/key-or-prefix');
    expect(run.stdout.toString()).toContain('--upload-partsize');
  });

  test('remote plans: --function URL --token T, no S3 credentials on the worker', async () => {
    const secret = 'cli-test-secret';
    const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: (request) => worker.fetch(request, { ...env, S3ND_JWT_SECRET: secret }) });
    try {
      const token = await sign({ exp: Math.floor(Date.now() / 1000) + 600, buckets: [bucket], prefixes: ['fn/'] }, secret, 'HS256');
      const data = randomBytes(11 * MiB + 7);
      const path = write('fn/f.bin', data);
      const run = await s3nd(['upload', path, `s3://${bucket}/fn/f.bin`, '--function', `http://127.0.0.1:${server.port}`, '--token', token], {
        AWS_ACCESS_KEY_ID: undefined,
        AWS_SECRET_ACCESS_KEY: undefined,
        S3ND_ENDPOINT_URL: undefined,
        HOME: dir,
      });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.lines[0]).toMatchObject({ code: 200, task: { upload_parts: 3 } });
      expect(md5(await https.client.getObject(bucket, 'fn/f.bin'))).toBe(md5(data));
      // Outside the token's prefix: the function refuses, the CLI says so and exits 1.
      const refused = await s3nd(['upload', path, `s3://${bucket}/elsewhere/f.bin`, '--function', `http://127.0.0.1:${server.port}`, '--token', token], { HOME: dir });
      expect(refused.code).toBe(1);
      expect(refused.lines[0]!.code).toBeGreaterThanOrEqual(400);
      await noUploadsLeft();
    } finally {
      server.stop(true);
    }
  }, 60_000);
});
