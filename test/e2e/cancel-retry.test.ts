import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { c4Spec, expectStoredLikeCleanRun, getSweep, runCounts, setup, spawnWorker, submit, waitFor, waitStatus, type Env } from './support.ts';

describe('e2e: cancel and retry through the API', () => {
  let env: Env;
  beforeAll(async () => { env = await setup(); });
  afterAll(async () => { await env?.close(); });

  it('a cancel stops the sweep (running runs included); a retry completes it', async () => {
    // About half a second a configuration and one per job (estimated over the API's
    // one-second batch target), so the cancel lands mid-sweep.
    const spec = c4Spec({ name: 'e2e-cancel', qs: [0.3, 0.6], ds: [3, 5, 7, 9], n: 2001, iterations: 100_000, recordEvery: 5000 });
    await spawnWorker(env);
    const { id } = await submit(env, spec);
    await waitFor('a run succeeded and one running', async () => {
      const c = await runCounts(env, id);
      return (c.succeeded ?? 0) >= 1 && (c.running ?? 0) >= 1;
    }, 60_000, 20);

    const res = await env.request('POST', `/v1/sweeps/${id}/cancel`);
    expect(res.statusCode).toBe(200);
    const cancelled = await waitFor('no run running', async () => {
      const c = await runCounts(env, id);
      return (c.running ?? 0) === 0 && (c.queued ?? 0) === 0 ? c : undefined;
    }, 10_000, 50);
    expect(cancelled.cancelled).toBeGreaterThanOrEqual(1);
    expect((cancelled.succeeded ?? 0) + cancelled.cancelled).toBe(8);
    expect((await getSweep(env, id)).status).toBe('cancelled');

    const retry = await env.request('POST', `/v1/sweeps/${id}/retry`);
    expect(retry.statusCode).toBe(200);
    expect(retry.json().affected).toBe(cancelled.cancelled);
    const done = await waitStatus(env, id, ['succeeded', 'failed', 'cancelled']);
    expect(done.status).toBe('succeeded');
    await expectStoredLikeCleanRun(env, id, spec, expect);
  }, 90_000);
});
