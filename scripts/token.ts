/**
 * `npm run -s token -- --bucket B --prefix P [--ttl 1h] [--max-bytes N] [--max-expires 1h]
 * [--sub NAME] [--key private.pem|private.jwk]`: prints a bearer token for the plan function.
 * HS256 with S3ND_JWT_SECRET unless --key names an Ed25519 (EdDSA) or P-256 (ES256) private key.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { sign } from 'hono/jwt';
import { parseDuration, parseSize } from '../functions/s3/units.ts';

function fail(message: string): never {
  console.error(`token: ${message}`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    bucket: { type: 'string', multiple: true },
    prefix: { type: 'string', multiple: true },
    ttl: { type: 'string', default: '1h' },
    'max-bytes': { type: 'string' },
    'max-expires': { type: 'string' },
    sub: { type: 'string' },
    key: { type: 'string' },
  },
});
if (!values.bucket?.length) fail('expected at least one --bucket NAME');
const now = Math.floor(Date.now() / 1000);
const payload: Record<string, unknown> = {
  exp: now + Math.round(parseDuration(values.ttl!, '--ttl')),
  iat: now,
  buckets: values.bucket,
  prefixes: values.prefix ?? [''],
};
if (values.sub) payload.sub = values.sub;
if (values['max-bytes']) payload.maxBytes = parseSize(values['max-bytes'], '--max-bytes');
if (values['max-expires']) payload.maxExpiresIn = Math.round(parseDuration(values['max-expires'], '--max-expires'));

let token: string;
if (values.key) {
  const text = readFileSync(values.key, 'utf8');
  const key = text.trim().startsWith('{') ? (JSON.parse(text) as JsonWebKey) : text;
  const crv = typeof key === 'object' ? key.crv : undefined;
  const ec = crv === 'P-256' || (typeof key === 'string' && /EC PRIVATE|BEGIN PRIVATE/.test(key) && text.length > 200);
  token = await sign(payload, key, ec ? 'ES256' : 'EdDSA');
} else {
  const secret = process.env.S3ND_JWT_SECRET;
  if (!secret) fail('set S3ND_JWT_SECRET (HS256) or pass --key private.pem|.jwk');
  token = await sign(payload, secret, 'HS256');
}
console.log(token);
