/**
 * Differential tests: s3nd's presigner against the AWS SDK's signer (@smithy/signature-v4) over the
 * exact same request, URL paths against @aws-sdk/s3-request-presigner, and aws4fetch as a second
 * oracle; plus the fast part path against the general one, and the WASM SIMD part path against
 * the scalar one.
 */
import { PutObjectCommand, S3Client as SdkS3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SignatureV4 } from '@smithy/signature-v4';
import { AwsV4Signer } from 'aws4fetch';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { maxExpiresIn, Presigner, useSha256x4Module } from './presign.ts';
import type { Credentials, HttpMethod } from './types.ts';
import { objectLocation } from './uri.ts';

const keySegment = fc.oneof(
  fc.constantFrom('a', '.', '..', '', 'trailing', '%41%2F', 'ünï cødé', 'a+b', 'q?x', 'h#x', '~._-', '*()!\'', ' sp ', 'x=y&z'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }),
);
const key = fc
  .array(keySegment, { minLength: 1, maxLength: 5 })
  .map((segments) => segments.join('/'))
  .filter((k) => k.length > 0 && k.isWellFormed() && new TextEncoder().encode(k).length <= 1024);
const bucket = fc.constantFrom('bkt', 'my-bucket', 'data.example', 'a1b2c3');
const endpoint = fc.constantFrom(
  { url: 'https://localhost:7443', region: 'us-east-1' },
  { url: 'http://127.0.0.1:7480', region: 'eu-central-1' },
  { url: 'https://s3.us-west-2.amazonaws.com', region: 'us-west-2' },
  { url: 'https://minio.example.org', region: 'auto' },
);
const credentials = fc.record(
  {
    accessKeyId: fc.constantFrom('AKIDEXAMPLE', 'ASIA1234567890ABCDEF'),
    secretAccessKey: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 40 }),
    sessionToken: fc.constantFrom('AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9+SA/=', 'tok en+/=&?'),
  },
  { requiredKeys: ['accessKeyId', 'secretAccessKey'] },
);
const queryValue = fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('', '2~abc/def+g==', 'ü ?&='));
const query = fc.dictionary(fc.constantFrom('uploadId', 'partNumber', 'versionId', 'response-content-type', 'x-id', 'a b'), queryValue, {
  maxKeys: 3,
});
const headers = fc.dictionary(fc.constantFrom('content-type', 'x-amz-meta-note', 'content-md5', 'x-amz-acl'), fc.string({ unit: 'grapheme-ascii', maxLength: 12 }), {
  maxKeys: 2,
});
const date = fc.date({ min: new Date('2001-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true });
const request = fc.record({
  method: fc.constantFrom<HttpMethod>('GET', 'PUT', 'HEAD', 'POST', 'DELETE'),
  endpoint,
  credentials,
  bucket,
  key,
  query,
  headers,
  expiresIn: fc.integer({ min: 1, max: maxExpiresIn }),
  date,
});

function signatureOf(url: string): string {
  return /[?&]X-Amz-Signature=([0-9a-f]{64})$/.exec(url)![1]!;
}

/** The SDK's hash interface over node:crypto (its own @smithy/hash-node is not a direct dependency). */
class NodeSha256 {
  readonly #hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash =
      secret === undefined
        ? createHash('sha256')
        : createHmac('sha256', typeof secret === 'string' ? secret : new Uint8Array(ArrayBuffer.isView(secret) ? secret.buffer.slice(secret.byteOffset, secret.byteOffset + secret.byteLength) : secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#hash.update(typeof data === 'string' ? data : new Uint8Array(ArrayBuffer.isView(data) ? data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) : data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
}

async function sdkSignature(input: {
  method: string;
  endpoint: { url: string; region: string };
  credentials: Credentials;
  bucket: string;
  key: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  expiresIn: number;
  date: Date;
}): Promise<string> {
  const { host, path } = objectLocation(input.endpoint, input.bucket, input.key);
  const url = new URL(input.endpoint.url);
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: input.credentials.accessKeyId,
      secretAccessKey: input.credentials.secretAccessKey,
      ...(input.credentials.sessionToken ? { sessionToken: input.credentials.sessionToken } : {}),
    },
    region: input.endpoint.region,
    service: 's3',
    sha256: NodeSha256,
    uriEscapePath: false,
  });
  const extra = Object.keys(input.headers);
  const signed = await signer.presign(
    ({
      method: input.method,
      protocol: url.protocol,
      hostname: host.replace(/:\d+$/, ''),
      ...(url.port ? { port: Number(url.port) } : {}),
      path,
      query: { ...input.query },
      headers: { host, ...input.headers, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    }),
    {
      expiresIn: input.expiresIn,
      signingDate: input.date,
      // Our URLs sign extra headers as headers and send UNSIGNED-PAYLOAD without a query parameter.
      unhoistableHeaders: new Set([...extra, 'x-amz-content-sha256']),
      unsignableHeaders: new Set(['x-amz-content-sha256']),
    },
  );
  return signed.query?.['X-Amz-Signature'] as string;
}

describe('presign against the AWS SDK signer', () => {
  test('10,000 randomized requests: signatures equal @smithy/signature-v4 over the same request', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (input) => {
        const ours = new Presigner({ endpoint: input.endpoint, credentials: input.credentials }).presign(input);
        expect(signatureOf(ours)).toBe(await sdkSignature(input));
      }),
      { numRuns: 10_000 },
    );
  }, 120_000);

  test('URL paths equal @aws-sdk/s3-request-presigner for the same addressing style', async () => {
    await fc.assert(
      fc.asyncProperty(endpoint, bucket, key, async (ep, b, k) => {
        const pathStyle = !ep.url.includes('amazonaws.com') || b.includes('.');
        const sdk = new SdkS3Client({
          endpoint: ep.url,
          region: ep.region,
          forcePathStyle: pathStyle,
          credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
          requestChecksumCalculation: 'WHEN_REQUIRED',
        });
        const sdkUrl = await getSignedUrl(sdk, new PutObjectCommand({ Bucket: b, Key: k }), { expiresIn: 60 });
        const ours = new Presigner({ endpoint: ep, credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } }).presign({
          method: 'PUT',
          bucket: b,
          key: k,
          expiresIn: 60,
        });
        const beforeQuery = (u: string) => u.slice(0, u.indexOf('?'));
        expect(beforeQuery(ours)).toBe(beforeQuery(sdkUrl));
      }),
      { numRuns: 1000 },
    );
  }, 120_000);

  test('aws4fetch agrees on UploadPart URLs (second oracle)', async () => {
    const ep = { url: 'https://localhost:7443', region: 'us-east-1' };
    const creds = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'tok/en+=' };
    const when = new Date('2026-11-24T10:00:00Z');
    const presigner = new Presigner({ endpoint: ep, credentials: creds });
    expect(presigner.simd, 'the part URLs below come from the WASM SIMD path').toBe(true);
    const urls = presigner.partUrls('bkt', 'dir/ünï file+1.bin', '2~up/load+id=', 1, 200, 900, when);
    for (const [i, url] of urls.entries()) {
      const unsigned = url.slice(0, url.indexOf('&X-Amz-Signature='));
      const signer = new AwsV4Signer({
        url: unsigned,
        method: 'PUT',
        accessKeyId: creds.accessKeyId,
        secretAccessKey: creds.secretAccessKey,
        sessionToken: creds.sessionToken,
        service: 's3',
        region: 'us-east-1',
        signQuery: true,
        datetime: '20261124T100000Z',
      });
      const signed = await signer.sign();
      expect(signatureOf(url), `part ${i + 1}`).toBe(signed.url.searchParams.get('X-Amz-Signature'));
    }
  });
});

describe('part URLs', () => {
  const ep = { url: 'http://localhost:7480', region: 'us-east-1' };
  const presigner = new Presigner({ endpoint: ep, credentials: { accessKeyId: 'AK', secretAccessKey: 'SK', sessionToken: 'ST' } });
  const when = new Date('2026-11-24T10:00:00Z');

  test('the fast path equals the general presigner for every digit count', () => {
    expect(presigner.simd).toBe(true);
    for (const [first, count] of [
      [1, 12],
      [95, 10],
      [995, 10],
      [9995, 6],
    ] as const) {
      const fast = presigner.partUrls('bkt', 'a/b c', 'upload-1', first, count, 3600, when);
      for (let i = 0; i < count; i++) {
        const general = presigner.presign({
          method: 'PUT',
          bucket: 'bkt',
          key: 'a/b c',
          query: { partNumber: String(first + i), uploadId: 'upload-1' },
          expiresIn: 3600,
          date: when,
        });
        expect(fast[i]).toBe(general);
      }
    }
  });

  test('the compact template expands to the same URLs', () => {
    const { template, signatures } = presigner.partTemplate('bkt', 'k', 'u', 25, 600, when);
    const urls = presigner.partUrls('bkt', 'k', 'u', 1, 25, 600, when);
    expect(signatures).toHaveLength(25);
    signatures.forEach((sig, i) => {
      expect(template.replace('{partNumber}', String(i + 1)).replace('{signature}', sig)).toBe(urls[i]);
    });
  });

  test('bad input is refused with what was expected', () => {
    expect(() => presigner.partUrls('bkt', 'k', 'u', 1, 1, maxExpiresIn + 1)).toThrow(
      'URL lifetime must be a whole number of seconds from 1 to 604800 (7 days), got 604801',
    );
    expect(() => presigner.partUrls('bkt', 'k', 'u', 0, 1, 60)).toThrow('Part numbers must be 1 to 10000, got 0 to 0');
    expect(() => presigner.partUrls('bkt', 'k', 'u', 9999, 3, 60)).toThrow('Part numbers must be 1 to 10000, got 9999 to 10001');
    expect(() => presigner.partUrls('bkt', 'k', '', 1, 1, 60)).toThrow(/uploadId must not be empty/);
    expect(() => presigner.presign({ method: 'GET', bucket: 'B!', key: 'k', expiresIn: 60 })).toThrow(/Invalid bucket name/);
    expect(() => presigner.presign({ method: 'GET', bucket: 'bkt', key: 'k'.repeat(1025), expiresIn: 60 })).toThrow(/1025 bytes/);
  });
});

describe('WASM SIMD part signing equals the scalar path', () => {
  const simdOf = (options: ConstructorParameters<typeof Presigner>[0]) => {
    const simd = new Presigner(options);
    expect(simd.simd).toBe(true);
    return { simd, scalar: new Presigner({ ...options, simd: false }) };
  };
  const ep = (url: string, region: string) => ({ url, region });
  const when = new Date('2026-11-24T10:00:00Z');

  test('randomized keys, uploadIds, part numbers, lifetimes, dates, regions and session tokens', () => {
    const region = fc.oneof(fc.constantFrom('us-east-1', 'ap-southeast-2', 'auto', 'eu-central-1'), fc.stringMatching(/^[a-z0-9-]{1,70}$/));
    const host = fc.constantFrom('https://localhost:7443', 'http://127.0.0.1:7480', 'https://s3.us-west-2.amazonaws.com', 'https://h');
    const uploadId = fc.oneof(fc.string({ minLength: 1, maxLength: 300 }), fc.constantFrom('u', '2~abc/def+g==', 'ü ?&='.repeat(30)));
    const partNumbers = fc.array(fc.integer({ min: 1, max: 10_000 }), { minLength: 2, maxLength: 40 });
    const range = fc.integer({ min: 1, max: 9_999 }).chain((first) => fc.tuple(fc.constant(first), fc.integer({ min: 2, max: Math.min(300, 10_001 - first) })));
    fc.assert(
      fc.property(host, region, credentials, bucket, key, uploadId, partNumbers, range, fc.integer({ min: 1, max: maxExpiresIn }), date, (url, reg, creds, b, k, u, list, [first, count], expiresIn, at) => {
        const { simd, scalar } = simdOf({ endpoint: ep(url, reg), credentials: creds });
        expect(simd.partUrlList(b, k, u, list, expiresIn, at)).toEqual(scalar.partUrlList(b, k, u, list, expiresIn, at));
        expect(simd.partUrls(b, k, u, first, count, expiresIn, at)).toEqual(scalar.partUrls(b, k, u, first, count, expiresIn, at));
        expect(simd.partTemplate(b, k, u, Math.min(count, 40), expiresIn, at)).toEqual(scalar.partTemplate(b, k, u, Math.min(count, 40), expiresIn, at));
      }),
      { numRuns: 300 },
    );
  }, 120_000);

  test('part numbers at every offset in the block (key lengths 1…64), across digit counts and batches', () => {
    const { simd, scalar } = simdOf({ endpoint: ep('http://localhost:7480', 'us-east-1'), credentials: { accessKeyId: 'AK', secretAccessKey: 'SK', sessionToken: 'ST' } });
    // Shifting the key by one byte moves the part number one byte along its block, so some of
    // these straddle two blocks; unsorted numbers with repeats and more than one batch (1024).
    const numbers = [10_000, 1, 9, 10, 99, 100, 999, 1000, 9999, 5, 5, 42, 10_000, 777];
    for (let length = 1; length <= 64; length++) {
      const k = 'k'.repeat(length);
      expect(simd.partUrlList('bkt', k, 'upload-1', numbers, 600, when)).toEqual(scalar.partUrlList('bkt', k, 'upload-1', numbers, 600, when));
    }
    const many = Array.from({ length: 2500 }, (_, i) => ((i * 7919) % 10_000) + 1);
    expect(simd.partUrlList('bkt', 'a/b', 'u', many, 600, when)).toEqual(scalar.partUrlList('bkt', 'a/b', 'u', many, 600, when));
    const all = simd.partTemplate('bkt', 'a/b', 'u'.repeat(500), 10_000, 600, when);
    expect(all).toEqual(scalar.partTemplate('bkt', 'a/b', 'u'.repeat(500), 10_000, 600, when));
    expect(new Set(all.signatures).size).toBe(10_000);
  });

  test('a module handed over at bundle time is used, and one that cannot load leaves the scalar path', () => {
    const options = { endpoint: ep('http://localhost:7480', 'us-east-1'), credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' } };
    const want = new Presigner({ ...options, simd: false }).partUrls('bkt', 'k', 'u', 1, 50, 60, when);
    try {
      // What workerd gets instead of a runtime compile (deploy/workerd.ts).
      useSha256x4Module(new WebAssembly.Module(readFileSync(new URL('./simd/sha256x4.wasm', import.meta.url))));
      const bundled = new Presigner(options);
      expect(bundled.simd).toBe(true);
      expect(bundled.partUrls('bkt', 'k', 'u', 1, 50, 60, when)).toEqual(want);
      useSha256x4Module({} as WebAssembly.Module);
      const fallback = new Presigner(options);
      expect(fallback.simd).toBe(false);
      expect(fallback.partUrls('bkt', 'k', 'u', 1, 50, 60, when)).toEqual(want);
    } finally {
      useSha256x4Module(new WebAssembly.Module(readFileSync(new URL('./simd/sha256x4.wasm', import.meta.url))));
    }
  });
});
