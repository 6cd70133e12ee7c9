// An adaptive sweep through the real API and a real worker on the real model: the
// service adds exactly the points the refinement rule asks for, stage by stage, and
// the boundary it reports is the one the same rule gives on outcomes computed here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulate, validateConfig } from '@curation/core';
import { compileSweep, readOutcome, type CompiledSweep, type PointValues } from '@curation/sweep-spec';
import { setup, spawnWorker, submit, waitStatus, type Env } from './support.ts';

/** Minority basin survival over q x K at finite K (K = round(k)): the boundary lies near q K = 1. */
export function qkSpec(name: string) {
  return {
    name,
    base: {
      support: { kind: 'grid', min: -6, max: 6, n: 41 },
      rewards: [{ kind: 'quadratic', center: -2 }, { kind: 'quadratic', center: 2 }],
      q: 0.1, K: 2, beta: 3, iterations: 100, eps: 0.5,
    },
    derive: { K: 'round(k)' },
    refine: {
      axes: [{ param: 'q', min: 0.05, max: 0.4, scale: 'log' }, { param: 'k', min: 2, max: 32, scale: 'log' }],
      start: 4,
      finest: 16,
      budget: 250,
      outcome: { verdict: 'summary.collapsed' },
    },
  };
}

type Refined = CompiledSweep & { refine: NonNullable<CompiledSweep['refine']> };

/** The rule driven in-process with the core, stage by stage: run index -> the stage that adds it. */
function driveInProcess(compiled: Refined): Map<number, number> {
  const plan = compiled.refine;
  const lat = plan.lattice;
  const values: PointValues = new Map();
  const all = new Map<number, number>();
  let keys = lat.startKeys();
  for (let stage = 0; keys.length; stage++) {
    for (const key of keys) {
      const i = lat.runIndex(key, 0);
      all.set(i, stage);
      const out = simulate(compiled.configAt(i) as Parameters<typeof simulate>[0]);
      values.set(key, plan.aggregate([readOutcome(out.summary, plan.outcome.segs)]));
    }
    keys = plan.nextStage(values, values.size).keys;
  }
  return new Map([...all].sort((a, b) => a[0] - b[0]));
}

describe('e2e: adaptive sweep', () => {
  let env: Env;
  beforeAll(async () => { env = await setup(); });
  afterAll(async () => { await env?.close(); });

  it('refines toward the q x K boundary stage by stage and reports it', async () => {
    const spec = qkSpec('e2e-refine');
    await spawnWorker(env);
    const { id, total } = await submit(env, spec);
    expect(total).toBe(25); // the starting grid
    const done = await waitStatus(env, id, ['succeeded', 'failed'], 180_000);
    const errors = await env.pool.query('SELECT index, error FROM runs WHERE sweep_id = $1 AND error IS NOT NULL LIMIT 3', [id]);
    expect(errors.rows).toEqual([]);
    expect(done.status).toBe('succeeded');

    const { rows } = await env.pool.query<{ index: number; stage: number; cell: number[]; status: string }>(
      'SELECT index, stage, cell, status FROM runs WHERE sweep_id = $1 ORDER BY index', [id]);
    const state = (await env.pool.query('SELECT total, enqueued, refine_stage, refine_done FROM sweeps WHERE id = $1', [id])).rows[0];
    expect(state.refine_done).toBe(true);
    expect(state.refine_stage).toBeGreaterThanOrEqual(2);
    expect(state.total).toBe(rows.length);
    expect(done.counts).toMatchObject({ total: rows.length, succeeded: rows.length });
    expect((done as unknown as { refine: unknown }).refine).toEqual({ stage: state.refine_stage, done: true, budget: 250 });
    expect(rows.every((r) => r.status === 'succeeded' && r.stage !== null && r.cell.length === 2)).toBe(true);
    expect(rows.length).toBeLessThan(17 * 17);

    // Exactly the points the stage-by-stage rule picks on outcomes computed here with the
    // core, each labelled with the stage that adds it, although the service does not wait
    // for a stage to end before starting the next one's runs.
    const compiled = compileSweep(spec) as Refined;
    const expected = driveInProcess(compiled);
    expect(rows.map((r) => r.index)).toEqual([...expected.keys()]);
    expect(rows.map((r) => r.stage)).toEqual([...expected.values()]);
    expect(state.refine_stage).toBe(Math.max(...expected.values()));
    expect(rows.length).toBeLessThan(250); // the budget did not cut it short
    const lat = compiled.refine.lattice;
    for (const r of rows) expect(lat.coords(lat.runPoint(r.index).key)).toEqual(r.cell);

    const b = await env.request('GET', `/v1/sweeps/${id}/boundary`);
    expect(b.statusCode).toBe(200);
    const body = b.json();
    expect(body).toMatchObject({ id, done: true, runs: rows.length, budget: 250, finest: 16, fullGrid: 289 });
    expect(body.polylines.length).toBeGreaterThan(0);
    // The boundary separates survival (large q K) from collapse (small q K): near q K = 1.
    for (const line of body.polylines) {
      for (const [q, k] of line) {
        expect(q).toBeGreaterThanOrEqual(0.05);
        expect(q).toBeLessThanOrEqual(0.4);
        expect(q * k).toBeGreaterThan(0.4);
        expect(q * k).toBeLessThan(2.5);
      }
    }
    expect(body.cells.every((c: { boundary: boolean }) => c.boundary)).toBe(true);
    const svg = await env.request('GET', `/v1/sweeps/${id}/boundary.svg`);
    expect(svg.statusCode).toBe(200);
    expect(svg.headers['content-type']).toMatch(/image\/svg\+xml/);
    expect(svg.body).toContain('<path');

    // The export says which stage added each run and where it lies on the lattice.
    const csv = (await env.request('GET', `/v1/sweeps/${id}/runs.csv`)).body.split('\r\n');
    const header = csv[0].split(',');
    expect(header.slice(0, 7)).toEqual(['index', 'run_id', 'status', 'contract', 'core_version', 'stage', 'cell']);
    const last = rows[rows.length - 1];
    expect(csv[rows.length]).toContain(`,${last.stage},"[${last.cell.join(',')}]",`);
    const nd = (await env.request('GET', `/v1/sweeps/${id}/runs.ndjson`)).body.trim().split('\n').map((l) => JSON.parse(l));
    expect(nd[0]).toMatchObject({ index: 0, stage: 0, cell: [0, 0] });

    // Every run carries the core's cost estimate, later stages' as the starting grid's
    // (a cancelled sweep's budget charge sums them).
    const costs = await env.pool.query<{ index: number; cost_seconds: number | null }>(
      'SELECT index, cost_seconds FROM runs WHERE sweep_id = $1 ORDER BY index', [id]);
    for (const r of costs.rows) {
      const checked = validateConfig(compiled.configAt(r.index), { maxCostSeconds: Infinity, checkValues: false });
      expect(checked.ok && r.cost_seconds).toBeCloseTo(checked.ok ? checked.cost.seconds : NaN, 12);
    }

    // A retry after the refinement recomputes what failed and adds nothing: no new runs,
    // no new stage, every run's stage and point as they were, done, and finished again.
    const failedIdx = [rows[3].index, rows[rows.length - 1].index];
    await env.pool.query(
      `UPDATE runs SET status = 'failed', error = 'injected', result_id = NULL WHERE sweep_id = $1 AND index = ANY($2::int[])`, [id, failedIdx]);
    await env.pool.query(`UPDATE sweeps SET status = 'failed' WHERE id = $1`, [id]);
    const retry = await env.request('POST', `/v1/sweeps/${id}/retry`);
    expect(retry.statusCode).toBe(200);
    expect(retry.json().affected).toBe(2);
    const again = await waitStatus(env, id, ['succeeded', 'failed'], 120_000);
    expect(again.status).toBe('succeeded');
    await env.app.refiner.idle();
    const after = await env.pool.query<{ index: number; stage: number; cell: number[]; status: string }>(
      'SELECT index, stage, cell, status FROM runs WHERE sweep_id = $1 ORDER BY index', [id]);
    expect(after.rows).toEqual(rows.map((r) => ({ ...r, status: 'succeeded' })));
    expect((await env.pool.query('SELECT total, enqueued, refine_stage, refine_done FROM sweeps WHERE id = $1', [id])).rows[0])
      .toEqual(state);
    expect((await env.request('GET', `/v1/sweeps/${id}`)).json().refine).toEqual({ stage: state.refine_stage, done: true, budget: 250 });

    // An ordinary sweep has no boundary.
    const plain = await submit(env, { name: 'plain', base: spec.base, derive: spec.derive, axes: [{ param: 'k', values: [4] }] });
    expect((await env.request('GET', `/v1/sweeps/${plain.id}/boundary`)).statusCode).toBe(409);
  }, 240_000);

  it('refuses a refine block that cannot work, with the path', async () => {
    const spec = qkSpec('bad');
    const res = await env.request('POST', '/v1/sweeps', { ...spec, refine: { ...spec.refine, budget: 10 } });
    expect(res.statusCode).toBe(422);
    expect(res.json().issues[0]).toMatchObject({ path: '/refine/budget' });
  });
});
