// Attack on the compute budget (issue: six rounds of submit, let most of it run, cancel,
// submit again computed 4x a team's budget): a cancelled sweep keeps the cost of the runs
// it computed, so the rounds together stay within the budget. Retries of failed runs are
// charged and checked. A configuration that needs more memory than a worker allows is
// refused at submission with the numbers.
import { describe, expect, it } from 'vitest';
import { createTeam, createKey, retrySweep, teamBudgetUsed } from '@curation/db';
import { c4Spec, call, linspace, spawnApi, spawnWorker, useSharedServices, waitFinished, waitFor } from './support.ts';

const BUDGET = 4; // estimated seconds
const ROUNDS = 6;

describe('fault: budget attacks', () => {
  const fx = useSharedServices(3);

  it('six rounds of submit, run most of it, cancel, submit again: what was computed stays within the budget', async () => {
    const api = await spawnApi(fx.group, fx.target, { LOG_LEVEL: 'warn' });
    await spawnWorker(fx.group, fx.target);
    const team = await createTeam(fx.pool, `budget-${fx.target.prefix}`, { computeBudgetSeconds: BUDGET });
    const { key } = await createKey(fx.pool, team.id);
    // Configurations of ~0.048 s estimated each (2001 atoms, 8,000 generations).
    const sweepOf = (count: number, round: number) =>
      c4Spec({ name: `attack-${round}`, qs: linspace(0.05, 0.95, count), ds: [2 + round * 0.01], n: 2001, iterations: 8000, recordEvery: 4000 });

    const rounds: { requested: number; status: number; computedRuns?: number; total?: number }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // As much as the team has left (the 422 tells it), just under.
      const left = BUDGET - (await teamBudgetUsed(fx.pool, team.id));
      const count = Math.max(1, Math.floor((left * 0.97) / 0.048));
      const r = await call(api.url, 'POST', '/v1/sweeps', key, sweepOf(count, round));
      rounds.push({ requested: count, status: r.status });
      if (r.status === 422) {
        expect(r.body.budget).toMatchObject({ budgetSeconds: BUDGET });
        continue;
      }
      expect(r.status).toBe(201);
      const { id, total } = r.body;
      // Let most of it run, then cancel.
      await waitFor('most of the sweep computed', async () => {
        const { rows } = await fx.pool.query<{ n: number; s: string }>(
          `SELECT count(*) FILTER (WHERE status = 'succeeded')::int AS n, (SELECT status FROM sweeps WHERE id = $1) AS s FROM runs WHERE sweep_id = $1`, [id]);
        return rows[0].n >= total * 0.7 || rows[0].s === 'succeeded';
      }, 120_000, 50);
      await call(api.url, 'POST', `/v1/sweeps/${id}/cancel`, key);
      await waitFinished(fx.pool, id, 60_000);
      await waitFor('nothing running', async () =>
        Number((await fx.pool.query(`SELECT count(*) AS n FROM runs WHERE sweep_id = $1 AND status = 'running'`, [id])).rows[0].n) === 0, 30_000);
      const { rows } = await fx.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM runs WHERE sweep_id = $1 AND status IN ('succeeded', 'failed')`, [id]);
      Object.assign(rounds[round], { computedRuns: rows[0].n, total });
    }
    // The estimate of everything the team had computed, over every round.
    const { rows: [computed] } = await fx.pool.query<{ seconds: number; runs: number }>(
      `SELECT coalesce(sum(r.cost_seconds), 0)::float8 AS seconds, count(*)::int AS runs FROM runs r JOIN sweeps s ON s.id = r.sweep_id
        WHERE s.team_id = $1 AND (r.status IN ('succeeded', 'failed') OR (r.status = 'cancelled' AND r.started_at IS NOT NULL))`, [team.id]);
    const used = await teamBudgetUsed(fx.pool, team.id);
    console.log(`budget attack: rounds ${JSON.stringify(rounds)}; computed ${computed.runs} runs, ${computed.seconds.toFixed(2)} s estimated; charged ${used.toFixed(2)} s of ${BUDGET}`);
    expect(rounds.filter((r) => r.status === 201).length).toBeGreaterThanOrEqual(2);
    expect(computed.seconds).toBeLessThanOrEqual(BUDGET);
    expect(used).toBeLessThanOrEqual(BUDGET);
    expect(used).toBeGreaterThanOrEqual(computed.seconds - 1e-9);
    // The last answer names the numbers.
    const last = await call(api.url, 'POST', '/v1/sweeps', key, sweepOf(40, 7));
    expect(last.status).toBe(422);
    expect(last.body.budget.usedSeconds).toBeCloseTo(used, 6);
  }, 600_000);

  it('retrying failed runs is charged, and refused once it no longer fits', async () => {
    const team = await createTeam(fx.pool, `budget-retry-${fx.target.prefix}`, { computeBudgetSeconds: 10 });
    const sweepId = '7b0f9b4e-5a6a-4b71-9d2f-1f2f3f4f5f6f';
    await fx.pool.query(
      `INSERT INTO sweeps (id, name, spec, total, enqueued, status, core_version, team_id, estimated_cost_seconds, started_at, finished_at)
       VALUES ($1, 'retry', '{}', 4, 4, 'failed', 'x', $2, 8, now(), now())`, [sweepId, team.id]);
    await fx.pool.query(
      `INSERT INTO runs (sweep_id, index, params, status, cost_seconds, error) SELECT $1, i, '{}', CASE WHEN i < 2 THEN 'failed' ELSE 'succeeded' END, 2, 'x'
         FROM generate_series(0, 3) AS i`, [sweepId]);
    expect(await teamBudgetUsed(fx.pool, team.id)).toBe(8);
    // Two failed runs of 2 s each: 4 s more than the 2 s left.
    const refused = await retrySweep(fx.pool, sweepId, { teamId: team.id });
    expect(refused).toEqual({ outcome: 'over_budget', overBudget: { budgetSeconds: 10, usedSeconds: 8, requestedSeconds: 4 } });
    expect(Number((await fx.pool.query(`SELECT count(*) AS n FROM runs WHERE sweep_id = $1 AND status = 'failed'`, [sweepId])).rows[0].n)).toBe(2);
    await fx.pool.query('UPDATE teams SET compute_budget_seconds = 12 WHERE id = $1', [team.id]);
    expect(await retrySweep(fx.pool, sweepId, { teamId: team.id })).toMatchObject({ outcome: 'retried', indexes: [0, 1] });
    expect(await teamBudgetUsed(fx.pool, team.id)).toBe(12); // 8 + the 4 s the retry computes again
  });

  it('a configuration needing more memory than a worker allows is refused at submission, with the numbers', async () => {
    const api = await spawnApi(fx.group, fx.target, { LOG_LEVEL: 'warn', WORKER_MAX_RUN_MEMORY_MB: '2048' });
    const team = await createTeam(fx.pool, `budget-memory-${fx.target.prefix}`);
    const { key } = await createKey(fx.pool, team.id);
    const t = Date.now();
    const r = await call(api.url, 'POST', '/v1/sweeps', key, {
      name: 'huge-grid',
      base: { support: { kind: 'grid', min: -10, max: 10, n: 50_000_000 }, rewards: [{ kind: 'quadratic', center: 0 }], iterations: 2 },
    }, 120_000);
    console.log(`memory refusal in ${Date.now() - t} ms: ${r.body?.issues?.[0]?.message}`);
    expect(r.status).toBe(422);
    const message: string = r.body.issues[0].message;
    expect(message).toMatch(/needs an estimated \d+ MB of memory \(n = 50000000 atoms, m = 1 rewards\), more than the 2048 MB a worker allows/);
    expect(Number((await fx.pool.query('SELECT count(*) AS n FROM sweeps WHERE team_id = $1', [team.id])).rows[0].n)).toBe(0);
  }, 180_000);
});
