/**
 * The plan function as a module worker: `{ fetch, scheduled }`. workerd calls both with its env
 * bindings; the Node, Bun and Deno entries in deploy/ pass their process environment as `env`.
 */
import { createApp, servicesFor } from './api/app.ts';
import type { FunctionEnv } from './api/config.ts';
import { sweep } from './api/sweep.ts';

const app = createApp();

export default {
  fetch: app.fetch,
  async scheduled(_event: unknown, env: FunctionEnv): Promise<void> {
    const { config, client } = servicesFor(env);
    const aborted = await sweep(config, client, new Date());
    console.log(`s3nd sweep: aborted ${aborted.length} upload(s) older than ${config.sweepAge} s`);
  },
};

export { app };
