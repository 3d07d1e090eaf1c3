/** A minimal HTTP/1.1 response reader for the sendfile transport: status, headers, body (length or chunked). */

export interface HttpResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
  /** The server asked to close (or the framing leaves no other choice). */
  close: boolean;
}

const CRLF = '\r\n';

export class ResponseParser {
  private buffer = Buffer.alloc(0);
  private head: { status: number; headers: Map<string, string> } | undefined;
  private bodyChunks: Buffer[] = [];

  /** Feeds bytes; returns the response once complete (extra bytes are an error: no pipelining). */
  push(data: Uint8Array): HttpResponse | undefined {
    this.buffer = this.buffer.length === 0 ? Buffer.from(data) : Buffer.concat([this.buffer, data]);
    for (;;) {
      if (!this.head) {
        const end = this.buffer.indexOf('\r\n\r\n');
        if (end < 0) {
          if (this.buffer.length > 64 * 1024) throw new Error('HTTP response head too large');
          return undefined;
        }
        const lines = this.buffer.subarray(0, end).toString('latin1').split(CRLF);
        this.buffer = this.buffer.subarray(end + 4);
        const match = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
        if (!match) throw new Error(`bad HTTP status line: ${JSON.stringify(lines[0])}`);
        const headers = new Map<string, string>();
        for (const line of lines.slice(1)) {
          const i = line.indexOf(':');
          if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
        }
        const status = Number(match[1]);
        // 1xx (100 Continue) heads carry no body: skip them.
        if (status >= 100 && status < 200) continue;
        this.head = { status, headers };
      }
      return this.body();
    }
  }

  private body(): HttpResponse | undefined {
    const head = this.head;
    if (!head) return undefined;
    const { headers, status } = head;
    const close = (headers.get('connection') ?? '').toLowerCase() === 'close';
    const te = (headers.get('transfer-encoding') ?? '').toLowerCase();
    if (te.includes('chunked')) {
      for (;;) {
        const eol = this.buffer.indexOf(CRLF);
        if (eol < 0) return undefined;
        const size = Number.parseInt(this.buffer.subarray(0, eol).toString('latin1'), 16);
        if (!Number.isFinite(size)) throw new Error('bad chunk size');
        if (size === 0) {
          // Trailers end with an empty line.
          const end = this.buffer.indexOf('\r\n\r\n', Math.max(0, eol - 2));
          if (end < 0) return undefined;
          return this.done(status, headers, close);
        }
        if (this.buffer.length < eol + 2 + size + 2) return undefined;
        this.bodyChunks.push(this.buffer.subarray(eol + 2, eol + 2 + size));
        this.buffer = this.buffer.subarray(eol + 2 + size + 2);
      }
    }
    const lengthHeader = headers.get('content-length');
    if (lengthHeader === undefined) {
      if (status === 204 || status === 304) return this.done(status, headers, close);
      // Body until close: only the socket end can finish it.
      return undefined;
    }
    const length = Number(lengthHeader);
    if (this.buffer.length < length) return undefined;
    this.bodyChunks.push(this.buffer.subarray(0, length));
    this.buffer = this.buffer.subarray(length);
    return this.done(status, headers, close);
  }

  /** The socket ended: completes a read-until-close body, else undefined. */
  end(): HttpResponse | undefined {
    const head = this.head;
    if (!head || head.headers.has('content-length') || head.headers.has('transfer-encoding')) return undefined;
    this.bodyChunks.push(this.buffer);
    return this.done(head.status, head.headers, true);
  }

  private done(status: number, headers: Map<string, string>, close: boolean): HttpResponse {
    const body = Buffer.concat(this.bodyChunks).toString('utf8');
    return { status, headers, body, close: close || this.buffer.length > 0 };
  }
}
