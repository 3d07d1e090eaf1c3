/**
 * The kTLS installer: after Bun's node:tls has done a TLS 1.3 handshake, hand the client's write key
 * to the kernel (TCP_ULP "tls" + SOL_TLS/TLS_TX) so sendfile(2) on the socket sends encrypted records.
 * RX stays in user space: the response is still read through the node:tls socket.
 *
 * After `installTxKey` resolves, user-space TLS must never write on the socket again (its records
 * would be wrapped a second time by the kernel): write with libc `send`/`sendfile` only, and finish
 * with `socket.destroy()`, not `end()` (which would send a user-space close_notify).
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type net from 'node:net';
import type tls from 'node:tls';
import { close, ErrnoError, IPPROTO_TCP, loopbackTcp, SOL_TLS, setsockopt, TCP_ULP } from './libc.ts';

/** linux/tls.h */
export const TLS_TX = 1;
export const TLS_1_3_VERSION = 0x0304;
export const TLS_CIPHER_AES_GCM_128 = 51;
export const TLS_CIPHER_AES_GCM_256 = 52;
export const TLS_CIPHER_CHACHA20_POLY1305 = 54;

export type KtlsCipher = 'TLS_AES_128_GCM_SHA256' | 'TLS_AES_256_GCM_SHA384' | 'TLS_CHACHA20_POLY1305_SHA256';

interface CipherSuite {
  type: number;
  hash: 'sha256' | 'sha384';
  keyLength: number;
  /** Bytes of the 12-byte TLS 1.3 write IV that go in `salt`; the rest go in `iv`. */
  saltLength: number;
}

const suites: Record<KtlsCipher, CipherSuite> = {
  TLS_AES_128_GCM_SHA256: { type: TLS_CIPHER_AES_GCM_128, hash: 'sha256', keyLength: 16, saltLength: 4 },
  TLS_AES_256_GCM_SHA384: { type: TLS_CIPHER_AES_GCM_256, hash: 'sha384', keyLength: 32, saltLength: 4 },
  TLS_CHACHA20_POLY1305_SHA256: {
    type: TLS_CIPHER_CHACHA20_POLY1305,
    hash: 'sha256',
    keyLength: 32,
    saltLength: 0,
  },
};

export const ktlsCiphers = Object.keys(suites) as KtlsCipher[];

/** Why kTLS cannot be used on a socket or on this machine; `code` is stable. */
export class KtlsError extends Error {
  override readonly name = 'KtlsError';
  readonly code: 'Unavailable' | 'NotTls13' | 'UnsupportedCipher' | 'NoSecret' | 'NoFd' | 'Install';
  constructor(code: KtlsError['code'], message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
  }
}

/**
 * HKDF-Expand-Label (RFC 8446 §7.1) with an empty context, for outputs up to one hash block (all
 * key/iv lengths here): T(1) = HMAC(secret, HkdfLabel || 0x01).
 */
export function hkdfExpandLabel(
  hash: 'sha256' | 'sha384',
  secret: Uint8Array,
  label: string,
  length: number,
): Uint8Array {
  const fullLabel = new TextEncoder().encode(`tls13 ${label}`);
  const info = new Uint8Array(2 + 1 + fullLabel.length + 1 + 1);
  info[0] = length >> 8;
  info[1] = length & 0xff;
  info[2] = fullLabel.length;
  info.set(fullLabel, 3);
  info[3 + fullLabel.length] = 0; // empty context
  info[4 + fullLabel.length] = 1; // HKDF-Expand block counter
  const block = createHmac(hash, secret).update(info).digest();
  if (length > block.length) throw new RangeError(`hkdfExpandLabel: ${length} bytes exceed one ${hash} block`);
  return new Uint8Array(block.subarray(0, length));
}

/**
 * struct tls12_crypto_info_{aes_gcm_128,aes_gcm_256,chacha20_poly1305} for TLS 1.3 with record
 * sequence 0: {u16 version, u16 cipher_type, iv[8|8|12], key[16|32|32], salt[4|4|0], rec_seq[8]}.
 */
export function cryptoInfo(cipher: KtlsCipher, trafficSecret: Uint8Array): Uint8Array {
  const suite = suites[cipher];
  const key = hkdfExpandLabel(suite.hash, trafficSecret, 'key', suite.keyLength);
  const writeIv = hkdfExpandLabel(suite.hash, trafficSecret, 'iv', 12);
  const salt = writeIv.subarray(0, suite.saltLength);
  const iv = writeIv.subarray(suite.saltLength);
  const out = new Uint8Array(4 + iv.length + key.length + salt.length + 8);
  const view = new DataView(out.buffer);
  view.setUint16(0, TLS_1_3_VERSION, true);
  view.setUint16(2, suite.type, true);
  let at = 4;
  out.set(iv, at);
  at += iv.length;
  out.set(key, at);
  at += key.length;
  out.set(salt, at);
  // rec_seq stays zero: no application data record has been written by user space yet.
  return out;
}

const secrets = new WeakMap<tls.TLSSocket, Promise<Uint8Array>>();

/**
 * Starts collecting CLIENT_TRAFFIC_SECRET_0 from the socket's `keylog` event. Call it right after
 * `tls.connect` (installTxKey calls it too; Bun emits keylog after secureConnect, Node before).
 */
export function trackKeylog(socket: tls.TLSSocket, timeoutMs = 10_000): Promise<Uint8Array> {
  const known = secrets.get(socket);
  if (known) return known;
  const secret = new Promise<Uint8Array>((resolve, reject) => {
    const timer = setTimeout(() => {
      done();
      reject(new KtlsError('NoSecret', `no CLIENT_TRAFFIC_SECRET_0 keylog line within ${timeoutMs} ms`));
    }, timeoutMs);
    const onKeylog = (line: Buffer) => {
      const [label, , hex] = line.toString('latin1').trim().split(' ');
      if (label !== 'CLIENT_TRAFFIC_SECRET_0' || hex === undefined) return;
      done();
      resolve(new Uint8Array(Buffer.from(hex, 'hex')));
    };
    const onClose = () => {
      done();
      reject(new KtlsError('NoSecret', 'socket closed before CLIENT_TRAFFIC_SECRET_0 was logged'));
    };
    const done = () => {
      clearTimeout(timer);
      socket.off('keylog', onKeylog);
      socket.off('close', onClose);
    };
    socket.on('keylog', onKeylog);
    socket.once('close', onClose);
  });
  // A rejection nobody awaits (the socket closed before install) must not crash the process.
  secret.catch(() => undefined);
  secrets.set(socket, secret);
  return secret;
}

/** The socket's file descriptor (Bun and Node keep it on the handle). */
export function socketFd(socket: net.Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new KtlsError('NoFd', 'socket has no file descriptor');
  return fd;
}

/**
 * Installs the client's TLS 1.3 write key in the kernel. The socket must have completed its
 * handshake (secureConnect) and must not have written application data in user space.
 */
export async function installTxKey(socket: tls.TLSSocket): Promise<{ cipher: KtlsCipher; fd: number }> {
  const secretPromise = trackKeylog(socket);
  if (socket.getProtocol() !== 'TLSv1.3') {
    throw new KtlsError('NotTls13', `kTLS needs TLS 1.3, the handshake gave ${socket.getProtocol() ?? 'none'}`);
  }
  const name = socket.getCipher().standardName ?? socket.getCipher().name;
  if (!(name in suites)) throw new KtlsError('UnsupportedCipher', `kTLS cannot take cipher ${name}`);
  const cipher = name as KtlsCipher;
  const secret = await secretPromise;
  const fd = socketFd(socket);
  const info = cryptoInfo(cipher, secret);
  try {
    setsockopt(fd, IPPROTO_TCP, TCP_ULP, new TextEncoder().encode('tls'));
    setsockopt(fd, SOL_TLS, TLS_TX, info);
  } catch (err) {
    const reason = err instanceof ErrnoError ? err.code : String(err);
    throw new KtlsError('Install', `kTLS install failed: ${reason}`, err);
  } finally {
    info.fill(0);
  }
  return { cipher, fd };
}

export interface KtlsProbe {
  available: boolean;
  /** Why not, when unavailable. */
  reason?: string;
}

/** Cheap check: the tls ULP is registered (tls.ko loaded or built in). */
export function ktlsAvailable(): boolean {
  return ktlsUlpListed().available;
}

function ktlsUlpListed(): KtlsProbe {
  let ulps: string;
  try {
    ulps = readFileSync('/proc/sys/net/ipv4/tcp_available_ulp', 'utf8');
  } catch (err) {
    return { available: false, reason: `cannot read /proc/sys/net/ipv4/tcp_available_ulp: ${String(err)}` };
  }
  if (ulps.split(/\s+/).includes('tls')) return { available: true };
  return {
    available: false,
    reason: `the kernel's tcp_available_ulp is "${ulps.trim()}" without tls (load tls.ko: modprobe tls)`,
  };
}

/**
 * The real probe: setsockopt(TCP_ULP, "tls") on an ESTABLISHED loopback TCP socket (synchronous, no
 * event loop involved). A privileged process may autoload tls.ko this way even when
 * tcp_available_ulp does not list it yet.
 */
export function probeKtls(): KtlsProbe {
  let pair: { listener: number; client: number } | undefined;
  try {
    pair = loopbackTcp();
    setsockopt(pair.client, IPPROTO_TCP, TCP_ULP, new TextEncoder().encode('tls'));
    return { available: true };
  } catch (err) {
    const listed = ktlsUlpListed();
    const why = err instanceof ErrnoError ? `${err.syscall} failed with ${err.code}` : String(err);
    return { available: false, reason: `setsockopt(TCP_ULP, "tls") probe: ${why}; ${listed.reason ?? 'tls is listed'}` };
  } finally {
    if (pair) {
      close(pair.client);
      close(pair.listener);
    }
  }
}
