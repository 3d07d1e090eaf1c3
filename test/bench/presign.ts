/**
 * `npm run bench:presign`: UploadPart URLs per second for s3nd's presigner against the AWS SDK
 * (@aws-sdk/s3-request-presigner), aws4fetch and a naive node:crypto signer with a cached key, in
 * this runtime (presign.sh runs it on Node and on Bun). Two cases: one plan (same key and
 * uploadId, part numbers 1…10,000, fixed date) and random keys (a new key per URL). `s3nd` is the
 * presigner as configured by default (WASM SIMD where it loads), `s3nd-scalar` the same with the
 * pure-TS SHA-256 only. Prints a table, then one JSON line
 * `{"runtime", "s3nd", "s3nd-scalar", "aws-sdk", "aws4fetch", "naive"}` (one plan).
 */
import { createHash, createHmac } from 'node:crypto';
import { S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { AwsV4Signer } from 'aws4fetch';
import { Presigner } from '../../functions/s3/presign.ts';
import { signingKey } from '../../functions/s3/sigv4.ts';
import { encodeKey, encodeRfc3986 } from '../../functions/s3/uri.ts';

const runtime = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined' ? `bun ${Bun.version}` : `node ${process.versions.node}`;
const endpoint = { url: 'https://s3.example.test:7443', region: 'us-east-1' };
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const bucket = 'bench-bucket';
const key = 'observatory/2026-11-24/raw/exposure_000123_detector_042.fits';
const uploadId = '2~Qm9ndXNVcGxvYWRJZEZvckJlbmNobWFya2luZ1B1cnBvc2VzT25seQ-ab12cd34';
const date = new Date('2026-11-24T12:00:00Z');
const expiresIn = 3600;
const parts = 10_000;
const randomKeys = Array.from({ length: 20_000 }, (_, i) => `dir${i % 97}/file-${i}-${Math.random().toString(36).slice(2)}.bin`);

type Case = (count: number) => Promise<number> | number;

/**
 * URLs per second: warm-up, then the median of `reps` timed runs of `count` URLs. The warm-up runs
 * for half a second at least: one short run leaves V8's WASM code mid tier-up (~35% slower).
 */
async function measure(run: Case, count: number, reps: number): Promise<number> {
  const warmUntil = performance.now() + 500;
  do await run(Math.max(1, count / 10));
  while (performance.now() < warmUntil);
  const rates: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const produced = await run(count);
    rates.push(produced / ((performance.now() - t0) / 1000));
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)]!;
}

let sink = 0;
const s3ndPlan = (presigner: Presigner): Case => (count) => {
  let produced = 0;
  while (produced < count) {
    const n = Math.min(parts, count - produced);
    sink += presigner.partUrls(bucket, key, uploadId, 1, n, expiresIn, date).length;
    produced += n;
  }
  return produced;
};
const s3ndRandom = (presigner: Presigner): Case => (count) => {
  for (let i = 0; i < count; i++) sink += presigner.partUrls(bucket, randomKeys[i % randomKeys.length]!, uploadId, 1, 1, expiresIn, date)[0]!.length;
  return count;
};
const s3nd = new Presigner({ endpoint, credentials });
const s3ndScalar = new Presigner({ endpoint, credentials, simd: false });

const sdk = new S3Client({ endpoint: endpoint.url, region: endpoint.region, credentials, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' });
const sdkCase = (keyOf: (i: number) => string): Case => async (count) => {
  for (let i = 0; i < count; i++) {
    const command = new UploadPartCommand({ Bucket: bucket, Key: keyOf(i), UploadId: uploadId, PartNumber: (i % parts) + 1 });
    sink += (await getSignedUrl(sdk, command, { expiresIn, signingDate: date })).length;
  }
  return count;
};

const origin = endpoint.url;
const aws4fetchCase = (keyOf: (i: number) => string): Case => async (count) => {
  for (let i = 0; i < count; i++) {
    const url = `${origin}/${bucket}/${encodeKey(keyOf(i))}?partNumber=${(i % parts) + 1}&uploadId=${encodeRfc3986(uploadId)}&X-Amz-Expires=${expiresIn}`;
    const signer = new AwsV4Signer({ ...credentials, url, method: 'PUT', service: 's3', region: endpoint.region, signQuery: true, datetime: '20261124T120000Z' });
    sink += (await signer.sign()).url.href.length;
  }
  return count;
};

/** What a careful hand-written signer does without midstates: cached key, node:crypto per URL. */
const naiveKey = Buffer.from(signingKey(credentials.secretAccessKey, '20261124', endpoint.region, 's3'));
const naiveCase = (keyOf: (i: number) => string): Case => (count) => {
  const scope = `20261124/${endpoint.region}/s3/aws4_request`;
  const auth = `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${encodeRfc3986(`${credentials.accessKeyId}/${scope}`)}&X-Amz-Date=20261124T120000Z&X-Amz-Expires=${expiresIn}&X-Amz-SignedHeaders=host`;
  for (let i = 0; i < count; i++) {
    const path = `/${bucket}/${encodeKey(keyOf(i))}`;
    const query = `${auth}&partNumber=${(i % parts) + 1}&uploadId=${encodeRfc3986(uploadId)}`;
    const request = `PUT\n${path}\n${query}\nhost:s3.example.test:7443\n\nhost\nUNSIGNED-PAYLOAD`;
    const sts = `AWS4-HMAC-SHA256\n20261124T120000Z\n${scope}\n${createHash('sha256').update(request).digest('hex')}`;
    const signature = createHmac('sha256', naiveKey).update(sts).digest('hex');
    sink += `${origin}${path}?${query}&X-Amz-Signature=${signature}`.length;
  }
  return count;
};

const planKey = () => key;
const randomKey = (i: number) => randomKeys[i % randomKeys.length]!;
const rows: [string, number, number][] = [];
const results: Record<string, number> = {};
for (const [name, plan, random, count, reps] of [
  ['s3nd', s3ndPlan(s3nd), s3ndRandom(s3nd), 100_000, 7],
  ['s3nd-scalar', s3ndPlan(s3ndScalar), s3ndRandom(s3ndScalar), 50_000, 5],
  ['aws-sdk', sdkCase(planKey), sdkCase(randomKey), 2_000, 3],
  ['aws4fetch', aws4fetchCase(planKey), aws4fetchCase(randomKey), 2_000, 3],
  ['naive', naiveCase(planKey), naiveCase(randomKey), 50_000, 5],
] as const) {
  const onePlan = await measure(plan, count, reps);
  const randomRate = await measure(random, Math.min(count, 20_000), reps);
  rows.push([name, onePlan, randomRate]);
  results[name] = Math.round(onePlan);
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(12);
console.log(`\n${runtime}: part URLs per second (median; one plan = same key/uploadId, parts 1…10,000)`);
console.log(`s3nd signs with ${s3nd.simd ? 'WASM SIMD (4 lanes)' : 'the scalar SHA-256 (WASM SIMD did not load)'}; one URL per call (random keys) is scalar in both`);
console.log(`${'signer'.padEnd(12)} ${'one plan'.padStart(12)} ${'random keys'.padStart(12)} ${'s3nd ×'.padStart(10)}`);
for (const [name, onePlan, random] of rows) {
  console.log(`${name.padEnd(12)} ${fmt(onePlan)} ${fmt(random)} ${(rows[0]![1] / onePlan).toFixed(1).padStart(10)}`);
}
if (sink === 0) console.log('unreachable: keeps the results alive');
console.log(JSON.stringify({ runtime: runtime.split(' ')[0], ...results }));
