// Speed of the exact dynamics, in ns of CPU per atom per reward per generation.
// Run: node --import tsx packages/core/bench/core-bench.ts
// The C.4 geometry: grid over [-12, 12], rewards -(x -+ D/2)^2, D = 4, q = 0.3.
import { estimateCost, runNormalized, validateConfig, type RunConfig } from '../src/index.ts';

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

/**
 * CPU time of the process (user + system) in ns: on a machine shared with other work
 * it is what the run itself costs, where wall time also counts the waits for a core.
 * The runs allocate little, so the garbage collector's threads add next to nothing.
 */
function cpuNanos(f: () => void): number {
  const t0 = process.cpuUsage();
  f();
  const u = process.cpuUsage(t0);
  return (u.user + u.system) * 1000;
}

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
    // Warm-up: one whole run, so that the JIT has compiled the kernels and the set-up code.
    runNormalized(v.config);
    const times: number[] = [];
    for (let r = 0; r < c.repeats; r++) times.push(cpuNanos(() => runNormalized(v.config)));
    results[c.name] = median(times) / (n * m * iterations);
  }
  console.log('case                              ns/atom/reward/gen   target');
  for (const [name, ns] of Object.entries(results)) {
    const target = TARGETS[name];
    const verdict = target === undefined ? '' : `${target} ${ns <= target ? 'ok' : 'MISSED'}`;
    console.log(`${name.padEnd(34)}${ns.toFixed(3).padStart(12)}          ${verdict}`);
  }
  Object.assign(results, runFamilyBench());
  return results;
}

const TARGETS: Record<string, number> = { inf_m2_n4001_record1: 5, inf_m2_n4001_record10: 1.5 };

/** The model families of contract 2.2 (and retrain accumulate) on two geometries, K = inf, m = 2, recordEvery 10. */
function familyCases(): { geometry: string; name: string; config: RunConfig }[] {
  const geometries: { geometry: string; base: RunConfig; T: number }[] = [
    { geometry: 'n4001_d1', base: c4(4001, 200, { recordEvery: 10 }), T: 200 },
    {
      geometry: 'grid101x101',
      base: {
        support: { kind: 'grid', min: [-12, -12], max: [12, 12], n: [101, 101] },
        rewards: [{ kind: 'quadratic', center: [-2, 0] }, { kind: 'quadratic', center: [2, 0] }],
        q: 0.3,
        iterations: 100,
        recordEvery: 10,
      },
      T: 100,
    },
  ];
  const models: { name: string; extra: Partial<RunConfig> }[] = [
    { name: 'K=inf step (exact, replace)', extra: {} },
    { name: 'exact, accumulate', extra: { retrain: 'accumulate' } },
    { name: 'kernel h=0.1', extra: { model: { kind: 'kernel', bandwidth: 0.1 } } },
    { name: 'kernel h=0.5', extra: { model: { kind: 'kernel', bandwidth: 0.5 } } },
    { name: 'gaussian', extra: { model: { kind: 'gaussian' } } },
    { name: 'mixture k=2 e=1', extra: { model: { kind: 'mixture', components: 2 } } },
    { name: 'mixture k=4 e=2', extra: { model: { kind: 'mixture', components: 4, emSteps: 2 } } },
    { name: 'sampled K=inf N=10000', extra: { mode: 'sampled', samples: 10000 } },
  ];
  return geometries.flatMap(({ geometry, base }) => models.map(({ name, extra }) => ({ geometry, name, config: { ...base, ...extra } })));
}

/** Median ns per atom per generation of each model family, next to the cost estimate's figure. */
export function runFamilyBench(repeats = 3): Record<string, number> {
  const results: Record<string, number> = {};
  console.log('\nmodel family (K = inf, m = 2)        geometry       ns/atom/gen   estimate');
  for (const { geometry, name, config } of familyCases()) {
    const v = validateConfig(config, { maxCostSeconds: Infinity });
    if (!v.ok) throw new Error(`bench config ${name} is invalid: ${JSON.stringify(v.issues)}`);
    const { n, iterations } = v.config;
    runNormalized({ ...v.config, iterations: 5 });
    const times: number[] = [];
    for (let r = 0; r < repeats; r++) times.push(cpuNanos(() => runNormalized(v.config)));
    const ns = median(times) / (n * iterations);
    const estimate = (estimateCost(v.config).seconds * 1e9) / (n * iterations);
    results[`${geometry} ${name}`] = ns;
    console.log(`${name.padEnd(37)}${geometry.padEnd(14)}${ns.toFixed(1).padStart(12)}${estimate.toFixed(1).padStart(11)}`);
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) await runCoreBench();
