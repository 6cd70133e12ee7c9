// The stage driver of adaptive (refine) sweeps. The refinement rule is stage by stage
// (a stage splits every cell whose points disagree), but the driver does not wait for
// a stage to end before starting the next one: whenever runs finish it replays the
// rule over the points known so far (RefinePlan.schedule) and adds, at once, every
// point the replay asks for that has no run yet. Knowing more only adds points and
// moves them to earlier stages, so the evidence for a point never goes away, nothing
// is added twice, and once every run has finished the points and their stages are
// exactly those of the stage-synchronous rule; meanwhile a point starts as soon as the
// outcomes that ask for it are in, not when its whole previous stage has ended. Each
// run's `stage` is the replay's stage, kept up to date as evidence comes in (it can only
// decrease), and the sweep's refine_stage is the highest. Between steps the driver keeps
// what it knows of the sweep (Mirror), so a step reads only the runs whose outcome may
// still change, and replays the rule only when a point's outcome did.
//
// The budget: while the points asked for fit, they are added as they come. When they
// do not, the driver waits until every run has finished and then cuts the next stage
// as the synchronous rule does (whole cells, coarsest first, spread along the
// boundary); what was added before the budget bound may differ from what the
// synchronous rule would have added by then. With nothing left to add and
// every run finished, it sets refine_done and finishes the sweep.
//
// Triggers: the end of every run job (BullMQ's event stream; the job id starts with
// the sweep id), the end of the starting grid's enqueue, and a periodic rescan. Every
// addition is one statement guarded by the sweep's run count (total), so
// two API instances driving the same sweep never add a point twice. Rows added whose
// jobs were not (a crash between the two) are given jobs by the workers' reconciler,
// like any queued run no job carries.
import type pg from 'pg';
import { QueueEvents, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { FastifyBaseLogger } from 'fastify';
import { compileSweep, readOutcome, type CompiledSweep, type PointValues } from '@curation/sweep-spec';
import {
  finishRefine, finishSweepIfDone, getRefineState, insertStage, isRefineSweep, labelRuns, refineChanges, refineSweepsToCheck, runOutcomes,
  setRefineStage, type RunOutcome,
} from '@curation/db';
import { createRedis, RUNS_QUEUE } from '@curation/queue';
import { costOf, jobsFor, maxJobIndexes, packBatches } from './batches.ts';

/** Queued runs of a sweep at which a refiner step is left to a later completion (see step). */
const QUEUED_ENOUGH = 64;
/** The longest a kick is put off while plenty is queued (see rest). */
const MAX_REST_MS = 500;

export interface RefinerOptions {
  // The refiner's statements go to pg: through Prisma they cost more than the service's 5% (docs/service-design.md, "Hot paths on pg").
  pool: pg.Pool;
  queue: Queue;
  log: FastifyBaseLogger;
  /** For the job-event stream (a blocking connection of its own); none: rescans only. */
  redisUrl?: string;
  prefix: string;
  rescanMs?: number;
  /** The longest a kick is put off while plenty is queued (see rest); 0: never. */
  maxRestMs?: number;
}

/** Jobs the starting grid is cut into, at least (while they keep one index or more). */
const START_JOBS = 8;

/**
 * Indexes per job of the starting grid of `count` runs: as for any sweep, but in at
 * least START_JOBS jobs, so that the refinement starts from the first outcomes while
 * the rest of the grid computes.
 */
export function stageJobIndexes(count: number): number {
  return Math.max(1, Math.min(maxJobIndexes(count), Math.ceil(count / START_JOBS)));
}

type Refined = CompiledSweep & { refine: NonNullable<CompiledSweep['refine']> };

/** The outcome of every point so far (aggregated over its finished runs; null while none has a value). */
export function pointValues(compiled: Refined, runs: { index: number; value: unknown }[]): PointValues {
  return pointStates(compiled, runs).values;
}

const UNFINISHED = new Set(['queued', 'running']);

/**
 * The outcome of every point so far, and the points whose outcome is final (`known`:
 * every run of the point has finished, so its aggregate cannot change any more).
 */
export function pointStates(compiled: Refined, runs: { index: number; value: unknown; status?: string }[]): { values: PointValues; known: PointValues } {
  const plan = compiled.refine;
  const byPoint = new Map<number, (number | null)[]>();
  const open = new Set<number>();
  for (const r of runs) {
    const { key } = plan.lattice.runPoint(r.index);
    const v = r.value === null || r.value === undefined ? null : readOutcome(r.value, []);
    const list = byPoint.get(key);
    if (list) list.push(v);
    else byPoint.set(key, [v]);
    if (r.status !== undefined && UNFINISHED.has(r.status)) open.add(key);
  }
  const values: PointValues = new Map();
  const known: PointValues = new Map();
  for (const [key, list] of byPoint) {
    const v = plan.aggregate(list);
    values.set(key, v);
    if (!open.has(key)) known.set(key, v);
  }
  return { values, known };
}

/** Lattice coordinates of runs, for their `cell` column. */
export function cellsOf(compiled: Refined, indexes: number[]): [number, number | null][] {
  const lat = compiled.refine.lattice;
  return indexes.map((i) => {
    const [x, y] = lat.coords(lat.runPoint(i).key);
    return [x, lat.dims === 2 ? y : null];
  });
}

/** Sweeps whose spec and state a refiner keeps between steps (beyond this, the oldest is read afresh when needed). */
const MIRRORS = 64;

interface MirrorRun {
  index: number;
  /** Lattice key of the run's point. */
  key: number;
  status: string;
  stage: number | null;
  /** The outcome read from the run (readOutcome), null unless it succeeded with one. */
  value: number | null;
}

/**
 * What a refiner knows of one adaptive sweep between steps, so that a step reads only
 * the runs whose outcome may still change. A succeeded run never changes again (no
 * statement moves a run out of succeeded, and results are not rewritten); every other
 * run can (a retry puts failed and cancelled runs back to queued), so those are
 * `watch`ed and read again at every step, with the sweep's state in the same snapshot.
 * Built from a full read of the sweep's runs whenever there is none (a restart, another
 * instance took over, runs were added by someone else) and for the last word (every run
 * finished), so what ends a sweep never rests on memory alone.
 */
interface Mirror {
  compiled: Refined;
  /** The sweep's run count when read; a different one means runs were added elsewhere. */
  total: number;
  runs: MirrorRun[];
  byIndex: Map<number, MirrorRun>;
  /** Point key -> its runs, in index order. */
  points: Map<number, MirrorRun[]>;
  /** Indexes of the runs not succeeded. */
  watch: Set<number>;
  /** Runs queued or running. */
  open: number;
  /** Points whose runs have all finished, with their outcome (pointStates' `known`). */
  known: PointValues;
  /** plan.schedule(known), until `known` changes. */
  wanted: Map<number, number> | null;
  /** When (performance.now()) the runs were last read, and how many finished since the mirror was built. */
  readAt: number;
  builtAt: number;
  finished: number;
  /** Until when a kick need not read the sweep (see rest). */
  restUntil: number;
}

function outcomeOf(value: unknown): number | null {
  return value === null || value === undefined ? null : readOutcome(value, []);
}

function mirrorOf(compiled: Refined, rows: RunOutcome[]): Mirror {
  const now = performance.now();
  const m: Mirror = {
    compiled, total: 0, runs: [], byIndex: new Map(), points: new Map(), watch: new Set(), open: 0, known: new Map(), wanted: null,
    readAt: now, builtAt: now, finished: 0, restUntil: 0,
  };
  const lat = compiled.refine.lattice;
  for (const r of rows) addRun(m, { index: r.index, key: lat.runPoint(r.index).key, status: r.status, stage: r.stage, value: outcomeOf(r.value) });
  for (const key of m.points.keys()) updatePoint(m, key);
  m.wanted = null;
  return m;
}

function addRun(m: Mirror, r: MirrorRun): void {
  m.runs.push(r);
  m.byIndex.set(r.index, r);
  m.total++;
  const list = m.points.get(r.key);
  if (list) list.push(r);
  else m.points.set(r.key, [r]);
  if (r.status !== 'succeeded') m.watch.add(r.index);
  if (UNFINISHED.has(r.status)) m.open++;
}

/** Runs just inserted by this refiner: queued, no outcome (their points are new, so `known` does not change). */
function addRuns(m: Mirror, indexes: number[], stages: number[]): void {
  const lat = m.compiled.refine.lattice;
  indexes.forEach((index, k) => addRun(m, { index, key: lat.runPoint(index).key, status: 'queued', stage: stages[k], value: null }));
}

/** Recomputes a point's entry in `known`; forgets the schedule when it changes. */
function updatePoint(m: Mirror, key: number): void {
  const list = m.points.get(key)!;
  const had = m.known.has(key);
  const before = m.known.get(key);
  if (list.some((r) => UNFINISHED.has(r.status))) {
    if (had) {
      m.known.delete(key);
      m.wanted = null;
    }
    return;
  }
  const v = m.compiled.refine.aggregate(list.map((r) => r.value));
  if (!had || before !== v) {
    m.known.set(key, v);
    m.wanted = null;
  }
}

/** Applies a step's read of the watched runs (those not listed are queued); returns how many runs finished since the last read. */
function applyChanges(m: Mirror, rows: [number, string, unknown][]): number {
  let finished = 0;
  const seen = new Map(rows.map((r) => [r[0], r]));
  const dirty = new Set<number>();
  for (const index of [...m.watch]) {
    const r = m.byIndex.get(index)!;
    const row = seen.get(index);
    const status = row ? row[1] : 'queued';
    const value = row ? outcomeOf(row[2]) : null;
    if (status === r.status && value === r.value) continue;
    if (UNFINISHED.has(r.status)) m.open--;
    if (UNFINISHED.has(status)) m.open++;
    if (UNFINISHED.has(r.status) && !UNFINISHED.has(status)) finished++;
    r.status = status;
    r.value = value;
    if (status === 'succeeded') m.watch.delete(index);
    dirty.add(r.key);
  }
  for (const key of dirty) updatePoint(m, key);
  return finished;
}

/**
 * Until when the next read of a sweep can wait: a step that finds QUEUED_ENOUGH runs
 * queued or more does nothing, so while the queue the last read saw cannot have drained
 * that far, kicks are put off (to a timer, never further). The drain is estimated from
 * the faster of the runs' finishing rate since the mirror was built and since the last
 * read, and only half of it is waited: a wrong estimate costs a read or a short delay
 * with plenty still queued, not idle workers.
 */
function rest(m: Mirror, queued: number, finished: number, now: number, maxMs: number): number {
  m.finished += finished;
  const recent = now > m.readAt ? finished / (now - m.readAt) : 0;
  const overall = now > m.builtAt ? m.finished / (now - m.builtAt) : 0;
  m.readAt = now;
  const rate = Math.max(recent, overall);
  if (queued < QUEUED_ENOUGH || rate <= 0 || maxMs <= 0) return 0;
  return now + Math.min(maxMs, (0.5 * (queued - QUEUED_ENOUGH)) / rate);
}

function cellOf(lat: Refined['refine']['lattice'], key: number): [number, number | null] {
  const [x, y] = lat.coords(key);
  return [x, lat.dims === 2 ? y : null];
}

export class Refiner {
  private readonly pool: pg.Pool;
  private readonly queue: Queue;
  private readonly log: FastifyBaseLogger;
  private readonly redisUrl?: string;
  private readonly prefix: string;
  private readonly rescanMs: number;
  private readonly maxRestMs: number;
  private readonly isRefine = new Map<string, boolean>();
  private readonly compiled = new Map<string, Refined>();
  private readonly mirrors = new Map<string, Mirror>();
  private readonly active = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  /** Kicks put off while plenty is queued (see rest): the timer that kicks again. */
  private readonly resting = new Map<string, { timer: NodeJS.Timeout; done: Promise<void> }>();
  private events: QueueEvents | undefined;
  private eventsConn: Redis | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Steps taken and the time spent in them (wall, including the database), for benchmarks. */
  readonly stats = { steps: 0, ms: 0 };

  constructor(o: RefinerOptions) {
    this.pool = o.pool;
    this.queue = o.queue;
    this.log = o.log;
    this.redisUrl = o.redisUrl;
    this.prefix = o.prefix;
    this.rescanMs = o.rescanMs ?? 30_000;
    this.maxRestMs = o.maxRestMs ?? MAX_REST_MS;
  }

  start(): void {
    if (this.closed || this.timer) return;
    if (this.redisUrl) {
      this.eventsConn = createRedis(this.redisUrl, { forWorker: true });
      // The same outage the app's own connection reports at warn.
      this.eventsConn.on('error', (err) => this.log.debug({ err }, 'refiner: job events connection error'));
      this.events = new QueueEvents(RUNS_QUEUE, { connection: this.eventsConn, prefix: this.prefix });
      this.events.on('error', (err) => this.log.debug({ err }, 'refiner: job events error'));
      const onJob = ({ jobId }: { jobId: string }) => {
        const sweepId = jobId.split(':')[0];
        if (sweepId) this.kick(sweepId);
      };
      this.events.on('completed', onJob);
      this.events.on('failed', onJob);
    }
    void this.rescan();
    this.timer = setInterval(() => void this.rescan(), this.rescanMs);
    this.timer.unref();
  }

  async rescan(): Promise<void> {
    try {
      for (const id of await refineSweepsToCheck(this.pool)) {
        this.isRefine.set(id, true);
        this.kick(id);
      }
    } catch (err) {
      this.log.warn({ err }, 'refiner: could not list adaptive sweeps; will retry');
    }
  }

  /** Looks at a sweep (no-op for ordinary sweeps); runs of one sweep are looked at one at a time. */
  kick(id: string): void {
    if (this.closed || this.isRefine.get(id) === false) return;
    if (this.resting.has(id)) return;
    const wait = (this.mirrors.get(id)?.restUntil ?? 0) - performance.now();
    if (wait > 0 && !this.active.has(id)) {
      let timer!: NodeJS.Timeout;
      const done = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          this.resting.delete(id);
          resolve();
          this.kick(id);
        }, wait);
      });
      timer.unref();
      this.resting.set(id, { timer, done });
      return;
    }
    if (this.active.has(id)) {
      this.again.add(id);
      return;
    }
    const t = performance.now();
    const p = this.step(id)
      .then(() => {
        this.stats.steps++;
        this.stats.ms += performance.now() - t;
      })
      .catch((err) => this.log.error({ err, sweepId: id }, 'refiner: stage step failed; the rescan retries'))
      .finally(() => {
        this.active.delete(id);
        if (this.again.delete(id)) this.kick(id);
      });
    this.active.set(id, p);
  }

  /** Resolves once no step runs and (unless `resting` is false) none is put off. */
  async idle(o: { resting?: boolean } = {}): Promise<void> {
    const rests = o.resting !== false;
    while (this.active.size || (rests && this.resting.size)) {
      await Promise.allSettled([...this.active.values(), ...(rests ? [...this.resting.values()].map((r) => r.done) : [])]);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const r of this.resting.values()) clearTimeout(r.timer);
    this.resting.clear();
    await this.idle();
    if (this.events && this.eventsConn) {
      // QueueEvents.close first waits for its connection to be ready, which never happens
      // while Redis is down (a connection ended between reconnects never says so either):
      // then there is no event stream to stop, and ending the connection is all there is to do.
      const ready = this.eventsConn.status === 'ready';
      const closing = this.events.close().catch(() => {});
      if (ready) await closing;
      this.eventsConn.disconnect();
    }
  }

  private async step(id: string): Promise<void> {
    if (!this.isRefine.has(id)) {
      const yes = await isRefineSweep(this.pool, id);
      this.isRefine.set(id, yes);
      if (this.isRefine.size > 10_000) this.isRefine.delete(this.isRefine.keys().next().value as string);
      if (!yes) return;
    }
    const started = Date.now();
    let m = this.mirrors.get(id);
    let st: { status: string; total: number; enqueued: number; stage: number; done: boolean } | null = null;
    if (m) {
      // Only the runs whose outcome may still change are read (see Mirror).
      const ch = await refineChanges(this.pool, id, [...m.watch], m.compiled.refine.outcome.segs);
      if (!ch || ch.done || (ch.status !== 'queued' && ch.status !== 'running')) {
        this.mirrors.delete(id);
        return;
      }
      if (ch.total !== m.total) m = undefined; // another API instance added runs: start over from the database
      else {
        const finished = applyChanges(m, ch.runs);
        m.restUntil = rest(m, ch.queued, finished, performance.now(), this.maxRestMs);
        // While the workers have plenty queued, what a step would add can wait for a later
        // completion: adding it now would not start it sooner, and replaying the rule takes
        // CPU from those workers on a small machine. The completion that brings the queue
        // below this looks; so does the last one (nothing queued).
        if (ch.queued >= QUEUED_ENOUGH) return;
        // The last word (every run finished) is said from a full read, as after a restart.
        if (m.open === 0) m = undefined;
        else st = ch;
      }
    }
    if (!m) {
      this.mirrors.delete(id);
      let compiled = this.compiled.get(id);
      // Once the spec is known, the sweep's state and its runs are read together.
      const [state, read] = await Promise.all([
        getRefineState(this.pool, id),
        compiled ? runOutcomes(this.pool, id, compiled.refine.outcome.segs) : undefined,
      ]);
      if (!state || state.done || (state.status !== 'queued' && state.status !== 'running')) return;
      if (state.enqueued < state.total) return; // the starting grid is still being enqueued
      if (!compiled) {
        compiled = compileSweep(state.spec) as Refined;
        this.compiled.set(id, compiled);
        if (this.compiled.size > MIRRORS) this.compiled.delete(this.compiled.keys().next().value as string);
      }
      const runs = read ?? await runOutcomes(this.pool, id, compiled.refine.outcome.segs);
      // Runs added between the two reads (by another API instance): their completions kick a later step.
      if (runs.length !== state.total) return;
      m = mirrorOf(compiled, runs);
      this.mirrors.set(id, m);
      if (this.mirrors.size > MIRRORS) this.mirrors.delete(this.mirrors.keys().next().value as string);
      st = state;
    }
    if (!st) return;
    const compiled = m.compiled;
    const plan = compiled.refine;
    const lat = plan.lattice;
    m.wanted ??= plan.schedule(m.known);
    const wanted = m.wanted;
    const unfinished = m.open > 0;
    const total = m.total;

    // Stages of the runs there are: the starting grid's are not labelled yet, and evidence may move a point to an earlier stage.
    const relabel: MirrorRun[] = [];
    const relabelStages: number[] = [];
    let highest = 0;
    for (const r of m.runs) {
      const stage = wanted.get(r.key) ?? r.stage ?? 0;
      if (stage !== r.stage) {
        relabel.push(r);
        relabelStages.push(stage);
      }
      highest = Math.max(highest, stage);
    }
    if (relabel.length) {
      await labelRuns(this.pool, id, relabel.map((r) => r.index), relabelStages, relabel.map((r) => cellOf(lat, r.key)));
      relabel.forEach((r, k) => { r.stage = relabelStages[k]; });
    }

    let keys = [...wanted.keys()].filter((k) => !m.points.has(k));
    if (keys.length * lat.fixed > plan.budget - total) {
      // Not all of it fits: wait for every outcome, then cut one stage as the synchronous rule does.
      if (unfinished) {
        if (highest !== st.stage) await setRefineStage(this.pool, id, total, highest);
        return;
      }
      keys = plan.nextStage(m.known, total).keys;
    }
    if (keys.length === 0) {
      if (highest !== st.stage) await setRefineStage(this.pool, id, total, highest);
      if (unfinished) return;
      if (await finishRefine(this.pool, id, total)) {
        this.log.info({ sweepId: id, stage: highest, runs: total }, 'refiner: refinement done');
      }
      await finishSweepIfDone(this.pool, id);
      this.compiled.delete(id);
      this.mirrors.delete(id);
      return;
    }
    keys.sort((a, b) => lat.pointIndex(a) - lat.pointIndex(b));
    const indexes: number[] = [];
    const stages: number[] = [];
    for (const key of keys) {
      for (let f = 0; f < lat.fixed; f++) {
        indexes.push(lat.runIndex(key, f));
        stages.push(wanted.get(key) ?? highest + 1);
      }
    }
    for (const s of stages) highest = Math.max(highest, s);
    const costs = indexes.map((i) => costOf(compiled, i));
    const params = indexes.map((i) => JSON.stringify(compiled.paramsAt(i)));
    if (!(await insertStage(this.pool, id, total, highest, { indexes, params, cells: cellsOf(compiled, indexes), stages, costs }))) {
      this.mirrors.delete(id); // someone else added runs or the sweep stopped: the next step reads it afresh
      return;
    }
    addRuns(m, indexes, stages);
    const cost = new Map(indexes.map((i, k) => [i, costs[k]]));
    await this.queue.addBulk(jobsFor(id, packBatches((i) => cost.get(i) ?? 0, indexes, maxJobIndexes(indexes.length))));
    this.log.debug({ sweepId: id, stage: highest, added: indexes.length, runs: m.total, ms: Date.now() - started }, 'refiner: runs added');
  }
}
