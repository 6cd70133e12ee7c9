// The summary of a run and the audit of the paper's Assumption 2.1 (section 5).
import type { Audit, MetricsRow, Summary } from './types.ts';
import type { Basins } from './metrics.ts';

export const COLLAPSE_SHARE = 0.99;
export const SURVIVAL_MASS = 0.01;

export function summarize(
  final: MetricsRow,
  convergedAt: number | null,
  weights: number[],
  audit: Audit | null,
): Summary {
  const m = weights.length;
  const total = final.mass.reduce((a, b) => a + b, 0);
  const basinShare: (number | null)[] = total > 0 ? final.mass.map((x) => x / total) : final.mass.map(() => null);
  let nashGap: number | null = null;
  if (total > 0) {
    let g = 0;
    for (let i = 0; i < m; i++) g += Math.abs((basinShare[i] as number) - weights[i]);
    nashGap = 0.5 * g;
  }
  let collapsed: boolean;
  if (m === 1) collapsed = final.mass[0] >= COLLAPSE_SHARE;
  else collapsed = total > 0 && Math.max(...(basinShare as number[])) >= COLLAPSE_SHARE;
  return {
    converged: convergedAt !== null,
    convergedAt,
    final,
    basinShare,
    nashGap,
    collapsed,
    survivingBasins: final.mass.filter((x) => x >= SURVIVAL_MASS).length,
    audit: audit === null ? null : { ...audit, inInterval: inInterval(audit.interval, basinShare[0]) },
  };
}

function inInterval(interval: [number, number], share: number | null): boolean {
  return share !== null && interval[0] <= share && share <= interval[1];
}

/**
 * Assumption 2.1 for m = 2 on the unscaled rewards: basin overlap, initial basin
 * masses, cross gaps, leakage, the admissible window for q and the interval of
 * Lemma 3.5 for the limit share. `inInterval` is filled in by summarize().
 */
export function auditTwoRewards(rewards: Float64Array[], basins: Basins, p0: Float64Array, q: number, eps: number): Audit {
  const [r1, r2] = rewards;
  const [s1, s2] = basins.member;
  const n = p0.length;
  let disjoint = true;
  let init1 = 0;
  let init2 = 0;
  let gap1 = Infinity;
  let gap2 = Infinity;
  const [r1Max, r2Max] = basins.rMax;
  for (let j = 0; j < n; j++) {
    if (s1[j] && s2[j]) disjoint = false;
    if (s1[j]) {
      init1 += p0[j];
      gap2 = Math.min(gap2, r2Max - r2[j]);
    }
    if (s2[j]) {
      init2 += p0[j];
      gap1 = Math.min(gap1, r1Max - r1[j]);
    }
  }
  const k1 = Math.exp(-(gap1 - 2 * eps));
  const k2 = Math.exp(-(gap2 - 2 * eps));
  const lo = k1 >= 1 ? 0 : Math.max(0, (q - k1) / (1 - k1));
  const hi = k2 >= 1 ? 1 : Math.min(1, q / (1 - k2));
  return {
    disjoint,
    initMass: [init1, init2],
    crossGap: [gap1, gap2],
    leakage: [k1, k2],
    inWindow: k1 < q && q < 1 - k2,
    interval: [lo, hi],
    inInterval: false,
  };
}
