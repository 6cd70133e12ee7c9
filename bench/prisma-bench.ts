// The hot paths' SQL through plain pg and through Prisma Client (prismaQueryable over
// the same pool, `$queryRawUnsafe` / `$executeRawUnsafe`; transactions through Prisma's
// interactive `$transaction`): the real repository functions, in this process, on a
// throwaway database. For each: median wall and CPU (this process) microseconds per
// call through each, what Prisma adds per call and per run, and that as a share of a
// 2 ms and a 6 ms run (the service allows 5%). The worker's rows add up to its cost per
// run: per job of 100 indexes one openRuns, one findReusableResults, one store of 100
// results (~10 KB trajectories) with its finishRunsSucceeded and one finishSweepIfDone;
// a claim per pool task (about 50 ms of compute: 25 runs of 2 ms, 8 of 6 ms). Then
// the API's (counts, stats, export pages, cancel and retry), the enqueuer's, the
// reconciler's and the refiner's statements, per call.
//
//   npm run bench -- prisma          (BENCH_PRISMA_REPEATS, default 30, per statement and client)
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import type pg from 'pg';
import { simulate } from '@curation/core';
import { compileSweep } from '@curation/sweep-spec';
import {
  ALL_SWEEPS, advanceEnqueued, cancelSweep, claimRuns, createPool, encodeTrajectory, exportRuns, findReusableResults, finishRunsSucceeded,
  finishSweepIfDone, getEnqueueState, heartbeat, holdReconcilerLease, insertResults, insertRunChunk, openRuns, prismaFor, prismaQueryable,
  queuedRunsOfOpenSweeps, releaseRunsOfDeadWorkers, retrySweep, runOutcomes, runStatusCounts, sweepStats, type NewResult, type Queryable, type RunSuccess,
} from '../packages/db/src/index.ts';
import { createTestDatabase } from '../test/support/services.ts';

const REPEATS = Number(process.env.BENCH_PRISMA_REPEATS ?? 30);
const RUN_MS = [2, 6];
const JOB = 100;
const WORKER = 'bench-w';

// ------------------------------------------------------------------ the two clients

interface Client { name: 'pg' | 'prisma'; db: Queryable; pool: pg.Pool }

/**
 * What `pool.connect()` gives the transactional repositories (BEGIN ... COMMIT on one
 * client), made of a Prisma interactive transaction: what those functions would be on
 * Prisma (`prisma.$transaction(async (tx) => ...)`), run unchanged for the measurement.
 */
function prismaTransactionPool(pool: pg.Pool): pg.Pool {
  const prisma = prismaFor(pool);
  const none = { command: '', rowCount: 0, oid: 0, fields: [], rows: [] };
  const connect = () => new Promise((resolveClient, rejectConnect) => {
    let settle!: (commit: boolean) => void;
    const done = prisma.$transaction(async (tx) => {
      const q = prismaQueryable(tx);
      const outcome = new Promise<void>((resolve, reject) => { settle = (commit) => (commit ? resolve() : reject(new Error('rolled back'))); });
      resolveClient({
        query: async (text: string, values?: unknown[]) => {
          if (text === 'BEGIN') return none;
          if (text === 'COMMIT') { settle(true); await done; return none; }
          if (text === 'ROLLBACK') { settle(false); await done.catch(() => {}); return none; }
          return q.query(text, values);
        },
        release: () => {},
      });
      await outcome;
    }, { timeout: 60_000 });
    done.catch(rejectConnect);
  });
  return { connect } as unknown as pg.Pool;
}

// ------------------------------------------------------------------ measuring

interface Sample { wallUs: number; cpuUs: number }

async function timeOnce(fn: () => Promise<unknown>): Promise<Sample> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const wallUs = (performance.now() - t0) * 1000;
  const c = process.cpuUsage(c0);
  return { wallUs, cpuUs: c.user + c.system };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

interface Case {
  name: string;
  /** The worker's statements, by which the per-run sum finds them. */
  key?: string;
  /** Runs one call serves (0: not per run, e.g. a request). */
  runsPerCall: number;
  /** Untimed preparation before each call (resets the rows the call changes). */
  prepare?: (c: Client, k: number) => Promise<void>;
  call: (c: Client, k: number) => Promise<unknown>;
}

interface Row { name: string; key?: string; runsPerCall: number; pg: Sample; prisma: Sample }

/** Both clients alternately (the order flips every round), so drift hits both alike. */
async function measure(cs: Case, clients: [Client, Client]): Promise<Row> {
  const samples: Record<string, Sample[]> = { pg: [], prisma: [] };
  for (let k = 0; k < REPEATS + 3; k++) {
    const order = k % 2 ? [clients[1], clients[0]] : clients;
    for (const c of order) {
      await cs.prepare?.(c, k);
      const s = await timeOnce(() => cs.call(c, k));
      if (k >= 3) samples[c.name].push(s); // the first rounds warm both up
    }
  }
  const med = (xs: Sample[]): Sample => ({ wallUs: median(xs.map((s) => s.wallUs)), cpuUs: median(xs.map((s) => s.cpuUs)) });
  return { name: cs.name, key: cs.key, runsPerCall: cs.runsPerCall, pg: med(samples.pg), prisma: med(samples.prisma) };
}

// ------------------------------------------------------------------ data

const SPEC = {
  name: 'prisma-bench', tags: ['bench'],
  base: { support: { kind: 'grid', min: -12, max: 12, n: 201 }, rewards: [{ kind: 'quadratic', center: 0 }, { kind: 'quadratic', center: 0 }], K: 'inf', iterations: 200, eps: 0.5, recordEvery: 2 },
  axes: [{ param: 'q', linspace: [0.02, 0.98, 40] }, { param: 'D', linspace: [0.5, 8, 50] }],
  derive: { 'rewards.0.center': '[-D/2]', 'rewards.1.center': '[D/2]' },
};

async function insertSweepRows(pool: pg.Pool, withRuns = true): Promise<{ id: string; total: number }> {
  const compiled = compileSweep(SPEC);
  const id = randomUUID();
  await pool.query(
    `INSERT INTO sweeps (id, name, tags, spec, total, enqueued, core_version) VALUES ($1, $2, '{bench}', $3, $4, $5, 'bench')`,
    [id, SPEC.name, JSON.stringify(SPEC), compiled.total, withRuns ? compiled.total : 0],
  );
  if (withRuns) {
    const indexes = Array.from({ length: compiled.total }, (_, i) => i);
    await pool.query(
      `INSERT INTO runs (sweep_id, index, params) SELECT $1, i, p::jsonb FROM unnest($2::int[], $3::text[]) AS u(i, p)`,
      [id, indexes, indexes.map((i) => JSON.stringify(compiled.paramsAt(i)))],
    );
  }
  return { id, total: compiled.total };
}

/** A few real outputs (~10 KB trajectories), handed out under fresh hashes. */
function resultMaker() {
  const outs = [0.2, 0.4, 0.6, 0.8].map((q) => {
    const config = { ...SPEC.base, q, rewards: [{ kind: 'quadratic', center: -1 }, { kind: 'quadratic', center: 1 }] };
    const out = simulate(config as never, {});
    return { config, summary: out.summary, trajectory: new Uint8Array(encodeTrajectory(out.trajectory)) };
  });
  let serial = 0;
  return (hash = `h${serial++}`): NewResult => {
    const o = outs[serial % outs.length];
    return { configHash: hash, coreVersion: 'bench', gitRevision: 'bench', config: o.config, summary: o.summary, trajectory: o.trajectory, generator: null, durationMs: 2 };
  };
}

// ------------------------------------------------------------------ the benchmark

export async function runPrismaBench(): Promise<void> {
  const tdb = await createTestDatabase();
  const pool = createPool(tdb.url, 4);
  try {
    const clients: [Client, Client] = [
      { name: 'pg', db: pool, pool },
      { name: 'prisma', db: prismaQueryable(prismaFor(pool)), pool: prismaTransactionPool(pool) },
    ];
    const make = resultMaker();
    const trajBytes = make('probe').trajectory.byteLength;

    // The worker's sweep: 2,000 runs; claims and finishes work on its first 100.
    const work = await insertSweepRows(pool);
    const job = Array.from({ length: JOB }, (_, i) => i);
    // Stored results for the reuse lookup: 100 hashes the job asks for, half of them stored and linked to the sweep.
    const known = job.map((i) => `known-${i}`);
    const knownIds = await insertResults(pool, known.filter((_, i) => i % 2 === 0).map((h) => make(h)));
    await pool.query(`UPDATE runs SET result_id = u.rid, status = 'succeeded' FROM unnest($2::int[], $3::bigint[]) AS u(i, rid)
                       WHERE sweep_id = $1 AND index = 1000 + u.i`, [work.id, [...knownIds.keys()].map((_, i) => i), [...knownIds.values()]]);
    const resetJob = async () => { await pool.query(`UPDATE runs SET status = 'queued', worker = NULL WHERE sweep_id = $1 AND index < $2`, [work.id, JOB]); };

    // The API's sweep: 2,000 succeeded runs with results, for stats, export, cancel and retry.
    const done = await insertSweepRows(pool);
    const all = Array.from({ length: done.total }, (_, i) => i);
    await claimRuns(pool, done.id, all, WORKER);
    for (let i = 0; i < done.total; i += JOB) {
      const part = all.slice(i, i + JOB);
      const ids = await insertResults(pool, part.map((k) => make(`done-${k}`)));
      await finishRunsSucceeded(pool, done.id, WORKER, part.map((k) => ({ index: k, attempt: 1, resultId: ids.get(`done-${k}`)!, configHash: `done-${k}`, durationMs: 2, reused: false })));
    }
    await finishSweepIfDone(pool, done.id);
    // A third sweep, failed, for cancel and retry (its runs are reset between calls).
    const cr = await insertSweepRows(pool);
    await pool.query(`VACUUM ANALYZE`);

    let fresh = 0;
    let finishing: RunSuccess[] = [];
    const cases: Case[] = [
      // the worker, per job
      { name: 'openRuns (100 indexes)', key: 'open', runsPerCall: JOB, prepare: resetJob, call: (c) => openRuns(c.db, work.id, job, WORKER) },
      { name: 'findReusableResults (100, team)', key: 'reuse', runsPerCall: JOB, call: (c) => findReusableResults(c.db, 'bench', known, { team: null }) },
      ...[25, 8].map((n): Case => ({
        name: `claimRuns (${n} runs)`, key: `claim${n}`, runsPerCall: n, prepare: resetJob, call: (c) => claimRuns(c.db, work.id, job.slice(0, n), WORKER),
      })),
      {
        name: `insertResults (100, ${(trajBytes / 1000).toFixed(1)} KB traj.)`, key: 'insert', runsPerCall: JOB,
        call: (c) => insertResults(c.db, job.map(() => make(`fresh-${fresh++}`))),
      },
      {
        name: 'finishRunsSucceeded (100)', key: 'finish', runsPerCall: JOB,
        prepare: async () => {
          await resetJob();
          const claim = await claimRuns(pool, work.id, job, WORKER);
          const resultId = knownIds.values().next().value!;
          finishing = claim.indexes.map((index, i) => ({ index, attempt: claim.attempts[i], resultId, configHash: 'known-0', durationMs: 2, reused: false }));
        },
        call: (c) => finishRunsSucceeded(c.db, work.id, WORKER, finishing),
      },
      { name: 'finishSweepIfDone (not done)', key: 'sweepDone', runsPerCall: JOB, call: (c) => finishSweepIfDone(c.db, work.id) },
      // the API
      { name: 'runStatusCounts (1 sweep)', runsPerCall: 0, call: (c) => runStatusCounts(c.db, [done.id]) },
      {
        name: 'sweepStats (q x D, 2,000 runs)', runsPerCall: 0,
        call: (c) => sweepStats(c.db, done.id, { groupBy: ['q', 'D'], metrics: ['summary.basinShare.0', 'summary.nashGap'], where: [] }),
      },
      {
        name: 'export page (2,000 rows)', runsPerCall: 0,
        call: async (c) => { let n = 0; for await (const _ of exportRuns(c.db, done.id, { chunkSize: 2000 })) if (++n === 2000) break; },
      },
      {
        name: 'export page (200 rows, trajectories)', runsPerCall: 0,
        call: async (c) => { let n = 0; for await (const _ of exportRuns(c.db, done.id, { trajectory: true })) if (++n === 200) break; },
      },
      {
        name: 'cancelSweep (transaction)', runsPerCall: 0,
        prepare: async () => { await pool.query(`UPDATE sweeps SET status = 'running', finished_at = NULL WHERE id = $1`, [cr.id]); },
        call: (c) => cancelSweep(c.pool, cr.id, ALL_SWEEPS),
      },
      {
        name: 'retrySweep (transaction, 2,000 runs)', runsPerCall: 0,
        prepare: async () => {
          await pool.query(`UPDATE sweeps SET status = 'failed', finished_at = now() WHERE id = $1`, [cr.id]);
          await pool.query(`UPDATE runs SET status = 'failed', error = 'x' WHERE sweep_id = $1`, [cr.id]);
        },
        call: (c) => retrySweep(c.pool, cr.id, ALL_SWEEPS),
      },
      // the reconciler's pass and the refiner's reads (before the enqueuer's cases add queued runs)
      { name: 'heartbeat', runsPerCall: 0, call: (c) => heartbeat(c.db, WORKER) },
      { name: 'holdReconcilerLease', runsPerCall: 0, call: (c) => holdReconcilerLease(c.db, WORKER, 6000) },
      { name: 'releaseRunsOfDeadWorkers', runsPerCall: 0, call: (c) => releaseRunsOfDeadWorkers(c.db) },
      { name: 'queuedRunsOfOpenSweeps', runsPerCall: 0, call: (c) => queuedRunsOfOpenSweeps(c.db) },
      { name: 'runOutcomes (2,000 runs)', runsPerCall: 0, call: (c) => runOutcomes(c.db, done.id, ['nashGap']) },
      // the enqueuer, per chunk of 5,000 runs
      { name: 'getEnqueueState', runsPerCall: 0, call: (c) => getEnqueueState(c.db, work.id) },
      {
        name: 'insertRunChunk (5,000 runs, transaction)', runsPerCall: 5000,
        call: async (c) => {
          const s = await insertSweepRows(pool, false);
          const indexes = Array.from({ length: 5000 }, (_, i) => i);
          const params = indexes.map((i) => JSON.stringify({ q: i / 5000, D: 1 }));
          const client = await c.pool.connect();
          try { return await insertRunChunk(client, s.id, indexes, params); } finally { client.release(); }
        },
      },
      { name: 'advanceEnqueued', runsPerCall: 5000, call: (c) => advanceEnqueued(c.db, work.id, work.total) },
    ];

    const rows: Row[] = [];
    for (const cs of cases) rows.push(await measure(cs, clients));
    print(rows);
  } finally {
    await pool.end();
    await tdb.drop();
  }
}

function print(rows: Row[]): void {
  const f = (x: number) => x.toFixed(0).padStart(7);
  const pct = (a: number, b: number) => `${((b / a - 1) * 100).toFixed(0).padStart(5)}%`;
  console.log(`load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}; medians of ${REPEATS} calls each, microseconds; CPU is this process's (Postgres not counted)`);
  console.log(`${'statement'.padEnd(44)} ${'runs'.padStart(5)} |  pg wall prisma   +wall |  pg CPU  prisma    +CPU | +CPU/run +wall/run`);
  for (const r of rows) {
    const perRun = (d: number) => (r.runsPerCall ? (d / r.runsPerCall).toFixed(1).padStart(8) : '       -');
    console.log(`${r.name.padEnd(44)} ${String(r.runsPerCall || '-').padStart(5)} | ${f(r.pg.wallUs)} ${f(r.prisma.wallUs)} ${pct(r.pg.wallUs, r.prisma.wallUs)} | ${f(r.pg.cpuUs)} ${f(r.prisma.cpuUs)} ${pct(r.pg.cpuUs, r.prisma.cpuUs)} | ${perRun(r.prisma.cpuUs - r.pg.cpuUs)} ${perRun(r.prisma.wallUs - r.pg.wallUs)}`);
  }
  // The worker's statements per run, at each run size.
  const by = new Map(rows.filter((r) => r.key).map((r) => [r.key!, r]));
  console.log('\nworker, per run (sum over a job\'s statements)      pg CPU  prisma CPU  +CPU   share of run |  pg wall  prisma wall  +wall  share of run');
  for (const ms of RUN_MS) {
    const claim = ms <= 2 ? by.get('claim25')! : by.get('claim8')!;
    const parts = ['open', 'reuse', 'insert', 'finish', 'sweepDone'].map((n) => by.get(n)!).concat(claim);
    const sum = (k: 'pg' | 'prisma', m: 'cpuUs' | 'wallUs') => parts.reduce((t, r) => t + r[k][m] / r.runsPerCall, 0);
    const runUs = ms * 1000;
    const [pc, qc, pw, qw] = [sum('pg', 'cpuUs'), sum('prisma', 'cpuUs'), sum('pg', 'wallUs'), sum('prisma', 'wallUs')];
    console.log(`  ${ms} ms run (claims of ${claim.runsPerCall})`.padEnd(50)
      + `${pc.toFixed(1).padStart(8)} ${qc.toFixed(1).padStart(10)} ${(qc - pc).toFixed(1).padStart(6)} ${(((qc - pc) / runUs) * 100).toFixed(2).padStart(8)}%     |`
      + `${pw.toFixed(1).padStart(8)} ${qw.toFixed(1).padStart(11)} ${(qw - pw).toFixed(1).padStart(6)} ${(((qw - pw) / runUs) * 100).toFixed(2).padStart(8)}%`);
  }
}
