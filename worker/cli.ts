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
export function mapKeys(sources: string[], destination: string): { file: string; bucket: string; key: string; size: number }[] {
  const { bucket, key: prefix } = parseS3Uri(destination, { allowEmptyKey: true });
  // Several sources, like a directory, go under the destination as a folder: `s3://b/p` means `p/`.
  const asPrefix = prefix === '' || prefix.endsWith('/') || sources.length > 1;
  const dirPrefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
  const out: { file: string; bucket: string; key: string; size: number }[] = [];
  for (const source of sources) {
    const path = resolve(source);
    let stat: ReturnType<typeof statSync>;
    try {
      stat = statSync(path);
    } catch {
      throw new UsageError(`source ${source} does not exist`);
    }
    if (stat.isDirectory()) {
      for (const { file, size } of walk(path)) out.push({ file, bucket, key: dirPrefix + relative(path, file).split('\\').join('/'), size });
    } else {
      out.push({ file: path, bucket, key: asPrefix ? dirPrefix + basename(path) : prefix, size: stat.size });
    }
  }
  return out;
}

function walk(dir: string): { file: string; size: number }[] {
  const files: { file: string; size: number }[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...walk(path));
    else if (entry.isFile()) files.push({ file: path, size: statSync(path).size });
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
  const tty = process.stderr.isTTY === true && process.stdout.isTTY === true;
  const total = jobs.length;
  const totalBytes = jobs.reduce((sum, job) => sum + job.size, 0);
  let done = 0;
  let failed = 0;
  // Bytes of parts that landed so far (a part retried later counts once it lands).
  let bytes = 0;
  let drawnAt = 0;
  const started = performance.now();
  const progress = (force = false) => {
    if (!tty) return;
    const now = performance.now();
    if (!force && now - drawnAt < 100) return;
    drawnAt = now;
    const seconds = (now - started) / 1000;
    const width = 30;
    const filled = Math.min(width, Math.round((bytes / Math.max(1, totalBytes)) * width));
    const mib = (n: number) => (n / 2 ** 20).toFixed(1);
    process.stderr.write(
      `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${mib(bytes)}/${mib(totalBytes)} MiB, ${done}/${total} files, ${mib(bytes / Math.max(seconds, 1e-3))} MiB/s${failed ? `, ${failed} failed` : ''} `,
    );
  };
  let runtime: ReturnType<typeof setupEngine>;
  try {
    runtime = setupEngine(config, {
      partFinished: (partBytes) => {
        bytes += partBytes;
        progress();
      },
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`s3nd upload: ${error.message}`);
      return 2;
    }
    throw error;
  }
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort(new Error('interrupted')));
  await Promise.all(
    jobs.map(async (job) => {
      const request: UploadRequest = { file: job.file, uri: `s3://${job.bucket}/${job.key}`, bucket: job.bucket, key: job.key };
      try {
        const task = await runtime.engine.upload(request, { signal: abort.signal });
        if (!tty) console.log(JSON.stringify({ code: 200, msg: 'upload succeeded', task }));
      } catch (error) {
        failed++;
        const e = error instanceof UploadError ? error : new UploadError('Unknown', String(error), { uri: request.uri, file: request.file });
        if (tty) process.stderr.write(`\n${e.report.uri}: ${e.message}\n`);
        else console.log(JSON.stringify({ code: e.status, msg: e.message, task: e.report }));
      } finally {
        done++;
        progress(true);
      }
    }),
  );
  if (tty) process.stderr.write('\n');
  await runtime.engine.close(Date.now());
  return failed > 0 ? 1 : 0;
}
