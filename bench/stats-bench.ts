// Results-reading benchmark: on a throwaway database holding a 100,000-run sweep (q x D x
// 500 seeds, synthetic results; plus 100,000 results of another sweep, so `results` is
// shared as in production), times
//   - the two-variable group-by of GET /v1/sweeps/:id/stats (median of 5; target < 300 ms),
//     on real-column metrics, on jsonb-path metrics, and with a where filter,
//   - GET /v1/stats?tag= over the two sweeps,
//   - the CSV export of all 100,000 rows over HTTP (rows/s, peak RSS delta).
// `node --import tsx bench/stats-bench.ts` (DATABASE_URL names the server; a database
// cs_bench_* is created and dropped). BENCH_EXPLAIN=1 prints the query plan.
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import type { FastifyInstance } from 'fastify';
import {
  buildStatsQuery, databaseUrl, migrate, sweepMeta, sweepStats, sweepsByTag, withDatabase, type StatsOptions,
} from '../packages/db/src/index.ts';
import { redisUrl } from '../packages/queue/src/index.ts';
import { buildApp } from '../apps/api/src/app.ts';
import { benchAuthHeaders } from './auth.ts';

const QS = 20;
const DS = 10;
const SEEDS = 500;
const TOTAL = QS * DS * SEEDS;

export async function insertSweep(pool: pg.Pool, name: string, salt: number): Promise<string> {
  const id = randomUUID();
  const spec = {
    name, tags: ['bench'],
    base: { support: { kind: 'grid', min: -12, max: 12, n: 481 }, rewards: [{ kind: 'quadratic', center: 0 }, { kind: 'quadratic', center: 0 }], iterations: 400 },
    axes: [{ param: 'q', linspace: [0.025, 0.975, QS] }, { param: 'D', linspace: [1, 10, DS] }, { param: 'seed', replicates: SEEDS }],
    derive: { 'rewards.0.center': '[-D/2]', 'rewards.1.center': '[D/2]' },
  };
  await pool.query(
    `INSERT INTO sweeps (id, name, tags, spec, total, status, enqueued, core_version) VALUES ($1, $2, '{bench}', $3, $4, 'failed', $4, 'bench')`,
    [id, name, JSON.stringify(spec), TOTAL],
  );
  // One result per run, values a smooth function of (q, D) plus deterministic seed noise;
  // every 997th run failed (no result).
  await pool.query(
    `WITH p AS (
       SELECT g, round((0.025 + 0.05 * (g / ${DS * SEEDS}))::numeric, 3)::float8 AS q,
              (1 + (g / ${SEEDS}) % ${DS})::float8 AS d, g % ${SEEDS} AS seed
         FROM generate_series(0, ${TOTAL - 1}) g
     ), v AS (
       SELECT g, q, d, seed, least(1, greatest(0, q + (0.5 - q) * exp(-d / 2) + 0.02 * sin(g * 12.9898 + $2))) AS s0
         FROM p
     ), res AS (
       INSERT INTO results (config_hash, core_version, git_revision, config, summary, trajectory, converged, converged_at,
                            collapsed, nash_gap, basin_share0, surviving_basins, in_interval, final_entropy, duration_ms)
       SELECT $1::text || ':' || g, 'bench', 'bench', jsonb_build_object('q', q, 'D', d, 'seed', seed),
              jsonb_build_object(
                'converged', seed % 7 <> 0, 'convergedAt', CASE WHEN seed % 7 <> 0 THEN 50 + seed % 300 END,
                'final', jsonb_build_object('t', 400, 'entropy', 1 + d / 10, 'effectiveSupport', exp(1 + d / 10),
                   'mass', jsonb_build_array(s0 * 0.95, (1 - s0) * 0.95), 'outside', 0.05,
                   'meanReward', jsonb_build_array(-0.1 * d, -0.1 * d), 'varReward', jsonb_build_array(0.01, 0.01), 'step', 1e-9),
                'basinShare', jsonb_build_array(s0, 1 - s0), 'nashGap', abs(s0 - q), 'collapsed', greatest(s0, 1 - s0) >= 0.99,
                'survivingBasins', CASE WHEN least(s0, 1 - s0) * 0.95 >= 0.01 THEN 2 ELSE 1 END,
                'audit', jsonb_build_object('disjoint', true, 'initMass', jsonb_build_array(0.5, 0.5),
                   'crossGap', jsonb_build_array(d * d / 2, d * d / 2), 'leakage', jsonb_build_array(exp(-d), exp(-d)),
                   'inWindow', exp(-d) < q AND q < 1 - exp(-d), 'interval', jsonb_build_array(greatest(0, q - 0.05), least(1, q + 0.05)),
                   'inInterval', abs(s0 - q) <= 0.05)),
              '\\x00'::bytea, seed % 7 <> 0, CASE WHEN seed % 7 <> 0 THEN 50 + seed % 300 END,
              greatest(s0, 1 - s0) >= 0.99, abs(s0 - q), s0, CASE WHEN least(s0, 1 - s0) * 0.95 >= 0.01 THEN 2 ELSE 1 END,
              abs(s0 - q) <= 0.05, 1 + d / 10, 1
         FROM v WHERE g % 997 <> 996
       RETURNING id, config_hash, config)
     INSERT INTO runs (sweep_id, index, params, status, result_id, attempts, finished_at)
     SELECT $1::uuid, split_part(config_hash, ':', 2)::int, config, 'succeeded', id, 1, now() FROM res`,
    [id, salt],
  );
  await pool.query(
    `INSERT INTO runs (sweep_id, index, params, status, error, attempts)
     SELECT $1, g, jsonb_build_object('q', round((0.025 + 0.05 * (g / ${DS * SEEDS}))::numeric, 3)::float8,
                                      'D', (1 + (g / ${SEEDS}) % ${DS})::float8, 'seed', g % ${SEEDS}),
            'failed', 'core threw: "bad, config"', 1
       FROM generate_series(0, ${TOTAL - 1}) g WHERE g % 997 = 996`,
    [id],
  );
  return id;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timeIt(fn: () => Promise<unknown>, runs = 5): Promise<number> {
  await fn(); // warm-up (plan cache, buffers)
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

/** The real API (buildApp) on this database, listening on loopback, with an admin key (the bench sweeps have no team). */
async function startApi(url: string): Promise<{ app: FastifyInstance; port: number; headers: Record<string, string> }> {
  const app = await buildApp({ databaseUrl: url, redisUrl: redisUrl(), prefix: `cs_bench_${process.pid}`, logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { app, port, headers: await benchAuthHeaders(url, { admin: true }) };
}

async function csvOverHttp(port: number, headers: Record<string, string>, sweepId: string): Promise<{ ms: number; rows: number; bytes: number; rssDeltaMb: number; rssDeltaTenthMb: number }> {
  (globalThis as { gc?: () => void }).gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  let peakAtTenth = 0;
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 10);
  const t = performance.now();
  const { rows, bytes } = await new Promise<{ rows: number; bytes: number }>((resolve, reject) => {
    http.get(`http://127.0.0.1:${port}/v1/sweeps/${sweepId}/runs.csv`, { headers }, (res) => {
      let lines = 0;
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        for (let i = c.indexOf(10); i !== -1; i = c.indexOf(10, i + 1)) lines++;
        peak = Math.max(peak, process.memoryUsage().rss);
        if (!peakAtTenth && lines >= TOTAL / 10) peakAtTenth = peak;
      });
      res.on('end', () => resolve({ rows: lines - 1, bytes: size }));
      res.on('error', reject);
    }).on('error', reject);
  });
  const ms = performance.now() - t;
  clearInterval(sampler);
  return { ms, rows, bytes, rssDeltaMb: (peak - base) / 2 ** 20, rssDeltaTenthMb: (peakAtTenth - base) / 2 ** 20 };
}

export async function runStatsBench(): Promise<Record<string, number>> {
  const server = databaseUrl();
  const name = `cs_bench_${process.pid}_${randomBytes(4).toString('hex')}`;
  const url = withDatabase(server, name);
  await migrate(url);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  const out: Record<string, number> = {};
  try {
    const t = performance.now();
    const sweepId = await insertSweep(pool, 'bench q x D x 500 seeds', 0);
    await insertSweep(pool, 'another sweep sharing the results table', 1);
    // VACUUM as autovacuum would on these insert-only tables: sets the visibility map, so
    // the stats query reads results_stats_idx alone (index-only scan).
    await pool.query('VACUUM ANALYZE');
    out.insertSeconds = (performance.now() - t) / 1000;
    out.runs = TOTAL;

    const q2: StatsOptions = { groupBy: ['q', 'D'], metrics: ['summary.basinShare.0', 'summary.nashGap'], where: [] };
    const qJson: StatsOptions = { groupBy: ['q', 'D'], metrics: ['summary.final.mass.1', 'summary.audit.leakage.0'], where: [] };
    const qWhere: StatsOptions = {
      groupBy: ['q', 'D'], metrics: ['summary.basinShare.0', 'summary.nashGap'],
      where: [{ field: 'q', op: '>=', value: 0.5 }, { field: 'summary.collapsed', op: '=', value: false }],
    };
    const check = await sweepStats(pool, sweepId, q2);
    if (!check || check.groups.length !== QS * DS) throw new Error(`expected ${QS * DS} groups, got ${check?.groups.length}`);
    out.groups = check.groups.length;

    if (process.env.BENCH_EXPLAIN === '1') {
      const meta = (await sweepMeta(pool, sweepId))!;
      const qq = buildStatsQuery(sweepId, meta.variables, q2);
      const plan = await pool.query({ text: `EXPLAIN (ANALYZE, BUFFERS) ${qq.text}`, values: qq.values });
      console.log(plan.rows.map((r) => r['QUERY PLAN']).join('\n'));
    }

    out.statsGroupBy2Ms = await timeIt(() => sweepStats(pool, sweepId, q2));
    out.statsGroupBy2JsonPathsMs = await timeIt(() => sweepStats(pool, sweepId, qJson));
    out.statsGroupBy2WhereMs = await timeIt(() => sweepStats(pool, sweepId, qWhere));
    out.statsGroupBy1Ms = await timeIt(() => sweepStats(pool, sweepId, { ...q2, groupBy: ['q'] }));
    out.tagCompareMs = await timeIt(() => sweepsByTag(pool, 'bench', { metrics: ['summary.basinShare.0'] }));

    const api = await startApi(url);
    try {
      // The same group-by as a client sees it: HTTP, auth, validation, JSON.
      out.statsGroupBy2HttpMs = await timeIt(async () => {
        const res = await fetch(`http://127.0.0.1:${api.port}/v1/sweeps/${sweepId}/stats?groupBy=q,D&metrics=summary.basinShare.0,summary.nashGap`, { headers: api.headers });
        if (!res.ok) throw new Error(`stats answered ${res.status}`);
        await res.json();
      });
      const csv = await csvOverHttp(api.port, api.headers, sweepId);
    if (csv.rows !== TOTAL) throw new Error(`CSV export gave ${csv.rows} rows, expected ${TOTAL}`);
    out.csvExportSeconds = csv.ms / 1000;
    out.csvRowsPerSecond = Math.round(csv.rows / (csv.ms / 1000));
    out.csvMegabytes = csv.bytes / 2 ** 20;
    out.csvPeakRssDeltaMb = csv.rssDeltaMb;
    // Constant memory: the peak is already reached after the first tenth of the rows.
    out.csvPeakRssDeltaFirstTenthMb = csv.rssDeltaTenthMb;
    } finally {
      await api.app.close();
    }
  } finally {
    await pool.end();
    const admin = new pg.Client({ connectionString: withDatabase(server, 'postgres') });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  }
  const w = Math.max(...Object.keys(out).map((k) => k.length));
  for (const [k, v] of Object.entries(out)) {
    const verdict = k === 'statsGroupBy2Ms' || k === 'statsGroupBy2HttpMs' ? (v < 300 ? '  (target < 300 ms: ok)' : '  (target < 300 ms: MISSED)') : '';
    console.log(`${k.padEnd(w)}  ${Number.isInteger(v) ? String(v) : v.toFixed(1)}${verdict}`);
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('stats-bench.ts')) {
  runStatsBench().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
