// Fault: workers killed with SIGKILL mid-run, over and over during one sweep. Every index
// must end stored exactly once, with results equal to a clean run of the core.
import { describe, expect, it } from 'vitest';
import {
  c4Spec, cleanRunInChild, compareWithClean, linspace, makeTeam, recordFault, runCounts, sleep,
  spawnApi, spawnWorker, storageReport, submit, sweepRow, useSharedServices, waitFinished, type Proc,
} from './support.ts';

// Short BullMQ timings so a dead worker's job comes back within a few seconds.
const FAST_STALL = { WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000' };
const WORKERS = 3;
const MIN_KILLS = 5;
const MAX_KILLS = 6;

describe('fault: worker SIGKILL, repeatedly during one sweep', () => {
  const fx = useSharedServices(3);

  it('every index stored exactly once, equal to a clean run, after repeated kills', async () => {
    // 64 distinct configurations of ~0.2 s each (a few per job): ~12 s of compute.
    const spec = c4Spec({ name: 'fault-sigkill', qs: linspace(0.1, 0.9, 8), ds: linspace(2, 10, 8), n: 2001, iterations: 30_000, recordEvery: 5000 });
    const clean = cleanRunInChild(spec); // overlaps with the sweep
    const api = await spawnApi(fx.group, fx.target, { LOG_LEVEL: 'warn' });
    const { key } = await makeTeam(fx.pool, `faults-sigkill-${fx.target.prefix}`);
    await Promise.all(Array.from({ length: WORKERS }, () => spawnWorker(fx.group, fx.target, FAST_STALL)));
    const { id, total } = await submit(api.url, key, spec);
    expect(total).toBe(64);

    // The kill loop: every ~2 s, SIGKILL a worker that has a run in hand, start a replacement.
    const kills: { pid: number; at: number; running: number }[] = [];
    const starting: Promise<Proc>[] = [];
    const t0 = Date.now();
    while (kills.length < MAX_KILLS) {
      await sleep(1500 + Math.random() * 700);
      const s = await sweepRow(fx.pool, id);
      if (s.status !== 'queued' && s.status !== 'running') break;
      let victim: Proc | undefined;
      for (let tries = 0; tries < 20 && !victim; tries++) {
        const { rows } = await fx.pool.query<{ worker: string }>(
          `SELECT DISTINCT worker FROM runs WHERE sweep_id = $1 AND status = 'running' AND worker IS NOT NULL`, [id]);
        const busyPids = new Set(rows.map((r) => Number(r.worker.split(':')[1])));
        const busy = fx.group.living('worker').filter((w) => busyPids.has(w.pid));
        victim = busy[Math.floor(Math.random() * busy.length)];
        if (!victim) await sleep(150);
      }
      if (!victim) continue;
      const running = (await runCounts(fx.pool, id)).running ?? 0;
      const exit = await victim.kill('SIGKILL');
      expect(exit.signal).toBe('SIGKILL');
      kills.push({ pid: victim.pid, at: Date.now() - t0, running });
      starting.push(spawnWorker(fx.group, fx.target, FAST_STALL));
    }
    await Promise.all(starting);

    const status = await waitFinished(fx.pool, id, 120_000);
    const report = await storageReport(fx.pool, id, total);
    const diffs = await compareWithClean(fx.pool, id, await clean);
    recordFault('worker-sigkill', {
      injected: kills.length, lost: report.lost.length, duplicated: report.duplicated.length,
      sweepStatus: status, byStatus: report.byStatus, maxAttempts: report.maxAttempts, kills,
      differentFromCleanRun: diffs, badLinks: report.badLinks, seconds: (Date.now() - t0) / 1000,
    });

    expect(kills.length).toBeGreaterThanOrEqual(MIN_KILLS);
    expect(status).toBe('succeeded');
    expect(report.rows).toBe(total);
    expect(report.byStatus).toEqual({ succeeded: total }); // none left running, failed or queued
    expect(report.lost).toEqual([]);
    expect(report.duplicated).toEqual([]);
    expect(report.stray).toEqual([]);
    expect(report.badLinks).toEqual([]);
    expect(diffs).toEqual([]);
    expect(report.maxAttempts).toBeGreaterThanOrEqual(2); // killed runs were claimed again
    // The result rows of this sweep: exactly one per configuration.
    const { rows } = await fx.pool.query<{ n: number; d: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT result_id)::int AS d FROM runs WHERE sweep_id = $1`, [id]);
    expect(rows[0]).toEqual({ n: total, d: total });
    const res = await fx.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM results');
    expect(res.rows[0].n).toBe(total);
  }, 180_000);
});
