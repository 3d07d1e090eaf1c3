/**
 * Starts the local Ceph RGW (test/s3/server.sh, idempotent) and returns its settings, parsed
 * from the `export K=V` lines that `server.sh env` prints. Shared by vitest's global setup,
 * the Bun test suites and the demo.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('./server.sh', import.meta.url));

export function s3ServerRunning(): boolean {
  try {
    execFileSync('bash', [script, 'status'], { stdio: 'ignore' });
    return true;
  } catch {
    // status exits non-zero when the server is down: that is the answer, not a failure.
    return false;
  }
}

export function startS3Server(): Record<string, string> {
  execFileSync('bash', [script, 'start'], { stdio: ['ignore', 'inherit', 'inherit'] });
  return s3ServerEnv();
}

export function stopS3Server(): void {
  execFileSync('bash', [script, 'stop'], { stdio: ['ignore', 'inherit', 'inherit'] });
}

export function s3ServerEnv(): Record<string, string> {
  const text = execFileSync('bash', [script, 'env'], { encoding: 'utf8' });
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = line.match(/^export ([A-Z0-9_]+)=(.*)$/);
    if (!m) continue;
    env[m[1]!] = unquote(m[2]!);
  }
  return env;
}

function unquote(value: string): string {
  if (value.startsWith("'") && value.endsWith("'")) return value.slice(1, -1).replaceAll(`'\\''`, "'");
  if (value.startsWith('"') && value.endsWith('"')) return value.slice(1, -1);
  return value;
}
