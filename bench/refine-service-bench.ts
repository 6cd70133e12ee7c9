// An adaptive sweep through the service (API in-process, two worker processes, real
// Redis and Postgres) against a fixed sweep of exactly the points it ran: the wall
// time from submission to finished_at of each, so the difference is what the
// refinement costs (the refiner's reads and writes, and whatever waiting for outcomes
// leaves the workers idle). Each pair runs REFINE_SERVICE_REPEATS times (3 by default),
// alternating which goes first; the ratio reported is of the medians. apiCpuMs is the
// CPU of this process (the API, its refiner and enqueuer, and the bench's polling) from
// submission to the end, refined / fixed: unlike wall times, it does not depend on
// what else the machine is doing.
// The fixed sweep's configurations differ from the adaptive one's only by `tol`, which
// changes their hashes (so nothing is reused between the two, or between repeats) and
// not their cost.
//
//   npm run bench -- refine-service      (REFINE_SERVICE_FINEST=64 by default)
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { axisValue, compileSweep, hausdorff, parseSpecText, readOutcome, type CompiledSweep, type PointValues } from '@curation/sweep-spec';
import pg from 'pg';
import { setup, spawnWorker, submit, waitStatus, type Env } from '../test/e2e/support.ts';
import { createTestDatabase } from '../test/support/services.ts';
import { driveSweep, insertRefineSweep, quietRefiner } from '../test/support/refine-drive.ts';

const FINEST = Number(process.env.REFINE_SERVICE_FINEST ?? 64);
const REPEATS = Number(process.env.REFINE_SERVICE_REPEATS ?? 3);

export const load = () => os.loadavg().map((x) => x.toFixed(1)).join(' ');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/**
 * Seconds the workers held none of the sweep's runs between its creation and its end,
 * summed over workers: waiting for work (the refiner, or outcomes a stage needs).
 */
export async function idleSeconds(env: Env, id: string): Promise<number> {
  const { rows } = await env.pool.query<{ idle: number }>(
    `WITH s AS (SELECT created_at, finished_at FROM sweeps WHERE id = $1),
          w AS (SELECT DISTINCT worker FROM runs WHERE sweep_id = $1 AND worker IS NOT NULL),
          busy AS (
            SELECT worker, sum(upper(r) - lower(r)) AS t FROM (
              SELECT worker, unnest(range_agg(tstzrange(started_at, finished_at))) AS r
                FROM runs WHERE sweep_id = $1 AND started_at IS NOT NULL AND finished_at IS NOT NULL GROUP BY worker) x
             GROUP BY worker)
     SELECT coalesce(sum(extract(epoch FROM (s.finished_at - s.created_at) - coalesce(busy.t, interval '0'))), 0)::float8 AS idle
       FROM w CROSS JOIN s LEFT JOIN busy USING (worker)`,
    [id]);
  return rows[0].idle;
}

export async function wallSeconds(env: Env, id: string): Promise<number> {
  const { rows } = await env.pool.query<{ s: number }>(
    'SELECT extract(epoch FROM finished_at - created_at)::float8 AS s FROM sweeps WHERE id = $1', [id]);
  return rows[0].s;
}

/** Starts `n` worker processes of one compute thread each, quiet. */
export async function startWorkers(env: Env, n: number): Promise<void> {
  const workerEnv = { WORKER_CONCURRENCY: '1', LOG_LEVEL: 'info', NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --conditions=source` };
  for (let k = 0; k < n; k++) await spawnWorker(env, workerEnv);
}

type ExampleSpec = { name: string; base: Record<string, unknown>; derive: Record<string, string>; refine: Record<string, unknown> };

/**
 * The refiner's own CPU per sweep (milliseconds, median of `repeats`): the same sweep
 * driven without workers or other load in this process (test/support/refine-drive.ts),
 * runs finished ten at a time, as jobs would, with a synthetic outcome (collapsed below
 * q K = 1), the refiner stepping after each batch (none put off: in the service, kicks
 * while plenty is queued wait, so it steps less). CPU time, so the machine's load
 * hardly moves it; Postgres's side of the statements is not in it.
 */
export async function refinerCpuPerSweep(spec: ExampleSpec, repeats: number): Promise<{ cpuMs: number; runs: number; steps: number }> {
  const db = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  try {
    const out: { cpuMs: number; runs: number; steps: number }[] = [];
    for (let rep = 0; rep <= repeats; rep++) {
      const { id, compiled } = await insertRefineSweep(pool, { ...spec, name: `refiner-cpu-${rep}` });
      const refiner = quietRefiner(pool, { maxRestMs: 0 });
      const collapsed = (i: number) => {
        const p = compiled.paramsAt(i) as { q: number; k: number };
        return { collapsed: p.q * Math.round(p.k) < 1 };
      };
      const { cpuMicros } = await driveSweep(pool, id, () => refiner, collapsed, { batch: 10 });
      await refiner.close();
      const runs = (await pool.query('SELECT total FROM sweeps WHERE id = $1', [id])).rows[0].total as number;
      if (rep > 0) out.push({ cpuMs: cpuMicros / 1000, runs, steps: refiner.stats.steps }); // the first warms the JIT
    }
    const m = median(out.map((o) => o.cpuMs));
    return { ...out.find((o) => o.cpuMs === m)!, cpuMs: Number(m.toFixed(1)) };
  } finally {
    await pool.end();
    await db.drop();
  }
}

export async function runRefineServiceBench(): Promise<unknown> {
  const spec = parseSpecText(readFileSync(new URL('../examples/boundary-qK.yaml', import.meta.url), 'utf8'), 'yaml') as ExampleSpec;
  spec.refine.finest = FINEST;
  const loadCpu = load();
  const cpu = await refinerCpuPerSweep(spec, 3);
  console.table([{ refinerCpuMsPerSweep: cpu.cpuMs, runs: cpu.runs, steps: cpu.steps, load: `${loadCpu} -> ${load()}` }]);
  const env = await setup();
  const refiner = (env.app as unknown as { refiner: { stats: { steps: number; ms: number } } }).refiner;
  try {
    await startWorkers(env, 2);
    // Warm the workers (threads, JIT) on the starting grid with other hashes, so no measured sweep pays for it.
    const warm = await submit(env, { ...spec, name: 'bench-warm-up', base: { ...spec.base, tol: 1.000009e-6 } });
    await waitStatus(env, warm.id, ['succeeded', 'failed'], 1_800_000);

    const rows: Record<string, unknown>[] = [];
    for (let rep = 0; rep < REPEATS; rep++) {
      const tolRefined = 1e-6 * (1 + 2 * rep * 1e-6);
      const tolFixed = 1e-6 * (1 + (2 * rep + 1) * 1e-6);
      const runRefined = async () => {
        const before = { ...refiner.stats };
        const cpu = process.cpuUsage();
        const s = await submit(env, { ...spec, name: `bench-refine-${rep}`, base: { ...spec.base, tol: tolRefined } });
        await waitStatus(env, s.id, ['succeeded', 'failed'], 1_800_000);
        const used = process.cpuUsage(cpu);
        return {
          id: s.id, seconds: await wallSeconds(env, s.id), idle: await idleSeconds(env, s.id), cpuMs: (used.user + used.system) / 1000,
          steps: refiner.stats.steps - before.steps, stepMs: refiner.stats.ms - before.ms,
        };
      };
      const runFixed = async (points: { q: number; k: number }[]) => {
        const { refine: _refine, ...rest } = spec;
        const cpu = process.cpuUsage();
        const s = await submit(env, {
          ...rest,
          name: `bench-refine-fixed-${rep}`,
          base: { ...spec.base, tol: tolFixed },
          axes: [{ zip: [{ param: 'q', values: points.map((p) => p.q) }, { param: 'k', values: points.map((p) => p.k) }] }],
        });
        await waitStatus(env, s.id, ['succeeded', 'failed'], 1_800_000);
        const used = process.cpuUsage(cpu);
        return { seconds: await wallSeconds(env, s.id), idle: await idleSeconds(env, s.id), cpuMs: (used.user + used.system) / 1000 };
      };
      const pointsOf = async (id: string) => (await env.pool.query<{ params: { q: number; k: number } }>(
        'SELECT params FROM runs WHERE sweep_id = $1 ORDER BY index', [id])).rows.map((r) => r.params);

      // The fixed sweep needs the refined one's points: at the first repeat the refined
      // sweep goes first; afterwards the points are the same, so the order alternates.
      let refined: Awaited<ReturnType<typeof runRefined>>;
      let fixed: { seconds: number; idle: number; cpuMs: number };
      let points: { q: number; k: number }[];
      const loadBefore = load();
      if (rep % 2 === 0 || !rows.length) {
        refined = await runRefined();
        points = await pointsOf(refined.id);
        fixed = await runFixed(points);
      } else {
        points = (rows[0].points as { q: number; k: number }[]);
        fixed = await runFixed(points);
        refined = await runRefined();
      }
      const st = (await env.pool.query('SELECT refine_stage AS s, total FROM sweeps WHERE id = $1', [refined.id])).rows[0];
      const row = {
        repeat: rep,
        stages: st.s,
        runs: st.total,
        refinedSeconds: Number(refined.seconds.toFixed(2)),
        fixedSeconds: Number(fixed.seconds.toFixed(2)),
        ratio: Number((refined.seconds / fixed.seconds).toFixed(3)),
        refinedIdle: Number(refined.idle.toFixed(2)),
        fixedIdle: Number(fixed.idle.toFixed(2)),
        refinerSteps: refined.steps,
        refinerMs: Math.round(refined.stepMs),
        apiCpuMs: `${Math.round(refined.cpuMs)} / ${Math.round(fixed.cpuMs)}`,
        load: `${loadBefore} -> ${load()}`,
        points,
      };
      rows.push(row);

      if (rep === 0) {
        // Where the time goes: each stage's runs, when the first started and the last finished.
        const timeline = await env.pool.query<{ stage: number; runs: number; start: number; end: number }>(
          `SELECT r.stage, count(*)::int AS runs,
                  extract(epoch FROM min(r.started_at) - s.created_at)::float8 AS start,
                  extract(epoch FROM max(r.finished_at) - s.created_at)::float8 AS end
             FROM runs r JOIN sweeps s ON s.id = r.sweep_id WHERE r.sweep_id = $1 GROUP BY r.stage, s.created_at ORDER BY r.stage`,
          [refined.id]);
        console.table(timeline.rows.map((t) => ({ stage: t.stage, runs: t.runs, firstStart: t.start.toFixed(2), lastEnd: t.end.toFixed(2) })));
      }
    }
    const table = rows.map(({ points: _p, ...r }) => r);
    console.table(table);
    const refinedMedian = median(table.map((r) => r.refinedSeconds as number));
    const fixedMedian = median(table.map((r) => r.fixedSeconds as number));
    const summary = {
      finest: `1/${FINEST}`,
      runs: table[0].runs,
      fullGrid: (FINEST + 1) ** 2,
      refinedMedianSeconds: refinedMedian,
      fixedMedianSeconds: fixedMedian,
      overhead: `${(((refinedMedian - fixedMedian) / fixedMedian) * 100).toFixed(1)}%`,
      refinerCpuMsPerSweep: cpu.cpuMs,
      load: load(),
    };
    console.table([summary]);
    return summary;
  } finally {
    await env.close();
  }
}

// ---- refine-full-grid: the refined sweep against the full grid at 1/256, both through the service ----
//
// On the two real boundaries of `npm run bench -- refine` (minority survival over q x K
// at finite K, near q K = 1; where q = 0.1 loses its basin over D x beta), with runs
// small enough that the full 257 x 257 grid (66,049 runs) takes minutes: the runs, the
// wall time of each sweep, and the Hausdorff distance between the two boundaries in
// finest cells. The full grid is an ordinary sweep over the refine axes' lattice values;
// its `tol` differs so that it reuses nothing of the refined sweep.
//
//   npm run bench -- refine-full-grid     (REFINE_FULL_FINEST=256, REFINE_FULL_CASES=0,1)

type Refined = CompiledSweep & { refine: NonNullable<CompiledSweep['refine']> };

/** Outcomes of a finished sweep's runs, on the refined plan's finest lattice (keys from the refine axes' params). */
async function latticeValues(env: Env, id: string, plan: Refined['refine']): Promise<PointValues> {
  const lat = plan.lattice;
  const coord = plan.axes.map((a) => {
    const m = new Map<number, number>();
    for (let u = 0; u <= lat.finest; u++) m.set(axisValue(a, lat.finest, u), u);
    return m;
  });
  const { rows } = await env.pool.query<{ params: Record<string, number>; value: unknown }>(
    `SELECT r.params, CASE WHEN r.status = 'succeeded' THEN res.summary #> $2::text[] END AS value
       FROM runs r LEFT JOIN results res ON res.id = r.result_id WHERE r.sweep_id = $1`,
    [id, plan.outcome.segs]);
  const byKey = new Map<number, (number | null)[]>();
  for (const r of rows) {
    const u = plan.axes.map((a, i) => coord[i].get(r.params[a.param]));
    if (u.some((x) => x === undefined)) throw new Error(`run params ${JSON.stringify(r.params)} are not on the lattice`);
    const key = lat.key(u[0]!, u[1]);
    const v = r.value === null || r.value === undefined ? null : readOutcome(r.value, []);
    const list = byKey.get(key);
    if (list) list.push(v);
    else byKey.set(key, [v]);
  }
  const values: PointValues = new Map();
  for (const [k, list] of byKey) values.set(k, plan.aggregate(list));
  return values;
}

async function sweepFigures(env: Env, id: string) {
  const { rows } = await env.pool.query<{ runs: number; reused: number; computed: number; failed: number }>(
    `SELECT count(*)::int AS runs, count(*) FILTER (WHERE reused)::int AS reused,
            count(DISTINCT result_id) FILTER (WHERE NOT reused)::int AS computed,
            count(*) FILTER (WHERE status <> 'succeeded')::int AS failed
       FROM runs WHERE sweep_id = $1`, [id]);
  return { ...rows[0], seconds: await wallSeconds(env, id) };
}

export async function runRefineFullGridBench(): Promise<unknown[]> {
  const { CASES } = await import('./refine-bench.ts');
  const finest = Number(process.env.REFINE_FULL_FINEST ?? 256);
  const which = (process.env.REFINE_FULL_CASES ?? '0,1').split(',').map(Number);
  const env = await setup();
  const out: Record<string, unknown>[] = [];
  try {
    await startWorkers(env, 2);
    for (const c of which.map((k) => CASES[k])) {
      const base = { ...c.spec.base, recordEvery: c.spec.base.iterations };
      const refinedSpec = { ...c.spec, name: `${c.spec.name}-refined`, base, refine: { ...c.spec.refine, finest } };
      const compiled = compileSweep(refinedSpec) as Refined;
      const plan = compiled.refine;
      const lat = plan.lattice;
      const loadBefore = load();

      const refined = await submit(env, refinedSpec);
      await waitStatus(env, refined.id, ['succeeded', 'failed'], 3_600_000);
      const r = await sweepFigures(env, refined.id);
      const stage = (await env.pool.query('SELECT refine_stage AS s FROM sweeps WHERE id = $1', [refined.id])).rows[0].s;
      const refinedB = plan.boundary(await latticeValues(env, refined.id, plan));

      const { refine: _refine, ...rest } = refinedSpec;
      const lattice = (k: number) => Array.from({ length: lat.finest + 1 }, (_, u) => axisValue(plan.axes[k], lat.finest, u));
      const full = await submit(env, {
        ...rest,
        name: `${c.spec.name}-full-grid`,
        base: { ...base, tol: 1.000001e-6 },
        axes: plan.axes.map((a, k) => ({ param: a.param, values: lattice(k) })),
      });
      await waitStatus(env, full.id, ['succeeded', 'failed'], 3_600_000);
      const f = await sweepFigures(env, full.id);
      const fullB = plan.boundary(await latticeValues(env, full.id, plan));

      const row = {
        boundary: c.name,
        finest: `1/${lat.finest}`,
        stages: stage,
        refinedRuns: r.runs,
        refinedComputed: r.computed,
        refinedSeconds: Number(r.seconds.toFixed(1)),
        fullRuns: f.runs,
        fullComputed: f.computed,
        fullSeconds: Number(f.seconds.toFixed(1)),
        fewerRuns: Number((f.runs / r.runs).toFixed(1)),
        hausdorffCells: Number(hausdorff(refinedB.lattice, fullB.lattice).toFixed(3)),
        lines: `${refinedB.lattice.length} / ${fullB.lattice.length}`,
        failedRuns: r.failed + f.failed,
        load: `${loadBefore} -> ${load()}`,
      };
      console.log(JSON.stringify(row));
      out.push(row);
    }
    console.table(out);
    return out;
  } finally {
    await env.close();
  }
}
