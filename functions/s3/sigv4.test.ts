/**
 * The signer stage by stage against AWS's SigV4 test suite (test/fixtures/aws-sig-v4-test-suite,
 * header-signed requests for service "service").
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { sha256, toHex } from './sha256.ts';
import { algorithm, canonicalRequest, credentialScope, signature, signingKey, stringToSign } from './sigv4.ts';
import { encodeKey } from './uri.ts';

const suite = new URL('../../test/fixtures/aws-sig-v4-test-suite/', import.meta.url).pathname;
const secret = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const datetime = '20150830T123600Z';
const scope = credentialScope('20150830', 'us-east-1', 'service');

/** S3 signs the path exactly as sent; these cases expect a normalised path (dot segments, slashes). */
const normalising = new Set(['get-relative', 'get-relative-relative', 'get-slash', 'get-slash-dot-slash', 'get-slash-pointless-dot', 'get-slashes']);

function cases(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (!statSync(path).isDirectory()) continue;
    if (readdirSync(path).some((f) => f.endsWith('.req'))) out.push(path);
    else out.push(...cases(path));
  }
  return out.sort();
}

function parseRequest(text: string) {
  const [head = '', body = ''] = text.split(/\n\n/);
  const [requestLine = '', ...lines] = head.split('\n');
  const m = /^(\S+) (.*) HTTP\/1\.1$/.exec(requestLine)!;
  const target = m[2]!;
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const query: [string, string][] = [];
  if (q !== -1) {
    for (const pair of target.slice(q + 1).split('&')) {
      const eq = pair.indexOf('=');
      const [k, v] = eq === -1 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)];
      query.push([decodeURIComponent(k), decodeURIComponent(v)]);
    }
  }
  const headers: [string, string][] = [];
  for (const line of lines) {
    // A folded continuation line is another value of the header above it.
    if (/^\s/.test(line)) headers.push([headers.at(-1)![0], line]);
    else {
      const colon = line.indexOf(':');
      headers.push([line.slice(0, colon), line.slice(colon + 1)]);
    }
  }
  return { method: m[1]!, path: encodeKey(decodeURIComponent(rawPath)), query, headers, body };
}

describe('AWS SigV4 test suite', () => {
  const all = cases(suite);
  test('the suite is there', () => expect(all.length).toBeGreaterThanOrEqual(25));
  for (const dir of all) {
    const name = dir.split('/').at(-1)!;
    const read = (ext: string) => readFileSync(join(dir, `${name}.${ext}`), 'utf8');
    test.skipIf(normalising.has(name))(name, () => {
      const request = parseRequest(read('req'));
      const { canonicalRequest: creq, signedHeaders } = canonicalRequest({
        method: request.method,
        path: request.path,
        query: request.query,
        headers: request.headers,
        payloadHash: toHex(sha256(request.body)),
      });
      expect(creq).toBe(read('creq'));
      const sts = stringToSign(datetime, scope, creq);
      expect(sts).toBe(read('sts'));
      const sig = signature(signingKey(secret, '20150830', 'us-east-1', 'service'), sts);
      expect(`${algorithm} Credential=AKIDEXAMPLE/${scope}, SignedHeaders=${signedHeaders}, Signature=${sig}`).toBe(
        read('authz'),
      );
    });
  }
});

test('signing key: the AWS documentation example', () => {
  // docs.aws.amazon.com "Examples of how to derive a signing key for Signature Version 4"
  const key = signingKey('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', '20120215', 'us-east-1', 'iam');
  expect(toHex(key)).toBe('f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d');
});
