// Fault: a worker stopped (SIGSTOP) with runs in hand for longer than its BullMQ lock,
// while another worker finishes its work; then it continues (SIGCONT) and completes
// the computations it had started. A stale worker must never harm data: its claims were
// taken over (its heartbeat stopped), so every write it attempts is keyed to a claim it
// no longer holds and changes nothing. No result duplicated or overwritten, counts exact.
import { describe, expect, it } from 'vitest';
import {
  c4Spec, linspace, makeTeam, recordFault, sleep, spawnApi, spawnWorker, storageReport, submit, useSharedServices,
  waitFinished, waitFor,
} from './support.ts';

const LOCK_MS = 20_000; // the default WORKER_LOCK_DURATION_MS
const STOPPED_MS = LOCK_MS + 5000;

describe('fault: a worker stopped longer than its lock, then continued', () => {
  const fx = useSharedServices(3);

  it('the stale worker writes nothing: no result duplicated or overwritten, counts exact', async () => {
    const t0 = Date.now();
    // 8 configurations of ~1.5 s estimated: one per job, long enough to be stopped mid-run.
    const spec = c4Spec({ name: 'fault-sigstop', qs: linspace(0.2, 0.8, 2), ds: linspace(2, 10, 4), n: 2001, iterations: 250_000, recordEvery: 50_000 });
    const api = await spawnApi(fx.group, fx.target, { LOG_LEVEL: 'warn' });
    const { key } = await makeTeam(fx.pool, `faults-sigstop-${fx.target.prefix}`);
    const stale = await spawnWorker(fx.group, fx.target);
    const { id, total } = await submit(api.url, key, spec);
    expect(total).toBe(8);
    // The stale-to-be worker alone until it computes; then the other one joins.
    const held = await waitFor('a run in the first worker\'s hands', async () => {
      const { rows } = await fx.pool.query<{ index: number; attempts: number }>(
        `SELECT index, attempts FROM runs WHERE sweep_id = $1 AND status = 'running' AND split_part(worker, ':', 2) = $2`,
        [id, String(stale.pid)]);
      return rows.length ? rows : undefined;
    }, 60_000, 50);
    await sleep(500); // into the core
    stale.child.kill('SIGSTOP');
    const stoppedAt = Date.now();
    await spawnWorker(fx.group, fx.target);

    const status = await waitFinished(fx.pool, id, 180_000);
    const stoppedFor = Date.now() - stoppedAt;
    if (stoppedFor < STOPPED_MS) await sleep(STOPPED_MS - stoppedFor);
    const snapshot = async () => (await fx.pool.query(
      `SELECT index, status, result_id, attempts, worker, error, finished_at, reused, duration_ms FROM runs WHERE sweep_id = $1 ORDER BY index`, [id])).rows;
    const before = await snapshot();
    const resultsBefore = (await fx.pool.query('SELECT id, config_hash, summary, duration_ms FROM results ORDER BY id')).rows;

    stale.child.kill('SIGCONT');
    const resumedAt = Date.now();
    // It finishes the run it was computing and tries to store it.
    await waitFor('the stale worker to try to store', async () => stale.output().includes('runs taken over by another worker'), 120_000, 200);
    await sleep(3000); // and whatever else it had in hand
    const after = await snapshot();
    const resultsAfter = (await fx.pool.query('SELECT id, config_hash, summary, duration_ms FROM results ORDER BY id')).rows;
    const report = await storageReport(fx.pool, id, total);
    const { rows: [counts] } = await fx.pool.query<{ n: number; d: number }>(
      'SELECT count(*)::int AS n, count(DISTINCT result_id)::int AS d FROM runs WHERE sweep_id = $1', [id]);
    recordFault('worker-sigstop', {
      injected: 1, lost: report.lost.length, duplicated: report.duplicated.length, sweepStatus: status,
      byStatus: report.byStatus, maxAttempts: report.maxAttempts, heldWhenStopped: held.length,
      stoppedSeconds: (resumedAt - stoppedAt) / 1000, staleWorkerAlive: stale.alive(), seconds: (Date.now() - t0) / 1000,
    });

    expect(resumedAt - stoppedAt).toBeGreaterThan(LOCK_MS);
    expect(status).toBe('succeeded');
    expect(after).toEqual(before); // nothing the stale worker did changed a run
    expect(resultsAfter).toEqual(resultsBefore); // nor a result, nor added one
    expect(report.byStatus).toEqual({ succeeded: total });
    expect(report.lost).toEqual([]);
    expect(report.duplicated).toEqual([]);
    expect(report.badLinks).toEqual([]);
    expect(counts).toEqual({ n: total, d: total });
    expect(resultsAfter).toHaveLength(total);
    // The runs it held were taken over: claimed again by the other worker.
    for (const h of held) expect(after.find((r) => r.index === h.index)!.attempts).toBeGreaterThan(h.attempts);
    expect(stale.alive()).toBe(true);
  }, 300_000);
});
