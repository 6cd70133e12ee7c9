// Fault: configurations that pass validation but make the core throw at run time, or
// exceed the worker's per-run time limit (RUN_TIMEOUT_SECONDS=1). Those runs end
// `failed` with the error, the rest of the sweep goes on, and the sweep ends `failed`
// with the counts right.
//
// The throwing configurations: finite K with a huge beta. validateConfig accepts them
// (beta only needs to be >= 0, and the reward values themselves are finite), but
// beta * r overflows: K = 2 with beta = 1e308 gives s = -Infinity ("FiniteKMultiplier:
// s[0] is not finite"), K = 4 with beta = 1e300 underflows every weight to 0 ("p must
// have positive finite mass"). With K = inf the same beta runs fine.
import { describe, expect, it } from 'vitest';
import { compileSweep } from '@curation/sweep-spec';
import { call, makeTeam, recordFault, spawnApi, spawnWorker, storageReport, submit, waitFinished, useSharedServices } from './support.ts';

describe('fault: runs that throw in the core or exceed the time limit', () => {
  const fx = useSharedServices(3);

  it('throwing and timed-out runs fail with their error; the others succeed; the sweep ends failed', async () => {
    const t0 = Date.now();
    const spec = {
      name: 'fault-run-failures',
      base: {
        support: { kind: 'grid', min: -6, max: 6, n: 101 },
        rewards: [{ kind: 'quadratic', center: -1 }, { kind: 'quadratic', center: 1 }],
        iterations: 200,
        recordEvery: 50,
      },
      axes: [
        { param: 'q', values: [0.3, 0.7] },
        {
          zip: [
            { param: 'K', values: ['inf', 2, 4, 'inf', 4, 'inf', 2, 'inf'] },
            { param: 'beta', values: [1, 1e308, 1, 1, 1e300, 1e308, 1, 1] },
            // Entry 3: ~10 s of compute (estimated ~30 s, under MAX_COST_SECONDS), against a 1 s limit.
            { param: 'iterations', values: [200, 200, 200, 1_000_000, 200, 200, 200, 300] },
            { param: 'support.n', values: [101, 101, 101, 10_001, 101, 101, 101, 101] },
          ],
        },
      ],
    };
    const compiled = compileSweep(spec);
    const expectedError = (i: number): RegExp | null => {
      const p = compiled.paramsAt(i) as { K: number | string; beta: number; iterations: number };
      if (p.iterations === 1_000_000) return /^run exceeded the time limit of 1 s \(RUN_TIMEOUT_SECONDS\)$/;
      if (p.K === 2 && p.beta === 1e308) return /^RangeError: FiniteKMultiplier: s\[\d+\] is not finite$/;
      if (p.K === 4 && p.beta === 1e300) return /^RangeError: FiniteKMultiplier.compute: p must have positive finite mass$/;
      return null;
    };
    const failing = Array.from({ length: compiled.total }, (_, i) => i).filter((i) => expectedError(i));
    expect(compiled.total).toBe(16);
    expect(failing).toHaveLength(6);

    const api = await spawnApi(fx.group, fx.target, { LOG_LEVEL: 'warn' });
    const { key } = await makeTeam(fx.pool, `faults-failures-${fx.target.prefix}`);
    const env = { RUN_TIMEOUT_SECONDS: '1' };
    await Promise.all([spawnWorker(fx.group, fx.target, env), spawnWorker(fx.group, fx.target, env)]);
    const { id, total } = await submit(api.url, key, spec); // accepted: every configuration validates
    expect(total).toBe(16);

    const status = await waitFinished(fx.pool, id, 90_000);
    const report = await storageReport(fx.pool, id, total, (i) => (expectedError(i) ? 'failed' : 'succeeded'));
    const { rows } = await fx.pool.query<{ index: number; status: string; error: string | null; attempts: number; finished_at: Date | null }>(
      'SELECT index, status, error, attempts, finished_at FROM runs WHERE sweep_id = $1 ORDER BY index', [id]);
    const view = await call(api.url, 'GET', `/v1/sweeps/${id}`, key);
    recordFault('run-failures', {
      injected: failing.length, lost: report.lost.length, duplicated: report.duplicated.length, sweepStatus: status,
      byStatus: report.byStatus, errors: rows.filter((r) => r.error).map((r) => ({ index: r.index, error: r.error })),
      seconds: (Date.now() - t0) / 1000,
    });

    expect(status).toBe('failed');
    expect(report.byStatus).toEqual({ succeeded: total - failing.length, failed: failing.length });
    expect(report.lost).toEqual([]);
    expect(report.duplicated).toEqual([]);
    expect(report.badLinks).toEqual([]);
    for (const r of rows) {
      const want = expectedError(r.index);
      if (want) {
        expect({ index: r.index, status: r.status }).toEqual({ index: r.index, status: 'failed' });
        expect(r.error ?? '', `run ${r.index}`).toMatch(want);
        expect(r.attempts).toBe(1); // failed in the core, not by job retries
      } else {
        expect({ index: r.index, status: r.status, error: r.error }).toEqual({ index: r.index, status: 'succeeded', error: null });
      }
      expect(r.finished_at).not.toBeNull();
    }
    expect(view.status).toBe(200);
    expect(view.body.status).toBe('failed');
    expect(view.body.counts).toMatchObject({ queued: 0, running: 0, succeeded: total - failing.length, failed: failing.length, cancelled: 0 });
    // The workers lived through it.
    expect(fx.group.living('worker')).toHaveLength(2);
  }, 120_000);
});
