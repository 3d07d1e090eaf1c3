/** Picks the transport: what was asked for, or for `auto` the best the startup probe finds. */
import { type KtlsProbe, probeKtls } from '../../ffi/ktls.ts';
import type { TransportName } from '../types.ts';
import { FetchTransport } from './fetch.ts';
import { KtlsTransport } from './ktls.ts';
import { type SendfileOptions, SendfileTransport } from './sendfile.ts';
import type { Transport } from './types.ts';

export interface TransportChoice {
  transport: Transport;
  /** Why this one, for /version and logs. */
  reason: string;
}

export function pickTransport(
  requested: 'auto' | TransportName,
  endpointUrl: string | undefined,
  options: Omit<SendfileOptions, 'ktls'> = {},
  probe: () => KtlsProbe = probeKtls,
): TransportChoice {
  const https = endpointUrl?.startsWith('https:') ?? true;
  switch (requested) {
    case 'sendfile':
      if (https) throw new Error('transport sendfile needs a plain HTTP endpoint: use --transport ktls, auto or fetch for HTTPS');
      return { transport: new SendfileTransport(options), reason: 'requested' };
    case 'ktls': {
      if (!https) throw new Error('transport ktls needs an HTTPS endpoint: use --transport sendfile, auto or fetch for plain HTTP');
      const found = probe();
      if (!found.available) throw new Error(`transport ktls is not available here: ${found.reason}`);
      return { transport: new KtlsTransport(options), reason: 'requested; the kTLS probe passed' };
    }
    case 'fetch':
      return { transport: new FetchTransport(), reason: 'requested' };
    case 'auto': {
      if (!https) return { transport: new FetchTransport(), reason: 'auto: on plain HTTP Bun fetch already sends file slices with sendfile(2)' };
      const found = probe();
      if (found.available) return { transport: new KtlsTransport(options), reason: 'auto: HTTPS and the kTLS probe passed (setsockopt TCP_ULP "tls")' };
      return { transport: new FetchTransport(), reason: `auto: HTTPS without kTLS streams the file through Bun fetch (${found.reason})` };
    }
  }
}
