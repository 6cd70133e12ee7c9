// Cooperative stopping of computations in pool threads. Terminating a thread would
// lose its warm JIT and, worse, leave us unsure what it finished; instead each task
// gets a shared Int32 the core polls at every generation boundary (shouldStop).
// The time limit is not among the reasons: the thread measures it itself (task.ts).
export type StopReason = 'cancel' | 'shutdown';

const CODES: Record<StopReason, number> = { cancel: 1, shutdown: 2 };
const REASONS: Record<number, StopReason> = { 1: 'cancel', 2: 'shutdown' };

export class StopFlag {
  readonly buffer = new SharedArrayBuffer(4);
  private readonly view = new Int32Array(this.buffer);

  /** The first reason wins. */
  set(reason: StopReason): void {
    Atomics.compareExchange(this.view, 0, 0, CODES[reason]);
  }

  get reason(): StopReason | undefined {
    return REASONS[Atomics.load(this.view, 0)];
  }
}

/** What one job in hand may be asked to do from outside: stop for a cancel or for shutdown. */
export class JobControl {
  stopReason: 'cancel' | 'shutdown' | undefined;
  /** Computations of this job in the pool (a job keeps a few in flight so no thread waits for the main thread). */
  readonly running = new Set<StopFlag>();

  /** `onStop`: called after the flags are set, so whoever holds tasks not yet started can answer them now. */
  constructor(readonly sweepId: string, private readonly onStop?: () => void) {}

  stop(reason: 'cancel' | 'shutdown'): void {
    this.stopReason ??= reason;
    for (const flag of this.running) flag.set(reason);
    this.onStop?.();
  }

  /** A flag for a new computation, already set when a stop came first. */
  startRun(): StopFlag {
    const flag = new StopFlag();
    this.running.add(flag);
    if (this.stopReason) flag.set(this.stopReason);
    return flag;
  }

  endRun(flag: StopFlag): void {
    this.running.delete(flag);
  }
}

/** The jobs this worker holds, so cancels and shutdown can reach their computations. */
export class InFlight {
  private readonly jobs = new Set<JobControl>();

  /** `onStop`: see JobControl (the compute pool answers a stopped job's waiting tasks). */
  constructor(private readonly onStop?: () => void) {}

  add(sweepId: string): JobControl {
    const c = new JobControl(sweepId, this.onStop);
    this.jobs.add(c);
    return c;
  }

  delete(c: JobControl): void {
    this.jobs.delete(c);
  }

  cancelSweep(sweepId: string): number {
    let n = 0;
    for (const c of this.jobs) if (c.sweepId === sweepId) { c.stop('cancel'); n++; }
    return n;
  }

  stopAll(reason: 'shutdown'): void {
    for (const c of this.jobs) c.stop(reason);
  }

  sweepIds(): string[] {
    return [...new Set([...this.jobs].map((c) => c.sweepId))];
  }

  get size(): number {
    return this.jobs.size;
  }
}
