/**
 * `s3nd upload <file|dir>… s3://bucket/prefix`: like `aws s3 cp --recursive`. A file goes to the
 * key, or to prefix + its name when the destination ends in `/` (or several sources are given); a
 * directory goes to prefix + each file's path relative to it. A progress line on a TTY, otherwise
 * one JSON line per file (the daemon's task object plus code and msg). Exit 0 when every object
 * landed, 1 when any failed, 2 on usage or configuration errors.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { parseS3Uri } from '../functions/s3/uri.ts';
import { ConfigError, loadConfig, parseFlags, settings } from './config.ts';
import { setupEngine } from './setup.ts';
import { UploadError, type UploadRequest } from './types.ts';

export const usage = `usage: s3nd upload <file|dir>… s3://bucket/key-or-prefix [flags]

  A file goes to the key (or to prefix + name when the destination ends in /); a directory goes
  to prefix + each file's relative path. Prints a JSON line per file (a progress line on a TTY).
  Exit 0 when all landed, 1 when any failed, 2 on usage errors.

flags (each also as its S3ND_* variable):
${settings.map((s) => `  --${s.flag.padEnd(26)} ${s.help} (${s.env}${s.default ? `, default ${s.default}` : ''})`).join('\n')}
  --token is the plan function's token when --function is given.
credentials, region and CA trust: the standard AWS sources (AWS_*, ~/.aws, AWS_CA_BUNDLE).`;

class UsageError extends Error {}

/** Expands sources into (file, key) pairs. */
export function mapKeys(sources: string[], destination: string): { file: string; bucket: string; key: string }[] {
  const { bucket, key: prefix } = parseS3Uri(destination, { allowEmptyKey: true });
  const asPrefix = prefix === '' || prefix.endsWith('/') || sources.length > 1;
  const out: { file: string; bucket: string; key: string }[] = [];
  for (const source of sources) {
    const path = resolve(source);
    let stat: ReturnType<typeof statSync>;
    try {
      stat = statSync(path);
    } catch {
      throw new UsageError(`source ${source} does not exist`);
    }
    if (stat.isDirectory()) {
      const dirPrefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
      for (const file of walk(path)) out.push({ file, bucket, key: dirPrefix + relative(path, file).split('\\').join('/') });
    } else {
      if (!asPrefix && prefix === '') throw new UsageError(`destination ${destination} names no key`);
      out.push({ file: path, bucket, key: asPrefix ? prefix + basename(path) : prefix });
    }
  }
  return out;
}

function walk(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...walk(path));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}

export async function runUpload(argv: string[]): Promise<number> {
  let config: ReturnType<typeof loadConfig>;
  let jobs: ReturnType<typeof mapKeys>;
  try {
    // `--token` means the plan function's token on the command line.
    const normalized = argv.map((a) => (a === '--token' || a === '-token' ? '--function-token' : a.replace(/^--?token=/, '--function-token=')));
    if (normalized.includes('--help') || normalized.includes('-h')) {
      console.log(usage);
      return 0;
    }
    const { flags, positional } = parseFlags(normalized);
    if (positional.length < 2) throw new UsageError('expected at least one source and an s3:// destination');
    const destination = positional.at(-1)!;
    if (!destination.startsWith('s3://')) throw new UsageError(`the last argument must be an s3:// destination, got ${JSON.stringify(destination)}`);
    config = loadConfig(flags);
    jobs = mapKeys(positional.slice(0, -1), destination);
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError || (error as { status?: number }).status === 400) {
      console.error(`s3nd upload: ${(error as Error).message}\n\n${usage}`);
      return 2;
    }
    throw error;
  }
  let runtime: ReturnType<typeof setupEngine>;
  try {
    runtime = setupEngine(config);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`s3nd upload: ${error.message}`);
      return 2;
    }
    throw error;
  }
  const tty = process.stderr.isTTY === true && process.stdout.isTTY === true;
  const total = jobs.length;
  let done = 0;
  let failed = 0;
  let bytes = 0;
  const started = performance.now();
  const progress = () => {
    if (!tty) return;
    const seconds = (performance.now() - started) / 1000;
    const width = 30;
    const filled = Math.round((done / Math.max(1, total)) * width);
    process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} files, ${(bytes / 2 ** 20).toFixed(1)} MiB, ${(bytes / 2 ** 20 / Math.max(seconds, 1e-3)).toFixed(1)} MiB/s${failed ? `, ${failed} failed` : ''} `);
  };
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort(new Error('interrupted')));
  await Promise.all(
    jobs.map(async (job) => {
      const request: UploadRequest = { file: job.file, uri: `s3://${job.bucket}/${job.key}`, bucket: job.bucket, key: job.key };
      try {
        const task = await runtime.engine.upload(request, { signal: abort.signal });
        bytes += task.upload_size_bytes;
        if (tty) process.stdout.write('');
        else console.log(JSON.stringify({ code: 200, msg: 'upload succeeded', task }));
      } catch (error) {
        failed++;
        const e = error instanceof UploadError ? error : new UploadError('Unknown', String(error), { uri: request.uri, file: request.file });
        if (tty) process.stderr.write(`\n${e.report.uri}: ${e.message}\n`);
        else console.log(JSON.stringify({ code: e.status, msg: e.message, task: e.report }));
      } finally {
        done++;
        progress();
      }
    }),
  );
  if (tty) process.stderr.write('\n');
  await runtime.engine.close(Date.now());
  return failed > 0 ? 1 : 0;
}
