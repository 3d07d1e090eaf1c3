/** Node entry for the plan function (through @hono/node-server); settings from the environment. */
import { serve } from '@hono/node-server';
import worker from '../functions/index.ts';

const env = process.env as Record<string, string>;
const port = Number(env.PORT ?? 8787);
const hostname = env.HOST ?? '127.0.0.1';
serve({ fetch: (request) => worker.fetch(request, env), port, hostname }, (info) => {
  console.log(`s3nd plan function (node) on http://${hostname}:${info.port}`);
});
