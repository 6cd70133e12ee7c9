// Timing of compile + expansion + validation of a 100,000-configuration sweep.
// Run: npx tsx packages/sweep-spec/scripts/bench.ts
import { validateConfig } from '@curation/core';
import { compileSweep, validateSweep } from '../src/index.ts';

const base = {
  support: { kind: 'grid', min: -5, max: 5, n: 41 },
  rewards: [{ kind: 'quadratic', center: -1 }, { kind: 'quadratic', center: 1 }],
  q: 0.5,
  iterations: 10,
};
const spec = {
  name: 'bench',
  base,
  axes: [
    { param: 'q', linspace: [0.01, 0.99, 100] },
    { param: 'beta', logspace: [0.1, 10, 100] },
    { param: 'seed', replicates: 10 },
  ],
  derive: { 'rewards.0.center': '[-beta/2]' },
};
const limits = { maxConfigs: 100_000, maxCostSeconds: 300 };

for (let r = 0; r < 3; r++) {
  let t = performance.now();
  const c = compileSweep(spec);
  let x = 0;
  for (let i = 0; i < c.total; i++) x += (c.configAt(i) as { q: number }).q;
  const expand = performance.now() - t;

  const configs: unknown[] = [];
  for (let i = 0; i < c.total; i++) configs.push(c.configAt(i));
  t = performance.now();
  for (const cfg of configs) validateConfig(cfg, { maxCostSeconds: 300 });
  const core = performance.now() - t;

  t = performance.now();
  const v = validateSweep(spec, limits);
  const all = performance.now() - t;
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  console.log(
    `${c.total} configs: compile+expand ${expand.toFixed(0)} ms, core validateConfig alone ${core.toFixed(0)} ms, validateSweep total ${all.toFixed(0)} ms (checksum ${x.toFixed(3)})`,
  );
}
