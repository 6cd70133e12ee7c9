import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { c4Spec, expectStoredLikeCleanRun, runCounts, setup, spawnWorker, stopWorkers, submit, waitFor, waitStatus, type Env } from './support.ts';

// Short BullMQ timings so a dead worker's job is redelivered within seconds.
const FAST_STALL = { WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000' };

describe('e2e: workers dying and stopping', () => {
  let env: Env;
  beforeAll(async () => { env = await setup(); });
  afterEach(async () => { await stopWorkers(env); });
  afterAll(async () => { await env?.close(); });

  it('a worker killed with SIGKILL mid-sweep: another finishes it, every index stored once', async () => {
    // About half a second a configuration, one per job.
    const spec = c4Spec({ name: 'e2e-sigkill', qs: [0.25, 0.75], ds: [3, 6, 9], n: 2001, iterations: 100_000, recordEvery: 5000 });
    const first = await spawnWorker(env, FAST_STALL);
    const { id } = await submit(env, spec);
    await waitFor('first worker mid-sweep', async () => {
      const c = await runCounts(env, id);
      return (c.succeeded ?? 0) >= 1 && (c.running ?? 0) >= 1;
    }, 60_000, 20);
    const killed = await first.kill('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    expect((await runCounts(env, id)).running).toBeGreaterThanOrEqual(1); // left behind by the dead worker

    await spawnWorker(env, FAST_STALL);
    const done = await waitStatus(env, id, ['succeeded', 'failed'], 60_000);
    expect(done.status).toBe('succeeded');
    await expectStoredLikeCleanRun(env, id, spec, expect);
    const { rows } = await env.pool.query('SELECT max(attempts)::int AS m FROM runs WHERE sweep_id = $1', [id]);
    expect(rows[0].m).toBeGreaterThanOrEqual(2); // the interrupted run was claimed again
  }, 90_000);

  it('SIGTERM mid-sweep: the worker exits 0 within the grace period, another finishes, nothing lost or doubled', async () => {
    // Two seconds or more a configuration, one per job: the run in hand outlives the 0.5 s grace.
    const spec = c4Spec({ name: 'e2e-sigterm', qs: [0.4], ds: [2, 4, 6], n: 1001, iterations: 1_000_000, recordEvery: 50_000 });
    const first = await spawnWorker(env, { ...FAST_STALL, SHUTDOWN_GRACE_SECONDS: '0.5' });
    const { id } = await submit(env, spec);
    await waitFor('a run in hand', async () => ((await runCounts(env, id)).running ?? 0) >= 1, 60_000, 20);
    const exited = await first.kill('SIGTERM');
    expect(exited).toEqual({ code: 0, signal: null });
    expect(first.output()).toMatch(/handed back/);
    // The worker left within the grace, before the run in hand could finish: every run is
    // queued again (none left running, none finished by a worker that waited it out).
    expect(await runCounts(env, id)).toEqual({ queued: 3 });

    await spawnWorker(env);
    const done = await waitStatus(env, id, ['succeeded', 'failed'], 60_000);
    expect(done.status).toBe('succeeded');
    await expectStoredLikeCleanRun(env, id, spec, expect);
  }, 90_000);
});
