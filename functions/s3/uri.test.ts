import { describe, expect, test } from 'vitest';
import { encodeKey, objectLocation, parseS3Uri, validateBucketName, validateKey } from './uri.ts';

describe('parseS3Uri', () => {
  test('keys are taken verbatim', () => {
    for (const key of ['a//b', 'trailing/', '%41%2F', 'ünï cødé/../x', 'a+b?c#d', ' lead']) {
      expect(parseS3Uri(`s3://bucket/${key}`)).toEqual({ bucket: 'bucket', key });
    }
  });

  test('s3://bucket without a key is a clear error unless allowed', () => {
    expect(() => parseS3Uri('s3://bucket')).toThrow('S3 URI "s3://bucket" names no object key: expected s3://bucket/key');
    expect(() => parseS3Uri('s3://bucket/')).toThrow(/names no object key/);
    expect(parseS3Uri('s3://bucket/', { allowEmptyKey: true })).toEqual({ bucket: 'bucket', key: '' });
  });

  test('other schemes and bad buckets', () => {
    expect(() => parseS3Uri('/tmp/x')).toThrow('Expected an S3 URI of the form s3://bucket/key, got "/tmp/x"');
    expect(() => parseS3Uri('https://b/k')).toThrow(/Expected an S3 URI/);
    expect(() => parseS3Uri('s3://Bad_Bucket/k')).toThrow(/Invalid bucket name "Bad_Bucket"/);
  });
});

test('bucket names', () => {
  for (const ok of ['abc', 'my-bucket.1', 'a'.repeat(63)]) expect(() => validateBucketName(ok)).not.toThrow();
  expect(() => validateBucketName('ab')).toThrow('Invalid bucket name "ab": must be 3 to 63 characters long, got 2');
  expect(() => validateBucketName('a'.repeat(64))).toThrow(/got 64/);
  expect(() => validateBucketName('-abc')).toThrow(/begin and end with a letter or digit/);
  expect(() => validateBucketName('a..b')).toThrow(/two adjacent dots/);
  expect(() => validateBucketName('192.168.1.1')).toThrow(/IP address/);
});

test('keys: 1024 bytes of UTF-8 at most', () => {
  expect(() => validateKey('k'.repeat(1024))).not.toThrow();
  expect(() => validateKey('k'.repeat(1025))).toThrow('Object key is 1025 bytes of UTF-8; S3 allows at most 1024');
  expect(() => validateKey('ü'.repeat(513))).toThrow(/1026 bytes/);
  expect(() => validateKey('\ud800')).toThrow(/lone surrogate/);
  expect(() => validateKey('')).toThrow(/must not be empty/);
});

test('encodeKey encodes each byte once and keeps / and dot segments', () => {
  expect(encodeKey('a//b/trailing/')).toBe('a//b/trailing/');
  expect(encodeKey('%41%2F')).toBe('%2541%252F');
  expect(encodeKey('ünï cødé/../x')).toBe('%C3%BCn%C3%AF%20c%C3%B8d%C3%A9/../x');
  expect(encodeKey("a+b?c#d!'()*~")).toBe('a%2Bb%3Fc%23d%21%27%28%29%2A~');
});

test('objectLocation: path style for localhost/IP/custom, virtual hosted on AWS', () => {
  const local = { url: 'https://localhost:7443', region: 'us-east-1' };
  expect(objectLocation(local, 'bkt', 'a b')).toEqual({ origin: 'https://localhost:7443', host: 'localhost:7443', path: '/bkt/a%20b' });
  const aws = { url: 'https://s3.eu-west-1.amazonaws.com', region: 'eu-west-1' };
  expect(objectLocation(aws, 'bkt', 'k')).toEqual({ origin: 'https://bkt.s3.eu-west-1.amazonaws.com', host: 'bkt.s3.eu-west-1.amazonaws.com', path: '/k' });
  expect(objectLocation(aws, 'b.k.t', 'k').path).toBe('/b.k.t/k');
});
