/**
 * The `sendfile` transport (plain HTTP) and, with `ktls` set, the `ktls` transport (HTTPS): keep-alive
 * connections per origin; the request head goes out with send(2) (MSG_MORE), the body with
 * sendfile(2) from the pump's worker thread, and the response is read on the main thread from the
 * socket's data events. In kTLS mode node:tls does the TLS 1.3 handshake, ffi/ktls.ts installs the
 * TX key, and the kernel encrypts what send/sendfile write; responses still arrive through node:tls.
 * The pump works on a dup of the socket's descriptor, so Bun closing its socket (peer reset) never
 * leaves it a stale fd number.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { S3Error } from '../../functions/s3/errors.ts';
import { parseError } from '../../functions/s3/xml.ts';
import {
  close as closeFd,
  dup,
  EAGAIN_RESULT,
  ErrnoError,
  MSG_MORE,
  MSG_NOSIGNAL,
  SO_SNDBUF,
  SOL_SOCKET,
  send,
  setNonBlocking,
  setPacingRate,
  setsockopt,
  tcpInfo,
} from '../../ffi/libc.ts';
import { installTxKey, socketFd, trackKeylog } from '../../ffi/ktls.ts';
import { Pump } from '../../ffi/pump.ts';
import { networkError } from './fetch.ts';
import { type HttpResponse, ResponseParser } from './http1.ts';
import type { FileRef, PutOptions, PutResult, Transport } from './types.ts';

export interface SendfileOptions {
  /** SO_SNDBUF in bytes (the kernel doubles it); unset leaves the kernel's autotuning. */
  writeBufferSize?: number | undefined;
  /** Bytes/s per connection via SO_MAX_PACING_RATE; unset = no limit. */
  pacingRate?: number | undefined;
  /** Idle connections kept per origin. */
  maxIdlePerOrigin?: number | undefined;
  /** A shared pump; the transport starts (and closes) its own otherwise. */
  pump?: Pump | undefined;
  /** kTLS mode (HTTPS): `ca` replaces the trusted CAs (default: Bun's roots plus NODE_EXTRA_CA_CERTS). */
  ktls?: { ca?: string | string[] | undefined } | undefined;
  /** Called after each part with the connection's smoothed RTT and the retransmits during that part. */
  onTcpInfo?: ((info: { rttMicros: number; retransmits: number }) => void) | undefined;
}

interface Connection {
  origin: string;
  socket: net.Socket;
  /** dup of the socket's fd, owned by us. */
  fd: number;
  dead: boolean;
  /** tcpi_total_retrans when the last part ended. */
  retrans: number;
  onData: ((data: Buffer) => void) | undefined;
  onEnd: ((error?: Error) => void) | undefined;
}

export class SendfileTransport implements Transport {
  readonly name: 'sendfile' | 'ktls';
  private readonly pump: Pump;
  private readonly ownPump: boolean;
  private readonly idle = new Map<string, Connection[]>();
  private readonly all = new Set<Connection>();
  private closed = false;

  constructor(private readonly options: SendfileOptions = {}) {
    this.name = options.ktls ? 'ktls' : 'sendfile';
    this.ownPump = options.pump === undefined;
    this.pump = options.pump ?? new Pump();
  }

  async warm(origin: string, connections: number): Promise<void> {
    const list = this.idle.get(origin) ?? [];
    const missing = Math.max(0, connections - list.length);
    const opened = await Promise.allSettled(Array.from({ length: missing }, () => this.connect(origin)));
    for (const r of opened) if (r.status === 'fulfilled') this.release(r.value);
  }

  async put(url: string, file: FileRef, offset: number, size: number, options: PutOptions): Promise<PutResult> {
    if (this.closed) throw new S3Error('Aborted', 'transport closed', { status: 499, retryable: false });
    const target = new URL(url);
    const scheme = this.options.ktls ? 'https:' : 'http:';
    if (target.protocol !== scheme) {
      throw new S3Error('InvalidTransport', `the ${this.name} transport speaks ${scheme.slice(0, -1)} only, not ${target.protocol.slice(0, -1)}`, {
        status: 400,
        retryable: false,
      });
    }
    const signal = options.signal;
    if (signal.aborted) throw networkError(signal.reason, signal);
    let conn: Connection;
    try {
      conn = (!options.fresh && this.takeIdle(target.origin)) || (await this.connect(target.origin, signal));
    } catch (cause) {
      throw networkError(cause, signal);
    }
    let head = `PUT ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nContent-Length: ${size}\r\n`;
    for (const [k, v] of Object.entries(options.headers ?? {})) head += `${k}: ${v}\r\n`;
    head += 'Connection: keep-alive\r\n\r\n';

    const parser = new ResponseParser();
    let settleResponse!: (r: HttpResponse) => void;
    let failResponse!: (e: unknown) => void;
    const response = new Promise<HttpResponse>((resolve, reject) => {
      settleResponse = resolve;
      failResponse = reject;
    });
    conn.onData = (data) => {
      try {
        const r = parser.push(data);
        if (r) settleResponse(r);
      } catch (e) {
        failResponse(e);
      }
    };
    conn.onEnd = (error) => {
      const r = parser.end();
      if (r) settleResponse(r);
      else failResponse(error ?? new Error('connection closed before the response'));
    };
    const onAbort = () => failResponse(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });

    let bodyDone = false;
    let bodyError: unknown;
    const body = (async () => {
      const bytes = new TextEncoder().encode(head);
      const n = send(conn.fd, bytes, MSG_NOSIGNAL | (size > 0 ? MSG_MORE : 0));
      if (n !== bytes.length) {
        // An idle keep-alive socket has an empty send buffer: a short head means trouble.
        throw new ErrnoError(n === EAGAIN_RESULT ? 11 : 5, 'send');
      }
      await this.pump.sendfile(conn.fd, file.fd, offset, size, signal);
      bodyDone = true;
    })().catch((e: unknown) => {
      bodyError = e;
    });

    let result: HttpResponse | undefined;
    let responseError: unknown;
    try {
      // A server may answer (e.g. 403) before the body is all sent: the response wins.
      result = await Promise.race([response, body.then(() => (bodyError === undefined ? response : Promise.reject(bodyError)))]);
    } catch (e) {
      responseError = e;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    if (!bodyDone) {
      // Stop the pump on this socket before the descriptor can go away.
      conn.dead = true;
      await body;
    }
    conn.onData = undefined;
    conn.onEnd = undefined;
    if (!result) {
      this.discard(conn);
      throw networkError(responseError ?? bodyError, signal);
    }
    if (this.options.onTcpInfo && bodyDone) {
      const info = tcpInfo(conn.fd);
      this.options.onTcpInfo({ rttMicros: info.rttMicros, retransmits: info.totalRetrans - conn.retrans });
      conn.retrans = info.totalRetrans;
    }
    if (result.close || !bodyDone) this.discard(conn);
    else this.release(conn);
    if (result.status < 200 || result.status > 299) {
      throw parseError(result.status, result.body, result.headers.get('x-amz-request-id') ?? null);
    }
    return { etag: result.headers.get('etag') ?? '' };
  }

  close(): void {
    this.closed = true;
    for (const conn of this.all) this.discard(conn);
    this.idle.clear();
    if (this.ownPump) void this.pump.close();
  }

  stats(): { connections: number; idle: number } {
    let idle = 0;
    for (const list of this.idle.values()) idle += list.length;
    return { connections: this.all.size, idle };
  }

  private takeIdle(origin: string): Connection | undefined {
    const list = this.idle.get(origin);
    while (list && list.length > 0) {
      const conn = list.pop() as Connection;
      if (!conn.dead && !conn.socket.destroyed) return conn;
      this.discard(conn);
    }
    return undefined;
  }

  private release(conn: Connection): void {
    const list = this.idle.get(conn.origin) ?? [];
    if (this.closed || conn.dead || conn.socket.destroyed || list.length >= (this.options.maxIdlePerOrigin ?? 64)) {
      this.discard(conn);
      return;
    }
    list.push(conn);
    this.idle.set(conn.origin, list);
  }

  private discard(conn: Connection): void {
    if (!this.all.delete(conn)) return;
    conn.dead = true;
    conn.socket.destroy();
    try {
      closeFd(conn.fd);
    } catch {
      // already closed
    }
  }

  private connect(origin: string, signal?: AbortSignal): Promise<Connection> {
    const { hostname, port } = new URL(origin);
    const host = hostname.replace(/^\[|\]$/g, '');
    const ktls = this.options.ktls;
    return new Promise<Connection>((resolve, reject) => {
      const socket = ktls
        ? tls.connect({
            host,
            port: Number(port || 443),
            // Bun's node:tls refuses an IP address as servername.
            ...(net.isIP(host) ? {} : { servername: host }),
            ALPNProtocols: ['http/1.1'],
            ...(ktls.ca === undefined ? {} : { ca: ktls.ca }),
          })
        : net.connect({ host, port: Number(port || 80), noDelay: true });
      if (ktls) trackKeylog(socket as tls.TLSSocket);
      const fail = (error: unknown) => {
        socket.destroy();
        reject(error);
      };
      const onAbort = () => fail(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('error', fail);
      socket.once(ktls ? 'secureConnect' : 'connect', async () => {
        try {
          // Until the kernel holds the key nothing may be written; afterwards user-space TLS never writes.
          const raw = ktls ? (await installTxKey(socket as tls.TLSSocket)).fd : socketFd(socket);
          signal?.removeEventListener('abort', onAbort);
          socket.off('error', fail);
          socket.setNoDelay(true);
          const fd = dup(raw);
          setNonBlocking(fd);
          if (this.options.writeBufferSize) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, this.options.writeBufferSize);
          if (this.options.pacingRate) setPacingRate(fd, this.options.pacingRate);
          const conn: Connection = { origin, socket, fd, dead: false, retrans: 0, onData: undefined, onEnd: undefined };
          socket.on('data', (data: Buffer) => {
            if (conn.onData) conn.onData(data);
            else this.discard(conn); // bytes nobody asked for: the connection is unusable
          });
          socket.on('error', (error: Error) => {
            conn.dead = true;
            conn.onEnd?.(error);
          });
          socket.on('close', () => {
            conn.dead = true;
            conn.onEnd?.();
            if (!conn.onEnd) this.discard(conn);
          });
          this.all.add(conn);
          resolve(conn);
        } catch (e) {
          fail(e);
        }
      });
    });
  }
}
