#!/usr/bin/env node
// `npx s3nd …`: runs the worker on the Bun that ships as a dependency. Bun reads extra CAs from
// NODE_EXTRA_CA_CERTS, so an AWS_CA_BUNDLE is passed on as that.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const local = join(root, 'node_modules', '.bin', 'bun');
const bun = existsSync(local) ? local : 'bun';
const env = { ...process.env };
if (env.AWS_CA_BUNDLE && !env.NODE_EXTRA_CA_CERTS) env.NODE_EXTRA_CA_CERTS = env.AWS_CA_BUNDLE;
const result = spawnSync(bun, [join(root, 'worker', 'main.ts'), ...process.argv.slice(2)], { stdio: 'inherit', env });
if (result.error) {
  console.error(`s3nd: cannot run Bun (${result.error.message}); run npm install first`);
  process.exit(2);
}
process.exit(result.status ?? 1);
