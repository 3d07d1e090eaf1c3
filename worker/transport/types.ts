/** What the engine needs from a transport: PUT bytes [offset, offset + size) of a file to a presigned URL. */
import type { TransportName } from '../types.ts';

export interface FileRef {
  path: string;
  /** An open descriptor (transports that sendfile from it). */
  fd: number;
}

export interface PutOptions {
  signal: AbortSignal;
  /** Extra request headers (e.g. content-md5 for single PUTs). */
  headers?: Record<string, string>;
  /** Use a new connection (retries). */
  fresh?: boolean;
}

export interface PutResult {
  etag: string;
  /** The transport that carried the bytes, when not the one asked (a fallback). */
  transport?: TransportName;
}

export interface Transport {
  readonly name: TransportName;
  /** Resolves with S3's ETag; rejects with S3Error (retryable where a new attempt can pass). */
  put(url: string, file: FileRef, offset: number, size: number, options: PutOptions): Promise<PutResult>;
  /** Opens up to `connections` keep-alive connections to `origin` before a burst. */
  warm?(origin: string, connections: number): Promise<void>;
  close(): void;
}
