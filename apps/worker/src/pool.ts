// The compute pool: one thread per core by default, so the CPU-bound core never
// blocks the event loop that renews BullMQ locks and talks to Postgres.
import { Piscina } from 'piscina';
import type { RunConfig } from '@curation/core';
import type { StopFlag } from './stop-flag.ts';
import type { TaskInput, TaskOutput } from './task.ts';

export interface ComputePool {
  readonly size: number;
  /**
   * Simulates configurations one after the other in one thread; `flag` stops them
   * early (see runTask for the shape of the answer), and so does the time limit of
   * each run (counted in the thread).
   */
  simulate(configs: RunConfig[], flag: StopFlag, timeoutMs: number): Promise<TaskOutput[]>;
  destroy(): Promise<void>;
}

export function createComputePool(size: number): ComputePool {
  const piscina = new Piscina<TaskInput, TaskOutput[]>({
    filename: new URL('./task-entry.mjs', import.meta.url).href,
    minThreads: size,
    maxThreads: size,
    // Threads stay warm between jobs: the JIT-compiled core is most of the speed.
    idleTimeout: 60 * 60_000,
  });
  return {
    size,
    simulate: (configs, flag, timeoutMs) => piscina.run({ configs, flag: flag.buffer, timeoutMs }),
    destroy: () => piscina.destroy(),
  };
}
