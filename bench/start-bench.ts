// `npm run bench -- start`: start-up as a user meets it, whole processes timed from spawn
// to their answer: `sweep --help`, `sweep simulate` of a three-atom configuration, the
// API until /ready answers 200 and a worker until it logs "worker started" (local
// Postgres on a fresh database, Redis). Each compiled (dist/, what production runs) next
// to the same sources through tsx, interleaved, BENCH_START_RUNS times (7); the median
// and the fastest are reported. `npm run bench` builds first.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createTestDatabase, createTestRedis } from '../test/support/services.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const TSX = ['--conditions=source', '--import', 'tsx'];
const THREE_ATOMS = { support: { kind: 'atoms', n: 3 }, rewards: [{ kind: 'table', values: [0, 1, 2] }] };

interface Case { name: string; target: string; compiled: string[]; tsx: string[]; until: Until }
/** How a run ends: the process exits 0, or a readiness probe succeeds (then it is stopped). */
type Until = { exit: true } | { ready: (port: number, out: () => string) => Promise<boolean>; env: Record<string, string> };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function timeOnce(args: string[], until: Until): Promise<number> {
  const port = await freePort();
  const env = { ...process.env, NODE_OPTIONS: '', ...('env' in until ? until.env : {}), PORT: String(port) };
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  if ('exit' in until) {
    const code = await exited;
    const t = performance.now() - t0;
    if (code !== 0) throw new Error(`${args.join(' ')} exited ${code}: ${out}`);
    return t;
  }
  let done = false;
  void exited.then(() => { done = true; });
  try {
    for (;;) {
      if (done) throw new Error(`${args.join(' ')} exited before it was ready: ${out}`);
      if (await until.ready(port, () => out)) return performance.now() - t0;
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function runStartBench(): Promise<void> {
  const runs = Number(process.env.BENCH_START_RUNS || 7);
  const dir = mkdtempSync(join(tmpdir(), 'start-bench-'));
  const config = join(dir, 'three-atoms.json');
  writeFileSync(config, JSON.stringify(THREE_ATOMS));
  const db = await createTestDatabase();
  const redis = await createTestRedis();
  const service = { DATABASE_URL: db.url, REDIS_URL: redis.url, QUEUE_PREFIX: redis.prefix, HOST: '127.0.0.1', LOG_LEVEL: 'info' };
  const apiReady = async (port: number) => {
    try {
      return (await fetch(`http://127.0.0.1:${port}/ready`)).status === 200;
    } catch {
      return false;
    }
  };
  const workerReady = async (_port: number, out: () => string) => out().includes('"msg":"worker started"');
  const bin = 'packages/cli/bin/sweep.mjs';
  const cases: Case[] = [
    { name: 'sweep --help', target: '< 0.2 s', compiled: [bin, '--help'], tsx: ['--conditions=source', bin, '--help'], until: { exit: true } },
    { name: 'sweep simulate (3 atoms)', target: '< 0.25 s', compiled: [bin, 'simulate', config], tsx: ['--conditions=source', bin, 'simulate', config], until: { exit: true } },
    { name: 'API until /ready', target: '< 1 s', compiled: ['apps/api/dist/main.js'], tsx: [...TSX, 'apps/api/src/main.ts'], until: { ready: apiReady, env: service } },
    { name: 'worker until started', target: '< 1 s', compiled: ['apps/worker/dist/main.js'], tsx: [...TSX, 'apps/worker/src/main.ts'], until: { ready: workerReady, env: service } },
  ];
  try {
    console.log(`start-up, whole processes, ${runs} runs each (median / fastest, seconds), node ${process.version}`);
    console.log(`${'what'.padEnd(26)}${'compiled'.padStart(17)}${'tsx'.padStart(17)}  target`);
    for (const c of cases) {
      await timeOnce(c.compiled, c.until); // the first start fills the disk cache (and Node's compile cache)
      const compiled: number[] = [];
      const viaTsx: number[] = [];
      for (let i = 0; i < runs; i++) {
        compiled.push(await timeOnce(c.compiled, c.until));
        viaTsx.push(await timeOnce(c.tsx, c.until));
      }
      const show = (xs: number[]) => `${(median(xs) / 1000).toFixed(3)} / ${(Math.min(...xs) / 1000).toFixed(3)}`.padStart(17);
      console.log(`${c.name.padEnd(26)}${show(compiled)}${show(viaTsx)}  ${c.target}`);
    }
  } finally {
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runStartBench();
