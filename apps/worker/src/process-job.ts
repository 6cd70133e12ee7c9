// One BullMQ job: a batch of indexes of one sweep (docs/service-design.md, "Running").
// Postgres is the source of truth throughout: whatever happens to the job (retry,
// stall, duplicate delivery), a run is claimed, stored and finished by conditional
// statements, so it ends up stored exactly once.
import type { Logger } from 'pino';
import { CORE_VERSION } from '@curation/core';
import {
  cancelRunsIfSweepCancelled, claimRuns, DEAD_AFTER_MS, findReusableResults, finishRunsFailed, finishRunsSucceeded,
  finishSweepIfDone, insertResults, openRuns, requeueRuns, type CacheScope, type Queryable, type NewResult, type RunFailure, type RunSuccess,
} from '@curation/db';
import type { RunBatchJob } from '@curation/queue';
import { SpecError } from '@curation/sweep-spec';
import type { ComputePool } from './pool.ts';
import { prepareRun, type PreparedRun } from './process-run.ts';
import type { JobControl } from './stop-flag.ts';
import type { SweepCache } from './sweep-cache.ts';
import { oneLine, type TaskOutput } from './task.ts';

export interface JobDeps {
  /** Where the job's statements go: the worker's pg pool, or Prisma Client over it (WORKER_DB_CLIENT). */
  db: Queryable;
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
  /** RESULT_CACHE_SCOPE: which stored results a run may reuse (default: its own team's). */
  cacheScope?: 'team' | 'global';
  /** A worker silent this long is dead: its running runs may be claimed (default DEAD_AFTER_MS). */
  deadAfterMs?: number;
  /** WORKER_MAX_RUN_MEMORY_MB in bytes: bigger configurations fail without computing. */
  maxRunMemoryBytes?: number;
}

/** Estimated seconds of compute per pool task: long enough to amortise a message round trip, short enough to store results often. */
export const TASK_TARGET_SECONDS = 0.05;
/** At most this many configurations per pool task, whatever their estimates say. */
export const MAX_TASK_CONFIGS = 100;
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
  /** Runs whose claim another worker took over while this one held them (it was stopped or slow): not written. */
  takenOver: number;
  /** Shutdown (or a cancel undone by a retry) stopped the job: its unfinished runs are queued again and the job goes back to the queue. */
  handBack: boolean;
  sweepStatus?: string;
}

export async function processJob(deps: JobDeps, data: RunBatchJob, control: JobControl): Promise<JobReport> {
  const { db, logger, workerId } = deps;
  const { sweepId } = data;
  const deadAfterMs = deps.deadAfterMs ?? DEAD_AFTER_MS;
  const report: JobReport = { claimed: 0, succeeded: 0, reused: 0, failed: 0, cancelled: 0, takenOver: 0, handBack: false };

  let open = await openRuns(db, sweepId, data.indexes, workerId, deadAfterMs);
  if (open.sweepStatus === undefined) return report; // sweep deleted: nothing to store into
  if (open.sweepStatus === 'cancelled') {
    // Also covers runs a dead worker left `running` in a sweep cancelled since. null:
    // a retry reopened the sweep in the meantime, so the job is to be done after all.
    const n = await cancelRunsIfSweepCancelled(db, sweepId, data.indexes);
    if (n !== null) {
      report.cancelled = n;
      return report;
    }
    open = await openRuns(db, sweepId, data.indexes, workerId, deadAfterMs);
  }
  if (open.indexes.length === 0) {
    report.sweepStatus = await finishSweepIfDone(db, sweepId);
    return report;
  }

  const info = await deps.sweeps.get(sweepId).catch((err: unknown) => {
    if (err instanceof SpecError) return err; // a stored spec that no longer compiles
    throw err;
  });
  if (info === undefined) return report;
  let prepared: PreparedRun[] = [];
  if (info instanceof Error) prepared = open.indexes.map((index) => ({ index, ok: false, error: `sweep spec: ${oneLine(info)}` }));
  else {
    // A few at a time, letting the event loop in between: the pool's threads get their
    // next task through this thread, and preparing a whole job at once (tens of ms)
    // left them idle that long whenever another job's task ended meanwhile.
    for (let k = 0; k < open.indexes.length; k++) {
      if (k > 0 && k % PREPARE_SLICE === 0) await yieldToEventLoop();
      prepared.push(prepareRun(info.compiled, open.indexes[k], deps.maxRunMemoryBytes));
    }
  }

  // Runs this job holds: index -> the attempt its claim recorded (the key of every write).
  const held = new Map<number, number>();
  let cancelSeen = false;
  const claim = async (indexes: number[]): Promise<Set<number>> => {
    const c = await claimRuns(db, sweepId, indexes, workerId, deadAfterMs);
    if (c.sweepStatus === 'cancelled' || c.sweepStatus === undefined) cancelSeen = true;
    c.indexes.forEach((index, k) => held.set(index, c.attempts[k]));
    report.claimed += c.indexes.length;
    return new Set(c.indexes);
  };

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
    const stored = await finishRunsSucceeded(db, sweepId, workerId, batch.successes)
      + await finishRunsFailed(db, sweepId, workerId, batch.failures);
    const lost = batch.successes.length + batch.failures.length - stored;
    if (lost > 0) {
      // Another worker took these runs over while this one was stopped or too slow (its
      // heartbeat stopped); theirs is the claim that counts, so nothing of ours is written.
      report.takenOver += lost;
      logger.warn({ sweepId, runs: lost }, 'runs taken over by another worker: this worker\'s outcome not stored');
    }
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

  // What needs no computing: configurations that cannot run, and those already stored
  // (in the cache's scope, RESULT_CACHE_SCOPE), linked in one query before computing anything.
  const runnable = prepared.filter((p): p is Runnable => p.ok);
  const scope: CacheScope = deps.cacheScope === 'global' ? 'global' : { team: info instanceof Error ? null : info.teamId };
  const known = await findReusableResults(db, CORE_VERSION, runnable.map((p) => p.hash), scope);
  const immediate = prepared.filter((p) => !p.ok || known.has(p.hash));
  if (immediate.length) {
    const got = await claim(immediate.map((p) => p.index));
    for (const p of immediate) {
      if (!got.has(p.index)) continue;
      const attempt = held.get(p.index)!;
      if (!p.ok) {
        failures.push({ index: p.index, attempt, error: p.error });
        report.failed++;
      } else {
        successes.push({ index: p.index, attempt, resultId: known.get(p.hash)!, configHash: p.hash, durationMs: null, reused: true });
        report.reused++;
      }
    }
  }
  const toCompute = new Map<string, Runnable[]>();
  for (const p of runnable) {
    if (known.has(p.hash)) continue;
    // The same configuration twice in one batch is computed once.
    const same = toCompute.get(p.hash);
    if (same) same.push(p);
    else toCompute.set(p.hash, [p]);
  }

  // Cheap configurations travel to the pool a few at a time (about TASK_TARGET_SECONDS
  // of estimated compute), so a thread does not wait on a message round trip through
  // the main thread between runs of half a millisecond. All of the job's tasks are
  // handed to the pool at once, under one order: the pool runs them after those of the
  // jobs that started computing before this one (see pool.ts). Each task claims its runs
  // when a thread is about to take it, so the runs of the job's later tasks stay `queued`
  // (and free for another worker should this one die) until then.
  const order = deps.pool.nextOrder();
  const inPool = groupIntoTasks([...toCompute], deps.taskTargetSeconds ?? TASK_TARGET_SECONDS).map((planned) => {
    const flag = control.startRun();
    const task = { items: planned, flag, out: undefined as unknown as Promise<TaskOutput[]> };
    task.out = deps.pool.simulate(planned.map((c) => c.runs[0].configJson), flag, deps.runTimeoutMs, order, async () => {
      if (flag.reason || cancelSeen) return [];
      const got = await claim(planned.flatMap((c) => c.runs.map((r) => r.index)));
      task.items = planned
        .map((c) => ({ hash: c.hash, runs: c.runs.filter((r) => got.has(r.index)) }))
        .filter((c) => c.runs.length > 0);
      return task.items.map((c) => c.runs[0].configJson);
    });
    // A claim can fail (Postgres unreachable) before the loop below awaits this task: the
    // loop still sees the error; this only keeps it from counting as unhandled meanwhile.
    task.out.catch(() => {});
    return task;
  });
  const flushEveryMs = deps.flushEveryMs ?? 1000;
  let lastFlush = Date.now();
  let next = 0;
  try {
    for (; next < inPool.length; next++) {
      const task = inPool[next];
      const outs = await task.out;
      control.endRun(task.flag);
      const items = task.items;
      let stopped = false;
      for (let k = 0; k < outs.length && k < items.length; k++) {
        const out = outs[k];
        const { hash, runs } = items[k];
        if (out.ok) {
          fresh.push({
            configHash: hash, coreVersion: CORE_VERSION, gitRevision: deps.gitRevision, configJson: runs[0].configJson,
            summaryJson: out.summaryJson, columns: out.columns, trajectory: out.trajectory, generator: out.generator, durationMs: out.durationMs,
          });
          for (const r of runs) successes.push({ index: r.index, attempt: held.get(r.index)!, resultId: '', configHash: hash, durationMs: out.durationMs, reused: false });
          report.succeeded += runs.length;
        } else if (out.stopped && out.timedOut) {
          const error = `run exceeded the time limit of ${deps.runTimeoutMs / 1000} s (RUN_TIMEOUT_SECONDS)`;
          for (const r of runs) failures.push({ index: r.index, attempt: held.get(r.index)!, error, configHash: hash });
          report.failed += runs.length;
        } else if (out.stopped) {
          stopped = true; // cancel or shutdown: handled with the rest of the unfinished runs below
          break;
        } else {
          for (const r of runs) failures.push({ index: r.index, attempt: held.get(r.index)!, error: out.error, configHash: hash });
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

  // Only a stop (cancel or shutdown, or a cancel seen by a claim) leaves runs of the job
  // unfinished without throwing: claimed ones, and ones whose task never started.
  const stopped = control.stopReason !== undefined || cancelSeen;
  const unfinished = open.indexes.filter((i) => !done.has(i));
  if (stopped && unfinished.length) {
    const cancelled = control.stopReason !== 'shutdown' ? await cancelRunsIfSweepCancelled(db, sweepId, unfinished) : null;
    if (cancelled !== null) {
      report.cancelled = cancelled;
    } else {
      // Shutdown, or a cancel already undone by a retry: whoever takes the job next runs them.
      const mine = unfinished.filter((i) => held.has(i)).map((index) => ({ index, attempt: held.get(index)! }));
      await requeueRuns(db, sweepId, workerId, mine);
      report.handBack = true;
    }
  }
  report.sweepStatus = await finishSweepIfDone(db, sweepId);
  logger.debug({ sweepId, ...report }, 'job processed');
  return report;
}
