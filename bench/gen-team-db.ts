// A team database at scale, for bench/scale-bench.ts: BENCH_TEAM_RUNS run rows (default
// 10,000,000) over many sweeps of four teams, every succeeded run with its own result row,
// in a dedicated database (default cs_teamdb_<runs>) on the server of DATABASE_URL.
//
//   node --import tsx bench/gen-team-db.ts [RUNS] [--force]
//
// Layout: one sweep of min(1,000,000, RUNS) runs (q 100 x D 100 x 100 seeds, team 0, tags
// paper + big), the rest in sweeps of 50,000 (q 20 x D 25 x 100 seeds), teams and tag
// families round-robin; every 997th run failed (no result). Results have the summary
// columns and a summary jsonb like real contract 2 rows, and a one-byte trajectory
// (docs/analyst-sql.md gives the real trajectory size per run apart).
//
// Set-based and fast: the migrations' indexes and foreign keys are dropped, rows are
// written with INSERT ... SELECT generate_series (ids given, so runs point at their results
// without a join) on two connections, then every index and constraint is rebuilt from its
// own definition, read from the catalog before it was dropped, and the tables are
// VACUUM ANALYZEd (visibility map set, as autovacuum would). The run counters are filled
// from the rows in one statement (the counting trigger is off during the load), and so
// are the stats rows (run_stats) and each finished sweep's tag-stats lines, which the
// worker's finish of a sweep computes. An existing database of the same size is reused
// unless --force.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createTeam, databaseUrl, migrate, withDatabase } from '../packages/db/src/index.ts';

export const BIG_SWEEP_RUNS = 1_000_000;
export const SWEEP_RUNS = 50_000;
const CHUNK = 250_000;
const TEAMS = 4;
const FAMILIES = 10;

export interface TeamDb {
  url: string;
  runs: number;
  sweeps: number;
  bigSweepId: string;
  bigSweepRuns: number;
  /** A 50,000-run sweep (when the database has one). */
  smallSweepId: string | null;
  teamIds: string[];
  generatedSeconds: number;
  reused: boolean;
}

interface SweepPlan { id: string; name: string; team: number; tags: string[]; qs: number; ds: number; seeds: number; runs: number; runOffset: number }

function plan(total: number): SweepPlan[] {
  const out: SweepPlan[] = [];
  const big = Math.min(BIG_SWEEP_RUNS, total);
  const bigSeeds = Math.max(1, Math.floor(big / 10_000));
  out.push({ id: randomUUID(), name: 'big: q x D x seeds', team: 0, tags: ['team-db', 'paper', 'big'], qs: 100, ds: 100, seeds: bigSeeds, runs: 10_000 * bigSeeds, runOffset: 0 });
  let offset = out[0].runs;
  for (let k = 0; offset + 500 <= total; k++) {
    const seeds = Math.min(100, Math.floor((total - offset) / 500));
    out.push({
      id: randomUUID(), name: `sweep ${k + 1}`, team: (k + 1) % TEAMS, tags: ['team-db', `family-${k % FAMILIES}`],
      qs: 20, ds: 25, seeds, runs: 500 * seeds, runOffset: offset,
    });
    offset += 500 * seeds;
  }
  return out;
}

function specOf(p: SweepPlan): object {
  return {
    name: p.name, tags: p.tags,
    base: { support: { kind: 'grid', min: -12, max: 12, n: 401 }, rewards: [{ kind: 'quadratic', center: 0 }, { kind: 'quadratic', center: 0 }], K: 'inf', iterations: 300, eps: 0.5, recordEvery: 10 },
    axes: [{ param: 'q', linspace: [0.02, 0.98, p.qs] }, { param: 'D', linspace: [0.5, 8, p.ds] }, { param: 'seed', replicates: p.seeds }],
    derive: { 'rewards.0.center': '[-D/2]', 'rewards.1.center': '[D/2]' },
  };
}

/**
 * Summaries are the costliest part of a row to build, so each sweep shape gets a table of
 * them, one per (q, D, seed % 7), that result rows copy; the real columns (what stats
 * aggregate) are computed per row with the seed's noise.
 */
async function createTemplates(c: pg.PoolClient, shapes: SweepPlan[]): Promise<void> {
  await c.query('CREATE UNLOGGED TABLE bench_summary (qs int, ds int, k int, summary jsonb, PRIMARY KEY (qs, ds, k))');
  for (const p of shapes) {
    await c.query(
      `INSERT INTO bench_summary
       SELECT ${p.qs}, ${p.ds}, cell * 7 + s7,
              jsonb_build_object(
                'converged', s7 <> 0, 'convergedAt', CASE WHEN s7 <> 0 THEN 50 + s7 * 30 END,
                'final', jsonb_build_object('t', 300, 'entropy', 1 + d / 10, 'effectiveSupport', exp(1 + d / 10),
                   'mass', jsonb_build_array(s0 * 0.95, (1 - s0) * 0.95), 'outside', 0.05, 'step', 1e-9),
                'basinShare', jsonb_build_array(s0, 1 - s0), 'nashGap', abs(s0 - q), 'collapsed', greatest(s0, 1 - s0) >= 0.99,
                'survivingBasins', CASE WHEN least(s0, 1 - s0) >= 0.01 THEN 2 ELSE 1 END, 'outsideDecayRate', 0.02 + d / 100,
                'audit', jsonb_build_object('applies', true, 'inInterval', abs(s0 - q) <= 0.05, 'inIntervalB5', abs(s0 - q) <= 0.04,
                   'inIntervalCorrected', abs(s0 - q) <= 0.06, 'outsideDomination', exp(-d)))
         FROM (SELECT cell, s7, q, d, least(1, greatest(0, q + (0.5 - q) * exp(-d / 2))) AS s0
                 FROM (SELECT cell, s7, 0.02::float8 + 0.96::float8 * (cell / ${p.ds}) / ${Math.max(1, p.qs - 1)}::float8 AS q,
                              0.5::float8 + 7.5::float8 * (cell % ${p.ds}) / ${Math.max(1, p.ds - 1)}::float8 AS d
                         FROM generate_series(0, ${p.qs * p.ds - 1}) cell, generate_series(0, 6) s7) a) b
       ON CONFLICT DO NOTHING`,
    );
  }
}

/** Results and runs of indexes [from, to) of one sweep, in one statement; result id = run id = runOffset + index + 1. */
async function insertChunk(c: pg.PoolClient, p: SweepPlan, from: number, to: number): Promise<void> {
  const per = p.ds * p.seeds;
  // Axis values exactly as linspace gives them (float8: numeric exp/sin would cost more than
  // the rest of the row); noise from the global id, so sweeps differ.
  await c.query(
    `WITH p AS MATERIALIZED (
       SELECT g, id, q, d, seed, cell, params, lpad(to_hex(id), 64, '0') AS hash,
              least(1, greatest(0, q + (0.5 - q) * exp(-d / 2) + 0.02 * sin(id * 12.9898))) AS s0
         FROM (SELECT g, ${p.runOffset} + g + 1 AS id, g / ${p.seeds} AS cell, g % ${p.seeds} AS seed,
                      0.02::float8 + 0.96::float8 * (g / ${per}) / ${Math.max(1, p.qs - 1)}::float8 AS q,
                      0.5::float8 + 7.5::float8 * ((g / ${p.seeds}) % ${p.ds}) / ${Math.max(1, p.ds - 1)}::float8 AS d
                 FROM generate_series(${from}, ${to - 1}) g) a,
              LATERAL jsonb_build_object('q', q, 'D', d, 'seed', seed) AS params
     ), res AS (
       INSERT INTO results (id, config_hash, core_version, git_revision, config, summary, trajectory, converged, converged_at,
                            collapsed, nash_gap, basin_share0, surviving_basins, in_interval, final_entropy, duration_ms,
                            outside_decay_rate, audit_applies, in_interval_b5, in_interval_corrected, outside_domination, final_outside)
       SELECT p.id, p.hash, '2.0.0', 'bench', p.params, t.summary, '\\x00'::bytea, seed % 7 <> 0, CASE WHEN seed % 7 <> 0 THEN 50 + (seed % 7) * 30 END,
              greatest(s0, 1 - s0) >= 0.99, abs(s0 - q), s0, CASE WHEN least(s0, 1 - s0) >= 0.01 THEN 2 ELSE 1 END,
              abs(s0 - q) <= 0.05, 1 + d / 10, 3, 0.02 + d / 100, true, abs(s0 - q) <= 0.04, abs(s0 - q) <= 0.06, exp(-d), 0.05
         FROM p JOIN bench_summary t ON t.qs = ${p.qs} AND t.ds = ${p.ds} AND t.k = p.cell % ${p.qs * p.ds} * 7 + p.seed % 7
        WHERE g % 997 <> 996
     )
     INSERT INTO runs (id, sweep_id, index, params, status, attempts, error, config_hash, result_id, worker,
                       started_at, finished_at, duration_ms, cost_seconds)
     SELECT id, $1, g, params,
            CASE WHEN g % 997 = 996 THEN 'failed' ELSE 'succeeded' END, 1,
            CASE WHEN g % 997 = 996 THEN 'core threw: bench' END,
            CASE WHEN g % 997 <> 996 THEN hash END,
            CASE WHEN g % 997 <> 996 THEN id END, 'bench-worker',
            now() - interval '1 day', now() - interval '1 day' + interval '3 ms', 3, 0.003
       FROM p`,
    [p.id],
  );
}

interface Rebuild { drop: string; create: string; fk: boolean }

/** Every index and constraint of runs and results, with the statement that recreates it. */
async function takeIndexes(c: pg.PoolClient): Promise<Rebuild[]> {
  const cons = await c.query<{ tbl: string; name: string; def: string; type: string; idx: string | null }>(
    `SELECT conrelid::regclass::text AS tbl, conname AS name, pg_get_constraintdef(oid) AS def, contype AS type,
            conindid::regclass::text AS idx
       FROM pg_constraint WHERE conrelid IN ('runs'::regclass, 'results'::regclass) AND contype IN ('p', 'u', 'f')`,
  );
  const inConstraint = new Set(cons.rows.filter((r) => r.type !== 'f').map((r) => r.idx));
  const idx = await c.query<{ name: string; def: string }>(
    `SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS def FROM pg_index
      WHERE indrelid IN ('runs'::regclass, 'results'::regclass)`,
  );
  const fks = cons.rows.filter((r) => r.type === 'f');
  const keys = cons.rows.filter((r) => r.type !== 'f');
  return [
    ...fks.map((r) => ({ drop: `ALTER TABLE ${r.tbl} DROP CONSTRAINT "${r.name}"`, create: `ALTER TABLE ${r.tbl} ADD CONSTRAINT "${r.name}" ${r.def}`, fk: true })),
    ...keys.map((r) => ({ drop: `ALTER TABLE ${r.tbl} DROP CONSTRAINT "${r.name}"`, create: `ALTER TABLE ${r.tbl} ADD CONSTRAINT "${r.name}" ${r.def}`, fk: false })),
    ...idx.rows.filter((r) => !inConstraint.has(r.name)).map((r) => ({ drop: `DROP INDEX ${r.name}`, create: r.def, fk: false })),
  ];
}

async function parallel<T>(pool: pg.Pool, items: T[], width: number, fn: (c: pg.PoolClient, item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    const c = await pool.connect();
    try {
      await c.query(`SET synchronous_commit = off; SET maintenance_work_mem = '512MB'; SET work_mem = '64MB'`);
      while (next < items.length) await fn(c, items[next++]);
    } finally {
      c.release();
    }
  }));
}

const log = (s: string) => process.stderr.write(`[gen-team-db] ${s}\n`);

/**
 * The tag-stats lines of every finished sweep that has none, as the worker's finish of
 * each sweep computes them (migration 20261209010000_run_stats, run_stats_lines_settle):
 * the rows here were written directly, so no finish ran. One sweep per statement, timed:
 * the work a sweep's finish does.
 */
async function fillStatLines(url: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    const { rows } = await pool.query<{ id: string; n: number }>(
      `SELECT s.id, s.total AS n FROM sweeps s
        WHERE s.status IN ('succeeded', 'failed') AND NOT EXISTS (SELECT 1 FROM run_stats_lines l WHERE l.sweep_id = s.id)
        ORDER BY s.total DESC, s.id`,
    );
    if (!rows.length) return;
    const t = performance.now();
    let first = 0;
    for (const [i, s] of rows.entries()) {
      const t0 = performance.now();
      await pool.query('SELECT run_stats_lines_fill(ARRAY[$1::uuid])', [s.id]);
      if (i === 0) first = performance.now() - t0;
    }
    log(`tag-stats lines of ${rows.length} sweeps: ${((performance.now() - t) / 1000).toFixed(1)} s (the largest, ${rows[0].n} runs: ${first.toFixed(0)} ms)`);
  } finally {
    await pool.end();
  }
}

export async function generateTeamDb(runs = 10_000_000, o: { force?: boolean; database?: string } = {}): Promise<TeamDb> {
  if (!Number.isInteger(runs) || runs < 10_000) throw new Error(`runs must be an integer >= 10000, got ${runs}`);
  const server = databaseUrl();
  const name = o.database ?? `cs_teamdb_${runs}`;
  const url = withDatabase(server, name);
  const admin = new pg.Client({ connectionString: withDatabase(server, 'postgres') });
  await admin.connect();
  try {
    const meta = await admin.query<{ c: string | null }>(
      `SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = $1`, [name],
    );
    if (meta.rowCount && !o.force && meta.rows[0].c) {
      const done = JSON.parse(meta.rows[0].c) as TeamDb;
      if (done.runs === runs) {
        // Migrations added since it was generated still apply.
        await migrate(url);
        await fillStatLines(url);
        return { ...done, url, reused: true };
      }
    }
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }

  const started = performance.now();
  await migrate(url);
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  try {
    const teamIds: string[] = [];
    for (let t = 0; t < TEAMS; t++) teamIds.push((await createTeam(pool, `team-${t}`)).id);
    const sweeps = plan(runs);
    const actual = sweeps.reduce((a, s) => a + s.runs, 0);
    log(`${actual} runs in ${sweeps.length} sweeps -> ${name}`);

    const c0 = await pool.connect();
    let rebuild: Rebuild[];
    try {
      rebuild = await takeIndexes(c0);
      for (const r of rebuild) await c0.query(r.drop);
      await createTemplates(c0, sweeps.filter((s, i) => sweeps.findIndex((x) => x.qs === s.qs && x.ds === s.ds) === i));
      for (const s of sweeps) {
        await c0.query(
          `INSERT INTO sweeps (id, name, tags, spec, total, status, enqueued, core_version, team_id, estimated_cost_seconds,
                               created_at, started_at, finished_at)
           VALUES ($1, $2, $3, $4, $5::int, 'failed', $5::int, '2.0.0', $6, $5::int * 0.003,
                   now() - interval '30 days' + $7::int * interval '1 hour', now() - interval '30 days' + $7::int * interval '1 hour',
                   now() - interval '30 days' + $7::int * interval '1 hour' + interval '20 minutes')`,
          [s.id, s.name, s.tags, JSON.stringify(specOf(s)), s.runs, teamIds[s.team], sweeps.indexOf(s)],
        );
      }
    } finally {
      c0.release();
    }

    // The run counters (sweep_run_counts) are filled once from the rows instead of by the
    // triggers statement by statement.
    await pool.query('ALTER TABLE runs DISABLE TRIGGER runs_count_insert, DISABLE TRIGGER run_stats_insert');
    let t = performance.now();
    const chunks = sweeps.flatMap((s) => {
      const out: { s: SweepPlan; from: number; to: number }[] = [];
      for (let from = 0; from < s.runs; from += CHUNK) out.push({ s, from, to: Math.min(s.runs, from + CHUNK) });
      return out;
    });
    let rows = 0;
    await parallel(pool, chunks, 2, async (c, k) => {
      await insertChunk(c, k.s, k.from, k.to);
      rows += k.to - k.from;
      if (rows % 1_000_000 < k.to - k.from) log(`${rows} runs written (${((performance.now() - t) / 1000).toFixed(0)} s)`);
    });
    log(`rows: ${((performance.now() - t) / 1000).toFixed(1)} s`);
    await pool.query('DROP TABLE bench_summary');
    await pool.query('ALTER TABLE runs ENABLE TRIGGER runs_count_insert, ENABLE TRIGGER run_stats_insert');
    await pool.query(
      `INSERT INTO sweep_run_counts (sweep_id, status, n, reused)
       SELECT sweep_id, status, count(*), count(*) FILTER (WHERE reused AND status = 'succeeded') FROM runs GROUP BY 1, 2`,
    );

    t = performance.now();
    await pool.query(`SELECT setval('runs_id_seq', $1), setval('results_id_seq', $1)`, [actual]);
    // Keys and indexes two at a time, foreign keys last (they read the keys).
    await parallel(pool, rebuild.filter((r) => !r.fk), 2, async (c, r) => { await c.query(r.create); });
    await parallel(pool, rebuild.filter((r) => r.fk), 2, async (c, r) => { await c.query(r.create); });
    log(`indexes and keys: ${((performance.now() - t) / 1000).toFixed(1)} s`);
    // The stats rows (run_stats) are written from the rows in one statement, as the
    // migration that made the table writes them, instead of by its trigger chunk by chunk.
    t = performance.now();
    await pool.query(
      `INSERT INTO run_stats
       SELECT r.sweep_id, r.index, r.id, res.contract, res.core_version, res.converged, res.converged_at, res.collapsed,
              res.nash_gap, res.basin_share0, res.surviving_basins, res.in_interval, res.final_entropy, res.outside_decay_rate,
              res.audit_applies, res.in_interval_b5, res.in_interval_corrected, res.outside_domination, res.final_outside
         FROM runs r JOIN results res ON res.id = r.result_id WHERE r.status = 'succeeded'`,
    );
    log(`stats rows: ${((performance.now() - t) / 1000).toFixed(1)} s`);
    t = performance.now();
    await parallel(pool, ['runs', 'results', 'sweeps', 'teams', 'sweep_run_counts', 'run_stats'], 2, async (c, tbl) => { await c.query(`VACUUM (ANALYZE) ${tbl}`); });
    log(`vacuum analyze: ${((performance.now() - t) / 1000).toFixed(1)} s`);

    await fillStatLines(url);

    const small = sweeps.find((s) => s.runs === SWEEP_RUNS);
    const out: TeamDb = {
      url, runs: actual, sweeps: sweeps.length, bigSweepId: sweeps[0].id, bigSweepRuns: sweeps[0].runs,
      smallSweepId: small?.id ?? null, teamIds, generatedSeconds: (performance.now() - started) / 1000, reused: false,
    };
    // What was generated, for the next run to reuse (the url is recomputed then).
    await pool.query(`COMMENT ON DATABASE "${name}" IS ${pg.escapeLiteral(JSON.stringify({ ...out, runs }))}`);
    log(`done in ${out.generatedSeconds.toFixed(0)} s`);
    return { ...out, runs: actual };
  } finally {
    await pool.end();
  }
}

if (process.argv[1]?.endsWith('gen-team-db.ts')) {
  const args = process.argv.slice(2);
  const n = args.find((a) => !a.startsWith('-'));
  generateTeamDb(n ? Number(n.replace(/_/g, '')) : Number(process.env.BENCH_TEAM_RUNS ?? 10_000_000), { force: args.includes('--force') })
    .then((db) => console.log(JSON.stringify(db, null, 2)))
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
