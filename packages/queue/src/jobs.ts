// What travels through Redis: a job names a sweep and a batch of configuration
// indexes, never the configurations themselves (workers rebuild them from the stored
// spec), so a queued configuration costs a few bytes of Redis memory.
export const RUNS_QUEUE = 'runs';

export interface RunBatchJob {
  sweepId: string;
  /** Configuration indexes of the sweep, ascending. */
  indexes: number[];
}

/** Name of every run job. */
export const RUN_JOB_NAME = 'run-batch';

/** BullMQ options of run jobs added by the workers' reconciler (the API's submissions use the same). */
export const RUN_JOB_DEFAULTS = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: true,
  removeOnFail: { count: 1000 },
} as const;

/**
 * Deterministic job id: a re-enqueue of the same batch (resumed submission) is a no-op
 * in BullMQ. The sweep id comes first, so the reconciler finds a sweep's jobs by id.
 * Generations: 0 for the submission, a retry's timestamp, `r<pass>` for the reconciler.
 */
export function batchJobId(sweepId: string, firstIndex: number, generation: number | string = 0): string {
  return `${sweepId}:${generation}:${firstIndex}`;
}

/** Redis pub/sub channel on which the API announces cancelled sweeps to workers. */
export function cancelChannel(prefix: string): string {
  return `${prefix}:cancel`;
}
