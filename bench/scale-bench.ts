// The team database at scale (issue: million-configuration sweeps, ten million runs). On
// the database of bench/gen-team-db.ts (BENCH_TEAM_RUNS runs, default 10,000,000; made
// once and reused), through the real API over HTTP with a member key of the team that
// owns the 1M-run sweep, times (median of 5 after a warm-up):
//   - listing (GET /v1/sweeps, first page; and ?tag=),
//   - the progress poll of the 1M-run sweep (GET /v1/sweeps/:id),
//   - per-sweep stats (group-by q, D over 1M results; and over a 50k-run sweep),
//   - cross-sweep GET /v1/stats?tag= (one tag family; and the tag every sweep carries),
//   - the run listing filtered by status (GET /v1/sweeps/:id/runs?status=failed),
//   - CSV export of the 1M-run sweep: first byte, rows/s, peak RSS of the client,
//   - submission of a 1000 x 1000 sweep of tiny runs (MAX_CONFIGS_PER_SWEEP=1000000): time
//     to 201 and until every run row and job exists, the poll of its 1M queued runs; then
//     cancel of its 1M queued runs (the answer), the poll meanwhile, and the time until
//     the background pass has written every row,
//   - bytes per stored run (runs and results, with their indexes),
// and prints EXPLAIN ANALYZE of the statements behind the poll and the stats,
// to show where the time goes. The submitted sweep is deleted afterwards, so the team
// database stays as generated. BENCH_SKIP_SUBMIT=1 leaves the submission out;
// BENCH_SKIP_RESULTS=1 the stats, tag stats and export.
// BENCH_THROUGHPUT=N (default 20000; 0 skips) also runs N tiny configurations through the
// API and two single-threaded worker processes on a fresh database: runs/s from the first
// claim to the last finish.
//   node --conditions=source --import tsx bench/scale-bench.ts     (or npm run bench -- scale)
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { buildStatsQuery, createKey } from '../packages/db/src/index.ts';
import { indexKeys } from '../packages/db/src/stats-plan.ts';
import { createRedis, RUNS_QUEUE, redisUrl } from '../packages/queue/src/index.ts';
import { buildApp } from '../apps/api/src/app.ts';
import { readSettings } from '../apps/api/src/settings.ts';
import { encodeTrajectory } from '../packages/db/src/trajectory-codec.ts';
import { generateTeamDb, type TeamDb } from './gen-team-db.ts';
import { createTestDatabase, createTestRedis } from '../test/support/services.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const TARGETS: Record<string, [number, string]> = {
  submitTo201Ms: [2000, '< 2 s'],
  submitFullyQueuedMs: [20_000, '< 20 s'],
  pollBigSweepMs: [50, '< 50 ms'],
  statsBigSweepMs: [1000, '< 1 s'],
  cancel1MQueuedMs: [2000, '< 2 s'],
  tinyRunsPerSecond: [-5000, '>= 5,000 runs/s'],
};

const TINY_BASE = { support: { kind: 'grid', min: -4, max: 4, n: 21 }, rewards: [{ kind: 'quadratic', center: 0 }, { kind: 'quadratic', center: 0 }], K: 'inf', iterations: 5, eps: 0.5 };

/** N tiny configurations through the API and two worker processes (one thread each): runs per second between the first claim and the last finish. */
async function tinyThroughput(n: number): Promise<number> {
  const db = await createTestDatabase();
  const redis = await createTestRedis();
  const workers: ChildProcess[] = [];
  const app = await buildApp({ databaseUrl: db.url, redisUrl: redis.url, prefix: redis.prefix, logger: false, rateLimit: false });
  try {
    const pool = new pg.Pool({ connectionString: db.url, max: 2 });
    const team = (await pool.query<{ id: string }>(`INSERT INTO teams (id, name) VALUES (gen_random_uuid(), 'tiny') RETURNING id`)).rows[0].id;
    const { key } = await createKey(pool, team, { name: 'tiny' });
    const env = { ...process.env, DATABASE_URL: db.url, REDIS_URL: redis.url, QUEUE_PREFIX: redis.prefix, LOG_LEVEL: 'warn', WORKER_CONCURRENCY: '1' };
    for (let i = 0; i < 2; i++) {
      workers.push(spawn(process.execPath, ['--import', 'tsx', join(root, 'apps/worker/src/main.ts')], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] }));
    }
    const qs = Math.ceil(n / 100);
    const res = await app.inject({
      method: 'POST', url: '/v1/sweeps', headers: { authorization: `Bearer ${key}` },
      payload: { name: 'tiny', base: TINY_BASE, axes: [{ param: 'q', linspace: [0.001, 0.999, qs] }, { param: 'D', linspace: [0.5, 8, 100] }], derive: { 'rewards.0.center': '[-D/2]', 'rewards.1.center': '[D/2]' } },
    });
    if (res.statusCode !== 201) throw new Error(`tiny sweep answered ${res.statusCode}: ${res.body}`);
    const id = res.json().id as string;
    const end = Date.now() + 900_000;
    for (;;) {
      const r = await pool.query<{ finished: boolean }>('SELECT finished_at IS NOT NULL AS finished FROM sweeps WHERE id = $1', [id]);
      if (r.rows[0].finished) break;
      if (Date.now() > end) throw new Error('the tiny sweep did not finish within 15 minutes');
      await new Promise((r) => setTimeout(r, 200));
    }
    const span = await pool.query<{ n: number; s: number }>(
      `SELECT count(*)::int AS n, extract(epoch FROM max(finished_at) - min(started_at))::float8 AS s FROM runs WHERE sweep_id = $1 AND status = 'succeeded'`, [id],
    );
    await pool.end();
    return span.rows[0].n / span.rows[0].s;
  } finally {
    await Promise.all(workers.map((w) => new Promise<void>((resolve) => {
      if (w.exitCode !== null) return resolve();
      w.once('exit', () => resolve());
      w.kill('SIGTERM');
    })));
    await app.close();
    await db.drop();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timeIt(fn: () => Promise<unknown>, runs = 5): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

async function getJson(port: number, headers: Record<string, string>, path: string): Promise<unknown> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
  if (!res.ok) throw new Error(`GET ${path} answered ${res.status}: ${await res.text()}`);
  return res.json();
}

async function csvExport(port: number, headers: Record<string, string>, sweepId: string): Promise<{ firstByteMs: number; ms: number; rows: number; bytes: number; peakRssDeltaMb: number }> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const t = performance.now();
  let firstByteMs = 0;
  const { rows, bytes } = await new Promise<{ rows: number; bytes: number }>((resolve, reject) => {
    http.get(`http://127.0.0.1:${port}/v1/sweeps/${sweepId}/runs.csv`, { headers }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`runs.csv answered ${res.statusCode}`));
      let lines = 0;
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (!firstByteMs) firstByteMs = performance.now() - t;
        size += c.length;
        for (let i = c.indexOf(10); i !== -1; i = c.indexOf(10, i + 1)) lines++;
        if ((lines & 0x3fff) === 0) peak = Math.max(peak, process.memoryUsage().rss);
      });
      res.on('end', () => resolve({ rows: lines - 1, bytes: size }));
      res.on('error', reject);
    }).on('error', reject);
  });
  return { firstByteMs, ms: performance.now() - t, rows, bytes, peakRssDeltaMb: (Math.max(peak, process.memoryUsage().rss) - base) / 2 ** 20 };
}

async function explain(pool: pg.Pool, title: string, sql: string, values: unknown[], opts = 'ANALYZE, BUFFERS'): Promise<string> {
  const client = await pool.connect();
  try {
    // Statements that write are explained in a transaction that is rolled back.
    await client.query('BEGIN');
    const { rows } = await client.query({ text: `EXPLAIN (${opts}) ${sql}`, values });
    await client.query('ROLLBACK');
    return `--- ${title}\n${rows.map((r) => r['QUERY PLAN']).join('\n')}`;
  } finally {
    client.release();
  }
}

/** Bytes of a 1M-run sweep of the C.4 demo's trajectories (examples/q-vs-D.yaml: 2 rewards, 300 generations, recordEvery 10). */
function c4TrajectoryBytes(): number {
  const rows = Array.from({ length: 31 }, (_, i) => ({
    t: i * 10, entropy: 1, effectiveSupport: 2, mass: [0.5, 0.45], outside: 0.05, meanReward: [0, 0], varReward: [1, 1], step: 1e-9, shareStep: 1e-9,
  }));
  return encodeTrajectory(rows as never).length;
}

export async function runScaleBench(): Promise<Record<string, number>> {
  const runs = Number(process.env.BENCH_TEAM_RUNS ?? 10_000_000);
  const db: TeamDb = await generateTeamDb(runs);
  const out: Record<string, number> = { teamDbRuns: db.runs, teamDbSweeps: db.sweeps, bigSweepRuns: db.bigSweepRuns };
  if (!db.reused) out.generateSeconds = db.generatedSeconds;
  const explains: string[] = [];
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  const prefix = `cs_scale_${process.pid}`;
  let app: FastifyInstance | undefined;
  try {
    const limits = readSettings({ ...process.env, MAX_CONFIGS_PER_SWEEP: '1000000' }).limits;
    app = await buildApp({ databaseUrl: db.url, redisUrl: redisUrl(), prefix, logger: false, rateLimit: false, limits });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    const { key } = await createKey(pool, db.teamIds[0], { name: 'scale-bench' });
    const headers = { authorization: `Bearer ${key}` };
    const big = db.bigSweepId;

    out.listSweepsMs = await timeIt(() => getJson(port, headers, '/v1/sweeps?limit=50'));
    out.listSweepsByTagMs = await timeIt(() => getJson(port, headers, '/v1/sweeps?limit=50&tag=family-4'));
    out.pollBigSweepMs = await timeIt(() => getJson(port, headers, `/v1/sweeps/${big}`));
    const results = process.env.BENCH_SKIP_RESULTS !== '1';
    if (results) out.statsBigSweepMs = await timeIt(() => getJson(port, headers, `/v1/sweeps/${big}/stats?groupBy=q,D&metrics=summary.basinShare.0,summary.nashGap`), 3);
    if (results && db.smallSweepId) {
      // Another team's sweep: the bench key is a member of team 0, so ask with an admin key.
      const admin = await createKey(pool, db.teamIds[0], { name: 'scale-bench-admin', role: 'admin' });
      const ah = { authorization: `Bearer ${admin.key}` };
      out.stats50kSweepMs = await timeIt(() => getJson(port, ah, `/v1/sweeps/${db.smallSweepId}/stats?groupBy=q,D&metrics=summary.basinShare.0,summary.nashGap`));
      out.tagStatsFamilyMs = await timeIt(() => getJson(port, ah, '/v1/stats?tag=family-4&metrics=summary.basinShare.0'), 3);
      const fam = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM runs r JOIN sweeps s ON s.id = r.sweep_id WHERE 'family-4' = ANY(s.tags)`);
      out.tagStatsFamilyRuns = Number(fam.rows[0].n);
      out.tagStatsAllMs = await timeIt(() => getJson(port, ah, '/v1/stats?tag=team-db&metrics=summary.basinShare.0'), 1);
      const all = await pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM runs r WHERE r.sweep_id IN (SELECT id FROM sweeps WHERE 'team-db' = ANY(tags) ORDER BY created_at, id LIMIT 200)`,
      );
      out.tagStatsAllRuns = Number(all.rows[0].n);
    }
    out.runsFailedPageMs = await timeIt(() => getJson(port, headers, `/v1/sweeps/${big}/runs?status=failed&limit=100`));
    out.runsPageMs = await timeIt(() => getJson(port, headers, `/v1/sweeps/${big}/runs?limit=100`));

    if (results) {
      const csv = await csvExport(port, headers, big);
      if (csv.rows !== db.bigSweepRuns) throw new Error(`CSV export gave ${csv.rows} rows, expected ${db.bigSweepRuns}`);
      out.exportFirstByteMs = csv.firstByteMs;
      out.exportSeconds = csv.ms / 1000;
      out.exportRowsPerSecond = Math.round(csv.rows / (csv.ms / 1000));
      out.exportMegabytes = csv.bytes / 2 ** 20;
      out.exportPeakRssDeltaMb = csv.peakRssDeltaMb;
    }

    explains.push(await explain(pool, 'poll: run counts of the 1M-run sweep (runStatusCounts, from sweep_run_counts)',
      `SELECT c.sweep_id, c.status, sum(c.n)::float8 AS n, sum(c.reused)::float8 AS reused, count(*)::int, s.status = 'cancelled'
         FROM sweep_run_counts c JOIN sweeps s ON s.id = c.sweep_id WHERE c.sweep_id = ANY($1::uuid[]) GROUP BY c.sweep_id, c.status, s.status`, [[big]]));
    {
      // The statement the API runs: the first of its two parts, over the stats rows.
      const meta = (await pool.query<{ spec: unknown; total: number }>('SELECT spec, total FROM sweeps WHERE id = $1', [big])).rows[0];
      const input = { groupBy: ['q', 'D'], metrics: ['summary.basinShare.0', 'summary.nashGap'], where: [] };
      const keys = await indexKeys(pool, big, meta.spec, meta.total, ['q', 'D']);
      const q = buildStatsQuery(big, ['q', 'D', 'seed'], input, keys, { runStats: true, versionRange: true, part: { k: 0, of: 2, total: meta.total } });
      explains.push(await explain(pool, 'stats: group-by q, D of the 1M-run sweep, first of two parts (run_stats)', q.text, q.values));
    }

    // Bytes per stored run (tables with their indexes and TOAST).
    const size = await pool.query<{ runs: string; results: string; counts: string; stats: string; nruns: string; nres: string; db: string }>(
      `SELECT pg_total_relation_size('runs') AS runs, pg_total_relation_size('results') AS results,
              pg_total_relation_size('sweep_run_counts') AS counts, pg_total_relation_size('run_stats') AS stats,
              (SELECT count(*) FROM runs) AS nruns, (SELECT count(*) FROM results) AS nres, pg_database_size(current_database()) AS db`,
    );
    const s = size.rows[0];
    out.bytesPerRunRow = Number(s.runs) / Number(s.nruns);
    out.bytesPerResultRow = Number(s.results) / Number(s.nres);
    out.bytesPerStatsRow = Number(s.stats) / Number(s.nres);
    out.bytesPerStoredRun = (Number(s.runs) + Number(s.results) + Number(s.counts) + Number(s.stats)) / Number(s.nruns);
    out.runCounterBytes = Number(s.counts);
    out.databaseGigabytes = Number(s.db) / 2 ** 30;
    out.c4TrajectoryBytes = c4TrajectoryBytes();

    if (process.env.BENCH_SKIP_SUBMIT !== '1') {
      // 1000 x 1000 tiny runs, as in the issue.
      const spec = {
        name: 'scale: 1000 x 1000 tiny', tags: ['scale-bench'],
        base: { support: { kind: 'grid', min: -4, max: 4, n: 21 }, rewards: [{ kind: 'quadratic', center: 0 }, { kind: 'quadratic', center: 0 }], K: 'inf', iterations: 5, eps: 0.5 },
        axes: [{ param: 'q', linspace: [0.001, 0.999, 1000] }, { param: 'D', linspace: [0.5, 8, 1000] }],
        derive: { 'rewards.0.center': '[-D/2]', 'rewards.1.center': '[D/2]' },
      };
      // The 1-minute load average around the submission: on a shared machine its times follow the load.
      out.submitLoadBefore = loadavg()[0];
      let t = performance.now();
      const res = await fetch(`http://127.0.0.1:${port}/v1/sweeps`, {
        method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(spec),
      });
      out.submitTo201Ms = performance.now() - t;
      if (res.status !== 201) throw new Error(`submission answered ${res.status}: ${await res.text()}`);
      const { id } = (await res.json()) as { id: string };
      try {
        for (;;) {
          const r = await pool.query<{ enqueued: number; total: number }>('SELECT enqueued, total FROM sweeps WHERE id = $1', [id]);
          if (r.rows[0].enqueued >= r.rows[0].total) break;
          if (performance.now() - t > 600_000) throw new Error('the 1M-config sweep was not queued within 10 minutes');
          await new Promise((r) => setTimeout(r, 100));
        }
        out.submitFullyQueuedMs = performance.now() - t;
        out.submitLoadAfter = loadavg()[0];
        // A connection handed to a Queue stays open after its close: quit it too, or the bench never exits.
        const jqRedis = createRedis(redisUrl());
        const jq = new Queue(RUNS_QUEUE, { connection: jqRedis, prefix });
        const jobs = await jq.getJobCounts('wait', 'prioritized');
        await jq.close();
        await jqRedis.quit();
        out.submitJobs = jobs.wait + jobs.prioritized;
        out.pollQueued1MMs = await timeIt(() => getJson(port, headers, `/v1/sweeps/${id}`));
        const queued = (await getJson(port, headers, `/v1/sweeps/${id}`)) as { counts: { queued: number } };
        if (queued.counts.queued !== 1_000_000) throw new Error(`the poll says ${queued.counts.queued} queued, expected 1000000`);
        t = performance.now();
        const c = await fetch(`http://127.0.0.1:${port}/v1/sweeps/${id}/cancel`, { method: 'POST', headers });
        out.cancel1MQueuedMs = performance.now() - t;
        if (!c.ok) throw new Error(`cancel answered ${c.status}: ${await c.text()}`);
        const after = (await c.json()) as { counts: { cancelled: number } };
        if (after.counts.cancelled !== 1_000_000) throw new Error(`the cancel says ${after.counts.cancelled} cancelled, expected 1000000`);
        // The rows follow in the background (the poll says cancelled all along).
        out.pollCancellingMs = await timeIt(() => getJson(port, headers, `/v1/sweeps/${id}`));
        for (;;) {
          const r = await pool.query(`SELECT 1 FROM runs WHERE sweep_id = $1 AND status = 'queued' LIMIT 1`, [id]);
          if (!r.rowCount) break;
          if (performance.now() - t > 600_000) throw new Error('the cancelled rows were not written within 10 minutes');
          await new Promise((r) => setTimeout(r, 250));
        }
        out.cancelRowsWrittenMs = performance.now() - t;
        out.pollCancelled1MMs = await timeIt(() => getJson(port, headers, `/v1/sweeps/${id}`));
        const counterRows = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM sweep_run_counts WHERE sweep_id = $1', [id]);
        out.counterRowsAfterCancel = counterRows.rows[0].n;
      } finally {
        await pool.query('DELETE FROM sweeps WHERE id = $1', [id]);
        // Its space is reused by the next run's sweep (bytes per run stay those of the team database).
        await pool.query('VACUUM runs, sweep_run_counts');
      }
    }
    const tiny = Number(process.env.BENCH_THROUGHPUT ?? 20_000);
    if (tiny > 0) out.tinyRunsPerSecond = await tinyThroughput(tiny);
  } finally {
    await app?.close();
    const redis = createRedis(redisUrl());
    const q = new Queue(RUNS_QUEUE, { connection: redis, prefix });
    await q.obliterate({ force: true }).catch(() => {});
    await q.close();
    await redis.quit();
    await pool.end();
  }

  const w = Math.max(...Object.keys(out).map((k) => k.length));
  for (const [k, v] of Object.entries(out)) {
    const target = TARGETS[k];
    // A negative target is a floor (at least), a positive one a ceiling (under).
    const ok = target && (target[0] < 0 ? v >= -target[0] : v < target[0]);
    const verdict = target ? `  (target ${target[1]}: ${ok ? 'ok' : 'MISSED'})` : '';
    console.log(`${k.padEnd(w)}  ${Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 2 : 1)}${verdict}`);
  }
  if (process.env.BENCH_EXPLAIN !== '0') console.log(`\n${explains.join('\n\n')}`);
  return out;
}

if (process.argv[1]?.endsWith('scale-bench.ts')) {
  // Exits when done: a client library may keep an idle socket open for a while.
  runScaleBench().then(() => process.exit(0), (err) => {
    console.error(err);
    process.exit(1);
  });
}
