/**
 * The libc surface s3nd needs, through bun:ffi (dlopen of libc.so.6), behind typed wrappers: no raw
 * pointers leave ffi/. errno is read with `__errno_location` right after each call, in the same thread.
 * Would-block results come back as `EAGAIN_RESULT` (-1 never escapes); other failures throw ErrnoError.
 */
import { dlopen, FFIType, ptr, read } from 'bun:ffi';

const lib = dlopen('libc.so.6', {
  sendfile: { args: [FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  send: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
  write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  dup: { args: [FFIType.i32], returns: FFIType.i32 },
  poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  eventfd: { args: [FFIType.u32, FFIType.i32], returns: FFIType.i32 },
  fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  setsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  getsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  socketpair: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  listen: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  connect: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  getsockname: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  __errno_location: { args: [], returns: FFIType.ptr },
  strerror: { args: [FFIType.i32], returns: FFIType.cstring },
});
const c = lib.symbols;

// ---- constants (Linux x86_64 / aarch64 share these) ----
export const EAGAIN = 11;
export const EINTR = 4;
export const EBADF = 9;
export const EPIPE = 32;
export const ECONNRESET = 104;
export const ENOTCONN = 107;
export const EINVAL = 22;

export const SOL_SOCKET = 1;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_ERROR = 4;
export const SO_MAX_PACING_RATE = 47;
export const IPPROTO_TCP = 6;
export const TCP_NODELAY = 1;
export const TCP_INFO = 11;
export const TCP_ULP = 31;
export const SOL_TLS = 282;

export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_MORE = 0x8000;

export const POLLIN = 0x001;
export const POLLOUT = 0x004;
export const POLLERR = 0x008;
export const POLLHUP = 0x010;
export const POLLNVAL = 0x020;

export const F_GETFL = 3;
export const F_SETFL = 4;
export const O_NONBLOCK = 0o4000;
export const EFD_NONBLOCK = 0o4000;
export const EFD_CLOEXEC = 0o2000000;
export const AF_UNIX = 1;
export const AF_INET = 2;
export const SOCK_STREAM = 1;

/** Returned by sendfile/send/write/read when the call would block. */
export const EAGAIN_RESULT = -1;

const codes: Record<number, string> = {
  [EAGAIN]: 'EAGAIN',
  [EINTR]: 'EINTR',
  [EBADF]: 'EBADF',
  [EPIPE]: 'EPIPE',
  [ECONNRESET]: 'ECONNRESET',
  [ENOTCONN]: 'ENOTCONN',
  [EINVAL]: 'EINVAL',
  2: 'ENOENT',
  12: 'ENOMEM',
  13: 'EACCES',
  14: 'EFAULT',
  24: 'EMFILE',
  28: 'ENOSPC',
  29: 'ESPIPE',
  88: 'ENOTSOCK',
  92: 'ENOPROTOOPT',
  95: 'EOPNOTSUPP',
  110: 'ETIMEDOUT',
  111: 'ECONNREFUSED',
};

export class ErrnoError extends Error {
  override readonly name = 'ErrnoError';
  readonly errno: number;
  readonly code: string;
  readonly syscall: string;
  constructor(errno: number, syscall: string) {
    super(`${syscall}: ${codes[errno] ?? `errno ${errno}`} (${strerror(errno)})`);
    this.errno = errno;
    this.code = codes[errno] ?? `E${errno}`;
    this.syscall = syscall;
  }
}

/** errno of the last failed call in this thread; call right after the failing call. */
export function errno(): number {
  const p = c.__errno_location();
  return p === null ? 0 : read.i32(p, 0);
}

export function strerror(n: number): string {
  return String(c.strerror(n));
}

function check(result: number, syscall: string): number {
  if (result >= 0) return result;
  throw new ErrnoError(errno(), syscall);
}

/** For byte-count calls: n ≥ 0, EAGAIN → EAGAIN_RESULT, EINTR → 0, else throws. */
function bytes(result: number | bigint, syscall: string): number {
  const n = Number(result);
  if (n >= 0) return n;
  const e = errno();
  if (e === EAGAIN) return EAGAIN_RESULT;
  if (e === EINTR) return 0;
  throw new ErrnoError(e, syscall);
}

const offsetCell = new BigInt64Array(1);
const offsetPtr = ptr(offsetCell);

/**
 * sendfile(2) of `count` bytes of `inFd` at `offset` (any safe integer, past 4 GiB too) to `outFd`.
 * Returns bytes handed to the kernel (may be short), or EAGAIN_RESULT when the socket is full.
 */
export function sendfile(outFd: number, inFd: number, offset: number, count: number): number {
  offsetCell[0] = BigInt(offset);
  return bytes(c.sendfile(outFd, inFd, offsetPtr, count), 'sendfile');
}

/** send(2) of a buffer; flags default to MSG_NOSIGNAL. Returns bytes sent or EAGAIN_RESULT. */
export function send(fd: number, data: Uint8Array, flags = MSG_NOSIGNAL): number {
  if (data.byteLength === 0) return 0;
  return bytes(c.send(fd, ptr(data), data.byteLength, flags), 'send');
}

export function write(fd: number, data: Uint8Array): number {
  if (data.byteLength === 0) return 0;
  return bytes(c.write(fd, ptr(data), data.byteLength), 'write');
}

export function readInto(fd: number, buffer: Uint8Array): number {
  if (buffer.byteLength === 0) return 0;
  return bytes(c.read(fd, ptr(buffer), buffer.byteLength), 'read');
}

export function close(fd: number): void {
  check(c.close(fd), 'close');
}

/** dup(2): a second descriptor for the same open file/socket. */
export function dup(fd: number): number {
  return check(c.dup(fd), 'dup');
}

export function fcntl(fd: number, cmd: number, arg = 0): number {
  return check(c.fcntl(fd, cmd, arg), 'fcntl');
}

export function setNonBlocking(fd: number, on = true): void {
  const flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK);
}

export function eventfd(initval = 0, flags = EFD_NONBLOCK | EFD_CLOEXEC): number {
  return check(c.eventfd(initval, flags), 'eventfd');
}

const eventValue = new BigUint64Array(1);
const eventBytes = new Uint8Array(eventValue.buffer);

/** Adds 1 to an eventfd (wakes a poll() on it). */
export function eventfdSignal(fd: number): void {
  eventValue[0] = 1n;
  bytes(c.write(fd, ptr(eventBytes), 8), 'write');
}

/** Reads (and resets) an eventfd counter; 0 when it was not signalled. */
export function eventfdDrain(fd: number): number {
  const n = bytes(c.read(fd, ptr(eventBytes), 8), 'read');
  return n === 8 ? Number(eventValue[0]) : 0;
}

/** A pollfd array for `poll`: fds/events in, revents out. Reuse across calls. */
export class PollSet {
  private buffer: Int32Array;
  private view: DataView;
  length = 0;
  constructor(capacity = 64) {
    this.buffer = new Int32Array(capacity * 2);
    this.view = new DataView(this.buffer.buffer);
  }
  clear(): void {
    this.length = 0;
  }
  add(fd: number, events: number): number {
    if (this.length * 2 >= this.buffer.length) {
      const bigger = new Int32Array(this.buffer.length * 2);
      bigger.set(this.buffer);
      this.buffer = bigger;
      this.view = new DataView(bigger.buffer);
    }
    const i = this.length++;
    this.view.setInt32(i * 8, fd, true);
    this.view.setInt16(i * 8 + 4, events, true);
    this.view.setInt16(i * 8 + 6, 0, true);
    return i;
  }
  fd(i: number): number {
    return this.view.getInt32(i * 8, true);
  }
  revents(i: number): number {
    return this.view.getInt16(i * 8 + 6, true);
  }
  /** poll(2); returns the number of ready entries (0 on timeout or EINTR). */
  poll(timeoutMs: number): number {
    if (this.length === 0 && timeoutMs < 0) throw new Error('poll with no fds and no timeout would block forever');
    const r = c.poll(ptr(this.buffer), this.length, timeoutMs);
    if (r >= 0) return r;
    const e = errno();
    if (e === EINTR) return 0;
    throw new ErrnoError(e, 'poll');
  }
}

const optCell = new Int32Array(1);
const optLen = new Uint32Array(1);

export function setsockopt(fd: number, level: number, name: number, value: Uint8Array | number): void {
  if (typeof value === 'number') {
    optCell[0] = value;
    check(c.setsockopt(fd, level, name, ptr(optCell), 4), 'setsockopt');
  } else {
    check(c.setsockopt(fd, level, name, ptr(value), value.byteLength), 'setsockopt');
  }
}

/** getsockopt into a buffer of `size` bytes; returns the bytes the kernel filled. */
export function getsockopt(fd: number, level: number, name: number, size = 4): Uint8Array {
  const out = new Uint8Array(Math.max(size, 4));
  optLen[0] = size;
  check(c.getsockopt(fd, level, name, ptr(out), ptr(optLen)), 'getsockopt');
  return out.subarray(0, optLen[0]);
}

export function getsockoptInt(fd: number, level: number, name: number): number {
  const b = getsockopt(fd, level, name, 4);
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getInt32(0, true);
}

/** SO_MAX_PACING_RATE in bytes/s (u64 in newer kernels; a u32 value is accepted everywhere). */
export function setPacingRate(fd: number, bytesPerSecond: number): void {
  const v = new BigUint64Array([BigInt(Math.floor(bytesPerSecond))]);
  setsockopt(fd, SOL_SOCKET, SO_MAX_PACING_RATE, new Uint8Array(v.buffer));
}

export interface TcpInfo {
  state: number;
  retransmits: number;
  rttMicros: number;
  rttVarMicros: number;
  sndCwnd: number;
  totalRetrans: number;
  /** tcpi_bytes_acked when the kernel reports it, else undefined. */
  bytesAcked: number | undefined;
}

/** struct tcp_info (linux/tcp.h) at its stable offsets. */
export function tcpInfo(fd: number): TcpInfo {
  const b = getsockopt(fd, IPPROTO_TCP, TCP_INFO, 232);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    state: v.getUint8(0),
    retransmits: v.getUint8(2),
    rttMicros: v.getUint32(68, true),
    rttVarMicros: v.getUint32(72, true),
    sndCwnd: v.getUint32(80, true),
    totalRetrans: v.getUint32(100, true),
    bytesAcked: b.byteLength >= 128 ? Number(v.getBigUint64(120, true)) : undefined,
  };
}

/** A connected AF_UNIX stream pair (tests, local plumbing). */
export function socketpair(): [number, number] {
  const fds = new Int32Array(2);
  check(c.socketpair(AF_UNIX, SOCK_STREAM, 0, ptr(fds)), 'socketpair');
  return [fds[0] ?? -1, fds[1] ?? -1];
}

/**
 * A connected loopback TCP pair made with blocking calls (the kernel completes the handshake into
 * the listen queue, no accept needed): `client` is ESTABLISHED. For synchronous probes such as
 * setsockopt(TCP_ULP); close all three descriptors.
 */
export function loopbackTcp(): { listener: number; client: number } {
  // struct sockaddr_in {u16 family; u16 port (big endian); u32 addr; u8 zero[8]} for 127.0.0.1:0.
  const addr = new Uint8Array(16);
  const view = new DataView(addr.buffer);
  view.setUint16(0, AF_INET, true);
  addr.set([127, 0, 0, 1], 4);
  const listener = check(c.socket(AF_INET, SOCK_STREAM, 0), 'socket');
  let client = -1;
  try {
    check(c.bind(listener, ptr(addr), 16), 'bind');
    check(c.listen(listener, 1), 'listen');
    optLen[0] = 16;
    check(c.getsockname(listener, ptr(addr), ptr(optLen)), 'getsockname');
    client = check(c.socket(AF_INET, SOCK_STREAM, 0), 'socket');
    check(c.connect(client, ptr(addr), 16), 'connect');
    return { listener, client };
  } catch (error) {
    c.close(listener);
    if (client >= 0) c.close(client);
    throw error;
  }
}
