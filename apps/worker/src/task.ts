// Runs inside a pool thread: a few simulations, one after the other. A task carries
// several cheap configurations so that a thread does not wait on the main thread
// (one message round trip) between runs of half a millisecond. Never throws across
// the thread boundary, because structured cloning keeps neither an error's class nor
// its fields; each outcome is a plain tagged object instead.
import { simulate, SimulationCancelled } from '@curation/core';
import type { RunConfig, Summary } from '@curation/core';
// The codec's own entry, not @curation/db's index: that would load the Prisma client
// into every compute thread for nothing.
import { encodeTrajectory } from '@curation/db/trajectory-codec';

export interface TaskInput {
  configs: RunConfig[];
  /** Int32Array(1) over this buffer: 0 = go on, anything else = stop (see stop-flag.ts). */
  flag: SharedArrayBuffer;
  /** Time limit of each run, counted from when this thread starts it (not from when it was queued). */
  timeoutMs: number;
}

export type TaskOutput =
  | { ok: true; summary: Summary; trajectory: Uint8Array; generator: string | null; durationMs: number }
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

function runOne(config: RunConfig, stop: Int32Array, timeoutMs: number): TaskOutput {
  if (Atomics.load(stop, 0) !== 0) return { ok: false, stopped: true, timedOut: false };
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
    const trajectory = new Uint8Array(encodeTrajectory(out.trajectory));
    return { ok: true, summary: out.summary, trajectory, generator: out.generator ?? null, durationMs };
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

// Piscina entry. Trajectories are already packed here (off the main thread), so what
// crosses back is one small byte array per run rather than thousands of row objects.
export default runTask;
