/** Shared by the Ceph-backed suites: a client for the local RGW (env from test/s3/server.sh) and unique buckets. */
import { S3Client } from '../../functions/s3/client.ts';
import type { Credentials, Endpoint } from '../../functions/s3/types.ts';

export function localS3(env: Record<string, string | undefined> = process.env, https = true) {
  const url = https ? env.S3ND_ENDPOINT_URL : env.S3ND_HTTP_ENDPOINT_URL;
  if (!url || !env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY) {
    throw new Error('Local S3 settings missing: run under the vitest `s3` project or eval "$(bash test/s3/server.sh env)"');
  }
  const endpoint: Endpoint = { url, region: env.AWS_REGION ?? 'us-east-1' };
  const credentials: Credentials = { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY };
  return { endpoint, credentials, client: new S3Client({ endpoint, credentials }) };
}

/** A bucket name no other test run uses. */
export function uniqueBucket(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
