// One BullMQ job: a batch of indexes of one sweep (docs/service-design.md, "Running").
// Postgres is the source of truth throughout: whatever happens to the job (retry,
// stall, duplicate delivery), a run is claimed, stored and finished by conditional
// statements, so it ends up stored exactly once.
import type pg from 'pg';
import type { Logger } from 'pino';
import { CORE_VERSION } from '@curation/core';
import {
  cancelRunsIfSweepCancelled, claimRuns, findResultIds, finishRunsFailed, finishRunsSucceeded, finishSweepIfDone,
  insertResults, requeueRuns, type NewResult, type RunFailure, type RunSuccess,
} from '@curation/db';
import type { RunBatchJob } from '@curation/queue';
import type { ComputePool } from './pool.ts';
import { prepareRun, type PreparedRun } from './process-run.ts';
import type { StopFlag, JobControl } from './stop-flag.ts';
import type { TaskOutput } from './task.ts';
import type { SweepCache } from './sweep-cache.ts';
import { oneLine } from './task.ts';

export interface JobDeps {
  db: pg.Pool;
  pool: ComputePool;
  sweeps: SweepCache;
  workerId: string;
  runTimeoutMs: number;
  gitRevision: string;
  logger: Logger;
  /** Store finished runs at least this often within a long batch, so a crash loses little. */
  flushEveryMs?: number;
  /** Estimated compute per pool task when configurations are cheap (default TASK_TARGET_SECONDS). */
  taskTargetSeconds?: number;
}

/** Estimated seconds of compute per pool task: long enough to amortise a message round trip, short enough to store results often. */
export const TASK_TARGET_SECONDS = 0.02;
/** At most this many configurations per pool task, whatever their estimates say. */
export const MAX_TASK_CONFIGS = 32;
/** Configurations prepared between two turns of the event loop (about a millisecond). */
const PREPARE_SLICE = 8;
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

type Runnable = Extract<PreparedRun, { ok: true }>;
/** One configuration to compute, and the runs (indexes) that asked for it. */
type Computation = { hash: string; runs: Runnable[] };

/** Consecutive groups of about `targetSeconds` of estimated compute, in order. */
export function groupIntoTasks(items: [string, Runnable[]][], targetSeconds: number): Computation[][] {
  const tasks: Computation[][] = [];
  let cur: Computation[] = [];
  let seconds = 0;
  for (const [hash, runs] of items) {
    const s = runs[0].costSeconds;
    if (cur.length && (cur.length >= MAX_TASK_CONFIGS || seconds + s > targetSeconds)) {
      tasks.push(cur);
      cur = [];
      seconds = 0;
    }
    cur.push({ hash, runs });
    seconds += s;
  }
  if (cur.length) tasks.push(cur);
  return tasks;
}

export interface JobReport {
  claimed: number;
  succeeded: number;
  reused: number;
  failed: number;
  cancelled: number;
  /** Shutdown (or a cancel undone by a retry) stopped the job: its unfinished runs are queued again and the job goes back to the queue. */
  handBack: boolean;
  sweepStatus?: string;
}

export async function processJob(deps: JobDeps, data: RunBatchJob, control: JobControl): Promise<JobReport> {
  const { db, logger } = deps;
  const { sweepId } = data;
  const report: JobReport = { claimed: 0, succeeded: 0, reused: 0, failed: 0, cancelled: 0, handBack: false };

  let claim = await claimRuns(db, sweepId, data.indexes, deps.workerId);
  if (claim.sweepStatus === undefined) return report; // sweep deleted: nothing to store into
  if (claim.sweepStatus === 'cancelled') {
    // Also covers runs a dead worker left `running` in a sweep cancelled since. null:
    // a retry reopened the sweep in the meantime, so the job is to be done after all.
    const n = await cancelRunsIfSweepCancelled(db, sweepId, data.indexes);
    if (n !== null) {
      report.cancelled = n;
      return report;
    }
    claim = await claimRuns(db, sweepId, data.indexes, deps.workerId);
  }
  const claimed = claim.indexes;
  report.claimed = claimed.length;
  if (claimed.length === 0) {
    report.sweepStatus = await finishSweepIfDone(db, sweepId);
    return report;
  }

  let prepared: PreparedRun[] = [];
  const sweep = await deps.sweeps.get(sweepId).catch((err: unknown) => {
    if ((err as { name?: string }).name === 'SpecError') return err as Error; // a stored spec that no longer compiles
    throw err;
  });
  if (sweep === undefined) return report;
  if (sweep instanceof Error) prepared = claimed.map((index) => ({ index, ok: false, error: `sweep spec: ${oneLine(sweep)}` }));
  else {
    // A few at a time, letting the event loop in between: the pool's threads get their
    // next task through this thread, and preparing a whole job at once (tens of ms)
    // left them idle that long whenever another job's task ended meanwhile.
    for (let k = 0; k < claimed.length; k++) {
      if (k > 0 && k % PREPARE_SLICE === 0) await yieldToEventLoop();
      prepared.push(prepareRun(sweep, claimed[k]));
    }
  }

  const done = new Set<number>();
  let successes: RunSuccess[] = [];
  let failures: RunFailure[] = [];
  let fresh: NewResult[] = [];
  const store = async (batch: { successes: RunSuccess[]; failures: RunFailure[]; fresh: NewResult[] }) => {
    if (batch.fresh.length) {
      const ids = await insertResults(db, batch.fresh);
      for (const s of batch.successes) if (!s.resultId) s.resultId = ids.get(s.configHash) ?? '';
    }
    const missing = batch.successes.filter((s) => !s.resultId);
    if (missing.length) throw new Error(`results vanished for ${missing.length} runs of sweep ${sweepId}`);
    await finishRunsSucceeded(db, sweepId, batch.successes);
    await finishRunsFailed(db, sweepId, batch.failures);
    for (const r of [...batch.successes, ...batch.failures]) done.add(r.index);
  };
  // Stores run one at a time, behind the computations: the pool keeps computing while
  // Postgres writes. A failed store fails the job (BullMQ retries it) at the next flush.
  let storing: Promise<void> = Promise.resolve();
  const flush = () => {
    const batch = { successes, failures, fresh };
    successes = [];
    failures = [];
    fresh = [];
    storing = storing.then(() => store(batch));
    return storing;
  };

  // Link what is already stored (from any sweep) in one query before computing anything.
  const runnable = prepared.filter((p): p is Extract<PreparedRun, { ok: true }> => p.ok);
  for (const p of prepared) if (!p.ok) failures.push({ index: p.index, error: p.error });
  report.failed = failures.length;
  const known = await findResultIds(db, CORE_VERSION, runnable.map((p) => p.hash));
  const toCompute = new Map<string, Extract<PreparedRun, { ok: true }>[]>();
  for (const p of runnable) {
    const id = known.get(p.hash);
    if (id) {
      successes.push({ index: p.index, resultId: id, configHash: p.hash });
      report.reused++;
    } else {
      // The same configuration twice in one batch is computed once.
      const same = toCompute.get(p.hash);
      if (same) same.push(p);
      else toCompute.set(p.hash, [p]);
    }
  }

  // Cheap configurations travel to the pool a few at a time (about TASK_TARGET_SECONDS
  // of estimated compute), so a thread does not wait on a message round trip through
  // the main thread between runs of half a millisecond. All of the job's tasks are
  // handed to the pool at once, under one order: the pool runs them after those of the
  // jobs that started computing before this one (see pool.ts).
  const order = deps.pool.nextOrder();
  const inPool = groupIntoTasks([...toCompute], deps.taskTargetSeconds ?? TASK_TARGET_SECONDS).map((items) => {
    const flag = control.startRun();
    return { items, flag, out: deps.pool.simulate(items.map((c) => c.runs[0].config), flag, deps.runTimeoutMs, order) };
  });
  const flushEveryMs = deps.flushEveryMs ?? 1000;
  let lastFlush = Date.now();
  let next = 0;
  try {
    for (; next < inPool.length; next++) {
      const { items, flag, out: outcome } = inPool[next];
      const outs = await outcome;
      control.endRun(flag);
      let stopped = false;
      for (let k = 0; k < outs.length; k++) {
        const out = outs[k];
        const { hash, runs } = items[k];
        if (out.ok) {
          fresh.push({
            configHash: hash, coreVersion: CORE_VERSION, gitRevision: deps.gitRevision, config: runs[0].config,
            summary: out.summary, trajectory: out.trajectory, generator: out.generator, durationMs: out.durationMs,
          });
          for (const r of runs) successes.push({ index: r.index, resultId: '', configHash: hash });
          report.succeeded += runs.length;
        } else if (out.stopped && out.timedOut) {
          const error = `run exceeded the time limit of ${deps.runTimeoutMs / 1000} s (RUN_TIMEOUT_SECONDS)`;
          for (const r of runs) failures.push({ index: r.index, error, configHash: hash });
          report.failed += runs.length;
        } else if (out.stopped) {
          stopped = true; // cancel or shutdown: handled with the rest of the unfinished runs below
          break;
        } else {
          for (const r of runs) failures.push({ index: r.index, error: out.error, configHash: hash });
          report.failed += runs.length;
        }
      }
      if (stopped) {
        next++;
        break;
      }
      if (Date.now() - lastFlush >= flushEveryMs) {
        void flush().catch(() => {}); // awaited (and its error thrown) by the final flush
        lastFlush = Date.now();
      }
    }
  } finally {
    // After a stop (or a throw), what is still running ends at its next generation
    // boundary and what has not started is answered without starting.
    const rest = inPool.slice(next);
    for (const p of rest) p.flag.set(control.stopReason ?? 'shutdown');
    deps.pool.dropStopped();
    await Promise.allSettled(rest.map((p) => p.out));
    for (const p of rest) control.endRun(p.flag);
  }
  await flush();

  const unfinished = claimed.filter((i) => !done.has(i));
  if (unfinished.length) {
    // Only a cancel or shutdown leaves claimed runs unfinished without throwing.
    const cancelled = control.stopReason === 'cancel' ? await cancelRunsIfSweepCancelled(db, sweepId, unfinished) : null;
    if (cancelled !== null) {
      report.cancelled = cancelled;
    } else {
      // Shutdown, or a cancel already undone by a retry: whoever takes the job next runs them.
      await requeueRuns(db, sweepId, unfinished);
      report.handBack = true;
    }
  }
  report.sweepStatus = await finishSweepIfDone(db, sweepId);
  logger.debug({ sweepId, ...report }, 'job processed');
  return report;
}
