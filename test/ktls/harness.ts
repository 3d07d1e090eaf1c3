/**
 * Shared by the kTLS suites inside the VM: a throw-away certificate, a small file of pseudo-random
 * bytes, a 5 GiB sparse file with markers past 2^32, the UploadPart-like HTTPS server
 * (upload-part-server.mjs) and /proc/net/tls_stat readings.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { KtlsCipher } from '../../ffi/ktls.ts';

export const MiB = 1024 * 1024;
const sparseSize = 5 * 1024 * MiB;

export interface Fixtures {
  cert: string;
  key: string;
  smallFile: string;
  sparseFile: string;
  sparseSize: number;
  /** Ranges past 2^32 in the sparse file, each with marker bytes written into it. */
  sparseRanges: [offset: number, length: number][];
  cleanup(): void;
}

/** A self-signed certificate for `localhost` in `dir`: cert.pem, key.pem. */
export function makeCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost',
  ], { stdio: 'ignore' });
  return { cert, key };
}

export function makeFixtures(): Fixtures {
  const dir = mkdtempSync(join(tmpdir(), 's3nd-ktls-'));
  const { cert, key } = makeCert(dir);
  // Deterministic pseudo-random content (a counter hashed), so a shifted or dropped record shows.
  const smallFile = join(dir, 'small.bin');
  const small = new Uint8Array(3 * MiB + 7);
  for (let i = 0; i < small.length; i += 16) {
    small.set(createHash('md5').update(String(i)).digest().subarray(0, Math.min(16, small.length - i)), i);
  }
  const fd = openSync(smallFile, 'w');
  writeSync(fd, small);
  closeSync(fd);
  const sparseRanges: Fixtures['sparseRanges'] = [
    [2 ** 32 - 4096, 8192], // straddles 4 GiB
    [2 ** 32 + 12_345, 70_001],
    [sparseSize - 65_536, 65_536], // the file's tail
  ];
  const sparseFile = join(dir, 'sparse.bin');
  const sfd = openSync(sparseFile, 'w');
  ftruncateSync(sfd, sparseSize);
  for (const [offset, length] of sparseRanges) {
    for (const at of [offset, offset + Math.floor(length / 2), offset + length - 16]) {
      writeSync(sfd, createHash('md5').update(`marker ${at}`).digest(), 0, 16, at);
    }
  }
  closeSync(sfd);
  return { cert, key, smallFile, sparseFile, sparseSize, sparseRanges, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Server {
  port: number;
  events: { event: string; code: string | null; message: string }[];
  child: ChildProcess;
}

/**
 * Starts upload-part-server.mjs for one TLS 1.3 cipher, or `TLSv1.2` for a TLS 1.2-only server. The
 * start-up allowance is long: on a busy host Node alone can take 25 s to start under emulation.
 */
export async function startServer(fx: { cert: string; key: string }, cipher: KtlsCipher | 'TLSv1.2'): Promise<Server> {
  const child = spawn('node', [join(import.meta.dir, 'upload-part-server.mjs'), fx.cert, fx.key, cipher], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const events: Server['events'] = [];
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('upload-part-server did not start within 180 s'));
    }, 180_000);
    child.once('exit', (code) => reject(new Error(`upload-part-server exited with ${code}`)));
    lines.on('line', (line) => {
      const msg = JSON.parse(line) as { port?: number; event?: string; code?: string | null; message?: string };
      if (msg.port !== undefined) {
        clearTimeout(timer);
        resolve(msg.port);
      } else {
        events.push({ event: msg.event ?? '', code: msg.code ?? null, message: msg.message ?? '' });
      }
    });
  });
  return { port, events, child };
}

export function tlsStat(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync('/proc/net/tls_stat', 'utf8').split('\n')) {
    const [name, value] = line.trim().split(/\s+/);
    if (name && value) out[name] = Number(value);
  }
  return out;
}

export function localMd5(file: string, offset: number, length: number): string {
  const fd = openSync(file, 'r');
  try {
    const hash = createHash('md5');
    const chunk = Buffer.alloc(Math.min(length, MiB) || 1);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, chunk, 0, Math.min(chunk.length, length - done), offset + done);
      if (n <= 0) throw new Error(`short read at ${offset + done}`);
      hash.update(chunk.subarray(0, n));
      done += n;
    }
    return hash.digest('hex');
  } finally {
    closeSync(fd);
  }
}
