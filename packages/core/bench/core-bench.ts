// Speed of the exact dynamics, in ns per atom per reward per generation.
// Run: node --import tsx packages/core/bench/core-bench.ts
// The C.4 geometry: grid over [-12, 12], rewards -(x -+ D/2)^2, D = 4, q = 0.3.
import { runNormalized, validateConfig, type RunConfig } from '../src/index.ts';

function c4(n: number, T: number, extra: Partial<RunConfig>): RunConfig {
  return {
    support: { kind: 'grid', min: -12, max: 12, n },
    rewards: [{ kind: 'quadratic', center: -2 }, { kind: 'quadratic', center: 2 }],
    q: 0.3,
    iterations: T,
    ...extra,
  };
}

interface Case {
  name: string;
  config: RunConfig;
  repeats: number;
}

const CASES: Case[] = [
  { name: 'inf_m2_n4001_record1', config: c4(4001, 2000, { recordEvery: 1 }), repeats: 7 },
  { name: 'inf_m2_n4001_record10', config: c4(4001, 2000, { recordEvery: 10 }), repeats: 7 },
  // With real data no atom ever dies, so every atom is touched every generation:
  // the raw kernel speed, without the skipping of extinct atoms.
  { name: 'inf_m2_n4001_record1_real0.1', config: c4(4001, 2000, { recordEvery: 1, realFraction: 0.1 }), repeats: 7 },
  { name: 'inf_m2_n4001_record10_real0.1', config: c4(4001, 2000, { recordEvery: 10, realFraction: 0.1 }), repeats: 7 },
  { name: 'finiteK8_m2_n2001_record1', config: c4(2001, 100, { K: 8 }), repeats: 3 },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median ns per atom per reward per generation for each case. */
export async function runCoreBench(): Promise<Record<string, number>> {
  const results: Record<string, number> = {};
  for (const c of CASES) {
    const v = validateConfig(c.config, { maxCostSeconds: Infinity });
    if (!v.ok) throw new Error(`bench config ${c.name} is invalid`);
    const { n, m, iterations } = v.config;
    runNormalized({ ...v.config, iterations: Math.min(iterations, 50) }); // warm-up: let the JIT compile the kernels
    const times: number[] = [];
    for (let r = 0; r < c.repeats; r++) {
      const t0 = process.hrtime.bigint();
      runNormalized(v.config);
      times.push(Number(process.hrtime.bigint() - t0));
    }
    results[c.name] = median(times) / (n * m * iterations);
  }
  console.log('case                              ns/atom/reward/gen   target');
  for (const [name, ns] of Object.entries(results)) {
    const target = TARGETS[name];
    const verdict = target === undefined ? '' : `${target} ${ns <= target ? 'ok' : 'MISSED'}`;
    console.log(`${name.padEnd(34)}${ns.toFixed(3).padStart(12)}          ${verdict}`);
  }
  return results;
}

const TARGETS: Record<string, number> = { inf_m2_n4001_record1: 5, inf_m2_n4001_record10: 1.5 };

if (import.meta.url === `file://${process.argv[1]}`) await runCoreBench();
