// How configurations are grouped into BullMQ jobs: cheap ones share a job (about a
// second of estimated compute, at most 100 indexes) so Redis and the workers are not
// swamped by 100,000 tiny jobs; expensive ones get a job each. A small sweep still
// gets a few dozen jobs: the workers share a sweep job by job, so one large job left
// at the end would run on one worker while the others idle.
import { validateConfig } from '@curation/core';
import type { CompiledSweep } from '@curation/sweep-spec';
import { batchJobId, type RunBatchJob } from '@curation/queue';

export const TARGET_JOB_SECONDS = 1;
export const MAX_JOB_INDEXES = 100;
/** Jobs a sweep is cut into at least, while jobs keep 10 indexes or more. */
export const MIN_JOBS_PER_SWEEP = 32;
// Divisors of 100, so job boundaries stay on the enqueuer's chunk boundaries (multiples of 100).
const JOB_SIZES = [100, 50, 25, 20, 10];

/** Indexes per job for `count` configurations: MAX_JOB_INDEXES, or fewer so a small sweep still makes MIN_JOBS_PER_SWEEP jobs. */
export function maxJobIndexes(count: number): number {
  return JOB_SIZES.find((size) => count / size >= MIN_JOBS_PER_SWEEP) ?? JOB_SIZES[JOB_SIZES.length - 1];
}

/** BullMQ options of every run job (the worker relies on attempts and backoff for infrastructure errors). */
export const RUN_JOB_OPTIONS = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: true,
  removeOnFail: { count: 1000 },
} as const;

export const RUN_JOB_NAME = 'run-batch';

/** Estimated seconds of configuration i; 0 when the core refuses it (the worker will record why). */
export function costOf(compiled: CompiledSweep, i: number): number {
  try {
    const r = validateConfig(compiled.configAt(i), { maxCostSeconds: Infinity, checkValues: false });
    return r.ok ? r.cost.seconds : 0;
  } catch {
    return 0;
  }
}

/**
 * Greedy packing of `indexes` (ascending) in order by their estimated `cost`, at most
 * `maxIndexes` a job. Deterministic for a given spec and list, so a resumed enqueue
 * produces the same job ids as the interrupted one.
 */
export function packBatches(cost: (i: number) => number, indexes: number[], maxIndexes = MAX_JOB_INDEXES): number[][] {
  const out: number[][] = [];
  let cur: number[] = [];
  let seconds = 0;
  for (const i of indexes) {
    const s = cost(i);
    if (cur.length && (cur.length >= maxIndexes || seconds + s > TARGET_JOB_SECONDS)) {
      out.push(cur);
      cur = [];
      seconds = 0;
    }
    cur.push(i);
    seconds += s;
  }
  if (cur.length) out.push(cur);
  return out;
}

export function jobsFor(sweepId: string, batches: number[][], generation = 0) {
  return batches.map((indexes) => ({
    name: RUN_JOB_NAME,
    data: { sweepId, indexes } satisfies RunBatchJob,
    opts: { ...RUN_JOB_OPTIONS, jobId: batchJobId(sweepId, indexes[0], generation) },
  }));
}
