/** Deno entry for the plan function (also Deno Deploy); settings from the environment. */
import worker from '../functions/index.ts';

declare const Deno: {
  env: { toObject(): Record<string, string> };
  serve(options: { port: number; hostname: string; onListen?: (addr: { port: number }) => void }, handler: (request: Request) => Response | Promise<Response>): unknown;
  cron?(name: string, schedule: string, handler: () => Promise<void>): unknown;
};

// One env object for the process: the app caches its S3 clients per env object.
const env = Deno.env.toObject();
const hostname = env.HOST ?? '127.0.0.1';
Deno.serve({ port: Number(env.PORT ?? 8787), hostname, onListen: ({ port }) => console.log(`s3nd plan function (deno) on http://${hostname}:${port}`) }, (request) =>
  worker.fetch(request, env),
);
if (env.S3ND_SWEEP_CRON && Deno.cron) Deno.cron('s3nd sweep', env.S3ND_SWEEP_CRON, () => worker.scheduled(undefined, env));
