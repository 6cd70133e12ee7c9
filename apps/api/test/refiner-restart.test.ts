// The refiner's incremental path: it keeps what it knows of a sweep between steps and
// reads only the runs that may still change. Whatever happens meanwhile (the API
// restarts mid-sweep, a second instance steps the same sweep, runs fail and are
// retried while the sweep refines), once every run has finished the sweep has exactly
// the points and stages of the stage-synchronous rule.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { ALL_SWEEPS, retrySweep } from '@curation/db';
import { createTestDatabase, type TestDatabase } from '../../../test/support/services.ts';
import { driveSweep, insertRefineSweep, quietRefiner, synchronousStages, type Refined } from '../../../test/support/refine-drive.ts';
import type { Refiner } from '../src/refiner.ts';

/** q x k with two replicates per point, the boundary a curve near q k = 1. */
const spec = {
  name: 'refiner-restart',
  base: { support: { kind: 'grid', min: -1, max: 1, n: 5 }, rewards: [{ kind: 'quadratic', center: 0 }], mode: 'sampled', samples: 10 },
  axes: [{ param: 'seed', replicates: 2 }],
  refine: {
    axes: [{ param: 'q', min: 0.05, max: 0.5, scale: 'log' }, { param: 'beta', min: 2, max: 32, scale: 'log' }],
    start: 4,
    finest: 32,
    budget: 100_000,
    outcome: { verdict: 'summary.collapsed', aggregate: 'any' },
  },
};

/** The synthetic outcome of a run: collapsed below the curve, one replicate of two also a little above it. */
function collapsedAt(params: Record<string, number>): boolean {
  const x = params.q * params.beta * (1 + 0.15 * Math.sin(params.beta));
  return x < 1 || (params.seed === 1 && x < 1.3);
}

describe('refiner: incremental state', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  beforeAll(async () => {
    db = await createTestDatabase();
    pool = new pg.Pool({ connectionString: db.url, max: 8 });
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  async function finalRuns(id: string) {
    const { rows } = await pool.query<{ index: number; stage: number; cell: number[]; status: string }>(
      'SELECT index, stage, cell, status FROM runs WHERE sweep_id = $1 ORDER BY index', [id]);
    const sweep = (await pool.query('SELECT status, total, refine_stage, refine_done FROM sweeps WHERE id = $1', [id])).rows[0];
    return { rows, sweep };
  }

  function expectSynchronous(compiled: Refined, runs: Awaited<ReturnType<typeof finalRuns>>) {
    const plan = compiled.refine;
    const lat = plan.lattice;
    const expected = synchronousStages(compiled, (key) => plan.aggregate(
      Array.from({ length: lat.fixed }, (_, f) => (collapsedAt(compiled.paramsAt(lat.runIndex(key, f)) as Record<string, number>) ? 1 : 0))));
    expect(Math.max(...expected.values())).toBeGreaterThanOrEqual(3);
    expect(runs.rows.map((r) => r.index)).toEqual([...expected.keys()]);
    expect(runs.rows.map((r) => r.stage)).toEqual([...expected.values()]);
    for (const r of runs.rows) expect(r.cell).toEqual(lat.coords(lat.runPoint(r.index).key));
    expect(runs.sweep).toEqual({ status: 'succeeded', total: expected.size, refine_stage: Math.max(...expected.values()), refine_done: true });
  }

  const summary = (compiled: Refined) => (i: number) => ({ collapsed: collapsedAt(compiled.paramsAt(i) as Record<string, number>) });

  it('ends as the synchronous rule does across restarts and a second instance stepping the same sweep', async () => {
    const { id, compiled } = await insertRefineSweep(pool, spec);
    let current: Refiner = quietRefiner(pool);
    const other = quietRefiner(pool);
    let restarts = 0;
    const { batches } = await driveSweep(pool, id, () => current, summary(compiled), {
      batch: 7,
      async before(n) {
        if (n % 9 === 4) {
          // A restart: the new process knows nothing of the sweep but what the database says.
          await current.close();
          current = quietRefiner(pool);
          restarts++;
        }
        if (n % 5 === 2) {
          // Another API instance steps the same sweep now and then (its state goes stale between).
          other.kick(id);
          await other.idle();
        }
      },
    });
    await current.close();
    await other.close();
    expect(restarts).toBeGreaterThanOrEqual(3);
    expect(batches).toBeGreaterThan(20);
    expectSynchronous(compiled, await finalRuns(id));
  });

  it('follows runs that fail and are retried while the sweep refines', async () => {
    const { id, compiled } = await insertRefineSweep(pool, spec);
    const ok = summary(compiled);
    const refiner = quietRefiner(pool);
    // Every run of every 5th point fails until a retry in the middle of the sweep puts them
    // back. (Whole points: a point with one replicate failed has the outcome of the others,
    // and a retry that changes it cannot take back the points that outcome asked for.)
    const fixed = compiled.refine.lattice.fixed;
    let retried = 0;
    const { batches } = await driveSweep(pool, id, () => refiner, (i) => (Math.floor(i / fixed) % 5 === 0 && retried === 0 ? null : ok(i)), {
      batch: 10,
      async before(n) {
        if (n === 12) {
          const failed = (await pool.query('SELECT count(*)::int AS n FROM runs WHERE sweep_id = $1 AND status = $2', [id, 'failed'])).rows[0].n;
          expect(failed).toBeGreaterThan(5);
          const r = await retrySweep(pool, id, ALL_SWEEPS);
          expect(r.outcome).toBe('retried');
          retried = failed;
        }
      },
    });
    await refiner.close();
    expect(retried).toBeGreaterThan(0);
    expect(batches).toBeGreaterThan(12);
    const runs = await finalRuns(id);
    expect(runs.rows.every((r) => r.status === 'succeeded')).toBe(true);
    expectSynchronous(compiled, runs);
  });
});
