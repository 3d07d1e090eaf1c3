/** For Bun suites: the local S3's settings (started if needed; left running for the next suite). */
import { execFileSync } from 'node:child_process';
import { s3ServerEnv } from '../s3/env.ts';

export function s3Env(): Record<string, string> {
  execFileSync('bash', ['test/s3/server.sh', 'start'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const env = s3ServerEnv();
  Object.assign(process.env, env);
  return env;
}
