import { describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseFlags } from './config.ts';

const home = mkdtempSync(join(tmpdir(), 's3nd-config-'));
const bare = { HOME: home };
const load = (argv: string[], env: Record<string, string | undefined> = bare) => loadConfig(parseFlags(argv).flags, env);

describe('worker settings', () => {
  test("s3nd's defaults", () => {
    const c = load([]);
    expect(c).toMatchObject({
      host: 'localhost',
      port: 15555,
      queueTimeout: 10,
      bwLimit: 0,
      maxParallel: 100,
      partSize: 5 * 2 ** 20,
      uploadTimeout: 10,
      timeoutFactor: 1,
      tries: 1,
      writeBufferSize: 64 * 1024,
      socketSendBuffer: undefined,
      transport: 'auto',
      endpoint: undefined,
      credentials: undefined,
      allowedRoots: undefined,
    });
  });

  test('flags as s3nd writes them: -x v, --x v, --x=v; flags beat S3ND_* variables', () => {
    const { flags, positional } = parseFlags(['-port', '1234', 'a', '--upload-partsize', '100Mi', '--upload-timeout=1m30s', 'b']);
    expect(positional).toEqual(['a', 'b']);
    const c = loadConfig(flags, { ...bare, S3ND_PORT: '9', S3ND_UPLOAD_TRIES: '3', S3ND_QUEUE_TIMEOUT: '250ms' });
    expect(c).toMatchObject({ port: 1234, partSize: 100 * 2 ** 20, uploadTimeout: 90, tries: 3, queueTimeout: 0.25 });
    // An explicit write buffer size becomes SO_SNDBUF; the default leaves the kernel's autotuning on.
    expect(load(['--upload-write-buffer-size', '1Mi']).socketSendBuffer).toBe(2 ** 20);
    expect(load([], { ...bare, S3ND_UPLOAD_WRITE_BUFFER_SIZE: '256Ki' }).socketSendBuffer).toBe(256 * 1024);
  });

  test('bad values name the setting, the expected form and what was seen', () => {
    expect(() => load(['--upload-partsize', '3Mi'])).toThrow('Invalid S3ND_UPLOAD_PARTSIZE "3Mi": expected 5Mi to 5Gi');
    expect(() => load(['--upload-max-parallel', '0'])).toThrow('Invalid S3ND_UPLOAD_MAX_PARALLEL "0": expected a whole number ≥ 1');
    expect(() => load(['--upload-timeout-factor', '0.5'])).toThrow('expected a number ≥ 1');
    expect(() => load(['--transport', 'x'])).toThrow('expected auto, ktls, sendfile or fetch');
    expect(() => load(['--allowed-roots', 'data:/srv'])).toThrow('Invalid S3ND_ALLOWED_ROOTS entry "data": expected an absolute directory');
    expect(() => load(['--endpoint-url', 'not a url'])).toThrow(ConfigError);
    expect(() => parseFlags(['--bogus', '1'])).toThrow('unknown flag --bogus');
    expect(() => parseFlags(['--port'])).toThrow('flag --port needs a value');
  });

  test('credentials, region and endpoint from the standard AWS sources', () => {
    const env = { ...bare, AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK', AWS_SESSION_TOKEN: 'ST', AWS_REGION: 'eu-west-1' };
    expect(load([], env)).toMatchObject({
      credentials: { accessKeyId: 'AK', secretAccessKey: 'SK', sessionToken: 'ST' },
      endpoint: { url: 'https://s3.eu-west-1.amazonaws.com', region: 'eu-west-1' },
    });
    expect(load([], { ...env, AWS_ENDPOINT_URL: 'http://a:1', AWS_ENDPOINT_URL_S3: 'http://s3:2' }).endpoint?.url).toBe('http://s3:2');
    expect(load(['--endpoint-url', 'https://x:3'], { ...env, AWS_ENDPOINT_URL_S3: 'http://s3:2' }).endpoint?.url).toBe('https://x:3');

    mkdirSync(join(home, '.aws'), { recursive: true });
    writeFileSync(join(home, '.aws/credentials'), '[default]\naws_access_key_id = D\naws_secret_access_key = DS\n[lab]\naws_access_key_id = L\naws_secret_access_key = LS\n');
    writeFileSync(join(home, '.aws/config'), '[default]\nregion = us-west-2\n[profile lab]\nregion = ap-south-1\nendpoint_url = https://rgw.lab:8443\n');
    expect(load([])).toMatchObject({ credentials: { accessKeyId: 'D', secretAccessKey: 'DS' }, endpoint: { region: 'us-west-2' } });
    expect(load([], { ...bare, AWS_PROFILE: 'lab' })).toMatchObject({
      credentials: { accessKeyId: 'L', secretAccessKey: 'LS' },
      endpoint: { url: 'https://rgw.lab:8443', region: 'ap-south-1' },
    });
  });

  test('secrets are redacted in the effective settings', () => {
    const c = load(['--token', 'hunter2', '--function-token', 'fn-secret']);
    expect(c.token).toBe('hunter2');
    expect(JSON.stringify(c.effective)).not.toMatch(/hunter2|fn-secret/);
    expect(c.effective.S3ND_TOKEN).toBe('(redacted)');
  });
});
