// An adaptive sweep through the service (API in-process, two worker processes, real
// Redis and Postgres) against a fixed sweep of exactly the points it ran: the wall
// time from submission to finished_at of each, so the difference is what the stages
// cost (the refiner's reads and writes, and the barrier at the end of each stage).
// The fixed sweep's configurations differ from the adaptive one's only by `tol`, which
// changes their hashes (so nothing is reused between the two) and not their cost.
//
//   npm run bench -- refine-service      (REFINE_SERVICE_FINEST=64 by default)
import { readFileSync } from 'node:fs';
import { parseSpecText } from '@curation/sweep-spec';
import { setup, spawnWorker, submit, waitStatus } from '../test/e2e/support.ts';

const FINEST = Number(process.env.REFINE_SERVICE_FINEST ?? 64);

async function wallSeconds(env: Awaited<ReturnType<typeof setup>>, id: string): Promise<number> {
  const { rows } = await env.pool.query<{ s: number }>(
    'SELECT extract(epoch FROM finished_at - created_at)::float8 AS s FROM sweeps WHERE id = $1', [id]);
  return rows[0].s;
}

export async function runRefineServiceBench(): Promise<unknown> {
  const spec = parseSpecText(readFileSync(new URL('../examples/boundary-qK.yaml', import.meta.url), 'utf8'), 'yaml') as {
    name: string; base: Record<string, unknown>; derive: Record<string, string>; refine: Record<string, unknown>;
  };
  spec.refine.finest = FINEST;
  const env = await setup();
  try {
    const workerEnv = { WORKER_CONCURRENCY: '1', LOG_LEVEL: 'warn', NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --conditions=source` };
    await spawnWorker(env, { ...workerEnv, LOG_LEVEL: 'info' });
    await spawnWorker(env, { ...workerEnv, LOG_LEVEL: 'info' });

    // Warm the workers (threads, JIT) on the starting grid with other hashes, so neither measured sweep pays for it.
    const warm = await submit(env, { ...spec, name: 'bench-warm-up', base: { ...spec.base, tol: 1.000002e-6 } });
    await waitStatus(env, warm.id, ['succeeded', 'failed'], 1_800_000);

    const refined = await submit(env, { ...spec, name: 'bench-refine' });
    await waitStatus(env, refined.id, ['succeeded', 'failed'], 1_800_000);
    const refinedS = await wallSeconds(env, refined.id);
    const { rows } = await env.pool.query<{ params: { q: number; k: number } }>(
      'SELECT params FROM runs WHERE sweep_id = $1 ORDER BY index', [refined.id]);
    const stages = (await env.pool.query('SELECT refine_stage AS s FROM sweeps WHERE id = $1', [refined.id])).rows[0].s;

    // Where the time goes: each stage's span, the gap before it (the refiner), and its runs' compute.
    const timeline = await env.pool.query<{ stage: number; runs: number; start: number; end: number; busy: number }>(
      `SELECT r.stage, count(*)::int AS runs,
              extract(epoch FROM min(r.started_at) - s.created_at)::float8 AS start,
              extract(epoch FROM max(r.finished_at) - s.created_at)::float8 AS end,
              sum(extract(epoch FROM r.finished_at - r.started_at))::float8 AS busy
         FROM runs r JOIN sweeps s ON s.id = r.sweep_id WHERE r.sweep_id = $1 GROUP BY r.stage, s.created_at ORDER BY r.stage`,
      [refined.id]);
    console.table(timeline.rows.map((t) => ({
      stage: t.stage, runs: t.runs, start: t.start.toFixed(2), end: t.end.toFixed(2), runSeconds: t.busy.toFixed(2),
    })));
    const { refine, ...rest } = spec;
    void refine;
    const fixedSpec = {
      ...rest,
      name: 'bench-refine-fixed',
      base: { ...spec.base, tol: 1.000001e-6 },
      axes: [{ zip: [{ param: 'q', values: rows.map((r) => r.params.q) }, { param: 'k', values: rows.map((r) => r.params.k) }] }],
    };
    const fixed = await submit(env, fixedSpec);
    await waitStatus(env, fixed.id, ['succeeded', 'failed'], 1_800_000);
    const fixedS = await wallSeconds(env, fixed.id);
    const row = {
      finest: `1/${FINEST}`,
      stages,
      runs: rows.length,
      fullGrid: (FINEST + 1) ** 2,
      refinedSeconds: Number(refinedS.toFixed(2)),
      fixedSeconds: Number(fixedS.toFixed(2)),
      overhead: `${(((refinedS - fixedS) / fixedS) * 100).toFixed(1)}%`,
    };
    console.table([row]);
    return row;
  } finally {
    await env.close();
  }
}
