/**
 * `npm start`: s3nd's main job on a local default. Starts the local S3 (Ceph RGW), makes one real
 * presigned multipart upload of a generated file through the S3 core, reads it back and compares,
 * prints a summary, then keeps serving until Ctrl-C (`npm start -- --once` exits after the summary).
 */
import { createHash, randomBytes } from 'node:crypto';
import { Presigner } from '../functions/s3/presign.ts';
import { planParts, partAt } from '../functions/s3/plan.ts';
import { completeMultipartUploadXml, parseCompleteResult, parseError } from '../functions/s3/xml.ts';
import { formatSize } from '../functions/s3/units.ts';
import { localS3 } from '../test/s3/helpers.ts';

// scripts/start.sh started the local S3 and put its settings (and CA trust) into the environment.
const once = process.argv.includes('--once');
const { endpoint, credentials, client } = localS3(process.env);
const bucket = 's3nd-demo';
const key = `demo/${new Date().toISOString()}.bin`;
const size = 64 * 2 ** 20 + 12345;

await client.createBucket(bucket);
const data = randomBytes(size);
const started = performance.now();
const plan = planParts(size, { partSize: 8 * 2 ** 20 });
const uploadId = await client.createMultipartUpload(bucket, key);
const presigner = new Presigner({ endpoint, credentials });
const urls = presigner.partUrls(bucket, key, uploadId, 1, plan.partCount, 3600);
try {
  const parts = await Promise.all(
    urls.map(async (url, i) => {
      const part = partAt(plan, i + 1);
      const response = await fetch(url, { method: 'PUT', body: data.subarray(part.offset, part.offset + part.size) });
      if (!response.ok) throw parseError(response.status, await response.text());
      return { partNumber: part.partNumber, etag: response.headers.get('etag') ?? '' };
    }),
  );
  const completeUrl = presigner.presign({ method: 'POST', bucket, key, query: { uploadId }, expiresIn: 3600 });
  const response = await fetch(completeUrl, { method: 'POST', body: completeMultipartUploadXml(parts) });
  parseCompleteResult(response.status, await response.text());
} catch (error) {
  await client.abortMultipartUpload(bucket, key, uploadId);
  throw error;
}
const seconds = (performance.now() - started) / 1000;
const back = await client.getObject(bucket, key);
const same = createHash('sha256').update(back).digest('hex') === createHash('sha256').update(data).digest('hex');
console.log(
  JSON.stringify({
    uri: `s3://${bucket}/${key}`,
    endpoint: endpoint.url,
    size: formatSize(size),
    parts: plan.partCount,
    seconds: Number(seconds.toFixed(3)),
    rate: `${formatSize(size / seconds)}/s`,
    readBackIdentical: same,
  }),
);
if (!same) process.exit(1);
if (once) process.exit(0);
console.log(`local S3 serving at ${endpoint.url} (credentials: eval "$(bash test/s3/server.sh env)"); Ctrl-C to stop`);
await new Promise(() => {});
