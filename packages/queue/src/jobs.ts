// What travels through Redis: a job names a sweep and a batch of configuration
// indexes, never the configurations themselves (workers rebuild them from the stored
// spec), so a queued configuration costs a few bytes of Redis memory.
export const RUNS_QUEUE = 'runs';

export interface RunBatchJob {
  sweepId: string;
  /** Configuration indexes of the sweep, ascending. */
  indexes: number[];
}

/** Deterministic job id: a re-enqueue of the same batch (resumed submission) is a no-op in BullMQ. */
export function batchJobId(sweepId: string, firstIndex: number, generation = 0): string {
  return `${sweepId}:${generation}:${firstIndex}`;
}

/** Redis pub/sub channel on which the API announces cancelled sweeps to workers. */
export function cancelChannel(prefix: string): string {
  return `${prefix}:cancel`;
}
