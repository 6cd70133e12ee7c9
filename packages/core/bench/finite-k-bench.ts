// Benchmark of FiniteKMultiplier.compute (contract section 2, exact mode, finite K).
// Run: node --import tsx packages/core/bench/finite-k-bench.ts
// Reports ns per atom per reward per generation (median over repeats).
import { FiniteKMultiplier } from '../src/finite-k.ts';
import { finiteKCallSeconds } from '../src/cost.ts';

export interface BenchCase {
  name: string;
  n: number;
  K: number;
  beta: number;
  /** distance between the two quadratic reward centres ('spread': rewards scattered over [-1e4, 1e4]) */
  D?: number | 'spread';
  /** generations per repeat */
  gens?: number;
}

/** Two quadratic rewards r_i = -(x -+ D/2)^2 on the cell centres of [-12, 12]
 *  (or, with D = 'spread', two scrambled rewards covering [-1e4, 1e4]). */
export function benchGeometry(n: number, beta: number, D: number | 'spread' = 4): Float64Array[] {
  if (D === 'spread') {
    const frac = (v: number) => v - Math.floor(v);
    return [0.6180339887, 0.7548776662].map((g) =>
      Float64Array.from({ length: n }, (_, j) => beta * (-1e4 + 2e4 * frac(j * g))),
    );
  }
  const s1 = new Float64Array(n);
  const s2 = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const x = -12 + ((j + 0.5) * 24) / n;
    s1[j] = -beta * (x - D / 2) ** 2;
    s2[j] = -beta * (x + D / 2) ** 2;
  }
  return [s1, s2];
}

/**
 * Runs `gens` generations of the exact dynamics (weights 1/2, lambda = 0.1 back to
 * uniform) and returns ns per atom per reward per compute() call for each repeat.
 */
function timeCase(c: BenchCase, repeats: number): number[] {
  const { n, K, beta } = c;
  const gens = c.gens ?? 50;
  const ss = benchGeometry(n, beta, c.D ?? 4);
  const ms = ss.map((s) => new FiniteKMultiplier(s, K));
  const outs = ss.map(() => new Float64Array(n));
  const p0 = new Float64Array(n).fill(1 / n);
  const p = new Float64Array(n);
  const res: number[] = [];
  for (let rep = 0; rep < repeats; rep++) {
    p.set(p0);
    let elapsed = 0;
    for (let t = 0; t < gens; t++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < ms.length; i++) ms[i].compute(p, outs[i]);
      elapsed += Number(process.hrtime.bigint() - t0);
      let tot = 0;
      for (let j = 0; j < n; j++) {
        const v = p[j] * 0.5 * (outs[0][j] + outs[1][j]);
        p[j] = v;
        tot += v;
      }
      for (let j = 0; j < n; j++) p[j] = 0.1 * p0[j] + (0.9 * p[j]) / tot;
    }
    res.push(elapsed / (gens * ms.length * n));
  }
  return res;
}

function median(xs: number[]): number {
  const a = [...xs].sort((x, y) => x - y);
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : 0.5 * (a[m - 1] + a[m]);
}

export const BENCH_CASES: BenchCase[] = [
  { name: 'n=2001 K=8 beta=1 (target)', n: 2001, K: 8, beta: 1 },
  { name: 'n=501 K=8 beta=1', n: 501, K: 8, beta: 1 },
  { name: 'n=8001 K=8 beta=1', n: 8001, K: 8, beta: 1 },
  { name: 'n=2001 K=2 beta=1', n: 2001, K: 2, beta: 1 },
  { name: 'n=2001 K=64 beta=1', n: 2001, K: 64, beta: 1 },
  { name: 'n=2001 K=8 beta=0.1 (narrow)', n: 2001, K: 8, beta: 0.1 },
  { name: 'n=2001 K=8 beta=10 (wide)', n: 2001, K: 8, beta: 10 },
  { name: 'n=2001 K=8 beta=100 (very wide)', n: 2001, K: 8, beta: 100 },
  { name: 'n=2001 K=8 r in [-1e4,1e4] beta=100', n: 2001, K: 8, beta: 100, D: 'spread', gens: 10 },
];

/** ns per atom per reward per compute() call (median of repeats), keyed by case name. */
export async function runFiniteKBench(repeats = 7, cases: BenchCase[] = BENCH_CASES): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const model: Record<string, number> = {};
  for (const c of cases) {
    timeCase(c, 1); // warm-up (JIT)
    out[c.name] = median(timeCase(c, repeats));
    // What the cost estimate (cost.ts) charges for the same call, on the real layouts.
    const ss = benchGeometry(c.n, c.beta, c.D ?? 4);
    const modelled = ss.reduce((acc, s) => acc + finiteKCallSeconds(c.n, new FiniteKMultiplier(s, c.K).nNodes), 0);
    model[c.name] = (modelled * 1e9) / (ss.length * c.n);
  }
  const w = Math.max(...Object.keys(out).map((k) => k.length));
  console.log(`${'case'.padEnd(w)}  ns/atom/reward/call  estimate  (target: < 300 on the case marked target; estimate: cost.ts on the real node count, meant to be above)`);
  for (const [k, v] of Object.entries(out)) console.log(`${k.padEnd(w)}  ${v.toFixed(1).padStart(19)}  ${model[k].toFixed(0).padStart(8)}`);
  return out;
}

const isMain = import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('finite-k-bench.ts');
if (isMain) await runFiniteKBench();
