// Runs inside a pool thread: a few simulations, one after the other. A task carries
// several cheap configurations so that a thread does not wait on the main thread
// (one message round trip) between runs of half a millisecond. Never throws across
// the thread boundary, because structured cloning keeps neither an error's class nor
// its fields; each outcome is a plain tagged object instead.
import { Piscina } from 'piscina';
import { simulate, SimulationCancelled } from '@curation/core';
import type { RunConfig } from '@curation/core';
// The codecs' own entries, not @curation/db's index: that would load the Prisma client
// into every compute thread for nothing.
import { encodeSummary, type SummaryColumns } from '@curation/db/result-encoding';
import { encodeTrajectory } from '@curation/db/trajectory-codec';

export interface TaskInput {
  /** Each configuration, or its JSON text (what the worker hashed: cheaper to pass between threads than the object). */
  configs: (RunConfig | string)[];
  /** Int32Array(1) over this buffer: 0 = go on, anything else = stop (see stop-flag.ts). */
  flag: SharedArrayBuffer;
  /** Time limit of each run, counted from when this thread starts it (not from when it was queued). */
  timeoutMs: number;
}

export type TaskOutput =
  | {
    ok: true;
    /** The summary as the store takes it (encodeSummary): JSON text and its filterable columns. */
    summaryJson: string;
    columns: SummaryColumns;
    /** encodeTrajectory output. */
    trajectory: Uint8Array;
    generator: string | null;
    durationMs: number;
  }
  | { ok: false; stopped: true; timedOut: boolean }
  | { ok: false; stopped: false; error: string };

// Reading the clock is cheap but not free next to a generation of a small run.
const CLOCK_EVERY = 32;

/**
 * One outcome per configuration, in order. After an outside stop (cancel, shutdown)
 * the list ends with that run's `stopped` outcome: the rest were not started.
 */
export function runTask({ configs, flag, timeoutMs }: TaskInput): TaskOutput[] {
  const stop = new Int32Array(flag);
  const outputs: TaskOutput[] = [];
  for (const config of configs) {
    const out = runOne(config, stop, timeoutMs);
    outputs.push(out);
    if (!out.ok && out.stopped && !out.timedOut) break;
  }
  return outputs;
}

function runOne(input: RunConfig | string, stop: Int32Array, timeoutMs: number): TaskOutput {
  if (Atomics.load(stop, 0) !== 0) return { ok: false, stopped: true, timedOut: false };
  let config: unknown;
  try {
    config = typeof input === 'string' ? JSON.parse(input) : input;
  } catch (err) {
    return { ok: false, stopped: false, error: oneLine(err) };
  }
  const started = performance.now();
  const deadline = started + timeoutMs;
  let timedOut = false;
  let polls = 0;
  const shouldStop = () => {
    if (Atomics.load(stop, 0) !== 0) return true;
    if (++polls % CLOCK_EVERY === 0 && performance.now() > deadline) timedOut = true;
    return timedOut;
  };
  try {
    // The API enforced MAX_COST_SECONDS at submission; here RUN_TIMEOUT_SECONDS rules.
    const out = simulate(config, { shouldStop, maxCostSeconds: Infinity });
    const durationMs = performance.now() - started;
    // Encoded here rather than on the main thread, which every statement of the worker's
    // jobs goes through; a summary that JSON cannot hold exactly fails its run.
    const { summaryJson, columns } = encodeSummary(out.summary);
    const trajectory = encodeTrajectory(out.trajectory);
    return { ok: true, summaryJson, columns, trajectory, generator: out.generator ?? null, durationMs };
  } catch (err) {
    if (err instanceof SimulationCancelled) {
      // An outside stop (cancel, shutdown) that came first wins over the time limit.
      return { ok: false, stopped: true, timedOut: timedOut && Atomics.load(stop, 0) === 0 };
    }
    return { ok: false, stopped: false, error: oneLine(err) };
  }
}

export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}` : String(err);
  return msg.replace(/\s*\n\s*/g, '; ').slice(0, 2000);
}

/**
 * Piscina entry: runTask, with every trajectory of the task copied into one buffer that
 * is moved (transferred) to the main thread rather than cloned, each outcome keeping a
 * view of its part. What crosses back per run is then a view, two strings and a few numbers.
 */
export default function runTaskMoved(input: TaskInput): TaskOutput[] {
  const outputs = runTask(input);
  let total = 0;
  for (const o of outputs) if (o.ok) total += o.trajectory.byteLength;
  const buffer = new ArrayBuffer(total);
  const all = new Uint8Array(buffer);
  let at = 0;
  for (const o of outputs) {
    if (!o.ok) continue;
    const n = o.trajectory.byteLength;
    all.set(o.trajectory, at);
    o.trajectory = all.subarray(at, at + n);
    at += n;
  }
  // Piscina.move of an object that names what to transfer (Piscina's Transferable
  // shape): the answer is `outputs`, sent with `buffer` in the transfer list.
  const moved = { [Symbol.for('Piscina.transferable')]: [buffer], [Symbol.for('Piscina.valueOf')]: outputs };
  return Piscina.move(moved as never) as unknown as TaskOutput[];
}
