/**
 * Worker settings, as s3nd names them: every `S3ND_*` variable and its flag (`-port 15555`,
 * `--upload-partsize=100Mi`), with s3nd's defaults and units, plus ours (DESIGN.md). Credentials,
 * region and endpoint also come from the standard AWS sources (env, ~/.aws/credentials and config).
 * Bad values fail at start with the setting's name and the expected form.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InvalidInput } from '../functions/s3/errors.ts';
import { maxPartSize, minPartSize } from '../functions/s3/plan.ts';
import type { Credentials, Endpoint } from '../functions/s3/types.ts';
import { parseDuration, parseSize } from '../functions/s3/units.ts';
import type { TransportName } from './types.ts';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Kind = 'string' | 'size' | 'duration' | 'int' | 'number';

interface Setting {
  env: string;
  flag: string;
  kind: Kind;
  default: string;
  help: string;
  secret?: boolean;
}

export const settings: Setting[] = [
  { env: 'S3ND_HOST', flag: 'host', kind: 'string', default: 'localhost', help: 'daemon listen host (loopback by default)' },
  { env: 'S3ND_PORT', flag: 'port', kind: 'int', default: '15555', help: 'daemon listen port' },
  { env: 'S3ND_ENDPOINT_URL', flag: 'endpoint-url', kind: 'string', default: '', help: 'S3 endpoint URL' },
  { env: 'S3ND_QUEUE_TIMEOUT', flag: 'queue-timeout', kind: 'duration', default: '10s', help: 'how long an upload may wait for a slot' },
  { env: 'S3ND_UPLOAD_BWLIMIT', flag: 'upload-bwlimit', kind: 'size', default: '0', help: 'aggregate upload limit in bits/s (0 = none)' },
  { env: 'S3ND_UPLOAD_MAX_PARALLEL', flag: 'upload-max-parallel', kind: 'int', default: '100', help: 'parts in flight across all uploads' },
  { env: 'S3ND_UPLOAD_PARTSIZE', flag: 'upload-partsize', kind: 'size', default: '5Mi', help: 'multipart part size' },
  { env: 'S3ND_UPLOAD_TIMEOUT', flag: 'upload-timeout', kind: 'duration', default: '10s', help: 'timeout of a part attempt (0 = none)' },
  { env: 'S3ND_UPLOAD_TIMEOUT_FACTOR', flag: 'upload-timeout-factor', kind: 'number', default: '1', help: 'attempt n gets timeout × factor^(n−1)' },
  { env: 'S3ND_UPLOAD_TRIES', flag: 'upload-tries', kind: 'int', default: '1', help: 'tries per part' },
  { env: 'S3ND_UPLOAD_WRITE_BUFFER_SIZE', flag: 'upload-write-buffer-size', kind: 'size', default: '64Ki', help: 'socket send buffer (SO_SNDBUF)' },
  { env: 'S3ND_ALLOWED_ROOTS', flag: 'allowed-roots', kind: 'string', default: '', help: 'colon-separated directories the daemon may read (unset = any)' },
  { env: 'S3ND_TOKEN', flag: 'token', kind: 'string', default: '', help: 'bearer token the daemon requires (unset = none)', secret: true },
  { env: 'S3ND_FUNCTION_URL', flag: 'function', kind: 'string', default: '', help: 'plan function URL (remote plans instead of local signing)' },
  { env: 'S3ND_FUNCTION_TOKEN', flag: 'function-token', kind: 'string', default: '', help: 'bearer token for the plan function', secret: true },
  { env: 'S3ND_TRANSPORT', flag: 'transport', kind: 'string', default: 'auto', help: 'auto | ktls | sendfile | fetch' },
];

export interface WorkerConfig {
  host: string;
  port: number;
  endpoint: Endpoint | undefined;
  credentials: Credentials | undefined;
  queueTimeout: number;
  bwLimit: number;
  maxParallel: number;
  partSize: number;
  uploadTimeout: number;
  timeoutFactor: number;
  tries: number;
  writeBufferSize: number;
  /**
   * SO_SNDBUF for the sendfile/kTLS sockets: S3ND_UPLOAD_WRITE_BUFFER_SIZE only when set explicitly.
   * s3nd's 64Ki default sizes a user-space write buffer; as a socket buffer it would switch off the
   * kernel's autotuning and cap each connection at 128 KiB per round trip (~5 Mbit/s at 200 ms RTT).
   */
  socketSendBuffer: number | undefined;
  allowedRoots: string[] | undefined;
  token: string | undefined;
  functionUrl: string | undefined;
  functionToken: string | undefined;
  transport: 'auto' | TransportName;
  /** Effective settings as strings, secrets redacted (for /version). */
  effective: Record<string, string>;
}

/** Splits argv into settings (`-x v`, `--x v`, `--x=v`) and positional arguments. */
export function parseFlags(argv: string[]): { flags: Map<string, string>; positional: string[] } {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  const known = new Set(settings.map((s) => s.flag));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--?([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(arg);
    if (!m) {
      positional.push(arg);
      continue;
    }
    const name = m[1]!;
    if (!known.has(name)) throw new ConfigError(`unknown flag ${arg}: expected one of ${[...known].map((f) => `--${f}`).join(', ')}`);
    let value = m[2];
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new ConfigError(`flag --${name} needs a value`);
    }
    flags.set(name, value);
  }
  return { flags, positional };
}

export function loadConfig(flags: Map<string, string>, env: Record<string, string | undefined> = process.env): WorkerConfig {
  const raw = new Map<string, string>();
  for (const s of settings) raw.set(s.env, flags.get(s.flag) ?? env[s.env] ?? s.default);
  const get = (name: string) => raw.get(name)!;
  const parse = <T>(name: string, fn: (v: string) => T): T => {
    try {
      return fn(get(name));
    } catch (error) {
      if (error instanceof InvalidInput) throw new ConfigError(error.message);
      throw error;
    }
  };
  const int = (name: string, min: number) =>
    parse(name, (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new ConfigError(`Invalid ${name} ${JSON.stringify(v)}: expected a whole number ≥ ${min}`);
      return n;
    });
  const partSize = parse('S3ND_UPLOAD_PARTSIZE', (v) => parseSize(v, 'S3ND_UPLOAD_PARTSIZE'));
  if (partSize < minPartSize || partSize > maxPartSize) {
    throw new ConfigError(`Invalid S3ND_UPLOAD_PARTSIZE ${JSON.stringify(get('S3ND_UPLOAD_PARTSIZE'))}: expected 5Mi to 5Gi`);
  }
  const factor = Number(get('S3ND_UPLOAD_TIMEOUT_FACTOR'));
  if (!(factor >= 1)) throw new ConfigError(`Invalid S3ND_UPLOAD_TIMEOUT_FACTOR ${JSON.stringify(get('S3ND_UPLOAD_TIMEOUT_FACTOR'))}: expected a number ≥ 1`);
  const transport = get('S3ND_TRANSPORT');
  if (!['auto', 'ktls', 'sendfile', 'fetch'].includes(transport)) {
    throw new ConfigError(`Invalid --transport ${JSON.stringify(transport)}: expected auto, ktls, sendfile or fetch`);
  }
  const roots = get('S3ND_ALLOWED_ROOTS');
  const allowedRoots = roots === '' ? undefined : roots.split(':').filter(Boolean);
  for (const root of allowedRoots ?? []) {
    if (!root.startsWith('/')) throw new ConfigError(`Invalid S3ND_ALLOWED_ROOTS entry ${JSON.stringify(root)}: expected an absolute directory`);
  }
  const aws = awsSettings(env);
  const endpointUrl = get('S3ND_ENDPOINT_URL') || aws.endpointUrl || (aws.region ? `https://s3.${aws.region}.amazonaws.com` : '');
  if (endpointUrl !== '') {
    try {
      new URL(endpointUrl);
    } catch {
      throw new ConfigError(`Invalid S3ND_ENDPOINT_URL ${JSON.stringify(endpointUrl)}: expected a URL such as https://s3.example.org`);
    }
  }
  const functionUrl = get('S3ND_FUNCTION_URL') || undefined;
  const writeBufferSize = parse('S3ND_UPLOAD_WRITE_BUFFER_SIZE', (v) => parseSize(v, 'S3ND_UPLOAD_WRITE_BUFFER_SIZE'));
  const effective: Record<string, string> = {};
  for (const s of settings) effective[s.env] = s.secret && get(s.env) !== '' ? '(redacted)' : get(s.env);
  return {
    host: get('S3ND_HOST'),
    port: int('S3ND_PORT', 0),
    endpoint: endpointUrl ? { url: endpointUrl, region: aws.region ?? 'us-east-1' } : undefined,
    credentials: aws.credentials,
    queueTimeout: parse('S3ND_QUEUE_TIMEOUT', (v) => parseDuration(v, 'S3ND_QUEUE_TIMEOUT')),
    bwLimit: parse('S3ND_UPLOAD_BWLIMIT', (v) => parseSize(v, 'S3ND_UPLOAD_BWLIMIT')),
    maxParallel: int('S3ND_UPLOAD_MAX_PARALLEL', 1),
    partSize,
    uploadTimeout: parse('S3ND_UPLOAD_TIMEOUT', (v) => parseDuration(v, 'S3ND_UPLOAD_TIMEOUT')),
    timeoutFactor: factor,
    tries: int('S3ND_UPLOAD_TRIES', 1),
    writeBufferSize,
    socketSendBuffer: flags.has('upload-write-buffer-size') || env.S3ND_UPLOAD_WRITE_BUFFER_SIZE !== undefined ? writeBufferSize : undefined,
    allowedRoots,
    token: get('S3ND_TOKEN') || undefined,
    functionUrl,
    functionToken: get('S3ND_FUNCTION_TOKEN') || undefined,
    transport: transport as WorkerConfig['transport'],
    effective,
  };
}

/** Credentials, region and endpoint from AWS_* variables, then the shared config files (AWS_PROFILE or default). */
function awsSettings(env: Record<string, string | undefined>): { credentials?: Credentials; region?: string; endpointUrl?: string } {
  const profile = env.AWS_PROFILE ?? 'default';
  const home = env.HOME ?? homedir();
  const credentialsFile = ini(env.AWS_SHARED_CREDENTIALS_FILE ?? join(home, '.aws/credentials'))[profile] ?? {};
  const configFile = ini(env.AWS_CONFIG_FILE ?? join(home, '.aws/config'));
  const config = configFile[profile === 'default' ? 'default' : `profile ${profile}`] ?? {};
  const accessKeyId = env.AWS_ACCESS_KEY_ID ?? credentialsFile.aws_access_key_id;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY ?? credentialsFile.aws_secret_access_key;
  const sessionToken = env.AWS_ACCESS_KEY_ID ? env.AWS_SESSION_TOKEN : credentialsFile.aws_session_token;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? config.region;
  const endpointUrl = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL ?? config.endpoint_url;
  return {
    ...(accessKeyId && secretAccessKey ? { credentials: sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey } } : {}),
    ...(region ? { region } : {}),
    ...(endpointUrl ? { endpointUrl } : {}),
  };
}

function ini(path: string): Record<string, Record<string, string>> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    // No such file: that source simply has nothing to say.
    return {};
  }
  const sections: Record<string, Record<string, string>> = {};
  let current: Record<string, string> | undefined;
  for (const line of text.split('\n')) {
    const section = /^\s*\[([^\]]+)\]/.exec(line);
    if (section) {
      current = sections[section[1]!.trim()] = {};
      continue;
    }
    const kv = /^\s*([A-Za-z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (kv && current) current[kv[1]!] = kv[2]!;
  }
  return sections;
}
