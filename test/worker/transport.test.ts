/**
 * Transports against a local Bun.serve sink (hashes bodies, answers with md5 ETags, can stall, reset
 * or refuse) and against the local Ceph RGW through presigned part URLs (sendfile on HTTP, fetch on
 * HTTP and HTTPS): every part's ETag must be the md5 of that file range.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Error } from '../../functions/s3/errors.ts';
import { Presigner } from '../../functions/s3/presign.ts';
import { probeKtls } from '../../ffi/ktls.ts';
import { pickTransport } from '../../worker/transport/index.ts';
import { FetchTransport } from '../../worker/transport/fetch.ts';
import { KtlsTransport } from '../../worker/transport/ktls.ts';
import { SendfileTransport } from '../../worker/transport/sendfile.ts';
import type { FileRef, Transport } from '../../worker/transport/types.ts';
import { localS3, uniqueBucket } from '../s3/helpers.ts';
import { s3Env } from './s3.ts';

const dir = mkdtempSync(join(tmpdir(), 's3nd-transport-'));
const size = 23 * 1024 * 1024 + 12345; // odd size
const path = join(dir, 'data.bin');
let file: FileRef;

function md5Range(offset: number, length: number): string {
  const h = createHash('md5');
  const buf = Buffer.alloc(1 << 20);
  let done = 0;
  while (done < length) {
    const n = readSync(file.fd, buf, 0, Math.min(buf.length, length - done), offset + done);
    if (n <= 0) break;
    h.update(buf.subarray(0, n));
    done += n;
  }
  return h.digest('hex');
}

function signal(ms = 30_000): AbortSignal {
  return AbortSignal.timeout(ms);
}

beforeAll(() => {
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, Math.min(i, size - 4));
  writeFileSync(path, data);
  file = { path, fd: openSync(path, 'r') };
});

afterAll(() => {
  closeSync(file.fd);
  rmSync(dir, { recursive: true, force: true });
});

/** The sink: md5 ETag; `/stall` never answers; `/reset` drops the connection; `/deny` answers 403 XML. */
function sink() {
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req, srv) {
      const url = new URL(req.url);
      if (url.pathname === '/stall') {
        await Bun.sleep(10_000);
        return new Response('late');
      }
      if (url.pathname === '/reset') {
        srv.requestIP(req);
        throw new Error('reset');
      }
      if (url.pathname === '/deny') {
        return new Response(
          '<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>nope</Message><RequestId>r1</RequestId></Error>',
          { status: 403, headers: { 'content-type': 'application/xml' } },
        );
      }
      if (url.pathname === '/slowdown') {
        return new Response('<Error><Code>SlowDown</Code><Message>slow</Message></Error>', { status: 503 });
      }
      const h = createHash('md5');
      let bytes = 0;
      const reader = (req.body as ReadableStream<Uint8Array> | null)?.getReader();
      for (;;) {
        const chunk = reader ? await reader.read() : { done: true as const, value: undefined };
        if (chunk.done) break;
        h.update(chunk.value);
        bytes += chunk.value.byteLength;
      }
      if (bytes !== Number(req.headers.get('content-length'))) return new Response('short', { status: 400 });
      return new Response(null, { headers: { etag: `"${h.digest('hex')}"`, 'x-bytes': String(bytes) } });
    },
  });
  return { server, origin: `http://127.0.0.1:${server.port}` };
}

const parts = [
  { offset: 0, size: 5 * 1024 * 1024 },
  { offset: 5 * 1024 * 1024, size: 8 * 1024 * 1024 + 1 },
  { offset: 13 * 1024 * 1024 + 1, size: size - (13 * 1024 * 1024 + 1) },
  { offset: 7, size: 1 },
  { offset: 12345, size: 0 },
];

describe.each(['fetch', 'sendfile'] as const)('%s transport against a sink', (name) => {
  let transport: Transport;
  let s: ReturnType<typeof sink>;
  beforeAll(() => {
    s = sink();
    transport = name === 'fetch' ? new FetchTransport() : new SendfileTransport({ writeBufferSize: 65536 });
  });
  afterAll(() => {
    transport.close();
    s.server.stop(true);
  });

  test('byte-exact parts, concurrent, odd sizes, keep-alive reuse', async () => {
    await transport.warm?.(s.origin, 4);
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all(
        parts.map((p, i) => transport.put(`${s.origin}/part/${i}?x=1`, file, p.offset, p.size, { signal: signal() })),
      );
      results.forEach((r, i) => {
        const p = parts[i] as (typeof parts)[number];
        expect(r.etag).toBe(`"${md5Range(p.offset, p.size)}"`);
      });
    }
  }, 60_000);

  test('403 → S3Error AccessDenied, not retryable; 503 SlowDown retryable; connection still usable', async () => {
    const denied = await transport.put(`${s.origin}/deny`, file, 0, 1024 * 1024, { signal: signal() }).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(S3Error);
    expect((denied as S3Error).code).toBe('AccessDenied');
    expect((denied as S3Error).status).toBe(403);
    expect((denied as S3Error).retryable).toBe(false);
    const slow = await transport.put(`${s.origin}/slowdown`, file, 0, 1000, { signal: signal() }).catch((e: unknown) => e);
    expect((slow as S3Error).code).toBe('SlowDown');
    expect((slow as S3Error).retryable).toBe(true);
    const ok = await transport.put(`${s.origin}/after`, file, 3, 4096, { signal: signal() });
    expect(ok.etag).toBe(`"${md5Range(3, 4096)}"`);
  });

  test('a stalled server → RequestTimeout, retryable', async () => {
    const started = performance.now();
    const error = await transport
      .put(`${s.origin}/stall`, file, 0, 2 * 1024 * 1024, { signal: AbortSignal.timeout(300) })
      .catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(3000);
    expect(error).toBeInstanceOf(S3Error);
    expect((error as S3Error).code).toBe('RequestTimeout');
    expect((error as S3Error).retryable).toBe(true);
    const ok = await transport.put(`${s.origin}/after-stall`, file, 0, 4096, { signal: signal(), fresh: true });
    expect(ok.etag).toBe(`"${md5Range(0, 4096)}"`);
  });

  test('aborted by the caller → Aborted, not retryable', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('user')), 100);
    const error = await transport
      .put(`${s.origin}/stall`, file, 0, 1024, { signal: controller.signal })
      .catch((e: unknown) => e);
    expect((error as S3Error).code).toBe('Aborted');
    expect((error as S3Error).retryable).toBe(false);
  });
});

describe.each(['fetch', 'sendfile'] as const)('%s transport: peer reset', (name) => {
  test('a connection reset mid-body → retryable network error', async () => {
    // A raw TCP server that reads a little, then resets.
    const server = Bun.listen({
      hostname: '127.0.0.1',
      port: 0,
      socket: {
        data(sock) {
          sock.terminate();
        },
      },
    });
    const transport = name === 'fetch' ? new FetchTransport() : new SendfileTransport();
    try {
      const error = await transport
        .put(`http://127.0.0.1:${server.port}/x`, file, 0, 16 * 1024 * 1024, { signal: signal(5000) })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(S3Error);
      expect((error as S3Error).retryable).toBe(true);
      expect((error as S3Error).code).not.toBe('RequestTimeout');
    } finally {
      transport.close();
      server.stop(true);
    }
  });
});

test('sendfile transport reports TCP_INFO (RTT, retransmits during the part) after each part', async () => {
  const s = sink();
  const seen: { rttMicros: number; retransmits: number }[] = [];
  const transport = new SendfileTransport({ onTcpInfo: (info) => seen.push(info) });
  try {
    for (const p of parts.slice(0, 3)) await transport.put(`${s.origin}/part/x`, file, p.offset, p.size, { signal: signal() });
    expect(seen.length).toBe(3);
    for (const info of seen) {
      expect(info.rttMicros).toBeGreaterThan(0);
      expect(info.retransmits).toBeGreaterThanOrEqual(0);
    }
  } finally {
    transport.close();
    s.server.stop(true);
  }
});

describe('pickTransport', () => {
  test('auto, fetch, sendfile', () => {
    const a = pickTransport('auto', 'http://localhost:7480');
    expect(a.transport.name).toBe('fetch');
    a.transport.close();
    const b = pickTransport('sendfile', 'http://localhost:7480');
    expect(b.transport.name).toBe('sendfile');
    b.transport.close();
    expect(() => pickTransport('sendfile', 'https://localhost:7443')).toThrow(/HTTP/);
  });

  test('kTLS: auto takes it on HTTPS when the probe passes, says why not otherwise; ktls demands it', () => {
    const yes = () => ({ available: true });
    const no = () => ({ available: false, reason: 'no tls ULP (test)' });
    const a = pickTransport('auto', 'https://localhost:7443', {}, yes);
    expect(a.transport.name).toBe('ktls');
    a.transport.close();
    const b = pickTransport('auto', 'https://localhost:7443', {}, no);
    expect(b.transport.name).toBe('fetch');
    expect(b.reason).toContain('no tls ULP (test)');
    expect(pickTransport('auto', 'http://localhost:7480', {}, yes).transport.name).toBe('fetch');
    expect(() => pickTransport('ktls', 'https://localhost:7443', {}, no)).toThrow(/not available here: no tls ULP \(test\)/);
    expect(() => pickTransport('ktls', 'http://localhost:7480', {}, yes)).toThrow(/HTTPS/);
    // The real probe on this host: whatever it says, the choice follows it.
    const real = pickTransport('auto', 'https://localhost:7443');
    expect(real.transport.name).toBe(probeKtls().available ? 'ktls' : 'fetch');
    real.transport.close();
  });
});

describe('against Ceph RGW with presigned part URLs', () => {
  const env = s3Env();
  const cases = [
    { name: 'sendfile', https: false },
    { name: 'fetch', https: false },
    { name: 'fetch', https: true },
    { name: 'ktls', https: true },
  ] as const;
  for (const c of cases) {
    test(`${c.name} over ${c.https ? 'HTTPS' : 'HTTP'}: part ETags are the md5 of each range; tampered URL → 403`, async () => {
      const { endpoint, credentials, client } = localS3(env, c.https);
      const bucket = uniqueBucket('s3nd-tr');
      await client.createBucket(bucket);
      const transport =
        c.name === 'fetch' ? new FetchTransport() : c.name === 'ktls' ? new KtlsTransport() : new SendfileTransport({ writeBufferSize: 262144 });
      try {
        const key = `t/${c.name} ${c.https ? 's' : 'p'}/ü.bin`;
        const uploadId = await client.createMultipartUpload(bucket, key);
        const presigner = new Presigner({ endpoint, credentials });
        const multipart = parts.slice(0, 3);
        const urls = presigner.partUrls(bucket, key, uploadId, 1, multipart.length, 600);
        const results = await Promise.all(
          multipart.map((p, i) => transport.put(urls[i] as string, file, p.offset, p.size, { signal: signal() })),
        );
        results.forEach((r, i) => {
          const p = multipart[i] as (typeof parts)[number];
          expect(r.etag).toBe(`"${md5Range(p.offset, p.size)}"`);
        });
        if (transport instanceof KtlsTransport) {
          // Without the tls ULP (this host) the set-up is refused before the body and fetch carries the parts.
          const ktls = probeKtls().available;
          for (const r of results) expect(r.transport).toBe(ktls ? 'ktls' : 'fetch');
          if (!ktls) expect(transport.refused.get(new URL(endpoint.url).origin)).toContain('kTLS install failed');
        }
        const tampered = (urls[0] as string).replace(/X-Amz-Signature=([0-9a-f])/, (_m, d: string) => `X-Amz-Signature=${d === '0' ? '1' : '0'}`);
        const denied = await transport.put(tampered, file, 0, 1024, { signal: signal() }).catch((e: unknown) => e);
        expect(denied).toBeInstanceOf(S3Error);
        expect((denied as S3Error).status).toBe(403);
        expect((denied as S3Error).retryable).toBe(false);
        const done = await client.completeMultipartUpload(
          bucket,
          key,
          uploadId,
          results.map((r, i) => ({ partNumber: i + 1, etag: r.etag })),
        );
        expect(done.etag).not.toBe('');
        const head = await client.headObject(bucket, key);
        expect(head?.size).toBe(size);
        const tail = await client.getObject(bucket, key, { range: [size - 100, size - 1] });
        const local = Buffer.alloc(100);
        readSync(file.fd, local, 0, 100, size - 100);
        expect(Buffer.from(tail).equals(local)).toBe(true);
      } finally {
        transport.close();
        await client.emptyAndDeleteBucket(bucket);
      }
    }, 60_000);
  }
});
