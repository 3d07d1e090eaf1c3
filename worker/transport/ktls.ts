/**
 * The `ktls` transport: sendfile over HTTPS with the kernel encrypting (SendfileTransport in kTLS
 * mode), and Bun fetch wherever kTLS cannot carry a part. An origin that refuses kTLS at set-up (a
 * TLS 1.2 server, a cipher the kernel lacks) goes by fetch from then on; a retried part goes by fetch
 * too, so whatever went wrong on the kTLS path (a server KeyUpdate, say) cannot fail it twice.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { S3Error } from '../../functions/s3/errors.ts';
import { KtlsError } from '../../ffi/ktls.ts';
import { FetchTransport } from './fetch.ts';
import { type SendfileOptions, SendfileTransport } from './sendfile.ts';
import type { FileRef, PutOptions, PutResult, Transport } from './types.ts';

export class KtlsTransport implements Transport {
  readonly name = 'ktls' as const;
  private readonly inner: SendfileTransport;
  private readonly fallback: FetchTransport;
  /** Origins that refused kTLS, with the reason. */
  readonly refused = new Map<string, string>();

  /** `ca` replaces the trusted CAs; by default Bun's roots plus AWS_CA_BUNDLE and NODE_EXTRA_CA_CERTS. */
  constructor(options: Omit<SendfileOptions, 'ktls'> & { ca?: string | string[] | undefined } = {}) {
    const { ca, ...rest } = options;
    this.inner = new SendfileTransport({ ...rest, ktls: { ca: ca ?? defaultCa() } });
    this.fallback = new FetchTransport({ ca });
  }

  async put(url: string, file: FileRef, offset: number, size: number, options: PutOptions): Promise<PutResult> {
    const origin = new URL(url).origin;
    if (!options.fresh && !this.refused.has(origin)) {
      try {
        return { ...(await this.inner.put(url, file, offset, size, options)), transport: 'ktls' };
      } catch (error) {
        // Set-up refusals happen before any byte of the body is sent: the part can go by fetch now.
        const cause = error instanceof S3Error ? error.cause : undefined;
        if (!(cause instanceof KtlsError)) throw error;
        if (!this.refused.has(origin)) console.warn(`s3nd: kTLS is not possible with ${origin} (${cause.message}): its parts go by fetch`);
        this.refused.set(origin, cause.message);
      }
    }
    return { ...(await this.fallback.put(url, file, offset, size, options)), transport: 'fetch' };
  }

  warm(origin: string, connections: number): Promise<void> {
    return this.refused.has(origin) ? Promise.resolve() : this.inner.warm(origin, connections);
  }

  close(): void {
    this.inner.close();
    this.fallback.close();
  }
}

/** Bun's node:tls trusts its built-in roots only (NODE_EXTRA_CA_CERTS is for fetch): add the bundles. */
function defaultCa(): string[] {
  const ca = [...rootCertificates];
  for (const name of ['AWS_CA_BUNDLE', 'NODE_EXTRA_CA_CERTS']) {
    const path = process.env[name];
    if (!path) continue;
    try {
      ca.push(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new Error(`${name}=${path} cannot be read: ${(error as Error).message}`);
    }
  }
  return ca;
}
