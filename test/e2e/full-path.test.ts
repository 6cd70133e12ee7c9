import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { c4Spec, expectStoredLikeCleanRun, setup, spawnWorker, submit, waitStatus, type Env } from './support.ts';

describe('e2e: submit -> workers -> stored results', () => {
  let env: Env;
  beforeAll(async () => { env = await setup(); });
  afterAll(async () => { await env?.close(); });

  it('stores every configuration of a small q x D sweep, equal to the core run directly', async () => {
    const spec = c4Spec({ name: 'e2e-full', qs: [0.2, 0.5, 0.8], ds: [2, 4, 6, 8], n: 121, iterations: 200, recordEvery: 10 });
    // The revision the worker records with every result (GIT_REVISION, else git rev-parse HEAD).
    const revision = 'e2e-full-path-revision';
    await spawnWorker(env, { GIT_REVISION: revision });
    const { id, total } = await submit(env, spec);
    expect(total).toBe(12);
    const done = await waitStatus(env, id, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    expect(done.counts).toEqual({ total: 12, succeeded: 12, queued: 0, running: 0, failed: 0, cancelled: 0, reused: 0 });
    const rows = await expectStoredLikeCleanRun(env, id, spec, expect);
    expect(new Set(rows.map((r) => r.core_version)).size).toBe(1);
    expect(rows.map((r) => r.git_revision)).toEqual(rows.map(() => revision));

    // The same sweep again: every configuration is already stored, nothing is recomputed.
    const before = Number((await env.pool.query('SELECT count(*) AS n FROM results')).rows[0].n);
    const again = await submit(env, { ...spec, name: 'e2e-full-again' });
    const second = await waitStatus(env, again.id, ['succeeded', 'failed']);
    expect(second.status).toBe('succeeded');
    // What a user sees: the progress says every run was served from the stored results.
    expect(second.counts).toEqual({ total: 12, succeeded: 12, queued: 0, running: 0, failed: 0, cancelled: 0, reused: 12 });
    expect(Number((await env.pool.query('SELECT count(*) AS n FROM results')).rows[0].n)).toBe(before);
    const linked = await env.pool.query(
      `SELECT count(*)::int AS n FROM runs a JOIN runs b ON a.index = b.index AND a.result_id = b.result_id
        WHERE a.sweep_id = $1 AND b.sweep_id = $2`, [id, again.id]);
    expect(linked.rows[0].n).toBe(12);
  });
});
