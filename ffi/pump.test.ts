import { afterAll, describe, expect, test } from 'bun:test';
import { createHash } from 'node:crypto';
import { closeSync, ftruncateSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { close, dup, ErrnoError, setNonBlocking, setsockopt, SO_SNDBUF, SOL_SOCKET } from './libc.ts';
import { Pump, PumpClosedError } from './pump.ts';

const dir = mkdtempSync(join(tmpdir(), 's3nd-pump-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fdOf(sock: net.Socket): number {
  return (sock as unknown as { _handle: { fd: number } })._handle.fd;
}

/** A loopback TCP sink: each connection's bytes are hashed; resolves per connection when `expect` bytes arrived. */
async function sink() {
  const results: Promise<{ md5: string; bytes: number }>[] = [];
  const waiters: ((p: Promise<{ md5: string; bytes: number }>) => void)[] = [];
  const server = net.createServer((s) => {
    const p = new Promise<{ md5: string; bytes: number }>((resolve) => {
      const h = createHash('md5');
      let bytes = 0;
      s.on('data', (d) => {
        h.update(d);
        bytes += d.length;
      });
      s.on('end', () => resolve({ md5: h.digest('hex'), bytes }));
      s.on('error', () => resolve({ md5: 'error', bytes }));
    });
    const w = waiters.shift();
    if (w) w(p);
    else results.push(p);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    server,
    async connect(): Promise<{ sock: net.Socket; received: Promise<{ md5: string; bytes: number }> }> {
      const sock = net.connect(port, '127.0.0.1');
      await new Promise<void>((r) => sock.once('connect', () => r()));
      const received = new Promise<Promise<{ md5: string; bytes: number }>>((r) => {
        const p = results.shift();
        if (p) r(p);
        else waiters.push(r);
      }).then((p) => p);
      return { sock, received };
    },
  };
}

function md5Range(fd: number, offset: number, length: number): string {
  const h = createHash('md5');
  const buf = Buffer.alloc(1 << 20);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, length - done), offset + done);
    if (n <= 0) break;
    h.update(buf.subarray(0, n));
    done += n;
  }
  return h.digest('hex');
}

describe('pump', () => {
  test('many concurrent jobs, offsets past 4 GiB, byte-exact', async () => {
    const path = join(dir, 'sparse');
    const fd = openSync(path, 'w+');
    ftruncateSync(fd, 5 * 2 ** 30);
    const random = Buffer.alloc(3 << 20);
    for (let i = 0; i < random.length; i += 4) random.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, i);
    const base = 2 ** 32 + 12345;
    writeSync(fd, random, 0, random.length, base);
    const pump = new Pump(8); // fewer slots than jobs: exercises the queue
    const s = await sink();
    try {
      const jobs = Array.from({ length: 24 }, (_, i) => ({ offset: base + i * 100_003, length: 1_000_000 + i * 7 }));
      // Event-loop lag while the pump works.
      let maxLag = 0;
      let last = performance.now();
      const timer = setInterval(() => {
        const now = performance.now();
        maxLag = Math.max(maxLag, now - last - 1);
        last = now;
      }, 1);
      const results = await Promise.all(
        jobs.map(async (job) => {
          const { sock, received } = await s.connect();
          setsockopt(fdOf(sock), SOL_SOCKET, SO_SNDBUF, 16384);
          await pump.sendfile(fdOf(sock), fd, job.offset, job.length);
          sock.end();
          return { job, got: await received };
        }),
      );
      clearInterval(timer);
      for (const { job, got } of results) {
        expect(got.bytes).toBe(job.length);
        expect(got.md5).toBe(md5Range(fd, job.offset, job.length));
      }
      expect(pump.stats().jobs).toBe(jobs.length);
      expect(pump.stats().bytes).toBe(jobs.reduce((a, j) => a + j.length, 0));
      // Loose: the sink hashes on this same thread and the machine is shared; a blocking pump would stall it for the whole run.
      expect(maxLag).toBeLessThan(500);
    } finally {
      await pump.close();
      s.server.close();
      closeSync(fd);
    }
  });

  test('peer reset rejects with ErrnoError', async () => {
    const path = join(dir, 'big');
    const fd = openSync(path, 'w+');
    ftruncateSync(fd, 64 << 20);
    const pump = new Pump(4);
    // The peer accepts, reads nothing, then resets.
    const server = net.createServer((s) => {
      s.pause();
      setTimeout(() => s.resetAndDestroy(), 50);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const sock = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
      sock.on('error', () => {});
      await new Promise<void>((r) => sock.once('connect', () => r()));
      sock.pause();
      // A dup, as the transport does: Bun closes its own fd when it sees the reset.
      const sfd = dup(fdOf(sock));
      setNonBlocking(sfd);
      const error = await pump.sendfile(sfd, fd, 0, 64 << 20).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ErrnoError);
      expect(['ECONNRESET', 'EPIPE']).toContain((error as ErrnoError).code);
      sock.destroy();
      close(sfd);
    } finally {
      await pump.close();
      server.close();
      closeSync(fd);
    }
  });

  test('abort cancels a stuck job; close rejects the rest', async () => {
    const path = join(dir, 'big2');
    const fd = openSync(path, 'w+');
    ftruncateSync(fd, 64 << 20);
    const pump = new Pump(4);
    const server = net.createServer((s) => s.pause());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const connect = async () => {
        const sock = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
        sock.on('error', () => {});
        await new Promise<void>((r) => sock.once('connect', () => r()));
        setNonBlocking(fdOf(sock));
        return sock;
      };
      const a = await connect();
      const b = await connect();
      const controller = new AbortController();
      const first = pump.sendfile(fdOf(a), fd, 0, 64 << 20, controller.signal).catch((e: unknown) => e);
      const second = pump.sendfile(fdOf(b), fd, 0, 64 << 20).catch((e: unknown) => e);
      await Bun.sleep(50);
      controller.abort(new Error('stop'));
      expect(((await first) as Error).message).toBe('stop');
      await pump.close(500);
      expect(await second).toBeInstanceOf(PumpClosedError);
      await expect(pump.sendfile(fdOf(b), fd, 0, 1)).rejects.toBeInstanceOf(PumpClosedError);
      a.destroy();
      b.destroy();
    } finally {
      await pump.close();
      server.close();
      closeSync(fd);
    }
  });
});
