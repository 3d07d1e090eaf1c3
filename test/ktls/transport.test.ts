/**
 * The worker's `ktls` transport inside the VM (test/ktls/run.sh): parts PUT through KtlsTransport to
 * the UploadPart-like HTTPS server for each TLS 1.3 cipher — record-boundary sizes on one keep-alive
 * connection, concurrent parts, ranges past 4 GiB of a sparse file — each ETag the md5 of what the
 * server decrypted, and /proc/net/tls_stat showing the kernel took TX. A TLS 1.2-only server makes the
 * part go by fetch, and the origin is remembered.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { ktlsAvailable, ktlsCiphers } from '../../ffi/ktls.ts';
import { KtlsTransport } from '../../worker/transport/ktls.ts';
import type { FileRef } from '../../worker/transport/types.ts';
import { type Fixtures, localMd5, MiB, makeFixtures, type Server, startServer, tlsStat } from './harness.ts';

const tlsReady = ktlsAvailable();
let fx: Fixtures;
let small: FileRef;
let sparse: FileRef;
beforeAll(() => {
  if (!tlsReady) return;
  fx = makeFixtures();
  small = { path: fx.smallFile, fd: openSync(fx.smallFile, 'r') };
  sparse = { path: fx.sparseFile, fd: openSync(fx.sparseFile, 'r') };
});
afterAll(() => {
  if (!fx) return;
  closeSync(small.fd);
  closeSync(sparse.fd);
  fx.cleanup();
});

const url = (port: number, part = 1) => `https://localhost:${port}/bucket/key?partNumber=${part}&uploadId=x`;
const signal = () => AbortSignal.timeout(120_000);
const installs = (before: Record<string, number>) => (tlsStat().TlsTxSw ?? 0) - (before.TlsTxSw ?? 0);

describe.skipIf(!tlsReady).each(ktlsCiphers)('worker ktls transport with %s', (cipher) => {
  let server: Server;
  let transport: KtlsTransport;
  beforeAll(async () => {
    server = await startServer(fx, cipher);
    transport = new KtlsTransport({ ca: readFileSync(fx.cert, 'utf8') });
  });
  afterAll(() => {
    transport?.close();
    server?.child.kill('SIGTERM');
  });

  test('record-boundary sizes, one after another on one keep-alive connection: byte-exact, one kernel TX install', async () => {
    const before = tlsStat();
    for (const size of [0, 1, 16_383, 16_384, 16_385, 3 * MiB + 7]) {
      const offset = size === 0 ? 0 : 7; // an odd offset too
      const length = Math.min(size, 3 * MiB);
      const result = await transport.put(url(server.port), small, offset, length, { signal: signal() });
      expect(result).toEqual({ etag: `"${localMd5(fx.smallFile, offset, length)}"`, transport: 'ktls' });
    }
    expect(installs(before)).toBe(1);
    expect(server.events).toEqual([]);
  });

  test('concurrent parts on their own connections, and ranges past 2^32 of a sparse file', async () => {
    const before = tlsStat();
    const ranges: [number, number][] = [
      [0, MiB],
      [MiB, MiB + 1],
      [2 * MiB + 1, MiB + 6],
    ];
    const results = await Promise.all(ranges.map(([o, n], i) => transport.put(url(server.port, i + 1), small, o, n, { signal: signal() })));
    results.forEach((r, i) => {
      const [o, n] = ranges[i] as [number, number];
      expect(r).toEqual({ etag: `"${localMd5(fx.smallFile, o, n)}"`, transport: 'ktls' });
    });
    // Each part in flight needs a connection of its own; the first test's connection is reused.
    expect(installs(before)).toBe(ranges.length - 1);
    for (const [offset, length] of fx.sparseRanges) {
      const r = await transport.put(url(server.port), sparse, offset, length, { signal: signal() });
      expect(r.etag).toBe(`"${localMd5(fx.sparseFile, offset, length)}"`);
    }
    expect(tlsStat().TlsCurrTxSw ?? 0).toBeGreaterThanOrEqual(1);
    expect(server.events).toEqual([]);
  });
});

test.skipIf(!tlsReady)('a TLS 1.2-only server: the part goes by fetch, and so does every later part to that origin', async () => {
  const server = await startServer(fx, 'TLSv1.2');
  const transport = new KtlsTransport({ ca: readFileSync(fx.cert, 'utf8') });
  try {
    const before = tlsStat();
    for (const length of [16_385, 2 * MiB]) {
      const r = await transport.put(url(server.port), small, 0, length, { signal: signal() });
      expect(r).toEqual({ etag: `"${localMd5(fx.smallFile, 0, length)}"`, transport: 'fetch' });
    }
    expect(transport.refused.get(`https://localhost:${server.port}`)).toContain('TLSv1.2');
    expect(installs(before)).toBe(0);
  } finally {
    transport.close();
    server.child.kill('SIGTERM');
  }
});
