// Adaptive sweeps: the lattice's index order, the refinement rule on synthetic outcomes
// with known boundaries, the boundary it yields, and the validation of `refine`.
import { describe, expect, it } from 'vitest';
import {
  RefineLattice, compileSweep, hausdorff, latticeBoundary, planStage, replayStages, validateSweep, SpecError,
  type CompiledSweep, type LatticePoint, type PointValues, type RefinePlan, type RuleKind,
} from '../src/index.ts';
import { spec } from './helpers.ts';

/** Runs the rule to the end with `f` (lattice units -> value), as the service does stage by stage. */
function drive(lat: RefineLattice, f: (x: number, y: number) => number, kind: RuleKind = 'side', tol = 0, budget = Infinity) {
  const values: PointValues = new Map();
  let keys = lat.startKeys();
  let stages = 0;
  let runs = 0;
  while (keys.length) {
    for (const k of keys) {
      const [x, y] = lat.coords(k);
      values.set(k, f(x, y));
    }
    runs += keys.length;
    const next = planStage(lat, values, kind, tol, Math.max(0, budget - runs));
    keys = next.keys;
    if (keys.length) stages++;
  }
  return { values, stages, runs };
}

function trueCircle(cx: number, cy: number, r: number): LatticePoint[][] {
  const line: LatticePoint[] = [];
  for (let k = 0; k <= 2000; k++) line.push([cx + r * Math.cos((2 * Math.PI * k) / 2000), cy + r * Math.sin((2 * Math.PI * k) / 2000)]);
  return [line];
}

describe('lattice index order', () => {
  it('maps every run index to a distinct point and back, level by level, in 1-d and 2-d', () => {
    for (const lat of [new RefineLattice(2, 3, 3, 2), new RefineLattice(1, 4, 4, 3), new RefineLattice(2, 1, 2, 1)]) {
      const seen = new Set<number>();
      let lastLevel = 0;
      for (let i = 0; i < lat.capacity; i++) {
        const { key, f } = lat.runPoint(i);
        expect(lat.runIndex(key, f)).toBe(i);
        const level = lat.levelOf(key);
        expect(level).toBeGreaterThanOrEqual(lastLevel);
        lastLevel = level;
        seen.add(key * lat.fixed + f);
      }
      expect(seen.size).toBe(lat.capacity);
      // The starting grid is exactly the first indexes.
      expect(lat.startKeys().every((k) => lat.levelOf(k) === 0)).toBe(true);
      expect(lat.startRuns).toBe(lat.startKeys().length * lat.fixed);
    }
  });
});

describe('refinement rule', () => {
  it('follows a circle to within one finest cell with far fewer runs than the full grid', () => {
    const lat = new RefineLattice(2, 8, 5); // 256 x 256 finest cells
    const [cx, cy, r] = [131.3, 120.7, 71.9];
    const f = (x: number, y: number) => ((x - cx) ** 2 + (y - cy) ** 2 <= r * r ? 1 : 0);
    const { values, runs, stages } = drive(lat, f);
    expect(stages).toBe(5);
    const full = 257 * 257;
    expect(runs * 10).toBeLessThan(full);
    const b = latticeBoundary(lat, values, { mode: 'side' });
    expect(b.polylines.length).toBe(1); // one closed curve
    const line = b.polylines[0];
    expect(line[0]).toEqual(line[line.length - 1]);
    expect(hausdorff(b.polylines, trueCircle(cx, cy, r))).toBeLessThanOrEqual(1);
    // Every cell the boundary crosses is at the finest level.
    for (const c of b.cells) if (c.boundary) expect(c.h).toBe(1);
  });

  it('matches the full grid boundary of a tilted line, interpolating a numeric threshold', () => {
    const lat = new RefineLattice(2, 4, 6); // 256 cells
    const g = (x: number, y: number) => 0.3 * x + 0.7 * y - 100.5; // zero on a line across the square
    const { values, runs } = drive(lat, (x, y) => (g(x, y) >= 0 ? 1 : 0));
    const metric: PointValues = new Map([...values.keys()].map((k) => [k, g(...lat.coords(k))]));
    const refined = latticeBoundary(lat, metric, { mode: 'threshold', threshold: 0 });
    const all: PointValues = new Map();
    for (let x = 0; x <= 256; x++) for (let y = 0; y <= 256; y++) all.set(lat.key(x, y), g(x, y));
    const fullB = latticeBoundary(lat, all, { mode: 'threshold', threshold: 0 });
    expect(runs * 10).toBeLessThan(257 * 257);
    // Linear values interpolate exactly onto the true line, on both.
    const truth: LatticePoint[][] = [[[0, 100.5 / 0.7], [256, (100.5 - 0.3 * 256) / 0.7]]];
    expect(hausdorff(refined.polylines, truth)).toBeLessThan(1e-6);
    expect(hausdorff(refined.polylines, fullB.polylines)).toBeLessThan(1e-6);
  });

  it('refines only cells whose corners disagree, and adds a shared corner once', () => {
    const lat = new RefineLattice(2, 2, 2); // 3 x 3 start points, finest 8
    const values: PointValues = new Map(lat.startKeys().map((k) => [k, lat.coords(k)[0] >= 8 ? 1 : 0]));
    // Only the column x = 8 is 1: the two cells on the right (x 4..8) disagree.
    const next = planStage(lat, values, 'side', 0, Infinity);
    expect(next.cells).toBe(2);
    expect(next.keys.length).toBe(2 * 5 - 1); // they share the midpoint of their common edge
    expect(new Set(next.keys).size).toBe(next.keys.length);
    for (const k of next.keys) expect(lat.coords(k)[0]).toBeGreaterThanOrEqual(4);
    // Ascending run indexes, above the starting grid.
    const idx = next.keys.map((k) => lat.runIndex(k));
    expect(idx).toEqual([...idx].sort((a, b) => a - b));
    expect(Math.min(...idx)).toBeGreaterThanOrEqual(lat.startRuns);
  });

  it('ignores unknown points, refines by tolerance, and respects the budget', () => {
    const lat = new RefineLattice(1, 4, 3); // 1-d, finest 32
    const none = planStage(lat, new Map(lat.startKeys().map((k) => [k, null])), 'side', 0, Infinity);
    expect(none.keys).toEqual([]);
    const ramp = (x: number) => (x > 20 ? (x - 20) * 0.5 : 0);
    const tolRun = drive(lat, (x) => ramp(x), 'tolerance', 0.6);
    for (const k of tolRun.values.keys()) if (lat.levelOf(k) > 0) expect(lat.coords(k)[0]).toBeGreaterThanOrEqual(16);
    const capped = drive(new RefineLattice(2, 8, 5), (x, y) => (x + y > 250 ? 1 : 0), 'side', 0, 300);
    expect(capped.runs).toBeLessThanOrEqual(300);
  });

  it('keeps the boundary watertight across cells of different levels (hanging nodes)', () => {
    const lat = new RefineLattice(2, 4, 4);
    // A wavy boundary: neighbouring cells end up at different levels.
    const f = (x: number, y: number) => (y > 32 + 12 * Math.sin(x / 7) ? 1 : 0);
    const { values } = drive(lat, f);
    const b = latticeBoundary(lat, values, { mode: 'side' });
    expect(b.polylines.length).toBe(1);
    const line = b.polylines[0];
    expect(line[0][0]).toBe(0);
    expect(line[line.length - 1][0]).toBe(64);
  });
});

const refineSpec = (refine: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  spec({ refine: { axes: [{ param: 'q', min: 0.1, max: 0.9 }, { param: 'beta', min: 0.5, max: 8, scale: 'log' }], start: 4, finest: 64, budget: 500, outcome: { verdict: 'summary.collapsed' }, ...refine }, ...extra });

function issuesOf(s: unknown) {
  try {
    compileSweep(s);
  } catch (e) {
    if (e instanceof SpecError) return e.issues;
    throw e;
  }
  return [];
}

describe('refinement out of step (schedule)', () => {
  /** Lattice keys -> stage of the stage-synchronous rule, driven to the end (no budget). */
  function syncStages(plan: RefinePlan, f: (key: number) => number): Map<number, number> {
    const values: PointValues = new Map();
    const stages = new Map<number, number>();
    let keys = plan.lattice.startKeys();
    for (let s = 0; keys.length; s++) {
      for (const k of keys) {
        values.set(k, f(k));
        stages.set(k, s);
      }
      keys = plan.nextStage(values, -Infinity).keys;
    }
    return stages;
  }

  it('ends with exactly the points and stages of the stage-synchronous rule, whatever order the runs finish in', () => {
    const c = compileSweep(refineSpec({ start: 4, finest: 32, budget: 100_000 })) as CompiledSweep & { refine: RefinePlan };
    const plan = c.refine;
    const lat = plan.lattice;
    const f = (key: number) => {
      const [x, y] = lat.coords(key);
      return (x - 15.3) ** 2 + (y - 17.1) ** 2 <= 10.2 ** 2 ? 1 : 0;
    };
    const expected = syncStages(plan, f);
    expect(Math.max(...expected.values())).toBeGreaterThanOrEqual(3);
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (const batch of [1, 5]) {
      const known: PointValues = new Map();
      let last = new Map<number, number>();
      let steps = 0;
      for (;;) {
        const sched = plan.schedule(known);
        // Knowing more only adds points and moves them to earlier stages.
        for (const [k, s] of last) expect(sched.get(k)).toBeLessThanOrEqual(s);
        last = sched;
        const pending = [...sched.keys()].filter((k) => !known.has(k));
        if (!pending.length) break;
        // Some of the runs in flight finish, in any order.
        for (let n = 0; n < batch && pending.length; n++) {
          const k = pending.splice(Math.floor(random() * pending.length), 1)[0];
          known.set(k, f(k));
        }
        steps++;
      }
      expect(steps).toBeGreaterThan(expected.size / batch / 2);
      expect(new Map([...last].sort((a, b) => a[0] - b[0]))).toEqual(new Map([...expected].sort((a, b) => a[0] - b[0])));
    }
  });

  it('replays the rule looking only where a stage changed something, with the result of planStage stage after stage', () => {
    let seed = 11;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    /** planStage without a bound, stage after stage from the starting grid. */
    const reference = (lat: RefineLattice, value: (k: number) => number | null, kind: RuleKind, tol: number) => {
      const stages = new Map<number, number>();
      const values: PointValues = new Map();
      let keys = lat.startKeys();
      for (let s = 0; keys.length; s++) {
        for (const k of keys) {
          stages.set(k, s);
          values.set(k, value(k));
        }
        keys = planStage(lat, values, kind, tol, Infinity).keys;
      }
      return stages;
    };
    const sorted = (m: Map<number, number>) => [...m].sort((a, b) => a[0] - b[0]);
    let compared = 0;
    for (const [dims, start, depth] of [[2, 4, 4], [2, 3, 3], [2, 1, 5], [1, 5, 5], [2, 8, 3]] as const) {
      const lat = new RefineLattice(dims, start, depth);
      for (let trial = 0; trial < 6; trial++) {
        const [cx, cy, r] = [random() * lat.finest, random() * lat.finest, (0.15 + random() * 0.4) * lat.finest];
        const missing = trial % 3 === 0 ? 0 : trial % 3 === 1 ? 0.1 : 0.5; // unknown points (failed or not finished)
        const unknown = new Map<number, boolean>();
        const isUnknown = (k: number) => {
          if (!unknown.has(k)) unknown.set(k, random() < missing);
          return unknown.get(k)!;
        };
        const dist = (k: number) => {
          const [x, y] = lat.coords(k);
          return Math.hypot(x - cx, dims === 2 ? y - cy : 0);
        };
        const side = (k: number) => (isUnknown(k) ? null : dist(k) <= r ? 1 : 0);
        const metric = (k: number) => (isUnknown(k) ? null : Math.tanh((dist(k) - r) / 3));
        for (const [f, kind, tol] of [[side, 'side', 0], [metric, 'tolerance', 0.2]] as const) {
          const want = reference(lat, f, kind, tol);
          expect(sorted(replayStages(lat, f, kind, tol))).toEqual(sorted(want));
          compared += want.size;
        }
      }
    }
    expect(compared).toBeGreaterThan(5000);
  });

  it('treats a point with no known outcome (failed, or not finished) as the synchronous rule treats a failed one', () => {
    const c = compileSweep(refineSpec({ start: 2, finest: 16 })) as CompiledSweep & { refine: RefinePlan };
    const plan = c.refine;
    expect([...plan.schedule(new Map()).keys()]).toEqual(plan.lattice.startKeys());
    const known: PointValues = new Map(plan.lattice.startKeys().map((k) => [k, null]));
    expect(plan.schedule(known).size).toBe(9);
  });
});

describe('refine spec', () => {
  it('compiles to the starting grid, with refined points reachable by index', () => {
    const c = compileSweep(refineSpec({}, { axes: [{ param: 'seed', replicates: 3 }] }));
    expect(c.refine).toBeDefined();
    expect(c.total).toBe(25 * 3);
    expect(c.variables).toEqual(['q', 'beta', 'seed']);
    expect(c.paramsAt(0)).toEqual({ q: 0.1, beta: 0.5, seed: 0 });
    expect(c.paramsAt(2)).toEqual({ q: 0.1, beta: 0.5, seed: 2 });
    const lat = c.refine!.lattice;
    const key = lat.key(32, 16); // q halfway, beta a quarter up in log
    const p = c.paramsAt(lat.runIndex(key, 1));
    expect(p.q).toBeCloseTo(0.5, 12);
    expect(p.beta).toBeCloseTo(0.5 * 16 ** 0.25, 12);
    expect(p.seed).toBe(1);
    expect((c.configAt(lat.runIndex(key, 1)) as { q: number }).q).toBeCloseTo(0.5, 12);
    expect(validateSweep(refineSpec({})).ok).toBe(true);
  });

  it('refuses what cannot work, with the path and the reason', () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ axes: [{ param: 'K', min: 2, max: 10 }] }, '/refine/axes/0/param', /integers.*round/],
      [{ axes: [{ param: 'q', values: [0.1, 0.2] }] }, '/refine/axes/0/values', /continuous/],
      [{ outcome: { metric: 'summary.collapsed', threshold: 0.5 } }, '/refine/outcome/threshold', /boolean verdict/],
      [{ outcome: { verdict: 'summary.nashGap' } }, '/refine/outcome/verdict', /is a number/],
      [{ outcome: { metric: 'summary.basinShare.x', threshold: 0.1 } }, '/refine/outcome/metric', /not a field/],
      [{ budget: 20 }, '/refine/budget', /below the starting grid's 25 runs/],
      [{ finest: 48 }, '/refine/finest', /start x 2\^depth/],
      [{ axes: [{ param: 'beta', min: 0, max: 2, scale: 'log' }] }, '/refine/axes/0/min', /log-scale/],
      [{ axes: [{ param: 'q', min: 0.5, max: 0.1 }] }, '/refine/axes/0/max', /greater than min/],
    ];
    for (const [over, path, message] of cases) {
      const issues = issuesOf(refineSpec(over));
      expect(issues.map((i) => i.path), JSON.stringify(over)).toContain(path);
      expect(issues.find((i) => i.path === path)!.message).toMatch(message);
    }
    // The budget counts every configuration of the other axes.
    const rep = issuesOf(refineSpec({ budget: 60 }, { axes: [{ param: 'seed', replicates: 3 }] }));
    expect(rep[0]).toMatchObject({ path: '/refine/budget' });
    expect(rep[0].message).toMatch(/75 runs \(25 points x 3/);
    // A refine axis may not be varied by an ordinary axis too.
    expect(issuesOf(refineSpec({}, { axes: [{ param: 'q', values: [0.2] }] })).map((i) => i.path)).toContain('/axes/0/param');
  });
});
