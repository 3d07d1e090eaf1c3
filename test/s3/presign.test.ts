/** Presigned URLs against a real S3 (Ceph RGW): accepted when right, rejected when tampered, wrong or expired. */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Presigner } from '../../functions/s3/presign.ts';
import { completeMultipartUploadXml, parseCompleteResult, parseError } from '../../functions/s3/xml.ts';
import { localS3, uniqueBucket } from './helpers.ts';

const https = localS3(process.env, true);
const http = localS3(process.env, false);
const bucket = uniqueBucket('presign');
const presigner = new Presigner({ endpoint: https.endpoint, credentials: https.credentials });

beforeAll(() => https.client.createBucket(bucket));
afterAll(() => https.client.emptyAndDeleteBucket(bucket));

async function put(url: string, body: Uint8Array, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: 'PUT', body: body as Uint8Array<ArrayBuffer>, headers });
  return { status: response.status, etag: response.headers.get('etag') ?? '', text: await response.text() };
}

describe('presigned URLs on Ceph RGW', () => {
  test('PUT and GET with tricky keys, HTTPS and HTTP', async () => {
    for (const [target, key] of [
      [https, 'a//b/trailing/'],
      [https, '%41%2F ünï+cødé'],
      [http, 'x y/z~!*()'],
    ] as const) {
      const signer = new Presigner({ endpoint: target.endpoint, credentials: target.credentials });
      const body = randomBytes(1234);
      const uploaded = await put(signer.presign({ method: 'PUT', bucket, key, expiresIn: 60 }), body);
      expect(uploaded.status, uploaded.text).toBe(200);
      const got = await fetch(signer.presign({ method: 'GET', bucket, key, expiresIn: 60 }));
      expect(got.status).toBe(200);
      expect(Buffer.from(await got.arrayBuffer()).equals(body)).toBe(true);
      expect((await https.client.listObjects(bucket, { prefix: key })).map((o) => o.key)).toContain(key);
    }
  });

  test('signed extra headers must be sent as signed', async () => {
    const url = presigner.presign({ method: 'PUT', bucket, key: 'typed', headers: { 'content-type': 'text/x-s3nd' }, expiresIn: 60 });
    expect((await put(url, randomBytes(10), { 'content-type': 'text/x-s3nd' })).status).toBe(200);
    expect((await put(url, randomBytes(10), { 'content-type': 'text/other' })).status).toBe(403);
  });

  test('multipart: part URLs and template URLs, presigned complete; object reads back byte-exact', async () => {
    const key = 'multi/obj ü.bin';
    const size = 3 * 5 * 2 ** 20 + 777;
    const data = randomBytes(size);
    const uploadId = await https.client.createMultipartUpload(bucket, key);
    const partSize = 5 * 2 ** 20;
    const urls = presigner.partUrls(bucket, key, uploadId, 1, 2, 600);
    const { template, signatures } = presigner.partTemplate(bucket, key, uploadId, 4, 600);
    urls.push(
      ...[3, 4].map((n) => template.replace('{partNumber}', String(n)).replace('{signature}', signatures[n - 1]!)),
    );
    const parts = await Promise.all(
      urls.map(async (url, i) => {
        const r = await put(url, data.subarray(i * partSize, (i + 1) * partSize));
        expect(r.status, r.text).toBe(200);
        return { partNumber: i + 1, etag: r.etag };
      }),
    );
    const completeUrl = presigner.presign({ method: 'POST', bucket, key, query: { uploadId }, expiresIn: 600 });
    const response = await fetch(completeUrl, { method: 'POST', body: completeMultipartUploadXml(parts.reverse()) });
    expect(parseCompleteResult(response.status, await response.text())).toEqual({ etag: '' }); // Ceph sends no ETag
    const back = await https.client.getObject(bucket, key);
    expect(createHash('sha256').update(back).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    expect(await https.client.listMultipartUploads(bucket)).toEqual([]);
  });

  test('presigned abort removes the upload', async () => {
    const uploadId = await https.client.createMultipartUpload(bucket, 'to-abort');
    const response = await fetch(presigner.presign({ method: 'DELETE', bucket, key: 'to-abort', query: { uploadId }, expiresIn: 60 }), {
      method: 'DELETE',
    });
    expect(response.status).toBe(204);
    expect(await https.client.listMultipartUploads(bucket)).toEqual([]);
  });

  test('tampered signature, wrong secret key and expired URLs are rejected', async () => {
    const body = randomBytes(100);
    const good = presigner.presign({ method: 'PUT', bucket, key: 'guarded', expiresIn: 60 });
    const tampered = good.replace(/X-Amz-Signature=(.)/, (_, c: string) => `X-Amz-Signature=${c === '0' ? '1' : '0'}`);
    const otherKey = presigner.presign({ method: 'PUT', bucket, key: 'guarded2', expiresIn: 60 }).replace('guarded2', 'guarded');
    const wrongSecret = new Presigner({
      endpoint: https.endpoint,
      credentials: { ...https.credentials, secretAccessKey: `${https.credentials.secretAccessKey}x` },
    }).presign({ method: 'PUT', bucket, key: 'guarded', expiresIn: 60 });
    const expired = presigner.presign({ method: 'PUT', bucket, key: 'guarded', expiresIn: 1, date: new Date(Date.now() - 3600_000) });
    for (const [name, url, code] of [
      ['tampered', tampered, 'SignatureDoesNotMatch'],
      ['other key', otherKey, 'SignatureDoesNotMatch'],
      ['wrong secret', wrongSecret, 'SignatureDoesNotMatch'],
      ['expired', expired, 'AccessDenied'],
    ] as const) {
      const r = await put(url, body);
      expect(r.status, name).toBe(403);
      expect(parseError(r.status, r.text).code, name).toBe(code);
    }
    expect(await https.client.headObject(bucket, 'guarded')).toBeUndefined();
    expect((await put(good, body)).status).toBe(200);
  });
});
