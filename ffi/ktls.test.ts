/**
 * ffi/ktls.ts on any kernel: key derivation against published vectors, the crypto_info layouts of
 * linux/tls.h, and refusal of handshakes kTLS cannot take. The install itself needs tls.ko and is
 * exercised end to end in the VM (test/ktls/ktls.test.ts via `bash test/ktls/run.sh`).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import {
  cryptoInfo,
  hkdfExpandLabel,
  installTxKey,
  KtlsError,
  ktlsAvailable,
  probeKtls,
  TLS_1_3_VERSION,
  TLS_CIPHER_AES_GCM_128,
  TLS_CIPHER_AES_GCM_256,
  TLS_CIPHER_CHACHA20_POLY1305,
} from './ktls.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));

describe('hkdfExpandLabel', () => {
  // RFC 9001 Appendix A.1 (QUIC initial keys use TLS 1.3's HKDF-Expand-Label with SHA-256).
  test('matches RFC 9001 A.1', () => {
    const initial = unhex('7db5df06e7a69e432496adedb00851923595221596ae2ae9fb8115c1e9ed0a44');
    const client = hkdfExpandLabel('sha256', initial, 'client in', 32);
    expect(hex(client)).toBe('c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea');
    expect(hex(hkdfExpandLabel('sha256', client, 'quic key', 16))).toBe('1f369613dd76d5467730efcbe3b1a22d');
    expect(hex(hkdfExpandLabel('sha256', client, 'quic iv', 12))).toBe('fa044b2f42a3fd3b46fb255c');
  });

  test('refuses lengths beyond one hash block', () => {
    expect(() => hkdfExpandLabel('sha256', new Uint8Array(32), 'key', 33)).toThrow(RangeError);
  });
});

describe('cryptoInfo (struct tls12_crypto_info_*)', () => {
  const secret32 = unhex('00'.repeat(31) + '01');
  const secret48 = unhex('00'.repeat(47) + '01');
  const fields = (b: Uint8Array) => {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return { version: v.getUint16(0, true), type: v.getUint16(2, true) };
  };

  test('AES-128-GCM: 40 bytes = info, iv[8], key[16], salt[4], rec_seq[8]', () => {
    const info = cryptoInfo('TLS_AES_128_GCM_SHA256', secret32);
    expect(info.length).toBe(40);
    expect(fields(info)).toEqual({ version: TLS_1_3_VERSION, type: TLS_CIPHER_AES_GCM_128 });
    const key = hkdfExpandLabel('sha256', secret32, 'key', 16);
    const iv = hkdfExpandLabel('sha256', secret32, 'iv', 12);
    expect(hex(info.subarray(4, 12))).toBe(hex(iv.subarray(4)));
    expect(hex(info.subarray(12, 28))).toBe(hex(key));
    expect(hex(info.subarray(28, 32))).toBe(hex(iv.subarray(0, 4)));
    expect(hex(info.subarray(32))).toBe('00'.repeat(8));
  });

  test('AES-256-GCM: 56 bytes, SHA-384 key schedule', () => {
    const info = cryptoInfo('TLS_AES_256_GCM_SHA384', secret48);
    expect(info.length).toBe(56);
    expect(fields(info)).toEqual({ version: TLS_1_3_VERSION, type: TLS_CIPHER_AES_GCM_256 });
    expect(hex(info.subarray(12, 44))).toBe(hex(hkdfExpandLabel('sha384', secret48, 'key', 32)));
    const iv = hkdfExpandLabel('sha384', secret48, 'iv', 12);
    expect(hex(info.subarray(44, 48))).toBe(hex(iv.subarray(0, 4)));
  });

  test('CHACHA20-POLY1305: 56 bytes = info, iv[12], key[32], rec_seq[8] (no salt)', () => {
    const info = cryptoInfo('TLS_CHACHA20_POLY1305_SHA256', secret32);
    expect(info.length).toBe(56);
    expect(fields(info)).toEqual({ version: TLS_1_3_VERSION, type: TLS_CIPHER_CHACHA20_POLY1305 });
    expect(hex(info.subarray(4, 16))).toBe(hex(hkdfExpandLabel('sha256', secret32, 'iv', 12)));
    expect(hex(info.subarray(16, 48))).toBe(hex(hkdfExpandLabel('sha256', secret32, 'key', 32)));
    expect(hex(info.subarray(48))).toBe('00'.repeat(8));
  });
});

describe('availability', () => {
  const listed = readFileSync('/proc/sys/net/ipv4/tcp_available_ulp', 'utf8').split(/\s+/).includes('tls');

  test('ktlsAvailable follows tcp_available_ulp', () => {
    expect(ktlsAvailable()).toBe(listed);
  });

  test('probeKtls (synchronous, a real setsockopt) agrees with the kernel, and says why when it cannot', () => {
    const probe = probeKtls();
    if (listed) expect(probe).toEqual({ available: true });
    else if (!probe.available) expect(probe.reason).toContain('tcp_available_ulp');
  });
});

describe('installTxKey refuses what kTLS cannot take', () => {
  let dir = '';
  let server: tls.Server;
  let port = 0;
  let ca = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 's3nd-ktls-host-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost',
    ], { stdio: 'ignore' });
    ca = readFileSync(join(dir, 'cert.pem'), 'utf8');
    // A TLS 1.2-only server: the handshake succeeds but there is no TLS 1.3 traffic secret.
    server = tls.createServer({
      cert: ca,
      key: readFileSync(join(dir, 'key.pem')),
      maxVersion: 'TLSv1.2',
    }, (socket) => socket.on('error', () => undefined /* the client hangs up; nothing to report */));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    port = typeof address === 'object' && address !== null ? address.port : 0;
  });

  afterAll(() => {
    server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a TLS 1.2 session is refused with NotTls13 before any setsockopt', async () => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', checkServerIdentity: () => undefined });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', resolve);
        socket.once('error', reject);
      });
      expect(socket.getProtocol()).toBe('TLSv1.2');
      const err = await installTxKey(socket).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KtlsError);
      expect((err as KtlsError).code).toBe('NotTls13');
      expect((err as KtlsError).message).toContain('TLSv1.2');
    } finally {
      socket.destroy();
    }
  });
});
