import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { S3Error } from '../../functions/s3/errors.ts';
import { localS3, uniqueBucket } from './helpers.ts';

const { client } = localS3();
const bucket = uniqueBucket('client');

beforeAll(() => client.createBucket(bucket));
afterAll(() => client.emptyAndDeleteBucket(bucket));

describe('S3Client against Ceph RGW', () => {
  test('create bucket twice is fine; put, head, ranged get', async () => {
    await client.createBucket(bucket);
    const body = randomBytes(1000);
    await client.putObject(bucket, 'a b+c/ünï', body);
    const head = await client.headObject(bucket, 'a b+c/ünï');
    expect(head?.size).toBe(1000);
    expect(head?.etag).toBe(`"${createHash('md5').update(body).digest('hex')}"`);
    expect(Buffer.from(await client.getObject(bucket, 'a b+c/ünï', { range: [10, 19] }))).toEqual(body.subarray(10, 20));
    expect(await client.headObject(bucket, 'missing')).toBeUndefined();
  });

  test('multipart: create, list, parts out of order, complete with HEAD fallback', async () => {
    const key = 'multi/part%41 key';
    const part1 = randomBytes(5 * 2 ** 20);
    const part2 = randomBytes(12345);
    const uploadId = await client.createMultipartUpload(bucket, key, { contentType: 'application/x-test' });
    expect((await client.listMultipartUploads(bucket, { prefix: 'multi/' })).map((u) => u.uploadId)).toContain(uploadId);
    const q = `uploadId=${encodeURIComponent(uploadId)}`;
    const r2 = await client.request('PUT', bucket, key, { query: `partNumber=2&${q}`, body: part2 });
    const r1 = await client.request('PUT', bucket, key, { query: `partNumber=1&${q}`, body: part1 });
    const listed = await client.listParts(bucket, key, uploadId);
    expect(listed.map((p) => [p.partNumber, p.size])).toEqual([
      [1, part1.length],
      [2, part2.length],
    ]);
    const { etag } = await client.completeMultipartUpload(bucket, key, uploadId, [
      { partNumber: 2, etag: r2.headers.get('etag') ?? '' },
      { partNumber: 1, etag: r1.headers.get('etag') ?? '' },
    ]);
    expect(etag).toMatch(/^"[0-9a-f]{32}-2"$/);
    const back = await client.getObject(bucket, key);
    expect(Buffer.from(back).equals(Buffer.concat([part1, part2]))).toBe(true);
    expect(await client.listMultipartUploads(bucket, { prefix: 'multi/' })).toEqual([]);
  });

  test('abort removes the upload; aborting again is not an error', async () => {
    const uploadId = await client.createMultipartUpload(bucket, 'aborted');
    await client.abortMultipartUpload(bucket, 'aborted', uploadId);
    await client.abortMultipartUpload(bucket, 'aborted', uploadId);
    expect((await client.listMultipartUploads(bucket)).map((u) => u.uploadId)).not.toContain(uploadId);
  });

  test('errors are typed: NoSuchBucket, unknown upload (404), unreachable endpoint', async () => {
    await expect(client.putObject('no-such-bucket-s3nd', 'k', 'x')).rejects.toMatchObject({
      name: 'S3Error',
      code: 'NoSuchBucket',
      status: 404,
      retryable: false,
    });
    await expect(client.listParts(bucket, 'k', 'bogus-upload')).rejects.toMatchObject({
      status: 404,
      retryable: false,
    });
    const { S3Client } = await import('../../functions/s3/client.ts');
    const dead = new S3Client({
      endpoint: { url: 'http://127.0.0.1:9', region: 'us-east-1' },
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    });
    const error = await dead.headObject(bucket, 'k').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(S3Error);
    expect(error).toMatchObject({ code: 'NetworkError', retryable: true });
  });

  test('listObjects pages through every key', async () => {
    await Promise.all(Array.from({ length: 5 }, (_, i) => client.putObject(bucket, `list/${i}`, String(i))));
    expect((await client.listObjects(bucket, { prefix: 'list/' })).map((o) => o.key)).toEqual(['list/0', 'list/1', 'list/2', 'list/3', 'list/4']);
  });
});
