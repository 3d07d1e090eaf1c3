/** Picks the transport: what was asked for, or for `auto` the best the startup probe finds. */
import type { TransportName } from '../types.ts';
import { FetchTransport } from './fetch.ts';
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
  options: SendfileOptions = {},
): TransportChoice {
  const https = endpointUrl?.startsWith('https:') ?? true;
  if (requested === 'sendfile') {
    if (https) throw new Error('transport sendfile needs a plain HTTP endpoint: use --transport auto or fetch for HTTPS');
    return { transport: new SendfileTransport(options), reason: 'requested' };
  }
  if (requested === 'fetch' || requested === 'auto') {
    return {
      transport: new FetchTransport(),
      reason:
        requested === 'fetch'
          ? 'requested'
          : https
            ? 'auto: HTTPS without kTLS streams the file through Bun fetch'
            : 'auto: on plain HTTP Bun fetch already sends file slices with sendfile(2)',
    };
  }
  throw new Error(`transport ${requested} is not available in this build: use --transport auto or fetch`);
}
