// Fault-injection fixtures: real API and worker processes (`node --import tsx ...`), the
// storage invariants checked straight in Postgres, and the per-fault report
// (test-results/faults/<name>.json plus one printed line).
//
// Every process started here is registered in a ProcessGroup; the test's afterAll calls
// killAll(), and a process 'exit' handler kills whatever is still running should the
// test process end without it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { createKey, createTeam } from '@curation/db';
import { freePort } from '../support/own-servers.ts';
import { createTestDatabase, createTestRedis, type TestDatabase } from '../support/services.ts';
import { waitFor } from '../support/wait-for.ts';

export { waitFor };

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const RESULTS_DIR = join(ROOT, 'test-results/faults');

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------
// Processes

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const everyChild = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAllSync = () => {
    for (const c of everyChild) if (c.exitCode === null && c.signalCode === null) try { c.kill('SIGKILL'); } catch { /* gone */ }
  };
  process.on('exit', killAllSync);
}

const MAX_OUTPUT = 400_000;

function spawnProc(name: string, file: string, env: Record<string, string>): Proc {
  installExitHook();
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  everyChild.add(child);
  let out = '';
  const append = (d: Buffer) => {
    out += d;
    if (out.length > MAX_OUTPUT) out = out.slice(-MAX_OUTPUT / 2);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => { everyChild.delete(child); resolve({ code, signal }); }));
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    name,
    child,
    pid: child.pid!,
    exit,
    alive,
    output: () => out,
    kill: (signal = 'SIGKILL') => {
      if (alive()) child.kill(signal);
      return exit;
    },
  };
}

/** Every process a test started; killAll() in afterAll (also after a failure). */
export class ProcessGroup {
  readonly procs: Proc[] = [];
  add(p: Proc): Proc {
    this.procs.push(p);
    return p;
  }
  living(prefix?: string): Proc[] {
    return this.procs.filter((p) => p.alive() && (!prefix || p.name.startsWith(prefix)));
  }
  async killAll(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.kill('SIGKILL')));
  }
}

export interface Target { databaseUrl: string; redisUrl: string; prefix: string }

/**
 * The usual set-up of a fault test on the shared services: its own database and
 * BullMQ prefix, a pool on it, and a process group killed at the end. Call inside a
 * describe; the fields are filled once beforeAll has run.
 */
export function useSharedServices(poolSize = 3): { group: ProcessGroup; db: TestDatabase; pool: pg.Pool; target: Target } {
  const env = { group: new ProcessGroup() } as { group: ProcessGroup; db: TestDatabase; pool: pg.Pool; target: Target };
  beforeAll(async () => {
    env.db = await createTestDatabase();
    const redis = await createTestRedis();
    env.target = { databaseUrl: env.db.url, redisUrl: redis.url, prefix: redis.prefix };
    env.pool = new pg.Pool({ connectionString: env.db.url, max: poolSize });
  });
  afterAll(async () => {
    await env.group.killAll();
    await env.pool?.end();
    await env.db?.drop();
  });
  return env;
}

/** A worker process (apps/worker/src/main.ts); resolves once it logs "worker started". */
export async function spawnWorker(group: ProcessGroup, t: Target, env: Record<string, string> = {}, timeoutMs = 40_000): Promise<Proc> {
  const p = group.add(spawnProc(`worker-${group.procs.length}`, 'apps/worker/src/main.ts', {
    DATABASE_URL: t.databaseUrl,
    REDIS_URL: t.redisUrl,
    QUEUE_PREFIX: t.prefix,
    WORKER_CONCURRENCY: '1',
    ...env,
  }));
  await waitFor(`${p.name} started`, async () => {
    if (!p.alive()) throw new Error(`${p.name} exited while starting: ${p.output().slice(-3000)}`);
    return p.output().includes('"worker started"');
  }, timeoutMs, 50);
  return p;
}

export interface ApiProc { proc: Proc; url: string; port: number }

/** An API process (apps/api/src/main.ts, migrations at start); resolves once /health answers. */
export async function spawnApi(group: ProcessGroup, t: Target, env: Record<string, string> = {}, port?: number, timeoutMs = 40_000): Promise<ApiProc> {
  const p0 = port ?? (await freePort());
  const p = group.add(spawnProc(`api-${group.procs.length}`, 'apps/api/src/main.ts', {
    DATABASE_URL: t.databaseUrl,
    REDIS_URL: t.redisUrl,
    QUEUE_PREFIX: t.prefix,
    HOST: '127.0.0.1',
    PORT: String(p0),
    ...env,
  }));
  const url = `http://127.0.0.1:${p0}`;
  await waitFor(`${p.name} listening`, async () => {
    if (!p.alive()) throw new Error(`${p.name} exited while starting: ${p.output().slice(-3000)}`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      return res.status === 200;
    } catch {
      return false;
    }
  }, timeoutMs, 100);
  return { proc: p, url, port: p0 };
}

// ---------------------------------------------------------------------------------------
// HTTP and polling

export interface Reply { status: number; body: any; text: string }

export async function call(base: string, method: 'GET' | 'POST', path: string, key?: string, body?: unknown, timeoutMs = 10_000): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let parsed: unknown;
  try { parsed = JSON.parse(text); } catch { parsed = undefined; }
  return { status: res.status, body: parsed, text };
}

export async function submit(base: string, key: string, spec: unknown): Promise<{ id: string; total: number }> {
  const r = await call(base, 'POST', '/v1/sweeps', key, spec);
  if (r.status !== 201) throw new Error(`submit: ${r.status} ${r.text.slice(0, 1000)}`);
  return r.body;
}


// ---------------------------------------------------------------------------------------
// Teams

export async function makeTeam(pool: pg.Pool, name: string): Promise<{ teamId: string; key: string }> {
  const team = await createTeam(pool, name);
  const { key } = await createKey(pool, team.id, { name: 'faults' });
  return { teamId: team.id, key };
}

// ---------------------------------------------------------------------------------------
// Storage invariants

export interface StorageReport {
  total: number;
  rows: number;
  byStatus: Record<string, number>;
  /** Indexes 0..total-1 with no run row in the expected final status. */
  lost: number[];
  /** Indexes with more than one run row, plus run rows whose configuration has more than one result row. */
  duplicated: number[];
  /** Run rows outside 0..total-1. */
  stray: number[];
  /** Succeeded runs without a result, or failed runs with one. */
  badLinks: number[];
  maxAttempts: number;
}

/**
 * Checks a finished sweep in Postgres: one row per index, each in `expected(index)`'s
 * status (default succeeded), a succeeded run linked to exactly one result row.
 */
export async function storageReport(
  pool: pg.Pool, sweepId: string, total: number, expected: (index: number) => string = () => 'succeeded',
): Promise<StorageReport> {
  const { rows } = await pool.query<{ index: number; status: string; result_id: string | null; attempts: number; dup_results: number }>(
    `SELECT r.index, r.status, r.result_id, r.attempts,
            (SELECT count(*)::int FROM results x WHERE x.config_hash = r.config_hash AND x.core_version = s.core_version) AS dup_results
       FROM runs r LEFT JOIN results s ON s.id = r.result_id
      WHERE r.sweep_id = $1 ORDER BY r.index`, [sweepId]);
  const perIndex = new Map<number, typeof rows>();
  for (const r of rows) {
    const list = perIndex.get(r.index) ?? [];
    list.push(r);
    perIndex.set(r.index, list);
  }
  const byStatus: Record<string, number> = {};
  for (const r of rows) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
  const lost: number[] = [];
  const duplicated: number[] = [];
  const badLinks: number[] = [];
  for (let i = 0; i < total; i++) {
    const list = perIndex.get(i) ?? [];
    const want = expected(i);
    if (!list.some((r) => r.status === want)) lost.push(i);
    if (list.length > 1 || list.some((r) => r.result_id !== null && r.dup_results > 1)) duplicated.push(i);
    for (const r of list) {
      if ((r.status === 'succeeded') !== (r.result_id !== null)) badLinks.push(i);
    }
  }
  const stray = [...perIndex.keys()].filter((i) => !(i >= 0 && i < total));
  return {
    total, rows: rows.length, byStatus, lost, duplicated, stray, badLinks,
    maxAttempts: rows.reduce((m, r) => Math.max(m, r.attempts), 0),
  };
}

export async function sweepRow(pool: pg.Pool, id: string): Promise<{ status: string; enqueued: number; total: number; finished_at: Date | null }> {
  const { rows } = await pool.query('SELECT status, enqueued, total, finished_at FROM sweeps WHERE id = $1', [id]);
  return rows[0];
}

export async function runCounts(pool: pg.Pool, id: string): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ status: string; n: number }>(
    'SELECT status, count(*)::int AS n FROM runs WHERE sweep_id = $1 GROUP BY status', [id]);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/** Waits until the sweep row is in a final status (read from Postgres, so it works while the API is down). */
export function waitFinished(pool: pg.Pool, id: string, timeoutMs: number): Promise<string> {
  return waitFor(`sweep ${id} finished`, async () => {
    try {
      const s = await sweepRow(pool, id);
      return ['succeeded', 'failed', 'cancelled'].includes(s.status) ? s.status : undefined;
    } catch {
      return undefined; // Postgres briefly unreachable (the outage test)
    }
  }, timeoutMs, 200);
}

// ---------------------------------------------------------------------------------------
// Clean run: the core's own simulate of configAt(i), in a child process so it can
// overlap with the sweep instead of blocking this process's event loop.

export interface CleanResult { index: number; summary: unknown; trajectorySha256: string; generator: string | null }

export function cleanRunInChild(spec: unknown): Promise<CleanResult[]> {
  installExitHook();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/faults/clean-run.ts'], {
      cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'],
    });
    everyChild.add(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => { out += d; });
    child.stderr!.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('exit', (code) => {
      everyChild.delete(child);
      if (code !== 0) reject(new Error(`clean-run exited ${code}: ${err.slice(-2000)}`));
      else resolve(JSON.parse(out));
    });
    child.stdin!.end(JSON.stringify(spec));
  });
}

/** Indexes whose stored result differs from the clean run (summary, trajectory bytes or generator). */
export async function compareWithClean(pool: pg.Pool, sweepId: string, clean: CleanResult[]): Promise<{ index: number; why: string }[]> {
  const { rows } = await pool.query<{ index: number; summary: unknown; trajectory: Buffer | null; generator: string | null }>(
    `SELECT r.index, s.summary, s.trajectory, s.generator
       FROM runs r JOIN results s ON s.id = r.result_id WHERE r.sweep_id = $1`, [sweepId]);
  const byIndex = new Map(rows.map((r) => [r.index, r]));
  const diffs: { index: number; why: string }[] = [];
  for (const c of clean) {
    const r = byIndex.get(c.index);
    if (!r) { diffs.push({ index: c.index, why: 'no stored result' }); continue; }
    if (JSON.stringify(canonical(r.summary)) !== JSON.stringify(canonical(c.summary))) diffs.push({ index: c.index, why: 'summary differs' });
    const sha = createHash('sha256').update(r.trajectory ?? Buffer.alloc(0)).digest('hex');
    if (sha !== c.trajectorySha256) diffs.push({ index: c.index, why: 'trajectory differs' });
    if ((r.generator ?? null) !== c.generator) diffs.push({ index: c.index, why: 'generator differs' });
  }
  return diffs;
}

/** Key order does not matter in jsonb: sort keys recursively. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  return v;
}

// ---------------------------------------------------------------------------------------
// Report

export interface FaultRecord {
  injected: number;
  lost: number;
  duplicated: number;
  [k: string]: unknown;
}

/** Writes test-results/faults/<name>.json and prints `fault <name>: injected N, lost N, duplicated N`. */
export function recordFault(name: string, rec: FaultRecord): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, `${name}.json`), JSON.stringify({ fault: name, at: new Date().toISOString(), ...rec }, null, 2) + '\n');
  console.log(`fault ${name}: injected ${rec.injected}, lost ${rec.lost}, duplicated ${rec.duplicated}`);
}

/** q x D on the paper's C.4 geometry (the e2e tests' spec), `n` atoms and `iterations` generations. */
export function c4Spec(o: { name: string; qs: number[]; ds: number[]; n: number; iterations: number; recordEvery?: number; extraBase?: object; extraAxes?: object[] }) {
  return {
    name: o.name,
    tags: ['faults'],
    base: {
      support: { kind: 'grid', min: -12, max: 12, n: o.n },
      rewards: [{ kind: 'quadratic', center: 0 }, { kind: 'quadratic', center: 0 }],
      K: 'inf',
      // Real data keeps every atom alive, so a run costs n m T whatever q and D: the
      // tests size their runs (long enough to kill or cancel one mid-way) by it.
      realFraction: 0.05,
      iterations: o.iterations,
      eps: 0.5,
      recordEvery: o.recordEvery ?? Math.max(1, Math.floor(o.iterations / 20)),
      ...o.extraBase,
    },
    axes: [{ param: 'q', values: o.qs }, { param: 'D', values: o.ds }, ...(o.extraAxes ?? [])],
    derive: { 'rewards.0.center': '[-D/2]', 'rewards.1.center': '[D/2]' },
  };
}

export const linspace = (a: number, b: number, n: number) =>
  Array.from({ length: n }, (_, k) => (n === 1 ? a : a + ((b - a) * k) / (n - 1)));
