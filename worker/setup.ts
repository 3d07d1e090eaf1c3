/** Builds the engine a front end (CLI, daemon) runs on, from the worker settings. */
import { createEngine } from './engine.ts';
import { ConfigError, type WorkerConfig } from './config.ts';
import { LocalPlanSource, type PlanSource, RemotePlanSource } from './plan-source.ts';
import { pickTransport } from './transport/index.ts';
import type { Engine, EngineObserver } from './types.ts';

export interface WorkerRuntime {
  engine: Engine;
  plans: PlanSource;
  transportReason: string;
}

export function setupEngine(config: WorkerConfig, observer?: EngineObserver): WorkerRuntime {
  let plans: PlanSource;
  if (config.functionUrl) {
    if (!config.functionToken) throw new ConfigError('S3ND_FUNCTION_URL is set but S3ND_FUNCTION_TOKEN (--function-token / --token) is not');
    plans = new RemotePlanSource(config.functionUrl, config.functionToken);
  } else {
    if (!config.endpoint) throw new ConfigError('No S3 endpoint: set S3ND_ENDPOINT_URL (--endpoint-url) or AWS_REGION, or use a plan function (S3ND_FUNCTION_URL)');
    if (!config.credentials) {
      throw new ConfigError('No S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or use a plan function (S3ND_FUNCTION_URL)');
    }
    plans = new LocalPlanSource(config.endpoint, config.credentials);
  }
  let choice: ReturnType<typeof pickTransport>;
  try {
    // S3ND_UPLOAD_BWLIMIT is aggregate bits/s; the kernel paces per connection, one per part in flight.
    const pacingRate = config.bwLimit > 0 ? Math.max(1, Math.floor(config.bwLimit / 8 / config.maxParallel)) : undefined;
    choice = pickTransport(config.transport, config.endpoint?.url ?? config.functionUrl, {
      writeBufferSize: config.socketSendBuffer,
      pacingRate,
      onTcpInfo: observer?.tcpInfo && ((info) => observer.tcpInfo?.(info)),
    });
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const engine = createEngine({
    plans,
    transport: choice.transport,
    partSize: config.partSize,
    maxParallel: config.maxParallel,
    queueTimeout: config.queueTimeout,
    uploadTimeout: config.uploadTimeout,
    timeoutFactor: config.timeoutFactor,
    tries: config.tries,
    observer,
    origin: config.functionUrl ? undefined : config.endpoint && new URL(config.endpoint.url).origin,
  });
  return { engine, plans, transportReason: choice.reason };
}
