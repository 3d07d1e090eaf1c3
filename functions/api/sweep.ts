/** The sweep: abort in-progress multipart uploads older than S3ND_SWEEP_AGE under S3ND_SWEEP_PREFIXES. */
import type { S3Client } from '../s3/client.ts';
import type { FunctionConfig } from './config.ts';

export interface SweptUpload {
  bucket: string;
  key: string;
  uploadId: string;
}

export async function sweep(
  config: FunctionConfig,
  client: S3Client,
  now: Date,
  allowed: (bucket: string, key: string) => boolean = () => true,
): Promise<SweptUpload[]> {
  const cutoff = now.getTime() - config.sweepAge * 1000;
  const aborted: SweptUpload[] = [];
  for (const { bucket, prefix } of config.sweepPrefixes) {
    for (const upload of await client.listMultipartUploads(bucket, prefix ? { prefix } : {})) {
      if (upload.initiated.getTime() > cutoff || !allowed(bucket, upload.key)) continue;
      await client.abortMultipartUpload(bucket, upload.key, upload.uploadId);
      aborted.push({ bucket, key: upload.key, uploadId: upload.uploadId });
    }
  }
  return aborted;
}
