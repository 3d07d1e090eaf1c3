/**
 * The daemon: s3nd/deliverator v2's HTTP API on Bun.serve. `POST /upload` (form-urlencoded,
 * multipart form or JSON) is held until the upload ends and answered with deliverator's JSON
 * (plus `transport`); `POST /uploads` streams one NDJSON line per finished file; `/version`,
 * `/healthz`, `/metrics`, `/swagger/`. Loopback by default, S3ND_ALLOWED_ROOTS after realpath,
 * optional bearer token, graceful shutdown that leaves no multipart upload behind.
 */
import { realpathSync } from 'node:fs';
import { isAbsolute, sep } from 'node:path';
import { parseS3Uri } from '../functions/s3/uri.ts';
import { ConfigError, loadConfig, parseFlags, type WorkerConfig } from './config.ts';
import swagger from './http/swagger.json' with { type: 'json' };
import { Metrics } from './metrics.ts';
import { setupEngine } from './setup.ts';
import { type Engine, type TaskReport, UploadError, type UploadRequest } from './types.ts';

export const version = '0.1.0';
const maxBody = 1 << 20;

interface UploadInput {
  file?: string | undefined;
  uri?: string | undefined;
  slug?: string | undefined;
}

class BadRequest extends Error {}

async function readInput(request: Request): Promise<UploadInput> {
  const type = request.headers.get('content-type') ?? '';
  const field = (v: unknown) => (typeof v === 'string' ? v : undefined);
  try {
    if (type.includes('application/json')) {
      const body = (await request.json()) as Record<string, unknown>;
      if (typeof body !== 'object' || body === null) throw new BadRequest('error parsing request: expected a JSON object');
      return { file: field(body.file), uri: field(body.uri), slug: field(body.slug) };
    }
    if (type.includes('multipart/form-data') || type.includes('application/x-www-form-urlencoded')) {
      const form = await request.formData();
      return { file: field(form.get('file')), uri: field(form.get('uri')), slug: field(form.get('slug')) };
    }
  } catch (error) {
    if (error instanceof BadRequest) throw error;
    throw new BadRequest(`error parsing request: ${(error as Error).message}`);
  }
  throw new BadRequest(`error parsing request: unsupported content type ${JSON.stringify(type)}: expected application/x-www-form-urlencoded, multipart/form-data or application/json`);
}

export interface Daemon {
  server: ReturnType<typeof Bun.serve>;
  engine: Engine;
  config: WorkerConfig;
  /** Stops accepting, lets uploads finish until the deadline, aborts the rest. */
  shutdown(graceMs?: number): Promise<void>;
}

export function startDaemon(config: WorkerConfig): Daemon {
  const metrics = new Metrics('fetch');
  const { engine, transportReason } = setupEngine(config, metrics);
  Object.assign(metrics, { transport: engine.transport });
  const roots = config.allowedRoots?.map((r) => {
    try {
      return realpathSync(r);
    } catch {
      throw new ConfigError(`S3ND_ALLOWED_ROOTS entry ${r} does not exist`);
    }
  });
  if (!roots) console.warn('s3nd: S3ND_ALLOWED_ROOTS is not set: the daemon will read any file this user can read');

  const versionInfo = () => ({
    version,
    config: {
      ...config.effective,
      transport: engine.transport,
      transport_reason: transportReason,
      plans: config.functionUrl ? 'remote' : 'local',
      ...(roots ? {} : { warning: 'S3ND_ALLOWED_ROOTS is not set: any readable file may be uploaded' }),
    },
  });

  function check(input: UploadInput): UploadRequest {
    if (!input.file) throw new BadRequest('error parsing request: missing field: file');
    if (!input.uri) throw new BadRequest('error parsing request: missing field: uri');
    if (!isAbsolute(input.file)) throw new BadRequest(`error parsing request: file must be an absolute path, got ${JSON.stringify(input.file)}`);
    let location: ReturnType<typeof parseS3Uri>;
    try {
      location = parseS3Uri(input.uri);
    } catch (error) {
      throw new BadRequest(`error parsing request: ${(error as Error).message}`);
    }
    let real: string;
    try {
      real = realpathSync(input.file);
    } catch (error) {
      throw new BadRequest(`error parsing request: cannot stat ${input.file}: ${(error as Error).message}`);
    }
    if (roots && !roots.some((root) => real === root || real.startsWith(root.endsWith(sep) ? root : root + sep))) {
      throw new BadRequest(`error parsing request: ${input.file} is outside S3ND_ALLOWED_ROOTS (${roots.join(':')})`);
    }
    return { file: real, uri: input.uri, bucket: location.bucket, key: location.key, slug: input.slug };
  }

  function failure(error: unknown, base: Partial<TaskReport>): { status: number; body: Record<string, unknown>; message: string } {
    if (error instanceof BadRequest) return { status: 400, message: error.message, body: { code: 400, msg: error.message, version, task: base } };
    const e = error instanceof UploadError ? error : new UploadError('Unknown', `unknown error: ${(error as Error)?.message}`, base);
    return { status: e.status, message: e.message, body: { code: e.status, msg: e.message, version, task: { ...base, ...e.report, attempts: e.report.upload_attempts ?? 0 } } };
  }

  async function runOne(input: UploadInput, signal: AbortSignal): Promise<{ status: number; body: Record<string, unknown>; message?: string }> {
    const id = crypto.randomUUID();
    const base: Partial<TaskReport> = { id, file: input.file ?? '', uri: input.uri ?? '', ...(input.slug ? { slug: input.slug } : {}) };
    try {
      const request = check(input);
      const task = await engine.upload({ ...request, id }, { signal });
      return { status: 200, body: { code: 200, msg: 'upload succeeded', version, task } };
    } catch (error) {
      return failure(error, base);
    }
  }

  const authorized = (request: Request) => !config.token || request.headers.get('authorization') === `Bearer ${config.token}`;
  const json = (status: number, body: unknown, error?: string) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...(error ? { 'x-error': error.replace(/[\r\n]+/g, ' ') } : {}) } });

  const server = Bun.serve({
    hostname: config.host,
    port: config.port,
    maxRequestBodySize: maxBody,
    idleTimeout: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const route = `${request.method} ${url.pathname}`;
      if (route === 'GET /healthz') return json(200, { ok: true });
      if (!authorized(request)) return json(401, { code: 401, msg: 'missing or wrong bearer token (S3ND_TOKEN)', version }, 'unauthorized');
      switch (route) {
        case 'POST /upload': {
          let input: UploadInput;
          try {
            input = await readInput(request);
          } catch (error) {
            const f = failure(error, {});
            return json(f.status, f.body, f.message);
          }
          const result = await runOne(input, request.signal);
          return json(result.status, result.body, result.message);
        }
        case 'POST /uploads':
          return batch(request);
        case 'GET /version':
          return json(200, versionInfo());
        case 'GET /metrics':
          return new Response(metrics.render(engine.stats()), { headers: { 'content-type': 'text/plain; version=0.0.4' } });
        case 'GET /swagger/doc.json':
          return json(200, swagger);
        case 'GET /swagger':
        case 'GET /swagger/':
        case 'GET /swagger/index.html':
          return new Response(swaggerPage, { headers: { 'content-type': 'text/html; charset=utf-8' } });
        default:
          return json(404, { code: 404, msg: `no route ${route}`, version }, `no route ${route}`);
      }
    },
  });

  async function batch(request: Request): Promise<Response> {
    let files: UploadInput[];
    try {
      const body = (await request.json()) as { files?: unknown };
      if (!Array.isArray(body.files) || body.files.length === 0) throw new Error('expected {"files": [{"file", "uri", "slug?"}, …]}');
      files = body.files as UploadInput[];
    } catch (error) {
      const message = `error parsing request: ${(error as Error).message}`;
      return json(400, { code: 400, msg: message, version }, message);
    }
    const encoder = new TextEncoder();
    const signal = request.signal;
    const stream = new ReadableStream<Uint8Array>({
      async start(controller) {
        await Promise.all(
          files.map(async (input) => {
            const result = await runOne(input, signal);
            if (!signal.aborted) controller.enqueue(encoder.encode(`${JSON.stringify(result.body)}\n`));
          }),
        );
        controller.close();
      },
    });
    return new Response(stream, { headers: { 'content-type': 'application/x-ndjson' } });
  }

  return {
    server,
    engine,
    config,
    async shutdown(graceMs = 30_000) {
      server.stop(false);
      await engine.close(Date.now() + graceMs);
      server.stop(true);
    },
  };
}

const swaggerPage = `<!doctype html><html><head><meta charset="utf-8"><title>s3nd API</title>
<link rel="stylesheet" href="https://unpkg.com/swagger-ui-dist@5/swagger-ui.css"></head><body><div id="ui"></div>
<script src="https://unpkg.com/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({ url: './doc.json', dom_id: '#ui' });</script></body></html>`;

/** `s3nd` / `s3nd serve`: runs until SIGTERM or SIGINT, then drains. */
export async function runDaemon(argv: string[], env: Record<string, string | undefined>): Promise<void> {
  let daemon: Daemon;
  try {
    const { flags, positional } = parseFlags(argv);
    if (positional.length > 0) throw new ConfigError(`unexpected argument ${positional[0]}: the daemon takes only flags`);
    daemon = startDaemon(loadConfig(flags, env));
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`s3nd: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  console.log(`s3nd ${version} listening on http://${daemon.server.hostname}:${daemon.server.port} (transport ${daemon.engine.transport})`);
  const stop = async (signal: string) => {
    console.log(`s3nd: ${signal}: finishing in-flight uploads (30 s), then aborting the rest`);
    await daemon.shutdown();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
