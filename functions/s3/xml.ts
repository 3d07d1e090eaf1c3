/**
 * S3's XML bodies through fast-xml-parser (never regexes): the results of Create/Complete
 * multipart, ListParts, ListMultipartUploads, ListObjectsV2 and the `<Error>` document, including
 * CompleteMultipartUpload's 200-with-Error.
 */
import { XMLParser } from 'fast-xml-parser';
import { isRetryableCode, isRetryableStatus, S3Error } from './errors.ts';

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  // Keys may begin or end with spaces: keep text exactly as sent.
  trimValues: false,
  ignoreDeclaration: true,
  processEntities: true,
  isArray: (name) => name === 'Part' || name === 'Upload' || name === 'Contents',
});

type XmlNode = Record<string, unknown>;

function parse(text: string, root: string): XmlNode | undefined {
  if (text.trim() === '') return undefined;
  let doc: XmlNode;
  try {
    doc = parser.parse(text) as XmlNode;
  } catch (cause) {
    throw new S3Error('MalformedXML', `S3 answered with XML that does not parse: ${String(cause)}`, {
      status: 502,
      cause,
    });
  }
  const node = doc[root];
  return typeof node === 'object' && node !== null ? (node as XmlNode) : undefined;
}

function text(node: XmlNode | undefined, name: string): string | undefined {
  const value = node?.[name];
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
}

function list(node: XmlNode | undefined, name: string): XmlNode[] {
  const value = node?.[name];
  return Array.isArray(value) ? (value as XmlNode[]) : [];
}

/**
 * The typed error for a failed S3 response. `status` is S3's; the error is retryable when S3's code
 * or status says a later attempt can pass.
 */
export function parseError(status: number, body: string, requestId?: string | null): S3Error {
  let error: XmlNode | undefined;
  try {
    error = parse(body, 'Error');
  } catch {
    // A garbled error body still leaves the status to go on; the code below falls back to it.
    error = undefined;
  }
  const code = text(error, 'Code') ?? statusCode(status);
  const message = text(error, 'Message') || `S3 answered HTTP ${status}${code === statusCode(status) ? '' : ` ${code}`}`;
  const id = text(error, 'RequestId') ?? requestId ?? undefined;
  return new S3Error(code, message, {
    status,
    retryable: isRetryableStatus(status) || isRetryableCode(code),
    ...(id === undefined ? {} : { requestId: id }),
  });
}

/** S3 sends no body on HEAD errors: name the status. */
function statusCode(status: number): string {
  switch (status) {
    case 400:
      return 'BadRequest';
    case 403:
      return 'AccessDenied';
    case 404:
      return 'NotFound';
    case 503:
      return 'SlowDown';
    default:
      return `Http${status}`;
  }
}

export function parseCreateResult(body: string): string {
  const uploadId = text(parse(body, 'InitiateMultipartUploadResult'), 'UploadId');
  if (!uploadId) {
    throw new S3Error('MalformedXML', 'CreateMultipartUpload answered without an UploadId', { status: 502 });
  }
  return uploadId;
}

export interface CompletedPart {
  partNumber: number;
  etag: string;
}

const xmlEscapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => xmlEscapes[c]!);
}

/** The `<CompleteMultipartUpload>` body, parts in ascending order as S3 requires. */
export function completeMultipartUploadXml(parts: readonly CompletedPart[]): string {
  const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber);
  let xml = '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">';
  for (const p of sorted) {
    const etag = p.etag.startsWith('"') ? p.etag : `"${p.etag}"`;
    xml += `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${escapeXml(etag)}</ETag></Part>`;
  }
  return `${xml}</CompleteMultipartUpload>`;
}

/**
 * CompleteMultipartUpload's answer. S3 may answer 200 and put an `<Error>` in the body (the
 * connection was kept alive while it assembled the object): that is an error, usually retryable.
 * `etag` is "" when the store sent none (Ceph): the caller verifies with HEAD.
 */
export function parseCompleteResult(status: number, body: string, requestId?: string | null): { etag: string } {
  if (status < 200 || status > 299) throw parseError(status, body, requestId);
  if (parse(body, 'Error') !== undefined) {
    const error = parseError(status, body, requestId);
    throw new S3Error(error.code, `CompleteMultipartUpload failed after HTTP 200: ${error.message}`, {
      status: 502,
      retryable: error.retryable || isRetryableCode(error.code),
      ...(error.requestId === undefined ? {} : { requestId: error.requestId }),
    });
  }
  return { etag: text(parse(body, 'CompleteMultipartUploadResult'), 'ETag') ?? '' };
}

export interface ListedPart {
  partNumber: number;
  etag: string;
  size: number;
}

export function parseListParts(body: string): { parts: ListedPart[]; nextMarker?: string } {
  const result = parse(body, 'ListPartsResult');
  const parts = list(result, 'Part').map((p) => ({
    partNumber: Number(text(p, 'PartNumber')),
    etag: text(p, 'ETag') ?? '',
    size: Number(text(p, 'Size')),
  }));
  const next = text(result, 'IsTruncated') === 'true' ? text(result, 'NextPartNumberMarker') : undefined;
  return next === undefined ? { parts } : { parts, nextMarker: next };
}

export interface ListedUpload {
  key: string;
  uploadId: string;
  initiated: Date;
}

export function parseListMultipartUploads(body: string): {
  uploads: ListedUpload[];
  next?: { keyMarker: string; uploadIdMarker: string };
} {
  const result = parse(body, 'ListMultipartUploadsResult');
  const uploads = list(result, 'Upload').map((u) => ({
    key: text(u, 'Key') ?? '',
    uploadId: text(u, 'UploadId') ?? '',
    initiated: new Date(text(u, 'Initiated') ?? 0),
  }));
  if (text(result, 'IsTruncated') !== 'true') return { uploads };
  return {
    uploads,
    next: { keyMarker: text(result, 'NextKeyMarker') ?? '', uploadIdMarker: text(result, 'NextUploadIdMarker') ?? '' },
  };
}

export interface ListedObject {
  key: string;
  size: number;
  etag: string;
}

export function parseListObjects(body: string): { objects: ListedObject[]; continuationToken?: string } {
  const result = parse(body, 'ListBucketResult');
  const objects = list(result, 'Contents').map((o) => ({
    key: text(o, 'Key') ?? '',
    size: Number(text(o, 'Size')),
    etag: text(o, 'ETag') ?? '',
  }));
  const token = text(result, 'IsTruncated') === 'true' ? text(result, 'NextContinuationToken') : undefined;
  return token === undefined ? { objects } : { objects, continuationToken: token };
}
