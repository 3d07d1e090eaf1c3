import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, openSync, closeSync, rmSync, writeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as net from 'node:net';
import {
  close,
  EAGAIN_RESULT,
  ErrnoError,
  eventfd,
  eventfdDrain,
  eventfdSignal,
  getsockoptInt,
  POLLIN,
  PollSet,
  readInto,
  send,
  sendfile,
  setNonBlocking,
  setsockopt,
  SO_SNDBUF,
  socketpair,
  SOL_SOCKET,
  tcpInfo,
} from './libc.ts';

const dir = mkdtempSync(join(tmpdir(), 's3nd-libc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function readAll(fd: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = readInto(fd, out.subarray(got));
    if (r === EAGAIN_RESULT) throw new Error('unexpected EAGAIN');
    if (r === 0) break;
    got += r;
  }
  return out.subarray(0, got);
}

describe('sendfile', () => {
  test('offsets past 2^31 and 2^32 in a sparse file', () => {
    const path = join(dir, 'sparse');
    const fd = openSync(path, 'w+');
    const offsets = [0, 2 ** 31 - 3, 2 ** 31 + 100, 2 ** 32 - 5, 2 ** 32 + 11, 5 * 2 ** 30 + 1];
    ftruncateSync(fd, 5 * 2 ** 30 + 64);
    for (const o of offsets) {
      const m = Buffer.from(`@${o}#`);
      writeSync(fd, m, 0, m.length, o);
    }
    const [a, b] = socketpair();
    try {
      for (const o of offsets) {
        const marker = `@${o}#`;
        expect(sendfile(a, fd, o, marker.length)).toBe(marker.length);
        expect(new TextDecoder().decode(readAll(b, marker.length))).toBe(marker);
      }
    } finally {
      close(a);
      close(b);
      closeSync(fd);
    }
  });

  test('short writes, then EAGAIN on a full non-blocking socket', () => {
    const path = join(dir, 'big');
    const fd = openSync(path, 'w+');
    ftruncateSync(fd, 8 << 20);
    const [a, b] = socketpair();
    try {
      setsockopt(a, SOL_SOCKET, SO_SNDBUF, 4096);
      setNonBlocking(a);
      const first = sendfile(a, fd, 0, 8 << 20);
      expect(first).toBeGreaterThan(0);
      expect(first).toBeLessThan(8 << 20);
      let r = 0;
      for (let i = 0; i < 100 && r !== EAGAIN_RESULT; i++) r = sendfile(a, fd, first, 8 << 20);
      expect(r).toBe(EAGAIN_RESULT);
    } finally {
      close(a);
      close(b);
      closeSync(fd);
    }
  });

  test('EPIPE when the peer closed; EBADF on a bad fd', () => {
    const path = join(dir, 'small');
    const fd = openSync(path, 'w+');
    writeSync(fd, Buffer.from('hello'));
    const [a, b] = socketpair();
    close(b);
    try {
      expect(() => sendfile(a, fd, 0, 5)).toThrow(ErrnoError);
      try {
        sendfile(a, fd, 0, 5);
      } catch (e) {
        expect((e as ErrnoError).code).toBe('EPIPE');
        expect((e as ErrnoError).syscall).toBe('sendfile');
      }
      expect(() => send(a, new Uint8Array([1]))).toThrow(/EPIPE/);
      try {
        sendfile(987654, fd, 0, 5);
        throw new Error('no throw');
      } catch (e) {
        expect((e as ErrnoError).code).toBe('EBADF');
      }
    } finally {
      close(a);
      closeSync(fd);
    }
  });

  test('ECONNRESET over TCP loopback when the peer resets', async () => {
    // The resetting peer runs in another process so this thread can block in poll() and see the RST
    // before Bun's event loop reacts to it.
    const child = Bun.spawn(
      [
        process.execPath,
        '-e',
        `const s = Bun.listen({hostname: '127.0.0.1', port: 0, socket: {open(c) { setTimeout(() => { c.terminate(); }, 20); }, data() {}}});
         console.log(s.port);`,
      ],
      { stdout: 'pipe' },
    );
    try {
      const reader = child.stdout.getReader();
      const port = Number(new TextDecoder().decode((await reader.read()).value).trim());
      const sfd = await new Promise<number>((resolve) => {
        const sock = net.connect(port, '127.0.0.1', () => {
          const fd = (sock as unknown as { _handle: { fd: number } })._handle.fd;
          const set = new PollSet();
          set.add(fd, POLLIN);
          set.poll(3000);
          let err: unknown;
          try {
            send(fd, new Uint8Array(16));
            send(fd, new Uint8Array(16));
          } catch (e) {
            err = e;
          }
          expect(err).toBeInstanceOf(ErrnoError);
          expect((err as ErrnoError).code).toBe('ECONNRESET');
          resolve(fd);
        });
        sock.on('error', () => {});
      });
      expect(sfd).toBeGreaterThan(2);
    } finally {
      child.kill();
    }
  });
});

describe('poll, eventfd, sockopts', () => {
  test('eventfd wakes poll', () => {
    const efd = eventfd();
    const set = new PollSet();
    set.add(efd, POLLIN);
    expect(set.poll(0)).toBe(0);
    eventfdSignal(efd);
    eventfdSignal(efd);
    expect(set.poll(1000)).toBe(1);
    expect(set.revents(0) & POLLIN).toBe(POLLIN);
    expect(eventfdDrain(efd)).toBe(2);
    expect(eventfdDrain(efd)).toBe(0);
    close(efd);
  });

  test('SO_SNDBUF round-trips and tcp_info reads', async () => {
    const server = net.createServer(() => {});
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const sock = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const sfd = (sock as unknown as { _handle: { fd: number } })._handle.fd;
    setsockopt(sfd, SOL_SOCKET, SO_SNDBUF, 65536);
    expect(getsockoptInt(sfd, SOL_SOCKET, SO_SNDBUF)).toBe(131072); // the kernel doubles it
    const info = tcpInfo(sfd);
    expect(info.state).toBe(1); // TCP_ESTABLISHED
    expect(info.rttMicros).toBeGreaterThan(0);
    sock.destroy();
    server.close();
  });
});
