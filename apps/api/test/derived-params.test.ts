// A derived parameter is recorded in a run's params like an axis value, so stats can
// group and filter by it, /fields names it and the CSV export has its column.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { BASE, setup, type Env, type TeamKey } from './helpers.ts';
import { waitFor } from '../../../test/support/wait-for.ts';

let env: Env;
let app: FastifyInstance;
let auth: TeamKey;
let sweepId: string;

const SPEC = {
  name: 'derived params',
  base: BASE,
  axes: [{ param: 'q', values: [0.2, 0.4] }, { param: 'beta', values: [1, 3] }],
  derive: { 'rewards.1.scale': '2 * beta' },
};

const get = (url: string) => app.inject({ method: 'GET', url, headers: auth.headers });

beforeAll(async () => {
  env = await setup();
  auth = await env.team();
  app = await env.app();
  const res = await app.inject({ method: 'POST', url: '/v1/sweeps', payload: SPEC, headers: auth.headers });
  expect(res.statusCode).toBe(201);
  sweepId = res.json().id;
  await waitFor('4 runs enqueued', async () => (await env.pool.query('SELECT enqueued FROM sweeps WHERE id = $1', [sweepId])).rows[0].enqueued === 4);
  // Each run "succeeds" with a nashGap of q + beta/10, stored as a worker would store it.
  const { rows } = await env.pool.query<{ id: string; index: number; params: Record<string, number> }>(
    'SELECT id::text, index, params FROM runs WHERE sweep_id = $1 ORDER BY index', [sweepId]);
  for (const r of rows) {
    const gap = r.params.q + r.params.beta / 10;
    const res = await env.pool.query(
      `INSERT INTO results (config_hash, core_version, git_revision, config, summary, trajectory, converged, collapsed, surviving_basins, final_entropy, nash_gap, duration_ms)
       VALUES ($1, 'test', 'test', '{}', $2, '\\x'::bytea, true, false, 2, 1, $3, 1) RETURNING id`,
      [`${sweepId}:${r.index}`, JSON.stringify({ nashGap: gap }), gap],
    );
    await env.pool.query(`UPDATE runs SET status = 'succeeded', result_id = $2 WHERE id = $1`, [r.id, res.rows[0].id]);
  }
});

afterAll(async () => { await env?.close(); });

describe('a derived parameter', () => {
  it('is in every run\'s params, after the axis variables, with the value the configuration got', async () => {
    const { rows } = await env.pool.query('SELECT params FROM runs WHERE sweep_id = $1 ORDER BY index', [sweepId]);
    expect(rows.map((r) => r.params)).toEqual([
      { q: 0.2, beta: 1, 'rewards.1.scale': 2 },
      { q: 0.2, beta: 3, 'rewards.1.scale': 6 },
      { q: 0.4, beta: 1, 'rewards.1.scale': 2 },
      { q: 0.4, beta: 3, 'rewards.1.scale': 6 },
    ]);
  });

  it('is a variable of /fields and can be grouped by and filtered on in stats', async () => {
    const fields = (await get(`/v1/sweeps/${sweepId}/fields`)).json();
    expect(fields.variables).toEqual(['q', 'beta', 'rewards.1.scale']);
    expect(fields.axisVariables).toEqual(['q', 'beta']);

    const res = await get(`/v1/sweeps/${sweepId}/stats?groupBy=rewards.1.scale&metrics=summary.nashGap`);
    expect(res.statusCode, res.body).toBe(200);
    const groups = res.json().groups;
    expect(groups.map((g: any) => g.key)).toEqual([{ 'rewards.1.scale': 2 }, { 'rewards.1.scale': 6 }]);
    expect(groups[0].metrics['summary.nashGap'].mean).toBeCloseTo((0.3 + 0.5) / 2, 12);
    expect(groups[1].metrics['summary.nashGap'].mean).toBeCloseTo((0.5 + 0.7) / 2, 12);

    const filtered = (await get(`/v1/sweeps/${sweepId}/stats?metrics=summary.nashGap&where=rewards.1.scale>3`)).json();
    expect(filtered.groups).toHaveLength(1);
    expect(filtered.groups[0].metrics['summary.nashGap'].count).toBe(2);
  });

  it('has its own CSV column with each run\'s value', async () => {
    const res = await get(`/v1/sweeps/${sweepId}/runs.csv`);
    expect(res.statusCode).toBe(200);
    const [header, ...lines] = res.body.trimEnd().split('\r\n').map((l) => l.split(','));
    const q = header.indexOf('q');
    const beta = header.indexOf('beta');
    const derived = header.indexOf('rewards.1.scale');
    expect([q, beta, derived].every((c) => c >= 0)).toBe(true);
    expect(derived).toBe(beta + 1);
    expect(lines.map((l) => [l[q], l[beta], l[derived]])).toEqual([
      ['0.2', '1', '2'], ['0.2', '3', '6'], ['0.4', '1', '2'], ['0.4', '3', '6'],
    ]);
  });
});
