// Results reading at scale (issue: million-configuration sweeps, ten million runs): on the
// team databases of bench/gen-team-db.ts (made once and reused: BENCH_STATS_SCALE lists
// their sizes, default 1,000,000 and 10,000,000 runs; BENCH_TEAM_DB_PREFIX names them,
// default cs_teamdb_<runs> as for bench/scale-bench.ts), through the real API over HTTP
// with an admin key, times
//   - per-sweep stats, group-by q, D over the 1M-run sweep (and, on the 10M database,
//     over a 50k-run sweep): "cold" is the first request of a freshly started API (median
//     of 3 fresh APIs: nothing kept in the process), "kept" the median of 5 requests after
//     it, the reply of a finished sweep being kept (packages/db/src/stats-plan.ts); cold
//     also with the statement in one part instead of two (statsParallelSettings), with
//     the groups sorted instead of read range by range (statsRangeSettings), and for the
//     dashboard's first page of 200 groups; the statement's Postgres CPU and page faults
//     on a fresh backend and again (BENCH_STATS_ONLY=1 stops after these);
//   - the work the worker's finish of the 1M-run sweep does for its tag lines
//     (run_stats_lines_fill), which a tag request then reads (docs/service-design.md,
//     "Stats at scale");
//   - the phase diagram (plot.svg, q x D heatmap of 10,000 cells), cold and kept;
//   - cross-sweep GET /v1/stats?tag= over one tag family and over every sweep, cold and kept
//     (the lines of finished sweeps are kept in the database from their finish on), and
//     over every sweep with no line kept (each sweep aggregated from its stats rows);
//   - listing (first page of 50) and a runs page of the 1M-run sweep;
//   - CSV and NDJSON export of the 1M-run sweep: time to first byte, rows/s, peak RSS of
//     the API process over the export (flat memory: the same after a tenth of the rows as
//     at the end).
//   npm run bench -- stats-scale        (node --conditions=source --import tsx bench/stats-scale-bench.ts)
import http from 'node:http';
import { execSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { redisUrl } from '../packages/queue/src/index.ts';
import pg from 'pg';
import { buildStatsQuery, statsParallelSettings, statsRangeSettings } from '../packages/db/src/index.ts';
import { indexKeys } from '../packages/db/src/stats-plan.ts';
import { buildApp } from '../apps/api/src/app.ts';
import { generateTeamDb, type TeamDb } from './gen-team-db.ts';
import { benchAuthHeaders } from './auth.ts';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load = () => loadavg().map((x) => x.toFixed(1)).join(' ');

interface Api { app: FastifyInstance; port: number }

async function startApi(url: string): Promise<Api> {
  const app = await buildApp({ databaseUrl: url, redisUrl: redisUrl(), prefix: `cs_statsscale_${process.pid}`, logger: false, rateLimit: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, port: (app.server.address() as AddressInfo).port };
}

async function get(api: Api, headers: Record<string, string>, path: string): Promise<number> {
  const t = performance.now();
  const res = await fetch(`http://127.0.0.1:${api.port}${path}`, { headers });
  const body = await res.text();
  if (!res.ok) throw new Error(`GET ${path} answered ${res.status}: ${body.slice(0, 300)}`);
  return performance.now() - t;
}

/**
 * The sweep's first stats request on an API that is already serving (the dashboard
 * polls the sweep and lists its runs first): nothing kept for this request, but the
 * process and its connections warm. Median over `fresh` newly started APIs.
 */
async function firstOnRunningApi(url: string, headers: Record<string, string>, sweepId: string, path: string, fresh = 3): Promise<number> {
  const firsts: number[] = [];
  for (let i = 0; i < fresh; i++) {
    const api = await startApi(url);
    try {
      // Two requests at once, twice, so the pool holds the two connections a stats request uses.
      for (let k = 0; k < 2; k++) {
        await Promise.all([get(api, headers, `/v1/sweeps/${sweepId}`), get(api, headers, `/v1/sweeps/${sweepId}/runs?limit=100`)]);
      }
      firsts.push(await get(api, headers, path));
    } finally {
      await api.app.close();
    }
  }
  return median(firsts);
}

/** First request of `fresh` newly started APIs (nothing kept), then the median of `kept` more on the last one. */
async function coldAndKept(url: string, headers: Record<string, string>, path: string, fresh = 3, kept = 5): Promise<{ cold: number; kept: number }> {
  const colds: number[] = [];
  let api: Api | undefined;
  for (let i = 0; i < fresh; i++) {
    await api?.app.close();
    api = await startApi(url);
    colds.push(await get(api, headers, path));
  }
  const warm: number[] = [];
  for (let i = 0; i < kept; i++) warm.push(await get(api!, headers, path));
  await api!.app.close();
  return { cold: median(colds), kept: median(warm) };
}

/** CPU time (ms) and minor page faults of a local Postgres backend, from /proc. */
function backendUsage(pid: number): { cpuMs: number; faults: number } {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { cpuMs: (Number(f[11]) + Number(f[12])) * 10, faults: Number(f[7]) };
}

/**
 * The 1M sweep's stats statement in one part, read range by range and sorted: Postgres
 * CPU and page faults of its backend, on a fresh connection (first run) and again on
 * the same one. Wall time alone says little on a shared machine; the backend's CPU does.
 */
async function statementCpu(url: string, sweepId: string, say: (k: string, v: number) => void): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  let sweep: { spec: unknown; total: number };
  let keys;
  try {
    sweep = (await pool.query<{ spec: unknown; total: number }>('SELECT spec, total FROM sweeps WHERE id = $1', [sweepId])).rows[0];
    keys = await indexKeys(pool, sweepId, sweep.spec, sweep.total, ['q', 'D']);
  } finally {
    await pool.end();
  }
  const input = { groupBy: ['q', 'D'], metrics: ['summary.basinShare.0', 'summary.nashGap'], where: [] };
  const variables = ['q', 'D', 'seed'];
  const part = { k: 0, of: 1, total: sweep.total };
  for (const [name, q] of [
    ['ranges', buildStatsQuery(sweepId, variables, input, keys, { runStats: true, versionRange: true, part, ranges: { total: sweep.total } })],
    ['sorted', buildStatsQuery(sweepId, variables, input, keys, { runStats: true, versionRange: true, part })],
  ] as const) {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      await c.query("SET work_mem = '256MB'; SET jit = off; SET max_parallel_workers_per_gather = 0");
      for (const when of ['fresh backend', 'again']) {
        const before = backendUsage(pid);
        await c.query(q);
        const after = backendUsage(pid);
        say(`statement ${name}, ${when}: pg CPU ms`, after.cpuMs - before.cpuMs);
        say(`statement ${name}, ${when}: page faults`, after.faults - before.faults);
      }
    } finally {
      await c.end();
    }
  }
}

/** Streams an export; first byte, rows/s and the API process's peak RSS (at a tenth of the rows, and overall). */
async function exportFigures(api: Api, headers: Record<string, string>, path: string, expectRows: number) {
  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  let peakAtTenth = 0;
  const t = performance.now();
  let firstByteMs = 0;
  const rows = await new Promise<number>((resolve, reject) => {
    http.get(`http://127.0.0.1:${api.port}${path}`, { headers }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`${path} answered ${res.statusCode}`));
      let lines = 0;
      res.on('data', (c: Buffer) => {
        if (!firstByteMs) firstByteMs = performance.now() - t;
        for (let i = c.indexOf(10); i !== -1; i = c.indexOf(10, i + 1)) lines++;
        if ((lines & 0x1fff) < 64) {
          peak = Math.max(peak, process.memoryUsage().rss);
          if (!peakAtTenth && lines >= expectRows / 10) peakAtTenth = peak;
        }
      });
      res.on('end', () => resolve(lines));
      res.on('error', reject);
    }).on('error', reject);
  });
  const ms = performance.now() - t;
  peak = Math.max(peak, process.memoryUsage().rss);
  return { firstByteMs, rowsPerSecond: Math.round(rows / (ms / 1000)), rows, peakRssMb: (peak - base) / 2 ** 20, peakRssTenthMb: (peakAtTenth - base) / 2 ** 20 };
}

async function benchOne(runs: number): Promise<Record<string, number>> {
  const prefix = process.env.BENCH_TEAM_DB_PREFIX;
  const db: TeamDb = await generateTeamDb(runs, prefix ? { database: `${prefix}${runs}` } : {});
  const out: Record<string, number> = { runs: db.runs, sweeps: db.sweeps };
  const headers = await benchAuthHeaders(db.url, { admin: true });
  const big = db.bigSweepId;
  const say = (k: string, v: number) => {
    out[k] = v;
    console.log(`  ${k.padEnd(34)} ${Number.isInteger(v) ? v : v.toFixed(v < 10 ? 2 : 0)}   (load ${load()})`);
  };
  console.log(`team database of ${db.runs} runs, ${db.sweeps} sweeps (${db.url.replace(/^.*\//, '')})`);
  const q = 'groupBy=q,D&metrics=summary.basinShare.0,summary.nashGap';
  let r = await coldAndKept(db.url, headers, `/v1/sweeps/${big}/stats?${q}`);
  say('stats 1M q x D cold ms', r.cold);
  say('stats 1M q x D kept ms', r.kept);
  say('stats 1M q x D first on a running API ms', await firstOnRunningApi(db.url, headers, big, `/v1/sweeps/${big}/stats?${q}`));
  const parts = statsParallelSettings.parts;
  statsParallelSettings.parts = 1;
  try {
    r = await coldAndKept(db.url, headers, `/v1/sweeps/${big}/stats?${q}`, 3, 0);
    say('stats 1M q x D cold, one part ms', r.cold);
  } finally {
    statsParallelSettings.parts = parts;
  }
  const minRows = statsRangeSettings.minRows;
  statsRangeSettings.minRows = Infinity;
  try {
    r = await coldAndKept(db.url, headers, `/v1/sweeps/${big}/stats?${q}`, 3, 0);
    say('stats 1M q x D cold, sorted ms', r.cold);
  } finally {
    statsRangeSettings.minRows = minRows;
  }
  r = await coldAndKept(db.url, headers, `/v1/sweeps/${big}/stats?${q}&limit=200`, 3);
  say('stats 1M q x D, page of 200, cold ms', r.cold);
  say('stats 1M q x D, page of 200, kept ms', r.kept);
  await statementCpu(db.url, big, say);
  if (process.env.BENCH_STATS_ONLY) return out;
  r = await coldAndKept(db.url, headers, `/v1/sweeps/${big}/plot.svg?x=q&y=D&z=summary.basinShare.0`, 1);
  say('heatmap 1M q x D cold ms', r.cold);
  say('heatmap 1M q x D kept ms', r.kept);
  if (db.smallSweepId) {
    r = await coldAndKept(db.url, headers, `/v1/sweeps/${db.smallSweepId}/stats?${q}`);
    say('stats 50k q x D cold ms', r.cold);
    say('stats 50k q x D kept ms', r.kept);
    r = await coldAndKept(db.url, headers, '/v1/stats?tag=family-4&metrics=summary.basinShare.0', 1);
    say('tag stats, one family cold ms', r.cold);
    say('tag stats, one family kept ms', r.kept);
  }
  r = await coldAndKept(db.url, headers, '/v1/stats?tag=team-db&metrics=summary.basinShare.0', 1, 3);
  say(`tag stats, all ${Math.min(db.sweeps, 200)} sweeps cold ms`, r.cold);
  say(`tag stats, all ${Math.min(db.sweeps, 200)} sweeps kept ms`, r.kept);
  {
    // No line kept (as if no finish had made them): every sweep aggregated from its stats
    // rows, in a transaction rolled back so the database keeps its lines.
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const t = performance.now();
      await pool.query('SELECT count(*) FROM run_stats_line_rows(ARRAY(SELECT id FROM sweeps WHERE $1 = ANY(tags) ORDER BY created_at, id LIMIT 200))', ['team-db']);
      say(`tag lines of all ${Math.min(db.sweeps, 200)} sweeps, none kept ms`, performance.now() - t);
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        const t2 = performance.now();
        await c.query('SELECT run_stats_lines_fill(ARRAY[$1::uuid])', [big]);
        say('tag lines of the 1M sweep at its finish ms', performance.now() - t2);
      } finally {
        await c.query('ROLLBACK');
        c.release();
      }
    } finally {
      await pool.end();
    }
  }

  const api = await startApi(db.url);
  try {
    const t5 = async (path: string) => {
      await get(api, headers, path);
      const xs: number[] = [];
      for (let i = 0; i < 5; i++) xs.push(await get(api, headers, path));
      return median(xs);
    };
    say('list sweeps, first 50 ms', await t5('/v1/sweeps?limit=50'));
    say('runs page of 1M sweep (100) ms', await t5(`/v1/sweeps/${big}/runs?limit=100`));
    say('failed runs page of 1M sweep ms', await t5(`/v1/sweeps/${big}/runs?limit=100&status=failed`));
    const csv = await exportFigures(api, headers, `/v1/sweeps/${big}/runs.csv`, db.bigSweepRuns);
    if (csv.rows - 1 !== db.bigSweepRuns) throw new Error(`CSV export gave ${csv.rows - 1} rows, expected ${db.bigSweepRuns}`);
    say('CSV export first byte ms', csv.firstByteMs);
    say('CSV export rows/s', csv.rowsPerSecond);
    say('CSV export peak RSS at 1/10 MB', csv.peakRssTenthMb);
    say('CSV export peak RSS MB', csv.peakRssMb);
    const nd = await exportFigures(api, headers, `/v1/sweeps/${big}/runs.ndjson`, db.bigSweepRuns);
    if (nd.rows !== db.bigSweepRuns) throw new Error(`NDJSON export gave ${nd.rows} rows, expected ${db.bigSweepRuns}`);
    say('NDJSON export first byte ms', nd.firstByteMs);
    say('NDJSON export rows/s', nd.rowsPerSecond);
    say('NDJSON export peak RSS MB', nd.peakRssMb);
  } finally {
    await api.app.close();
  }
  return out;
}

export async function runStatsScaleBench(): Promise<Record<string, Record<string, number>>> {
  const sizes = (process.env.BENCH_STATS_SCALE ?? '1000000,10000000').split(',').map((s) => Number(s.replace(/_/g, '')));
  console.log(`node ${process.version}, ${execSync('nproc').toString().trim()} cores, load ${load()}`);
  const out: Record<string, Record<string, number>> = {};
  for (const n of sizes) out[n] = await benchOne(n);
  return out;
}

if (process.argv[1]?.endsWith('stats-scale-bench.ts')) {
  runStatsScaleBench().then(() => process.exit(0), (err) => {
    console.error(err);
    process.exit(1);
  });
}
