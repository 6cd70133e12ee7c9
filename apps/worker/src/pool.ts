// The compute pool: one thread per core by default, so the CPU-bound core never
// blocks the event loop that renews BullMQ locks and talks to Postgres.
//
// Tasks wait here, not in Piscina's queue, ordered by the job that asked for them:
// a worker holds a few jobs at once so that one job's claim, preparation and stores
// overlap another's computing, and that only works if the jobs compute one after the
// other. Interleaved (Piscina's FIFO), the jobs in hand all finished together and
// every thread then idled while the next jobs were claimed and prepared.
import { Piscina } from 'piscina';
import type { RunConfig } from '@curation/core';
import type { StopFlag } from './stop-flag.ts';
import type { TaskInput, TaskOutput } from './task.ts';

export interface ComputePool {
  readonly size: number;
  /**
   * Simulates configurations one after the other in one thread; `flag` stops them
   * early (see runTask for the shape of the answer), and so does the time limit of
   * each run (counted in the thread). Tasks of a lower `order` start first; equal
   * orders start in submission order.
   */
  simulate(configs: (RunConfig | string)[], flag: StopFlag, timeoutMs: number, order?: number, beforeStart?: BeforeStart): Promise<TaskOutput[]>;
  /** An order for the tasks of a job starting now: after those of every job started before. */
  nextOrder(): number;
  /** Answers waiting tasks whose flag is set without starting them (a cancel must not wait behind other jobs). */
  dropStopped(): void;
  destroy(): Promise<void>;
}

/**
 * Called when a task is about to be handed to a thread (not when it is queued): the
 * configurations to run after all (the worker claims the task's runs here, so a run
 * shows `running` only once a thread is about to compute it); an empty list skips the
 * task, which then answers [].
 */
export type BeforeStart = () => Promise<(RunConfig | string)[]>;

interface Waiting {
  order: number;
  input: TaskInput;
  flag: StopFlag;
  beforeStart?: BeforeStart;
  resolve: (out: TaskOutput[]) => void;
  reject: (err: unknown) => void;
}

/** What a task whose flag was set before it started answers (as runTask would). */
const NOT_STARTED: TaskOutput[] = [{ ok: false, stopped: true, timedOut: false }];

export function createComputePool(size: number): ComputePool {
  const piscina = new Piscina<TaskInput, TaskOutput[]>({
    filename: new URL('./task-entry.mjs', import.meta.url).href,
    minThreads: size,
    maxThreads: size,
    // Threads stay warm between jobs: the JIT-compiled core is most of the speed.
    idleTimeout: 60 * 60_000,
  });
  // Per thread, one task running and the next already in Piscina's hands, which posts
  // it to the thread as soon as the running one ends; the rest wait here, in order.
  const inPiscinaMax = size * 2;
  let inPiscina = 0;
  let orders = 0;
  let destroyed = false;
  const waiting: Waiting[] = [];

  const dropStopped = () => {
    for (let k = waiting.length - 1; k >= 0; k--) {
      if (waiting[k].flag.reason) waiting.splice(k, 1)[0].resolve(NOT_STARTED);
    }
  };
  const pump = () => {
    dropStopped();
    while (inPiscina < inPiscinaMax && waiting.length && !destroyed) {
      const t = waiting.shift()!;
      inPiscina++;
      const run = t.beforeStart
        ? t.beforeStart().then((configs) => (configs.length ? piscina.run({ ...t.input, configs }) : []))
        : piscina.run(t.input);
      run.then(t.resolve, t.reject).finally(() => {
        inPiscina--;
        pump();
      });
    }
  };

  return {
    size,
    simulate(configs, flag, timeoutMs, order = Number.MAX_SAFE_INTEGER, beforeStart) {
      if (destroyed) return Promise.reject(new Error('compute pool destroyed'));
      return new Promise<TaskOutput[]>((resolve, reject) => {
        const t: Waiting = { order, input: { configs, flag: flag.buffer, timeoutMs }, flag, beforeStart, resolve, reject };
        // Behind every task of the same or a lower order (so equal orders keep their
        // submission order). Few tasks wait at a time, a few jobs' worth: a scan is cheap.
        let k = waiting.length;
        while (k > 0 && waiting[k - 1].order > order) k--;
        waiting.splice(k, 0, t);
        pump();
      });
    },
    nextOrder: () => orders++,
    dropStopped,
    async destroy() {
      destroyed = true;
      for (const t of waiting.splice(0)) t.reject(new Error('compute pool destroyed'));
      await piscina.destroy();
    },
  };
}
