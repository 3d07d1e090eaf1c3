/** Bun entry for the plan function; settings from the environment. */
import worker from '../functions/index.ts';

const env = process.env as Record<string, string>;
const server = Bun.serve({
  port: Number(env.PORT ?? 8787),
  hostname: env.HOST ?? '127.0.0.1',
  fetch: (request) => worker.fetch(request, env),
});
console.log(`s3nd plan function (bun) on http://${server.hostname}:${server.port}`);
