import { describe, expect, test } from 'vitest';
import { S3Error } from './errors.ts';
import {
  completeMultipartUploadXml,
  parseCompleteResult,
  parseCreateResult,
  parseError,
  parseListMultipartUploads,
  parseListParts,
} from './xml.ts';

describe('S3 XML', () => {
  test('CreateMultipartUpload result', () => {
    const body = `<?xml version="1.0" encoding="UTF-8"?>
<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket><Key>k</Key><UploadId>2~abc.def</UploadId></InitiateMultipartUploadResult>`;
    expect(parseCreateResult(body)).toBe('2~abc.def');
    expect(() => parseCreateResult('<InitiateMultipartUploadResult/>')).toThrow(/without an UploadId/);
  });

  test('complete body lists parts in ascending order with quoted, escaped ETags', () => {
    const xml = completeMultipartUploadXml([
      { partNumber: 2, etag: '"b"' },
      { partNumber: 10, etag: 'c' },
      { partNumber: 1, etag: '"a&<"' },
    ]);
    expect(xml).toBe(
      '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
        '<Part><PartNumber>1</PartNumber><ETag>&quot;a&amp;&lt;&quot;</ETag></Part>' +
        '<Part><PartNumber>2</PartNumber><ETag>&quot;b&quot;</ETag></Part>' +
        '<Part><PartNumber>10</PartNumber><ETag>&quot;c&quot;</ETag></Part></CompleteMultipartUpload>',
    );
  });

  test('complete: ETag, empty ETag (Ceph), and 200-with-Error', () => {
    expect(
      parseCompleteResult(200, '<CompleteMultipartUploadResult><ETag>"abc-2"</ETag></CompleteMultipartUploadResult>'),
    ).toEqual({ etag: '"abc-2"' });
    expect(parseCompleteResult(200, '<CompleteMultipartUploadResult><ETag></ETag></CompleteMultipartUploadResult>')).toEqual({
      etag: '',
    });
    let error: unknown;
    try {
      parseCompleteResult(
        200,
        '<?xml version="1.0"?>\n<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message><RequestId>r1</RequestId></Error>',
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(S3Error);
    expect(error).toMatchObject({ code: 'InternalError', retryable: true, requestId: 'r1' });
    expect((error as Error).message).toMatch(/after HTTP 200: We encountered an internal error/);
  });

  test('errors carry code, status, retryable', () => {
    const notFound = parseError(404, '<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>');
    expect(notFound).toMatchObject({ code: 'NoSuchBucket', status: 404, retryable: false });
    expect(parseError(503, '<Error><Code>SlowDown</Code></Error>')).toMatchObject({ code: 'SlowDown', retryable: true });
    expect(parseError(500, '')).toMatchObject({ code: 'Http500', retryable: true, message: 'S3 answered HTTP 500' });
    expect(parseError(403, '')).toMatchObject({ code: 'AccessDenied', retryable: false });
    expect(parseError(400, '<Error><Code>RequestTimeout</Code></Error>').retryable).toBe(true);
    expect(parseError(502, 'not xml <<<').code).toBe('Http502');
  });

  test('list parts and uploads, with pagination markers; keys keep their spaces', () => {
    const parts = parseListParts(
      '<ListPartsResult><IsTruncated>true</IsTruncated><NextPartNumberMarker>1</NextPartNumberMarker><Part><PartNumber>1</PartNumber><ETag>"e1"</ETag><Size>5242880</Size></Part></ListPartsResult>',
    );
    expect(parts).toEqual({ parts: [{ partNumber: 1, etag: '"e1"', size: 5242880 }], nextMarker: '1' });
    const uploads = parseListMultipartUploads(
      '<ListMultipartUploadsResult><IsTruncated>false</IsTruncated><Upload><Key> a &amp; b </Key><UploadId>u1</UploadId><Initiated>2026-01-02T03:04:05.000Z</Initiated></Upload><Upload><Key>c</Key><UploadId>u2</UploadId><Initiated>2026-01-02T03:04:06.000Z</Initiated></Upload></ListMultipartUploadsResult>',
    );
    expect(uploads.uploads).toEqual([
      { key: ' a & b ', uploadId: 'u1', initiated: new Date('2026-01-02T03:04:05.000Z') },
      { key: 'c', uploadId: 'u2', initiated: new Date('2026-01-02T03:04:06.000Z') },
    ]);
    expect(uploads.next).toBeUndefined();
  });
});
