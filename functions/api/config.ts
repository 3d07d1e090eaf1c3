/**
 * The plan function's settings, read from its environment (workerd bindings, or process/Deno env
 * passed by the runtime entries in deploy/). Bad settings fail with the name and the expected form.
 */
import { InvalidInput } from '../s3/errors.ts';
import { minPartSize } from '../s3/plan.ts';
import type { Credentials, Endpoint } from '../s3/types.ts';
import { parseDuration, parseSize } from '../s3/units.ts';
import { validateBucketName } from '../s3/uri.ts';

export interface FunctionConfig {
  endpoint: Endpoint;
  credentials: Credentials;
  partSize: number;
  /** Seconds: in-progress uploads older than this are swept. */
  sweepAge: number;
  sweepPrefixes: { bucket: string; prefix: string }[];
  /** Server-side cap on buckets; undefined = as the token says. */
  allowedBuckets: Set<string> | undefined;
  jwt: { secret: string } | { publicKey: string | JsonWebKey } | undefined;
}

export type FunctionEnv = Record<string, unknown>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function setting(env: FunctionEnv, name: string): string | undefined {
  const value = env[name];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

export function loadConfig(env: FunctionEnv): FunctionConfig {
  const url = setting(env, 'S3ND_ENDPOINT_URL') ?? setting(env, 'AWS_ENDPOINT_URL_S3') ?? setting(env, 'AWS_ENDPOINT_URL');
  const region = setting(env, 'AWS_REGION') ?? setting(env, 'AWS_DEFAULT_REGION') ?? 'us-east-1';
  const accessKeyId = setting(env, 'AWS_ACCESS_KEY_ID');
  const secretAccessKey = setting(env, 'AWS_SECRET_ACCESS_KEY');
  if (!accessKeyId || !secretAccessKey) {
    throw new ConfigError('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set for the plan function');
  }
  const endpointUrl = url ?? `https://s3.${region}.amazonaws.com`;
  try {
    new URL(endpointUrl);
  } catch {
    throw new ConfigError(`S3ND_ENDPOINT_URL must be a URL such as https://s3.example.org, got ${JSON.stringify(endpointUrl)}`);
  }
  const sessionToken = setting(env, 'AWS_SESSION_TOKEN');
  const credentials: Credentials = sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey };
  let partSize: number;
  let sweepAge: number;
  try {
    partSize = parseSize(setting(env, 'S3ND_UPLOAD_PARTSIZE') ?? String(minPartSize), 'S3ND_UPLOAD_PARTSIZE');
    sweepAge = parseDuration(setting(env, 'S3ND_SWEEP_AGE') ?? '24h', 'S3ND_SWEEP_AGE');
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const sweepPrefixes = (setting(env, 'S3ND_SWEEP_PREFIXES') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const slash = entry.indexOf('/');
      const bucket = slash === -1 ? entry : entry.slice(0, slash);
      checkBucket(bucket, 'S3ND_SWEEP_PREFIXES');
      return { bucket, prefix: slash === -1 ? '' : entry.slice(slash + 1) };
    });
  const buckets = setting(env, 'S3ND_ALLOWED_BUCKETS');
  const allowedBuckets = buckets === undefined ? undefined : new Set(buckets.split(',').map((b) => b.trim()).filter(Boolean));
  for (const b of allowedBuckets ?? []) checkBucket(b, 'S3ND_ALLOWED_BUCKETS');
  const secret = setting(env, 'S3ND_JWT_SECRET');
  const publicKey = setting(env, 'S3ND_JWT_PUBLIC_KEY');
  let jwt: FunctionConfig['jwt'];
  if (secret) jwt = { secret };
  else if (publicKey) {
    if (publicKey.startsWith('{')) {
      try {
        jwt = { publicKey: JSON.parse(publicKey) as JsonWebKey };
      } catch {
        throw new ConfigError('S3ND_JWT_PUBLIC_KEY looks like JSON but does not parse: expected a JWK or an SPKI PEM');
      }
    } else if (publicKey.includes('-----BEGIN PUBLIC KEY-----')) jwt = { publicKey };
    else throw new ConfigError('S3ND_JWT_PUBLIC_KEY must be a JWK (JSON) or an SPKI PEM (-----BEGIN PUBLIC KEY-----)');
  }
  return {
    endpoint: { url: endpointUrl, region },
    credentials,
    partSize,
    sweepAge,
    sweepPrefixes,
    allowedBuckets,
    jwt,
  };
}

function checkBucket(bucket: string, name: string): void {
  try {
    validateBucketName(bucket);
  } catch (error) {
    if (error instanceof InvalidInput) throw new ConfigError(`${name}: ${error.message}`);
    throw error;
  }
}
