// The bookkeeping of adaptive sweeps in Postgres: runs are added by exactly one of
// several racing callers, an adaptive sweep does not finish before the refiner says
// so, and a cancelled sweep gets no new runs.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { cancelSweep, ALL_SWEEPS, finishRefine, finishSweepIfDone, getRefineState, insertStage, insertSweep, refineSweepsToCheck } from '@curation/db';
import { createTestDatabase, type TestDatabase } from '../../../test/support/services.ts';

const spec = {
  name: 'stages',
  base: { support: { kind: 'grid', min: -1, max: 1, n: 5 }, rewards: [{ kind: 'quadratic', center: 0 }] },
  refine: { axes: [{ param: 'beta', min: 1, max: 2 }], start: 2, depth: 2, budget: 50, outcome: { verdict: 'summary.collapsed' } },
};

describe('adaptive sweep stages in Postgres', () => {
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

  async function newSweep(): Promise<string> {
    const id = randomUUID();
    await insertSweep(pool, { id, name: 'stages', tags: [], spec, total: 3, coreVersion: 'test', idempotencyKey: null, teamId: null });
    await pool.query(
      `INSERT INTO runs (sweep_id, index, params, status) SELECT $1, i, '{}', 'succeeded' FROM generate_series(0, 2) AS i`, [id]);
    await pool.query('UPDATE sweeps SET enqueued = 3, status = $2 WHERE id = $1', [id, 'running']);
    return id;
  }
  const stageRuns = (indexes: number[], stage = 1) => ({
    indexes, params: indexes.map(() => '{}'), cells: indexes.map((i) => [i, null] as [number, null]), stages: indexes.map(() => stage), costs: indexes.map(() => 0.25),
  });

  it('adds runs once however many callers race, and finishes only after refine_done', async () => {
    const id = await newSweep();
    // All runs finished, but the refiner has not spoken: not finished.
    expect(await finishSweepIfDone(pool, id)).toBeUndefined();
    expect(await refineSweepsToCheck(pool)).toContain(id);

    const wins = await Promise.all(Array.from({ length: 6 }, () => insertStage(pool, id, 3, 1, stageRuns([3, 4]))));
    expect(wins.filter(Boolean).length).toBe(1);
    const st = await getRefineState(pool, id);
    expect(st).toMatchObject({ stage: 1, total: 5, enqueued: 5, done: false });
    const rows = (await pool.query('SELECT index, stage, cell, status, cost_seconds FROM runs WHERE sweep_id = $1 AND index >= 3 ORDER BY index', [id])).rows;
    expect(rows).toEqual([
      { index: 3, stage: 1, cell: [3], status: 'queued', cost_seconds: 0.25 },
      { index: 4, stage: 1, cell: [4], status: 'queued', cost_seconds: 0.25 },
    ]);

    // A late caller that read the sweep before those runs changes nothing.
    expect(await insertStage(pool, id, 3, 2, stageRuns([5], 2))).toBe(false);
    expect(await finishRefine(pool, id, 3)).toBe(false);

    await pool.query(`UPDATE runs SET status = 'succeeded' WHERE sweep_id = $1`, [id]);
    expect(await finishSweepIfDone(pool, id)).toBeUndefined();
    const done = await Promise.all([finishRefine(pool, id, 5), finishRefine(pool, id, 5)]);
    expect(done.filter(Boolean).length).toBe(1);
    expect(await finishSweepIfDone(pool, id)).toBe('succeeded');
    expect(await refineSweepsToCheck(pool)).not.toContain(id);
    expect(await insertStage(pool, id, 5, 2, stageRuns([5], 2))).toBe(false);
  });

  it('adds no stage to a cancelled sweep', async () => {
    const id = await newSweep();
    expect(await cancelSweep(pool, id, ALL_SWEEPS)).toMatchObject({ outcome: 'cancelled' });
    expect(await insertStage(pool, id, 3, 1, stageRuns([3]))).toBe(false);
    expect((await pool.query('SELECT count(*)::int AS n FROM runs WHERE sweep_id = $1', [id])).rows[0].n).toBe(3);
  });
});
