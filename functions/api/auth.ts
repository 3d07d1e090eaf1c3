/**
 * Bearer JWT auth and scope checks. HS256 with S3ND_JWT_SECRET, or EdDSA/ES256 with
 * S3ND_JWT_PUBLIC_KEY. Claims: exp (required), sub, buckets, prefixes ("" = any key), maxBytes,
 * maxExpiresIn. 401 when the token is missing or invalid, 403 when a request leaves its scope.
 */
import { HTTPException } from 'hono/http-exception';
import { decode, verify } from 'hono/jwt';
import type { FunctionConfig } from './config.ts';

export interface TokenScope {
  sub?: string | undefined;
  buckets?: string[] | undefined;
  prefixes?: string[] | undefined;
  maxBytes?: number | undefined;
  maxExpiresIn?: number | undefined;
}

function unauthorized(message: string): HTTPException {
  return new HTTPException(401, {
    message,
    res: new Response(JSON.stringify({ error: { code: 'Unauthorized', message } }), {
      status: 401,
      headers: { 'content-type': 'application/json', 'www-authenticate': 'Bearer' },
    }),
  });
}

export function forbidden(message: string): HTTPException {
  return new HTTPException(403, { message, cause: 'Forbidden' });
}

export async function authenticate(header: string | undefined, config: FunctionConfig): Promise<TokenScope> {
  if (!config.jwt) {
    throw new HTTPException(500, { message: 'The plan function has no token key: set S3ND_JWT_SECRET or S3ND_JWT_PUBLIC_KEY' });
  }
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!match) throw unauthorized('Expected an Authorization: Bearer <JWT> header');
  const token = match[1]!;
  let alg: string;
  try {
    alg = decode(token).header.alg;
  } catch {
    throw unauthorized('The bearer token is not a JWT');
  }
  const allowed = 'secret' in config.jwt ? ['HS256'] : ['EdDSA', 'ES256'];
  if (!allowed.includes(alg)) throw unauthorized(`Token algorithm ${alg} is not accepted here: expected ${allowed.join(' or ')}`);
  let payload: Record<string, unknown>;
  try {
    const key = 'secret' in config.jwt ? config.jwt.secret : config.jwt.publicKey;
    payload = (await verify(token, key, alg as 'HS256' | 'EdDSA' | 'ES256')) as Record<string, unknown>;
  } catch (error) {
    const name = (error as Error).name;
    throw unauthorized(name === 'JwtTokenExpired' ? 'The bearer token has expired' : `The bearer token is not valid (${name})`);
  }
  if (typeof payload.exp !== 'number') throw unauthorized('The bearer token has no exp claim; tokens must expire');
  const list = (name: string): string[] | undefined => {
    const v = payload[name];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw unauthorized(`Token claim ${name} must be a list of strings`);
    return v;
  };
  const number = (name: string): number | undefined => {
    const v = payload[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !(v >= 0)) throw unauthorized(`Token claim ${name} must be a number ≥ 0`);
    return v;
  };
  return {
    sub: typeof payload.sub === 'string' ? payload.sub : undefined,
    buckets: list('buckets'),
    prefixes: list('prefixes'),
    maxBytes: number('maxBytes'),
    maxExpiresIn: number('maxExpiresIn'),
  };
}

/** The bucket must be in the token's list and in S3ND_ALLOWED_BUCKETS (each when set). */
export function checkBucket(scope: TokenScope, config: FunctionConfig, bucket: string): void {
  if (config.allowedBuckets && !config.allowedBuckets.has(bucket)) {
    throw forbidden(`Bucket ${bucket} is not served by this function (S3ND_ALLOWED_BUCKETS)`);
  }
  if (scope.buckets && !scope.buckets.includes(bucket)) {
    throw forbidden(`Bucket ${bucket} is outside the token's scope: allowed ${scope.buckets.join(', ') || 'none'}`);
  }
}

export function keyInScope(scope: TokenScope, key: string): boolean {
  return !scope.prefixes || scope.prefixes.some((p) => key.startsWith(p));
}

export function checkKey(scope: TokenScope, config: FunctionConfig, bucket: string, key: string): void {
  checkBucket(scope, config, bucket);
  if (!keyInScope(scope, key)) {
    throw forbidden(`Key ${JSON.stringify(key)} is outside the token's prefixes: ${scope.prefixes!.map((p) => JSON.stringify(p)).join(', ')}`);
  }
}
