/**
 * `npm run bench:upload -- --ktls`: the worker's `ktls` transport (kernel TLS, body by sendfile from
 * the pump thread) against its `fetch` transport (Bun fetch, TLS in user space, the file slice
 * streamed) uploading the same file over HTTPS to test/ktls/upload-part-server.mjs. Runs inside the
 * kTLS VM (test/ktls-vm.sh; upload.sh starts it), where tls.ko exists.
 *
 * The file (random bytes, on the guest's tmpfs) goes in 8 MiB parts, 4 in flight, through each
 * transport in turn, the order alternating between repetitions, after an uncounted one-part warm-up
 * per transport. Each upload runs in a child `bun test/bench/ktls.ts --one …` of its own, because
 * peak RSS is process-wide and only ever grows: the child measures CPU user + sys
 * (process.cpuUsage(), all its threads), wall time and peak RSS (VmHWM) from just before it builds
 * the transport to the last part's response. Bun's start-up and module loading are outside CPU and
 * wall time but inside peak RSS (the same floor for both; "RSS growth" is peak minus RSS at start).
 * The server's CPU is not counted; on loopback the receiver's TCP work partly lands on the sender's
 * sys time, alike for both. Every ETag must be the md5 of its range, every ktls part must have gone
 * by ktls, and /proc/net/tls_stat TlsTxSw must move in each ktls run (and not in fetch runs).
 *
 * CPU figures under TCG emulation are only comparable with each other (every guest instruction is
 * emulated, AES-NI/PCLMUL/AVX of both the kernel's and BoringSSL's AES-GCM included, and host load
 * shows up as guest CPU time since TCG reports no steal time): read the fetch/ktls ratio, never the
 * seconds, and not as a forecast for real hardware, where kTLS also saves the user-space copies.
 *
 * Settings: BENCH_KTLS_MIB (file size, default 64; one 64 MiB kTLS upload takes ~10 s emulated),
 * BENCH_KTLS_REPS (repetitions of the pair, default 2), BENCH_KTLS_CIPHER (TLS 1.3 suite, default
 * TLS_AES_128_GCM_SHA256), BENCH_KTLS_WARMUP=0 (skip the warm-up). Prints a table and, last, one
 * JSON line; exits 1 when a check failed.
 */
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KtlsCipher, ktlsAvailable, ktlsCiphers } from '../../ffi/ktls.ts';
import { FetchTransport } from '../../worker/transport/fetch.ts';
import { KtlsTransport } from '../../worker/transport/ktls.ts';
import { localMd5, MiB, makeCert, type Server, startServer, tlsStat } from '../ktls/harness.ts';

const partSize = 8 * MiB;
const parallel = 4;
const GiB = 1024 * MiB;
type Name = 'ktls' | 'fetch';

/** What one child reports (one JSON line on stdout). */
interface Run {
  transport: Name;
  bytes: number;
  wall: number;
  user: number;
  sys: number;
  rssMiB: number;
  /** RSS when the upload began (Bun plus the loaded modules). */
  baseRssMiB: number;
  etags: string[];
  /** The transport each part reported having gone by. */
  carried: string[];
  txSw: number;
}

function procStatusMiB(field: 'VmHWM' | 'VmRSS'): number {
  const m = readFileSync('/proc/self/status', 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  if (m) return Number(m[1]) / 1024;
  return field === 'VmHWM' ? process.resourceUsage().maxRSS / 1024 : process.memoryUsage().rss / MiB;
}

function ranges(bytes: number): [offset: number, length: number][] {
  const out: [number, number][] = [];
  for (let offset = 0; offset < bytes; offset += partSize) out.push([offset, Math.min(partSize, bytes - offset)]);
  return out;
}

// --- child: one upload through one transport ------------------------------------------------------
async function one(name: Name, path: string, port: number, caPath: string, bytes: number): Promise<Run> {
  const ca = readFileSync(caPath, 'utf8');
  const fd = openSync(path, 'r');
  const parts = ranges(bytes);
  const etags: string[] = new Array(parts.length).fill('');
  const carried: string[] = new Array(parts.length).fill('');
  const txBefore = tlsStat().TlsTxSw ?? 0;
  const baseRssMiB = procStatusMiB('VmRSS');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const transport = name === 'ktls' ? new KtlsTransport({ ca }) : new FetchTransport({ ca });
  let next = 0;
  const lane = async () => {
    while (next < parts.length) {
      const i = next++;
      const [offset, length] = parts[i] as [number, number];
      const url = `https://localhost:${port}/bench/ktls?partNumber=${i + 1}&uploadId=bench`;
      const r = await transport.put(url, { path, fd }, offset, length, { signal: AbortSignal.timeout(600_000) });
      etags[i] = r.etag;
      carried[i] = r.transport ?? name;
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, parts.length) }, lane));
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const rssMiB = procStatusMiB('VmHWM');
  transport.close();
  closeSync(fd);
  return {
    transport: name,
    bytes,
    wall,
    user: cpu.user / 1e6,
    sys: cpu.system / 1e6,
    rssMiB,
    baseRssMiB,
    etags,
    carried,
    txSw: (tlsStat().TlsTxSw ?? 0) - txBefore,
  };
}

if (process.argv[2] === '--one') {
  const [name, path, port, caPath, bytes] = process.argv.slice(3) as [Name, string, string, string, string | undefined];
  if ((name !== 'ktls' && name !== 'fetch') || !path || !port || !caPath) {
    console.error('usage: bun test/bench/ktls.ts --one ktls|fetch FILE PORT CA.pem [BYTES]');
    process.exit(2);
  }
  const run = await one(name, path, Number(port), caPath, bytes === undefined ? Bun.file(path).size : Number(bytes));
  console.log(JSON.stringify(run));
  process.exit(0);
}

// --- parent: fixtures, server, children, table --------------------------------------------------
function runChild(name: Name, path: string, port: number, caPath: string, bytes: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [import.meta.path, '--one', name, path, String(port), caPath, String(bytes)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      out += s;
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0) reject(new Error(`bench child ${name} exited with ${code ?? signal}: ${out}`));
      else {
        try {
          resolve(JSON.parse(last) as Run);
        } catch {
          reject(new Error(`bench child ${name} printed no result: ${out}`));
        }
      }
    });
  });
}


const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const cpuPerGiB = (r: Run) => (r.user + r.sys) / (r.bytes / GiB);

async function main(): Promise<void> {
  if (!ktlsAvailable()) {
    console.error('bench:ktls: this kernel has no kTLS (tcp_available_ulp lacks tls); run it in the VM: npm run bench:upload -- --ktls');
    process.exit(1);
  }
  const mib = Number(process.env.BENCH_KTLS_MIB ?? 64);
  const reps = Number(process.env.BENCH_KTLS_REPS ?? 2);
  const warmup = (process.env.BENCH_KTLS_WARMUP ?? '1') !== '0';
  const cipher = (process.env.BENCH_KTLS_CIPHER ?? 'TLS_AES_128_GCM_SHA256') as KtlsCipher;
  if (!(mib > 0) || !Number.isInteger(reps) || reps < 1) throw new Error('BENCH_KTLS_MIB must be > 0 and BENCH_KTLS_REPS an integer >= 1');
  if (!ktlsCiphers.includes(cipher)) throw new Error(`BENCH_KTLS_CIPHER must be one of ${ktlsCiphers.join(', ')}`);

  const dir = mkdtempSync(join(tmpdir(), 's3nd-bench-ktls-'));
  const runs: Run[] = [];
  const problems: string[] = [];
  let server: Server | undefined;
  const bytes = Math.round(mib * MiB);
  try {
    const { cert, key } = makeCert(dir);
    const file = join(dir, 'bench.bin');
    const fd = openSync(file, 'w');
    const chunk = Buffer.alloc(MiB);
    for (let done = 0; done < bytes; done += chunk.length) {
      randomFillSync(chunk);
      writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - done));
    }
    closeSync(fd);
    const expected = ranges(bytes).map(([o, n]) => `"${localMd5(file, o, n)}"`);
    server = await startServer({ cert, key }, cipher);
    console.log(
      `bench:ktls: ${(bytes / MiB).toFixed(1)} MiB in ${expected.length} parts of ${partSize / MiB} MiB, ${parallel} in flight, ` +
        `${cipher}, ${reps} repetition(s)${warmup ? ' after an uncounted one-part warm-up' : ''}, each upload in a child process`,
    );

    const check = (r: Run, label: string) => {
      const bad = r.etags.findIndex((e, i) => e !== expected[i]);
      if (bad >= 0) problems.push(`${label}: part ${bad + 1} ETag ${r.etags[bad]} ≠ md5 ${expected[bad]}`);
      const strays = r.carried.filter((t) => t !== r.transport).length;
      if (strays > 0) problems.push(`${label}: ${strays} part(s) went by another transport (${r.carried.join(',')})`);
      if (r.transport === 'ktls' && r.txSw < 1) problems.push(`${label}: /proc/net/tls_stat TlsTxSw did not move`);
      if (r.transport === 'fetch' && r.txSw !== 0) problems.push(`${label}: TlsTxSw moved by ${r.txSw}`);
    };
    // The first process in a fresh VM pays for translating code (Bun's, the kernel's crypto) that
    // later ones find translated: one part through each transport first, not counted.
    if (warmup) {
      for (const name of ['ktls', 'fetch'] as const) check(await runChild(name, file, server.port, cert, Math.min(partSize, bytes)), `warm-up ${name}`);
    }
    for (let rep = 0; rep < reps; rep++) {
      const order: Name[] = rep % 2 === 0 ? ['ktls', 'fetch'] : ['fetch', 'ktls'];
      for (const name of order) {
        const r = await runChild(name, file, server.port, cert, bytes);
        check(r, `${name} rep ${rep + 1}`);
        if (r.etags.length !== expected.length) problems.push(`${name} rep ${rep + 1}: ${r.etags.length} parts, not ${expected.length}`);
        console.log(
          `  rep ${rep + 1} ${name.padEnd(5)} wall ${r.wall.toFixed(2)} s, CPU ${(r.user + r.sys).toFixed(2)} s, ` +
            `peak RSS ${r.rssMiB.toFixed(1)} MiB (${r.baseRssMiB.toFixed(1)} at start), kTLS TX installs ${r.txSw}`,
        );
        runs.push(r);
      }
    }
    for (const e of server.events) problems.push(`server: ${e.event} ${e.code ?? ''} ${e.message}`);
  } finally {
    server?.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }

  const summary = (name: Name) => {
    const rs = runs.filter((r) => r.transport === name);
    return {
      cpuPerGiB: median(rs.map(cpuPerGiB)),
      user: median(rs.map((r) => r.user)),
      sys: median(rs.map((r) => r.sys)),
      rssMiB: median(rs.map((r) => r.rssMiB)),
      growMiB: median(rs.map((r) => r.rssMiB - r.baseRssMiB)),
      wall: median(rs.map((r) => r.wall)),
    };
  };
  const k = summary('ktls');
  const f = summary('fetch');
  const round = (x: number, d = 3) => Number(x.toFixed(d));
  const cpuCell = (user: number, sys: number) => `${(user + sys).toFixed(2)} (${user.toFixed(2)}/${sys.toFixed(2)})`;

  const header = ['transport', 'run', 'MiB', 'wall s', 'CPU s (user/sys)', 'CPU s/GiB', 'peak RSS MiB', 'RSS growth MiB'];
  const rows = runs.map((r, i) => [
    r.transport,
    String(Math.floor(i / 2) + 1),
    (r.bytes / MiB).toFixed(1),
    r.wall.toFixed(2),
    cpuCell(r.user, r.sys),
    cpuPerGiB(r).toFixed(2),
    r.rssMiB.toFixed(1),
    (r.rssMiB - r.baseRssMiB).toFixed(1),
  ]);
  for (const [name, s] of [['ktls', k], ['fetch', f]] as const) {
    rows.push([name, 'median', (bytes / MiB).toFixed(1), s.wall.toFixed(2), cpuCell(s.user, s.sys), s.cpuPerGiB.toFixed(2), s.rssMiB.toFixed(1), s.growMiB.toFixed(1)]);
  }
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] as string).length)));
  const line = (cells: string[]) => cells.map((s, c) => (c === 0 ? s.padEnd(widths[c] as number) : s.padStart(widths[c] as number))).join('  ');
  console.log(`\n${line(header)}`);
  for (const r of rows) console.log(line(r));
  const cpuRatio = f.cpuPerGiB / k.cpuPerGiB;
  console.log(
    `fetch/ktls: CPU per GiB ${cpuRatio.toFixed(2)}×, peak RSS ${(f.rssMiB / k.rssMiB).toFixed(2)}×, wall ${(f.wall / k.wall).toFixed(2)}×` +
      '   (TCG emulation: compare these ratios, not the seconds)',
  );
  for (const p of problems) console.error(`bench:ktls: FAIL ${p}`);
  console.log(
    JSON.stringify({
      bench: 'ktls',
      cipher,
      mib: round(bytes / MiB, 1),
      reps,
      ktls: { cpuPerGiB: round(k.cpuPerGiB), rssMiB: round(k.rssMiB, 1), wall: round(k.wall) },
      fetch: { cpuPerGiB: round(f.cpuPerGiB), rssMiB: round(f.rssMiB, 1), wall: round(f.wall) },
      cpuRatio: round(cpuRatio),
      ok: problems.length === 0,
    }),
  );
  process.exit(problems.length === 0 ? 0 : 1);
}

await main();
