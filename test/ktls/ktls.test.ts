/**
 * kTLS end to end, inside the VM (run by test/ktls/run.sh through test/ktls-vm.sh): Bun's node:tls
 * does the TLS 1.3 handshake, ffi/ktls.ts installs the TX key, the request head goes out with libc
 * send and the body with libc sendfile, and a Node https server answering like UploadPart reports
 * the md5 of what it decrypted. Per cipher: sizes around the 16 KiB record boundary, a few MiB, and
 * ranges past 4 GiB of a sparse file.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import tls from 'node:tls';
import { cryptoInfo, installTxKey, ktlsAvailable, ktlsCiphers, TLS_TX, trackKeylog } from '../../ffi/ktls.ts';
import {
  EAGAIN_RESULT,
  IPPROTO_TCP,
  MSG_MORE,
  MSG_NOSIGNAL,
  PollSet,
  POLLOUT,
  SOL_TLS,
  send,
  sendfile,
  setsockopt,
  TCP_ULP,
} from '../../ffi/libc.ts';
import { type Fixtures, localMd5, MiB, makeFixtures, type Server, startServer, tlsStat } from './harness.ts';

const tlsReady = ktlsAvailable();
const skipReason = 'the kernel has no tls ULP: run this suite with `bash test/ktls/run.sh` (inside the kTLS VM)';
if (!tlsReady) console.warn(`skipping kTLS VM suite: ${skipReason}`);

// Inside the VM a missing tls ULP is a broken harness, not a reason to skip (the stage would pass empty).
test.if(process.env.S3ND_IN_KTLS_VM === '1')('the VM kernel offers the tls ULP', () => {
  expect(readFileSync('/proc/sys/net/ipv4/tcp_available_ulp', 'utf8')).toContain('tls');
});

let fx: Fixtures;
beforeAll(() => {
  if (tlsReady) fx = makeFixtures();
});
afterAll(() => fx?.cleanup());

async function connect(port: number): Promise<tls.TLSSocket> {
  const socket = tls.connect({ host: 'localhost', servername: 'localhost', port, ca: readFileSync(fx.cert), ALPNProtocols: ['http/1.1'] });
  trackKeylog(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

const pollSet = new PollSet(1);
function waitWritable(fd: number): void {
  pollSet.clear();
  pollSet.add(fd, POLLOUT);
  pollSet.poll(5000);
}

/** Writes the head with send (MSG_MORE when a body follows) and the body with sendfile. */
function writeRequest(fd: number, head: Uint8Array, file: string, offset: number, length: number): void {
  let sent = 0;
  while (sent < head.length) {
    const n = send(fd, head.subarray(sent), MSG_NOSIGNAL | (length > 0 ? MSG_MORE : 0));
    if (n === EAGAIN_RESULT) waitWritable(fd);
    else sent += n;
  }
  if (length === 0) return;
  const fileFd = openSync(file, 'r');
  try {
    let done = 0;
    while (done < length) {
      const n = sendfile(fd, fileFd, offset + done, length - done);
      if (n === EAGAIN_RESULT) waitWritable(fd);
      else if (n === 0) throw new Error(`sendfile returned 0 at ${offset + done} (file shorter than the range?)`);
      else done += n;
    }
  } finally {
    closeSync(fileFd);
  }
}

interface Response {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Reads one HTTP/1.1 response (content-length framed) through the node:tls socket. */
function readResponse(socket: tls.TLSSocket, timeoutMs = 60_000): Promise<Response> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error(`no response within ${timeoutMs} ms`)), timeoutMs);
    const finish = (err: Error | null, res?: Response) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (err) reject(err);
      else if (res) resolve(res);
    };
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine = '', ...lines] = buffer.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(headers['content-length'] ?? 0);
      if (buffer.length < end + 4 + length) return;
      finish(null, {
        status: Number(statusLine.split(' ')[1]),
        headers,
        body: buffer.subarray(end + 4, end + 4 + length).toString('utf8'),
      });
    };
    const onError = (err: Error) => finish(err);
    const onClose = () => finish(new Error('connection closed before a full response'));
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
  });
}

function head(port: number, length: number): Uint8Array {
  return new TextEncoder().encode(
    `PUT /bucket/key?partNumber=1&uploadId=x HTTP/1.1\r\nhost: localhost:${port}\r\ncontent-length: ${length}\r\n\r\n`,
  );
}

/** One kTLS PUT of file[offset, offset+length); returns the response and the local md5. */
async function putPart(port: number, file: string, offset: number, length: number) {
  const socket = await connect(port);
  try {
    const before = tlsStat();
    const { cipher, fd } = await installTxKey(socket);
    const during = tlsStat();
    const response = readResponse(socket);
    writeRequest(fd, head(port, length), file, offset, length);
    const res = await response;
    return { res, cipher, before, during, md5: localMd5(file, offset, length) };
  } finally {
    // destroy, not end(): end() would send a user-space close_notify through the kernel TX path.
    socket.destroy();
  }
}

const sizes = [0, 1, 16_383, 16_384, 16_385, 3 * MiB + 7];

describe.skipIf(!tlsReady).each(ktlsCiphers)('kTLS TX with %s', (cipher) => {
  let server: Server;
  beforeAll(async () => {
    server = await startServer(fx, cipher);
  });
  afterAll(() => {
    server?.child.kill('SIGTERM');
  });

  test.each(sizes)('sendfile body of %d bytes arrives byte-exact', async (size) => {
    const { res, cipher: used, before, during, md5 } = await putPart(server.port, fx.smallFile, 0, size);
    expect(used).toBe(cipher);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ bytes: size, md5, cipher, protocol: 'TLSv1.3' });
    expect(res.headers.etag).toBe(`"${md5}"`);
    // The kernel took over TX for this socket (software crypto in the emulated VM).
    expect(during.TlsTxSw ?? 0).toBe((before.TlsTxSw ?? 0) + 1);
    expect(during.TlsCurrTxSw ?? 0).toBeGreaterThanOrEqual(1);
    expect(server.events).toEqual([]);
  });

  test('ranges past 4 GiB of a sparse file (offsets beyond 2^32)', async () => {
    for (const [offset, length] of fx.sparseRanges) {
      const { res, md5 } = await putPart(server.port, fx.sparseFile, offset, length);
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({ bytes: length, md5 });
      // The markers make the range's md5 differ from that of zeros: a wrapped 32-bit offset would read zeros.
      expect(md5).not.toBe(createHash('md5').update(Buffer.alloc(length)).digest('hex'));
    }
  });

  test('a wrong kernel key makes the server fail the record (bad_record_mac), not accept it', async () => {
    const socket = await connect(server.port);
    try {
      const secret = await trackKeylog(socket);
      const wrong = new Uint8Array(secret);
      wrong[0] = (wrong[0] ?? 0) ^ 0xff;
      const fd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
      setsockopt(fd, IPPROTO_TCP, TCP_ULP, new TextEncoder().encode('tls'));
      setsockopt(fd, SOL_TLS, TLS_TX, cryptoInfo(cipher, wrong));
      const response = readResponse(socket, 20_000);
      writeRequest(fd, head(server.port, 16_385), fx.smallFile, 0, 16_385);
      const outcome = await response.then(
        (res) => `response ${res.status}`,
        (err: Error) => `error ${err.message}`,
      );
      expect(outcome).not.toStartWith('response');
      // Give the server's error line a moment to arrive over its stdout pipe.
      for (let i = 0; i < 50 && server.events.length === 0; i++) await Bun.sleep(100);
      expect(server.events.length).toBe(1);
      expect(`${server.events[0]?.code} ${server.events[0]?.message}`).toMatch(/BAD_RECORD_MAC|DECRYPTION_FAILED|bad record mac/i);
    } finally {
      socket.destroy();
      server.events.length = 0;
    }
  });
});
