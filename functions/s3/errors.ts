/**
 * One typed error family for everything that talks S3 (DESIGN.md "Errors").
 * `code` is stable (tests, API responses and CLI exit codes key on it); `status` is the HTTP
 * status the error maps to at the API edge; `retryable` tells the worker whether a fresh
 * attempt can succeed.
 */
export class S3Error extends Error {
  override readonly name = 'S3Error';
  readonly code: string;
  readonly status: number;
  readonly retryable: boolean;
  /** S3's RequestId when the store sent one. */
  readonly requestId: string | undefined;

  constructor(
    code: string,
    message: string,
    options: { status?: number; retryable?: boolean; cause?: unknown; requestId?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status ?? 500;
    this.retryable = options.retryable ?? false;
    this.requestId = options.requestId;
  }
}

/** Input the caller can fix: always a 400, never retryable. */
export class InvalidInput extends S3Error {
  constructor(code: string, message: string) {
    super(code, message, { status: 400 });
  }
}

/** S3 error codes that a later attempt may get past. */
const retryableCodes = new Set([
  'SlowDown',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'InternalError',
  'ServiceUnavailable',
  'OperationAborted',
]);

export function isRetryableStatus(status: number): boolean {
  return status === 500 || status === 502 || status === 503 || status === 504 || status === 429;
}

export function isRetryableCode(code: string): boolean {
  return retryableCodes.has(code);
}
