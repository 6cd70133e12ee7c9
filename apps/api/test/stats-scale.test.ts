// Stats on large sweeps (packages/db/src/stats-plan.ts): groups keyed by the axis position
// computed from the run index mean exactly what grouping by the stored values means (in
// value order, whatever the order of the axis's values); a page of groups; and replies
// kept for a finished sweep, recomputed as soon as any of its runs changes.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { statsCacheSettings, sweepStats } from '@curation/db';
import { setup, type Env, type TeamKey } from './helpers.ts';

let env: Env;
let pool: pg.Pool;
let app: FastifyInstance;
let admin: TeamKey;

/** A sweep of q x D x seed with one result per run, share0 = q + D / 100 + seed / 1000. */
async function insertSweep(qs: number[], ds: number[], seeds: number, status = 'succeeded'): Promise<string> {
  const id = randomUUID();
  const spec = { name: 'scale', base: {}, axes: [{ param: 'q', values: qs }, { param: 'D', values: ds }, { param: 'seed', replicates: seeds }] };
  const total = qs.length * ds.length * seeds;
  await pool.query(
    `INSERT INTO sweeps (id, name, tags, spec, total, status, enqueued, core_version) VALUES ($1, 'scale', '{scale}', $2, $3, $4, $3, 'test')`,
    [id, JSON.stringify(spec), total, status],
  );
  let index = 0;
  for (const q of qs) for (const D of ds) for (let seed = 0; seed < seeds; seed++) {
    const share = q + D / 100 + seed / 1000;
    const r = await pool.query<{ id: string }>(
      `INSERT INTO results (config_hash, core_version, git_revision, config, summary, trajectory, converged, collapsed,
                            nash_gap, basin_share0, surviving_basins, final_entropy, duration_ms)
       VALUES ($1, 'test', 'test', '{}', $2, '\\x00', true, false, 0, $3, 2, 1, 1) RETURNING id`,
      [`${id}:${index}`, JSON.stringify({ basinShare: [share, 1 - share], nashGap: 0, converged: true, collapsed: false }), share],
    );
    await pool.query(
      `INSERT INTO runs (sweep_id, index, params, status, result_id) VALUES ($1, $2, $3, 'succeeded', $4)`,
      [id, index, JSON.stringify({ q, D, seed }), r.rows[0].id],
    );
    index++;
  }
  return id;
}

beforeAll(async () => {
  env = await setup();
  pool = env.pool;
  admin = await env.team({ admin: true });
  app = await env.app();
});

afterAll(async () => {
  statsCacheSettings.minMs = 250;
  await env?.close();
});

const get = (url: string) => app.inject({ method: 'GET', url, headers: admin.headers });
const q = { metrics: ['summary.basinShare.0'], where: [] };

describe('groups keyed by axis position', () => {
  it('are listed in value order with the stored values, whatever the order of the axis', async () => {
    const id = await insertSweep([0.5, 0.1, 0.3], [4, 1], 3);
    const s = (await sweepStats(pool, id, { ...q, groupBy: ['q', 'D'] }))!;
    expect(s.groups.map((g) => [g.key.q, g.key.D])).toEqual([[0.1, 1], [0.1, 4], [0.3, 1], [0.3, 4], [0.5, 1], [0.5, 4]]);
    for (const g of s.groups) {
      expect(g.n).toBe(3);
      const [qv, dv] = [g.key.q as number, g.key.D as number];
      expect(g.metrics['summary.basinShare.0'].mean).toBeCloseTo(qv + dv / 100 + 0.001, 12);
    }
    // One variable, and the seed axis (the fastest) alone.
    expect((await sweepStats(pool, id, { ...q, groupBy: ['D'] }))!.groups.map((g) => [g.key.D, g.n])).toEqual([[1, 9], [4, 9]]);
    expect((await sweepStats(pool, id, { ...q, groupBy: ['seed'] }))!.groups.map((g) => [g.key.seed, g.n])).toEqual([[0, 6], [1, 6], [2, 6]]);
    // The first run of a group is its lowest id: q = 0.1, D = 1 starts at index 1 * 6 + 1 * 3.
    const first = await pool.query<{ id: string }>('SELECT id::text FROM runs WHERE sweep_id = $1 AND index = 9', [id]);
    expect(s.groups[0].firstRunId).toBe(first.rows[0].id);
  });

  it('an axis that repeats a value is grouped by value: the repeats fall in one group', async () => {
    const id = await insertSweep([0.1, 0.1, 0.3], [1], 2);
    const s = (await sweepStats(pool, id, { ...q, groupBy: ['q'] }))!;
    expect(s.groups.map((g) => [g.key.q, g.n])).toEqual([[0.1, 4], [0.3, 2]]);
  });
});

describe('a page of groups', () => {
  it('limit and offset page the groups; groupCount says how many there are', async () => {
    const id = await insertSweep([0.1, 0.2, 0.3, 0.4], [1, 2, 3], 1);
    const all = (await get(`/v1/sweeps/${id}/stats?groupBy=q,D`)).json();
    expect(all.groupCount).toBe(12);
    expect(all.groups).toHaveLength(12);
    const page = (await get(`/v1/sweeps/${id}/stats?groupBy=q,D&limit=5&offset=5`)).json();
    expect(page.groupCount).toBe(12);
    expect(page.groups).toEqual(all.groups.slice(5, 10));
    expect((await get(`/v1/sweeps/${id}/stats?groupBy=q,D&limit=0`)).statusCode).toBe(400);
  });
});

describe('replies kept for a finished sweep', () => {
  it('serve the same reply until a run of the sweep changes, and never for a running sweep', async () => {
    statsCacheSettings.minMs = 0; // keep every reply, however cheap
    try {
      const id = await insertSweep([0.1, 0.2], [1], 2);
      const before = (await sweepStats(pool, id, { ...q, groupBy: ['q'] }))!;
      // A result changed behind the service's back (no run changed): the kept reply is served.
      await pool.query(`UPDATE results SET basin_share0 = 0.9 WHERE config_hash = $1`, [`${id}:0`]);
      expect((await sweepStats(pool, id, { ...q, groupBy: ['q'] }))!).toEqual(before);
      // A run changes (as a retry or a late finish would): the reply is computed again.
      await pool.query(`UPDATE runs SET status = 'failed', result_id = NULL WHERE sweep_id = $1 AND index = 3`, [id]);
      const after = (await sweepStats(pool, id, { ...q, groupBy: ['q'] }))!;
      expect(after.groups.map((g) => g.n)).toEqual([2, 1]);
      expect(after.groups[0].metrics['summary.basinShare.0'].max).toBe(0.9);

      const running = await insertSweep([0.1], [1], 2, 'running');
      const r1 = (await sweepStats(pool, running, { ...q, groupBy: ['q'] }))!;
      await pool.query(`UPDATE results SET basin_share0 = 0.7 WHERE config_hash = $1`, [`${running}:0`]);
      const r2 = (await sweepStats(pool, running, { ...q, groupBy: ['q'] }))!;
      expect(r2.groups[0].metrics['summary.basinShare.0'].max).toBe(0.7);
      expect(r2).not.toEqual(r1);
    } finally {
      statsCacheSettings.minMs = 250;
    }
  });
});
