/**
 * The daemon: s3nd/deliverator v2's HTTP API on Bun.serve. `POST /upload` (form-urlencoded,
 * multipart form or JSON) is held until the upload ends and answered with deliverator's JSON
 * (plus `transport`); `POST /uploads` streams one NDJSON line per finished file; `/version`,
 * `/healthz`, `/metrics`, `/swagger/`. Loopback by default, S3ND_ALLOWED_ROOTS after realpath,
 * optional bearer token, graceful shutdown that leaves no multipart upload behind.
 */
import { parseS3Uri } from '../functions/s3/uri.ts';
import { ConfigError, loadConfig, parseFlags, type WorkerConfig } from './config.ts';
import { AllowedRoots, PathRefused } from './http/allowed-roots.ts';
import { bearerCheck } from './http/auth.ts';
import { BadRequest, readBatchInput, readUploadInput, type UploadInput } from './http/input.ts';
import { Metrics } from './http/metrics.ts';
import { apiDocJson, apiDocYaml, swaggerPage } from './http/swagger.ts';
import { setupEngine } from './setup.ts';
import { type Engine, type TaskReport, UploadError, type UploadRequest } from './types.ts';

export const version = '0.1.0';
/** Largest body of a single /upload request (three short fields). */
const maxUploadBody = 64 * 1024;
/** Largest body of any request (a batch of up to 10,000 files). */
const maxBody = 8 * 1024 * 1024;
const unrestrictedWarning = 'S3ND_ALLOWED_ROOTS is not set: the daemon uploads any file this user can read';

export interface Daemon {
  server: ReturnType<typeof Bun.serve>;
  engine: Engine;
  config: WorkerConfig;
  metrics: Metrics;
  /** Stops accepting, lets uploads finish until the grace period ends, aborts the rest (and their multipart uploads). */
  shutdown(graceMs?: number): Promise<void>;
}

interface Outcome {
  status: number;
  body: { code: number; msg: string; version: string; task: Partial<TaskReport> & { attempts?: number } };
}

/** The one place errors become deliverator status codes and bodies. */
function outcomeOf(error: unknown, base: Partial<TaskReport>): Outcome {
  if (error instanceof BadRequest || error instanceof PathRefused) {
    const msg = error instanceof PathRefused ? `error parsing request: ${error.message}` : error.message;
    return { status: 400, body: { code: 400, msg, version, task: base } };
  }
  const e = error instanceof UploadError ? error : new UploadError('Unknown', `unknown error: ${(error as Error)?.message ?? String(error)}`, base, error);
  return { status: e.status, body: { code: e.status, msg: e.message, version, task: { ...base, ...e.report, attempts: e.report.upload_attempts ?? 0 } } };
}

function json(status: number, body: unknown, error?: string): Response {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  // Header values cannot carry line breaks; S3 messages sometimes do.
  if (error !== undefined) headers['x-error'] = error.replace(/[\r\n]+/g, ' ');
  return new Response(JSON.stringify(body), { status, headers });
}

const respond = (o: Outcome) => json(o.status, o.body, o.status === 200 ? undefined : o.body.msg);

export function startDaemon(config: WorkerConfig): Daemon {
  const roots = new AllowedRoots(config.allowedRoots);
  const metrics = new Metrics();
  const { engine, transportReason } = setupEngine(config, metrics);
  metrics.transport = engine.transport;
  if (!roots.restricted) console.warn(`s3nd: warning: ${unrestrictedWarning}`);
  const authorized = bearerCheck(config.token);

  const versionInfo = () => ({
    version,
    config: {
      ...config.effective,
      transport: engine.transport,
      transport_reason: transportReason,
      plans: config.functionUrl ? 'remote' : 'local',
      ...(roots.restricted ? {} : { warning: unrestrictedWarning }),
    },
  });

  function uploadRequest(input: UploadInput, id: string): UploadRequest {
    if (!input.file) throw new BadRequest('error parsing request: missing field: file');
    if (!input.uri) throw new BadRequest('error parsing request: missing field: uri');
    let location: ReturnType<typeof parseS3Uri>;
    try {
      location = parseS3Uri(input.uri);
    } catch (error) {
      throw new BadRequest(`error parsing request: ${(error as Error).message}`);
    }
    const file = roots.resolve(input.file);
    return { id, file, uri: input.uri, bucket: location.bucket, key: location.key, slug: input.slug };
  }

  async function runOne(input: UploadInput, signal: AbortSignal): Promise<Outcome> {
    const id = crypto.randomUUID();
    const base: Partial<TaskReport> = { id, file: input.file ?? '', uri: input.uri ?? '', ...(input.slug !== undefined ? { slug: input.slug } : {}) };
    metrics.requestsInFlight++;
    try {
      const task = await engine.upload(uploadRequest(input, id), { signal });
      return { status: 200, body: { code: 200, msg: 'upload succeeded', version, task } };
    } catch (error) {
      const outcome = outcomeOf(error, base);
      if (outcome.status >= 500 && !signal.aborted) console.error(`s3nd: upload ${id} ${base.uri} failed (${outcome.status}): ${outcome.body.msg}`);
      return outcome;
    } finally {
      metrics.requestsInFlight--;
    }
  }

  function batch(files: UploadInput[], signal: AbortSignal): Response {
    const encoder = new TextEncoder();
    const stream = new ReadableStream<Uint8Array>({
      async start(controller) {
        await Promise.all(
          files.map(async (input) => {
            const outcome = await runOne(input, signal);
            // A client that went away has nobody to read the line; its uploads were aborted through the signal.
            if (!signal.aborted) controller.enqueue(encoder.encode(`${JSON.stringify(outcome.body)}\n`));
          }),
        );
        if (!signal.aborted) controller.close();
      },
    });
    return new Response(stream, { headers: { 'content-type': 'application/x-ndjson' } });
  }

  const tooLarge = (request: Request, limit: number) => Number(request.headers.get('content-length') ?? 0) > limit;

  const server = Bun.serve({
    hostname: config.host,
    port: config.port,
    maxRequestBodySize: maxBody,
    // Uploads hold the request open for as long as they take.
    idleTimeout: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const route = `${request.method} ${url.pathname}`;
      if (route === 'GET /healthz') return json(200, { ok: true, version, transport: engine.transport });
      if (!authorized(request)) {
        const msg = 'unauthorized: missing or wrong bearer token (S3ND_TOKEN)';
        return json(401, { code: 401, msg, version }, msg);
      }
      switch (route) {
        case 'POST /upload': {
          if (tooLarge(request, maxUploadBody)) {
            const msg = `error parsing request: body larger than ${maxUploadBody} bytes`;
            return json(413, { code: 413, msg, version }, msg);
          }
          let input: UploadInput;
          try {
            input = await readUploadInput(request);
          } catch (error) {
            return respond(outcomeOf(error, {}));
          }
          return respond(await runOne(input, request.signal));
        }
        case 'POST /uploads': {
          try {
            return batch(await readBatchInput(request), request.signal);
          } catch (error) {
            return respond(outcomeOf(error, {}));
          }
        }
        case 'GET /version':
          return json(200, versionInfo());
        case 'GET /metrics':
          return new Response(metrics.render(engine.stats()), { headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' } });
        case 'GET /swagger/doc.json':
          return new Response(apiDocJson, { headers: { 'content-type': 'application/json' } });
        case 'GET /swagger/doc.yaml':
          return new Response(apiDocYaml, { headers: { 'content-type': 'application/yaml' } });
        case 'GET /swagger':
          return Response.redirect(`${url.origin}/swagger/index.html`, 301);
        case 'GET /swagger/':
        case 'GET /swagger/index.html':
          return new Response(swaggerPage, { headers: { 'content-type': 'text/html; charset=utf-8' } });
        default: {
          const msg = `no route ${route}`;
          return json(404, { code: 404, msg, version }, msg);
        }
      }
    },
  });

  let closing: Promise<void> | undefined;
  return {
    server,
    engine,
    config,
    metrics,
    shutdown(graceMs = 30_000) {
      closing ??= (async () => {
        // Stop accepting (not awaited: its promise waits for every held request, which would void the
        // grace period); held requests get their answers as their uploads end or are aborted.
        void server.stop(false);
        await engine.close(Date.now() + graceMs);
        for (let i = 0; i < 100 && metrics.requestsInFlight > 0; i++) await Bun.sleep(10);
        // Let the last answers reach their sockets before closing them.
        await Bun.sleep(50);
        await server.stop(true);
      })();
      return closing;
    },
  };
}

/** `s3nd` / `s3nd serve`: runs until SIGTERM or SIGINT, then drains (S3ND_SHUTDOWN_GRACE_MS, default 30 s). */
export async function runDaemon(argv: string[], env: Record<string, string | undefined>): Promise<void> {
  let daemon: Daemon;
  const graceMs = Number(env.S3ND_SHUTDOWN_GRACE_MS ?? 30_000);
  try {
    if (!Number.isFinite(graceMs) || graceMs < 0) {
      throw new ConfigError(`S3ND_SHUTDOWN_GRACE_MS: expected milliseconds ≥ 0 (e.g. 30000), got ${JSON.stringify(env.S3ND_SHUTDOWN_GRACE_MS)}`);
    }
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
    console.log(`s3nd: ${signal}: no new uploads; finishing in-flight ones for up to ${graceMs / 1000} s, then aborting the rest`);
    await daemon.shutdown(graceMs);
    console.log('s3nd: stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
