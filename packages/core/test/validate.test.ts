// Validation: every problem is reported with its JSON pointer, before any work.
import { describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import { readFileSync } from 'node:fs';
import {
  ConfigError,
  DEFAULT_MAX_COST_SECONDS,
  RunConfigSchema,
  SimulationCancelled,
  estimateCost,
  formatIssues,
  normalizeForHash,
  simulate,
  validateConfig,
  type ConfigIssue,
} from '../src/index.ts';
import { FiniteKMultiplier, finiteKNodeBound } from '../src/finite-k.ts';
import { rewardRangeBound, rewardValues } from '../src/rewards.ts';
import { buildSupport } from '../src/support.ts';

const good = {
  support: { kind: 'grid', min: [-2, -2], max: [2, 2], n: [5, 4] },
  rewards: [
    { kind: 'quadratic', center: [0, 1] },
    { kind: 'linear', coef: [1, 0], clip: { min: -1 } },
  ],
};

function issues(config: unknown, opts?: { maxCostSeconds?: number }): ConfigIssue[] {
  const v = validateConfig(config, opts);
  return v.ok ? [] : v.issues;
}

function expectIssue(config: unknown, path: string, message: RegExp): void {
  const found = issues(config);
  expect(found, JSON.stringify(found)).toContainEqual({ path, message: expect.stringMatching(message) });
}

describe('validateConfig', () => {
  it('accepts a valid configuration and fills in the defaults', () => {
    const v = validateConfig(good);
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.config).toMatchObject({ d: 2, n: 20, m: 2, weights: [0.5, 0.5], K: 'inf', beta: 1, realFraction: 0, iterations: 200 });
    expect(v.config).toMatchObject({ mode: 'exact', samples: 10000, seed: 0, eps: 0.1, tol: 1e-6, recordEvery: 1, init: { kind: 'uniform' } });
    expect(v.config).toMatchObject({ model: { kind: 'exact' }, retrain: 'replace' });
    expect(v.config.rewards.map((r) => r.beta)).toEqual([1, 1]);
    expect(v.cost.seconds).toBeGreaterThan(0);
  });

  const cases: [string, unknown, string, RegExp][] = [
    ['unknown field', { ...good, foo: 1 }, '/foo', /unknown field "foo"/],
    ['unknown nested field', { ...good, rewards: [{ kind: 'quadratic', center: [0, 0], widht: 2 }] }, '/rewards/0/widht', /unknown field/],
    ['weights not summing to 1', { ...good, weights: [0.5, 0.6] }, '/weights', /must sum to 1 within 1e-9 \(got 1\.1\)/],
    ['weights of the wrong length', { ...good, weights: [1] }, '/weights', /one weight per reward: 2 \(got 1\)/],
    ['zero weight', { ...good, weights: [0, 1] }, '/weights/0', /must be > 0/],
    ['K = 1', { ...good, K: 1 }, '/K', /must be >= 2 \(got 1\)/],
    ['K not an integer', { ...good, K: 2.5 }, '/K', /integer >= 2 or "inf"/],
    ['K a wrong string', { ...good, K: 'infinity' }, '/K', /integer >= 2 or "inf"/],
    ['table of the wrong length', { ...good, rewards: [{ kind: 'table', values: [1, 2, 3] }] }, '/rewards/0/values', /one entry per atom: 20 \(got 3\)/],
    ['init table of the wrong length', { ...good, init: { kind: 'table', values: [1] } }, '/init/values', /20 \(got 1\)/],
    ['NaN', { ...good, beta: NaN }, '/beta', /finite number \(got NaN\)/],
    ['Infinity in a vector', { ...good, rewards: [{ kind: 'quadratic', center: [0, Infinity] }] }, '/rewards/0/center/1', /finite/],
    ['negative sd', { ...good, init: { kind: 'gaussian', mean: [0, 0], sd: -1 } }, '/init/sd', /must be > 0 \(got -1\)/],
    ['negative mixture sd', { ...good, init: { kind: 'mixture', components: [{ mean: [0, 0], sd: -2, weight: 1 }] } }, '/init/components/0/sd', /> 0/],
    ['wrong vector dimension', { ...good, rewards: [{ kind: 'quadratic', center: [1, 2, 3] }] }, '/rewards/0/center', /must have 2 entries \(got 3\)/],
    ['bare number where d = 2', { ...good, rewards: [{ kind: 'linear', coef: 1 }] }, '/rewards/0/coef', /2 entries \(got 1\)/],
    ['weights with q', { ...good, weights: [0.5, 0.5], q: 0.5 }, '/q', /not allowed together with weights/],
    ['q with three rewards', { ...good, rewards: [...good.rewards, good.rewards[0]], q: 0.3 }, '/q', /exactly 2 rewards \(got 3\)/],
    ['q out of range', { ...good, q: 1 }, '/q', /must be < 1/],
    ['realFraction = 1', { ...good, realFraction: 1 }, '/realFraction', /must be < 1/],
    ['negative realFraction', { ...good, realFraction: -0.1 }, '/realFraction', /must be >= 0/],
    ['per-reward beta 0', { ...good, rewards: [{ kind: 'quadratic', center: [0, 0], beta: 0 }] }, '/rewards/0/beta', /must be > 0 \(got 0\)/],
    ['per-reward beta negative', { ...good, rewards: [{ kind: 'abs', center: [0, 0], beta: -1 }] }, '/rewards/0/beta', /must be > 0/],
    ['abs reward on atoms', { support: { kind: 'atoms', n: 3 }, rewards: [{ kind: 'abs', center: 0 }] }, '/rewards/0/kind', /needs a support with coordinates/],
    ['retrain misspelt', { ...good, retrain: 'acumulate' }, '/retrain', /must be "replace" or "accumulate" \(got "acumulate"\)/],
    ['unknown model kind', { ...good, model: { kind: 'neural' } }, '/model/kind', /must be one of "exact", "kernel", "gaussian", "mixture"/],
    ['model on an atoms support', { support: { kind: 'atoms', n: 3 }, rewards: [{ kind: 'table', values: [1, 2, 3] }], model: { kind: 'gaussian' } }, '/model/kind', /needs a support with coordinates/],
    ['bandwidth 0', { ...good, model: { kind: 'kernel', bandwidth: 0 } }, '/model/bandwidth', /must be > 0 \(got 0\)/],
    ['bandwidth missing', { ...good, model: { kind: 'kernel' } }, '/model/bandwidth', /is required/],
    ['more mixture components than atoms', { ...good, model: { kind: 'mixture', components: 21 } }, '/model/components', /at most the number of atoms: 20 \(got 21\)/],
    ['mixture components not an integer', { ...good, model: { kind: 'mixture', components: 1.5 } }, '/model/components', /must be an integer/],
    ['mixture emSteps 0', { ...good, model: { kind: 'mixture', components: 2, emSteps: 0 } }, '/model/emSteps', /must be >= 1/],
    ['minSd 0', { ...good, model: { kind: 'gaussian', minSd: 0 } }, '/model/minSd', /must be > 0/],
    ['a field of another model kind', { ...good, model: { kind: 'gaussian', bandwidth: 1 } }, '/model/bandwidth', /unknown field "bandwidth" for model kind "gaussian"/],
    ['unknown mode', { ...good, mode: 'fast' }, '/mode', /"exact" or "sampled"/],
    ['atoms with a quadratic reward', { support: { kind: 'atoms', n: 3 }, rewards: [{ kind: 'quadratic', center: 0 }] }, '/rewards/0/kind', /table rewards/],
    ['atoms with a gaussian init', { support: { kind: 'atoms', n: 3 }, init: { kind: 'gaussian', mean: 0, sd: 1 }, rewards: [{ kind: 'table', values: [1, 2, 3] }] }, '/init/kind', /"uniform" or "table"/],
    ['grid with a non-integer n', { ...good, support: { kind: 'grid', min: 0, max: 1, n: 2.5 } }, '/support/n', /integer/],
    ['grid with n = 0', { ...good, support: { kind: 'grid', min: 0, max: 1, n: 0 } }, '/support/n', /must be >= 1/],
    ['grid in 4 dimensions', { ...good, support: { kind: 'grid', min: [0, 0, 0, 0], max: [1, 1, 1, 1], n: [2, 2, 2, 2] } }, '/support/n', /1 to 3 dimensions/],
    ['grid with max <= min', { ...good, support: { kind: 'grid', min: [0, 1], max: [1, 1], n: [2, 2] } }, '/support/max/1', /must be > min/],
    ['grid bounds of mismatched length', { ...good, support: { kind: 'grid', min: [0], max: [1, 1], n: [2, 2] } }, '/support/min', /2 entries/],
    ['points of mixed dimension', { ...good, support: { kind: 'points', points: [[0, 0], [1, 1, 1]] } }, '/support/points/1', /2 coordinates/],
    ['p_0 all zero', { ...good, init: { kind: 'table', values: new Array(20).fill(0) } }, '/init/values', /must not all be 0/],
    ['negative p_0 entry', { ...good, init: { kind: 'table', values: [-1, ...new Array(19).fill(1)] } }, '/init/values/0', /must be >= 0/],
    ['mixture weights all zero', { ...good, init: { kind: 'mixture', components: [{ mean: [0, 0], sd: 1, weight: 0 }] } }, '/init/components', /must not all be 0/],
    ['clip min > max', { ...good, rewards: [{ kind: 'linear', coef: [1, 1], clip: { min: 2, max: 1 } }] }, '/rewards/0/clip', /min must be <= max/],
    ['unknown support kind', { ...good, support: { kind: 'sphere' } }, '/support/kind', /one of "grid", "points", "atoms"/],
    ['missing support', { rewards: good.rewards }, '/support', /is required/],
    ['empty rewards', { ...good, rewards: [] }, '/rewards', /at least 1/],
    ['recordEvery = 0', { ...good, recordEvery: 0 }, '/recordEvery', /must be >= 1/],
    ['samples not an integer', { ...good, samples: 10.5 }, '/samples', /integer/],
    ['wrong type', { ...good, iterations: '100' }, '/iterations', /^must be a number \(got string "100"\)$/],
    ['gaussian reward with zero width', { ...good, rewards: [{ kind: 'gaussian', center: [0, 0], width: 0 }] }, '/rewards/0/width', /> 0/],
    ['reward overflowing to infinity', { ...good, rewards: [{ kind: 'quadratic', center: [0, 0], scale: 1e308 }] }, '/rewards/0', /non-finite/],
    ['root not an object', [1, 2], '', /must be an object \(got array\)/],
  ];
  for (const [name, config, path, message] of cases) {
    it(`refuses: ${name}`, () => expectIssue(config, path, message));
  }

  it('reports every problem, not just the first', () => {
    const found = issues({ ...good, K: 1, beta: -1, foo: 2, weights: [0.2, 0.2], rewards: [{ kind: 'quadratic', center: [1, 2, 3] }, good.rewards[1]] });
    expect(found.map((i) => i.path).sort()).toEqual(['/K', '/beta', '/foo', '/rewards/0/center', '/weights']);
  });

  it('refuses a configuration over the cost budget before running', () => {
    const big = { support: { kind: 'grid', min: 0, max: 1, n: 100000 }, rewards: [{ kind: 'quadratic', center: 0 }], K: 8, iterations: 100000 };
    const found = issues(big);
    expect(found).toHaveLength(1);
    expect(found[0].path).toBe('');
    expect(found[0].message).toMatch(/too expensive.*budget of 300 s/);
    expect(issues(big, { maxCostSeconds: Infinity })).toEqual([]);
    // Refused before the first generation: a run that started would poll shouldStop and end cancelled instead.
    let started = false;
    expect(() => simulate(big, { shouldStop: () => (started = true) })).toThrow(ConfigError);
    expect(started).toBe(false);
  });

  it('the cost estimate grows with n, m, T, K and N', () => {
    const v = validateConfig({ ...good, K: 4, mode: 'sampled', samples: 1000 });
    if (!v.ok) throw new Error('expected ok');
    const base = estimateCost(v.config);
    expect(estimateCost({ ...v.config, samples: 2000 }).seconds).toBeGreaterThan(base.seconds);
    expect(estimateCost({ ...v.config, K: 8 }).atomGenerations).toBe(2 * base.atomGenerations);
    const e = validateConfig(good);
    if (!e.ok) throw new Error('expected ok');
    expect(estimateCost({ ...e.config, iterations: 400 }).seconds).toBeGreaterThan(estimateCost(e.config).seconds);
    expect(estimateCost({ ...e.config, K: 8 }).seconds).toBeGreaterThan(estimateCost(e.config).seconds);
    expect(DEFAULT_MAX_COST_SECONDS).toBe(300);
  });

  it('finite K: the estimate follows the spread of the scores, through bounds that hold', () => {
    // Bounds used by the estimate: reward range from parameters, multiplier nodes from that range.
    const configs = [
      { support: { kind: 'grid', min: -12, max: 12, n: 401 }, rewards: [{ kind: 'quadratic', center: -2 }, { kind: 'quadratic', center: 2, scale: 3 }] },
      { support: { kind: 'grid', min: [-2, -1], max: [2, 3], n: [20, 15] }, rewards: [{ kind: 'linear', coef: [1, -2], bias: 4 }, { kind: 'gaussian', center: [0, 1], width: 0.5, height: -3 }] },
      { support: { kind: 'points', points: [[0.5], [-7], [3], [11]] }, rewards: [{ kind: 'quadratic', center: 1, clip: { min: -20, max: -1 } }, { kind: 'table', values: [3, -1, 8, 2] }] },
      { support: { kind: 'atoms', n: 5 }, rewards: [{ kind: 'table', values: [0, 40, -15, 2, 2] }] },
      { support: { kind: 'grid', min: [-3, 0], max: [5, 2], n: [17, 9] }, rewards: [{ kind: 'abs', center: [-6, 1], scale: 2 }, { kind: 'abs', center: [1, 1] }] },
    ];
    for (const raw of configs) {
      for (const beta of [0.1, 1, 30]) {
        for (const K of [2, 8, 64]) {
          const v = validateConfig({ ...raw, K, beta });
          if (!v.ok) throw new Error(formatIssues(v.issues));
          const sp = buildSupport(v.config.support);
          for (const r of v.config.rewards) {
            const values = rewardValues(r, sp);
            const range = Math.max(...values) - Math.min(...values);
            const bound = rewardRangeBound(r, v.config.support);
            expect(bound).toBeGreaterThanOrEqual(range * (1 - 1e-12));
            const m = new FiniteKMultiplier(values.map((x) => beta * x), K);
            expect(m.nNodes).toBeLessThanOrEqual(finiteKNodeBound(values.length, K, beta * bound));
          }
        }
      }
    }
    // Sharper curation spreads the scores: beta = 100 walks ~80x the nodes of beta = 1 here.
    const c4 = (beta: number) => {
      const v = validateConfig({ ...configs[0], support: { kind: 'grid', min: -12, max: 12, n: 2001 }, K: 8, beta });
      if (!v.ok) throw new Error('expected ok');
      return estimateCost(v.config).seconds;
    };
    expect(c4(100) / c4(1)).toBeGreaterThan(4);
    expect(c4(1) / c4(0.1)).toBeLessThan(1.5);
  });

  it('formatIssues prints one line per issue, the root as /', () => {
    expect(formatIssues([{ path: '', message: 'a' }, { path: '/K', message: 'b' }])).toBe('/: a\n/K: b');
  });

  it('simulate throws ConfigError carrying the issues', () => {
    try {
      simulate({ ...good, K: 1 });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues).toEqual([{ path: '/K', message: 'must be >= 2 (got 1)' }]);
    }
  });
});

describe('normalizeForHash', () => {
  it('fills defaults, turns q into weights and bare numbers into arrays', () => {
    const a = validateConfig({ support: { kind: 'grid', min: -1, max: 1, n: 9 }, rewards: [{ kind: 'quadratic', center: 0 }, { kind: 'linear', coef: 1 }], q: 0.25 });
    const b = validateConfig({
      support: { kind: 'grid', min: [-1], max: [1], n: [9] },
      rewards: [{ kind: 'quadratic', center: [0], scale: 1 }, { kind: 'linear', coef: [1], bias: 0 }],
      weights: [0.25, 0.75],
      K: 'inf',
      seed: 5,
      init: { kind: 'uniform' },
    });
    if (!a.ok || !b.ok) throw new Error('expected ok');
    const ha = normalizeForHash(a.config);
    expect(JSON.stringify(ha)).toBe(JSON.stringify(normalizeForHash(b.config)));
    expect(ha).toMatchObject({ support: { min: [-1], max: [1], n: [9] }, weights: [0.25, 0.75], beta: 1, iterations: 200, K: 'inf' });
    expect(ha).not.toHaveProperty('seed');
    const c = validateConfig({ support: { kind: 'grid', min: -1, max: 1, n: 9 }, rewards: [{ kind: 'quadratic', center: 0 }], K: 2, mode: 'sampled', seed: 3 });
    if (!c.ok) throw new Error('expected ok');
    expect(normalizeForHash(c.config)).toMatchObject({ seed: 3, samples: 10000 });
  });
});

describe('abs reward', () => {
  it('is -scale times the Euclidean distance to the centre', () => {
    const v = validateConfig({ support: { kind: 'points', points: [[0, 0], [3, 4], [-1, 1]] }, rewards: [{ kind: 'abs', center: [0, 0], scale: 0.5 }] });
    if (!v.ok) throw new Error(formatIssues(v.issues));
    expect(Array.from(rewardValues(v.config.rewards[0], buildSupport(v.config.support)))).toEqual([-0, -2.5, -0.5 * Math.SQRT2]);
  });
});

describe('contract 2 fields in the normalised form', () => {
  it('resolves each reward beta, fills model defaults, and hashes model and retrain', () => {
    const v = validateConfig({ ...good, beta: 2, rewards: [good.rewards[0], { ...good.rewards[1], beta: 0.5 }], model: { kind: 'mixture', components: 3 } });
    if (!v.ok) throw new Error(JSON.stringify(v.issues));
    expect(v.config.rewards.map((r) => r.beta)).toEqual([2, 0.5]);
    expect(v.config.model).toEqual({ kind: 'mixture', components: 3, emSteps: 1, minSd: 1e-6 });
    const plain = validateConfig(good);
    const explicit = validateConfig({ ...good, model: { kind: 'exact' }, retrain: 'replace' });
    const acc = validateConfig({ ...good, retrain: 'accumulate' });
    const kern = validateConfig({ ...good, model: { kind: 'kernel', bandwidth: 0.5 } });
    if (!plain.ok || !explicit.ok || !acc.ok || !kern.ok) throw new Error('expected ok');
    const h = (c: typeof plain.config) => JSON.stringify(normalizeForHash(c));
    expect(h(explicit.config)).toBe(h(plain.config));
    expect(h(acc.config)).not.toBe(h(plain.config));
    expect(h(kern.config)).not.toBe(h(plain.config));
    // The hashed form is itself a valid configuration that normalises to the same thing.
    const again = validateConfig(normalizeForHash(kern.config));
    if (!again.ok) throw new Error(JSON.stringify(again.issues));
    expect(h(again.config)).toBe(h(kern.config));
    expect(Value.Check(RunConfigSchema, normalizeForHash(v.config))).toBe(true);
  });

  it('sampled mode accepts K = inf (section 3)', () => {
    expect(validateConfig({ ...good, mode: 'sampled' }).ok).toBe(true);
  });
});

describe('RunConfigSchema', () => {
  it('accepts the golden configurations and rejects unknown fields', () => {
    for (const name of ['a-two-rewards-inf', 'b-finite-K5-real', 'c-one-reward-2d']) {
      const cfg = JSON.parse(readFileSync(new URL(`./golden/${name}.json`, import.meta.url), 'utf8'));
      expect(Value.Check(RunConfigSchema, cfg)).toBe(true);
    }
    expect(Value.Check(RunConfigSchema, { ...good, foo: 1 })).toBe(false);
    expect(Value.Check(RunConfigSchema, { ...good, K: 1 })).toBe(false);
    expect(JSON.parse(JSON.stringify(RunConfigSchema)).properties.K.default).toBe('inf');
  });
});

describe('simulate options', () => {
  it('shouldStop cancels at a generation boundary', () => {
    let calls = 0;
    expect(() => simulate({ ...good, iterations: 50 }, { shouldStop: () => ++calls > 10 })).toThrow(SimulationCancelled);
    expect(calls).toBe(11);
  });

  it('records t = 0, every recordEvery and always T; distribution only when asked', () => {
    const out = simulate({ ...good, iterations: 23, recordEvery: 5 });
    expect(out.trajectory.map((r) => r.t)).toEqual([0, 5, 10, 15, 20, 23]);
    expect(out.trajectory[0].step).toBeNull();
    expect(out).not.toHaveProperty('distribution');
    expect(out.summary.final).toEqual(out.trajectory[5]);
    const zero = simulate({ ...good, iterations: 0 }, { includeDistribution: true });
    expect(zero.trajectory).toHaveLength(1);
    expect(zero.summary.converged).toBe(false);
    expect(zero.distribution).toHaveLength(20);
    expect(Object.keys(zero)).toEqual(['contract', 'coreVersion', 'config', 'trajectory', 'summary', 'distribution', 'coordinates', 'generator']);
  });
});
