/**
 * The contract between the transfer engine (worker/engine.ts, queue, pool, transports) and its
 * front ends (daemon, batch endpoint, CLI). Report fields follow deliverator v2's swagger `task`
 * (snake_case on purpose: they are serialised as is), plus `transport`.
 */
export type TransportName = 'ktls' | 'sendfile' | 'fetch';

export interface UploadRequest {
  /** Absolute path of the file to upload (already checked against S3ND_ALLOWED_ROOTS by the daemon). */
  file: string;
  /** `s3://bucket/key` as the client gave it. */
  uri: string;
  bucket: string;
  key: string;
  /** Free text for logs. */
  slug?: string | undefined;
  /** Task id (uuid); the engine makes one when absent. */
  id?: string | undefined;
  contentType?: string | undefined;
}

export interface TaskReport {
  id: string;
  uri: string;
  file: string;
  slug?: string | undefined;
  /** The most tries any part needed. */
  upload_attempts: number;
  upload_parts: number;
  upload_size_bytes: number;
  upload_queued_seconds: number;
  upload_transfer_seconds: number;
  upload_total_seconds: number;
  /** Human friendly, Go duration style: `21.916462ms`, `1.5s`. */
  upload_total: string;
  /** Human friendly: `42Mbit/s`. */
  upload_rate: string;
  upload_rate_bytes: number;
  transport: TransportName;
}

/**
 * Why an upload failed, mapped to deliverator's status codes in one place (the daemon) and to
 * exit codes in the CLI: 400 bad request or stat failure, 404 NoSuchBucket, 408 queue timeout,
 * 504 attempt timeout, 502 other S3 error, 500 unknown.
 */
export type UploadErrorCode =
  | 'BadRequest'
  | 'NoSuchBucket'
  | 'QueueTimeout'
  | 'AttemptTimeout'
  | 'S3Error'
  | 'FileChanged'
  | 'Aborted'
  | 'Unknown';

const statusByCode: Record<UploadErrorCode, number> = {
  BadRequest: 400,
  NoSuchBucket: 404,
  QueueTimeout: 408,
  AttemptTimeout: 504,
  S3Error: 502,
  FileChanged: 500,
  Aborted: 500,
  Unknown: 500,
};

export class UploadError extends Error {
  override readonly name = 'UploadError';
  readonly code: UploadErrorCode;
  readonly status: number;
  /** What is known of the task when it failed (at least id, uri, file, slug). */
  readonly report: Partial<TaskReport>;

  constructor(code: UploadErrorCode, message: string, report: Partial<TaskReport>, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.status = statusByCode[code];
    this.report = report;
  }
}

/** Hooks the daemon uses for metrics and logs; every one optional. */
export interface EngineObserver {
  queued?(waitSeconds: number): void;
  retry?(cause: string): void;
  partStarted?(): void;
  partFinished?(bytes: number, seconds: number): void;
  taskFinished?(report: Partial<TaskReport>, error?: UploadError): void;
  tcpInfo?(info: { rttMicros: number; retransmits: number }): void;
}

export interface Engine {
  /** The transport the startup probe picked (a task may still fall back and says so in its report). */
  readonly transport: TransportName;
  /** Queues, uploads and completes one file; rejects with UploadError (multipart upload aborted). */
  upload(request: UploadRequest, options?: { signal?: AbortSignal }): Promise<TaskReport>;
  /** Parts in flight and files waiting, for /metrics and shutdown. */
  stats(): { inFlightParts: number; activeFiles: number; queuedFiles: number };
  /** Stops admitting; lets running uploads finish until `deadlineMs`, then aborts them (and their multipart uploads). */
  close(deadlineMs: number): Promise<void>;
}
