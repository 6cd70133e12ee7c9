// Test fixtures for the worker: sweeps and runs written straight into Postgres (as
// the API would), jobs added straight to BullMQ, and polling helpers.
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import pino from 'pino';
import type pg from 'pg';
import { CORE_VERSION } from '@curation/core';
import { compileSweep } from '@curation/sweep-spec';
import { batchJobId, createRedis, RUNS_QUEUE, type RunBatchJob } from '@curation/queue';
import { waitFor } from '../../../test/support/wait-for.ts';

export { waitFor };

/** A cheap sweep on a small 1-d grid: q x D with two quadratic rewards (the C.4 geometry, shrunk). */
export function smallSpec(opts: { qs?: number[]; ds?: number[]; iterations?: number; name?: string } = {}) {
  return {
    name: opts.name ?? 'small',
    base: {
      support: { kind: 'grid', min: -12, max: 12, n: 61 },
      rewards: [{ kind: 'quadratic', center: 0 }, { kind: 'quadratic', center: 0 }],
      K: 'inf',
      iterations: opts.iterations ?? 40,
      eps: 0.5,
      recordEvery: 5,
    },
    axes: [
      { param: 'q', values: opts.qs ?? [0.3, 0.7] },
      { param: 'D', values: opts.ds ?? [2, 4] },
    ],
    derive: { 'rewards.0.center': '[-D/2]', 'rewards.1.center': '[D/2]' },
  };
}

/** Inserts a sweep and all its run rows, as the API does after validation. */
export async function insertSweep(db: pg.Pool, spec: unknown): Promise<{ id: string; total: number }> {
  const compiled = compileSweep(spec);
  const id = randomUUID();
  await db.query(
    `INSERT INTO sweeps (id, name, tags, spec, total, enqueued, core_version) VALUES ($1, $2, '{}', $3, $4, $4, $5)`,
    [id, (spec as { name: string }).name, JSON.stringify(spec), compiled.total, CORE_VERSION],
  );
  const indexes = Array.from({ length: compiled.total }, (_, i) => i);
  await db.query(
    `INSERT INTO runs (sweep_id, index, params) SELECT $1, i, p::jsonb FROM unnest($2::int[], $3::text[]) AS u(i, p)`,
    [id, indexes, indexes.map((i) => JSON.stringify(compiled.paramsAt(i)))],
  );
  return { id, total: compiled.total };
}

export function createQueue(url: string, prefix: string): Queue<RunBatchJob> {
  return new Queue<RunBatchJob>(RUNS_QUEUE, { connection: createRedis(url), prefix });
}

export async function addJob(queue: Queue<RunBatchJob>, sweepId: string, indexes: number[], generation = 0) {
  return queue.add('runs', { sweepId, indexes }, {
    jobId: batchJobId(sweepId, indexes[0], generation),
    attempts: 3,
    backoff: { type: 'exponential', delay: 200 },
  });
}


export async function runStatuses(db: pg.Pool, sweepId: string): Promise<Record<number, string>> {
  const { rows } = await db.query<{ index: number; status: string }>('SELECT index, status FROM runs WHERE sweep_id = $1 ORDER BY index', [sweepId]);
  return Object.fromEntries(rows.map((r) => [r.index, r.status]));
}

export async function sweepRow(db: pg.Pool, sweepId: string) {
  const { rows } = await db.query('SELECT status, started_at, finished_at FROM sweeps WHERE id = $1', [sweepId]);
  return rows[0] as { status: string; started_at: Date | null; finished_at: Date | null };
}

/** Waits until the sweep reaches one of `statuses`. */
export function waitSweep(db: pg.Pool, sweepId: string, statuses: string[], timeoutMs = 30_000) {
  return waitFor(`sweep ${sweepId} in ${statuses.join('|')}`, async () => {
    const s = await sweepRow(db, sweepId);
    return statuses.includes(s.status) ? s : undefined;
  }, timeoutMs);
}

export const silentLogger = () => pino({ level: process.env.TEST_LOG_LEVEL || 'silent' });
