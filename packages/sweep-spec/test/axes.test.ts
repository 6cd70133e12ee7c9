import { describe, expect, test } from 'vitest';
import { CONFIG_FIELDS, compileSweep, SpecError, type SpecIssue } from '../src/index.ts';
import { baseConfig, naiveExpand, spec, withPath } from './helpers.ts';

function issuesOf(s: unknown): SpecIssue[] {
  try {
    compileSweep(s);
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return (e as SpecError).issues;
  }
  throw new Error('expected a SpecError');
}

function allParams(s: unknown): Record<string, unknown>[] {
  const c = compileSweep(s);
  return Array.from({ length: c.total }, (_, i) => c.paramsAt(i));
}

describe('axis kinds', () => {
  test('no axes: one configuration, the base', () => {
    const c = compileSweep(spec());
    expect(c.total).toBe(1);
    expect(c.variables).toEqual([]);
    expect(c.paramsAt(0)).toEqual({});
    expect(c.configAt(0)).toEqual(baseConfig());
    expect(compileSweep(spec({ axes: [] })).total).toBe(1);
  });

  test('values: numbers, strings, booleans', () => {
    const c = compileSweep(spec({ axes: [{ param: 'mode', values: ['exact', 'sampled'] }, { param: 'K', values: [2, 'inf'] }] }));
    expect(c.total).toBe(4);
    expect(allParams(spec({ axes: [{ param: 'mode', values: ['exact', 'sampled'] }, { param: 'K', values: [2, 'inf'] }] }))).toEqual([
      { mode: 'exact', K: 2 },
      { mode: 'exact', K: 'inf' },
      { mode: 'sampled', K: 2 },
      { mode: 'sampled', K: 'inf' },
    ]);
    expect((c.configAt(3) as Record<string, unknown>).K).toBe('inf');
  });

  test('linspace values are exact', () => {
    const lin = (from: number, to: number, n: number) =>
      allParams(spec({ axes: [{ param: 'q', linspace: [from, to, n] }] })).map((p) => p.q);
    expect(lin(1, 6, 11)).toEqual([1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6]);
    expect(lin(0, 1, 11)).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    expect(lin(0.1, 0.5, 5)).toEqual([0.1, 0.2, 0.3, 0.4, 0.5]);
    expect(lin(0.1, 0.9, 9)).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
    expect(lin(-0.3, 0.3, 3)).toEqual([-0.3, 0, 0.3]);
    expect(lin(5, 1, 5)).toEqual([5, 4, 3, 2, 1]);
    expect(lin(2, 3, 1)).toEqual([2]);
    expect(lin(0, 1, 4)).toEqual([0, 1 / 3, 2 / 3, 1]);
    expect(lin(0, 1, 7)[1]).toBe(1 / 6);
    expect(lin(0, Math.PI, 2)).toEqual([0, Math.PI]);
  });

  test('logspace: from and to are the values themselves, spaced geometrically', () => {
    const log = (from: number, to: number, n: number) =>
      allParams(spec({ axes: [{ param: 'beta', logspace: [from, to, n] }] })).map((p) => p.beta);
    expect(log(1, 1000, 4)).toEqual([1, 10, 100, 1000]);
    expect(log(0.01, 100, 5)).toEqual([0.01, 0.1, 1, 10, 100]);
    expect(log(0.1, 10, 3)).toEqual([0.1, 1, 10]);
    expect(log(1, 16, 5)).toEqual([1, 2, 4, 8, 16]);
    expect(log(3, 3, 1)).toEqual([3]);
    const v = log(1, 2, 3);
    expect(v[1]).toBeCloseTo(Math.SQRT2, 15);
    expect(issuesOf(spec({ axes: [{ param: 'beta', logspace: [0, 10, 3] }] }))).toEqual([
      { path: '/axes/0/logspace/0', message: 'logspace from must be > 0 (it is the value itself, not an exponent), got 0' },
    ]);
  });

  test('linspace/logspace shape errors', () => {
    expect(issuesOf(spec({ axes: [{ param: 'q', linspace: [0, 1] }] }))).toEqual([
      { path: '/axes/0/linspace', message: 'linspace must be [from, to, count], got a list of 2' },
    ]);
    expect(issuesOf(spec({ axes: [{ param: 'q', linspace: [0, 1, 0] }] }))).toEqual([
      { path: '/axes/0/linspace/2', message: 'count must be an integer >= 1, got 0' },
    ]);
    expect(issuesOf(spec({ axes: [{ param: 'q', linspace: [0, 'a', 2.5] }] })).map((i) => i.path)).toEqual([
      '/axes/0/linspace/1',
      '/axes/0/linspace/2',
    ]);
  });

  test('replicates: 0..N-1', () => {
    expect(allParams(spec({ axes: [{ param: 'seed', replicates: 4 }] }))).toEqual([{ seed: 0 }, { seed: 1 }, { seed: 2 }, { seed: 3 }]);
    expect(issuesOf(spec({ axes: [{ param: 'seed', replicates: 0 }] }))[0]).toEqual({
      path: '/axes/0/replicates',
      message: 'replicates must be an integer >= 1 (the param takes 0..N-1), got 0',
    });
    expect(issuesOf(spec({ axes: [{ param: 'seed', replicates: 1.5 }] }))[0].path).toBe('/axes/0/replicates');
  });

  test('zip pairs values of several params', () => {
    const s = spec({
      axes: [
        { zip: [{ param: 'K', values: [2, 8, 'inf'] }, { param: 'beta', linspace: [1, 3, 3] }, { param: 'seed', replicates: 3 }] },
      ],
    });
    expect(compileSweep(s).variables).toEqual(['K', 'beta', 'seed']);
    expect(allParams(s)).toEqual([
      { K: 2, beta: 1, seed: 0 },
      { K: 8, beta: 2, seed: 1 },
      { K: 'inf', beta: 3, seed: 2 },
    ]);
  });

  test('zip length mismatch', () => {
    const s = spec({ axes: [{ param: 'q', values: [0.5] }, { zip: [{ param: 'K', values: [2, 8] }, { param: 'beta', values: [1, 4, 5] }] }] });
    expect(issuesOf(s)).toEqual([
      {
        path: '/axes/1/zip/1/values',
        message: "zip members must all have the same length: 'beta' has 3 values but 'K' (/axes/1/zip/0) has 2",
      },
    ]);
  });

  test('zip members: only values, linspace, logspace, replicates', () => {
    expect(issuesOf(spec({ axes: [{ zip: [{ random: { n: 1, seed: 1, params: { q: { uniform: [0, 1] } } } }] }] }))).toEqual([
      { path: '/axes/0/zip/0/random', message: "'random' is not allowed here (allowed: values, linspace, logspace, replicates)" },
    ]);
    expect(issuesOf(spec({ axes: [{ zip: [] }] }))[0].path).toBe('/axes/0/zip');
  });

  test('random: deterministic draws within the ranges', () => {
    const mk = (seed: number) =>
      spec({
        axes: [
          {
            random: {
              n: 200,
              seed,
              params: {
                beta: { loguniform: [0.1, 10] },
                q: { uniform: [0.2, 0.8] },
                K: { randint: [2, 5] },
                mode: { choice: ['exact', 'sampled'] },
              },
            },
          },
        ],
      });
    const a = allParams(mk(7));
    const b = allParams(mk(7));
    const c = allParams(mk(8));
    expect(a).toHaveLength(200);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a.filter((p, i) => p.beta === c[i].beta)).toHaveLength(0);
    for (const p of a) {
      expect(p.beta).toBeGreaterThanOrEqual(0.1);
      expect(p.beta).toBeLessThanOrEqual(10);
      expect(p.q).toBeGreaterThanOrEqual(0.2);
      expect(p.q).toBeLessThan(0.8);
      expect([2, 3, 4, 5]).toContain(p.K);
      expect(['exact', 'sampled']).toContain(p.mode);
    }
    // every randint/choice value shows up; loguniform spreads over both decades
    expect(new Set(a.map((p) => p.K)).size).toBe(4);
    expect(new Set(a.map((p) => p.mode)).size).toBe(2);
    expect(a.filter((p) => (p.beta as number) < 1).length).toBeGreaterThan(60);
    expect(a.filter((p) => (p.beta as number) > 1).length).toBeGreaterThan(60);
    // variables sorted by name: independent of the key order of params (e.g. after jsonb)
    expect(compileSweep(mk(7)).variables).toEqual(['K', 'beta', 'mode', 'q']);
  });

  test('random: draws do not depend on key order nor on the other params', () => {
    const one = allParams(spec({ axes: [{ random: { n: 50, seed: 3, params: { q: { uniform: [0, 1] } } } }] }));
    const two = allParams(
      spec({ axes: [{ random: { n: 50, seed: 3, params: { beta: { uniform: [0, 5] }, q: { uniform: [0, 1] } } } }] }),
    );
    expect(two.map((p) => p.q)).toEqual(one.map((p) => p.q));
    // golden values: a change of the generator would silently change stored sweeps
    expect(one.slice(0, 3).map((p) => p.q)).toEqual([0.3804832264874721, 0.33059807598416235, 0.49352434651936095]);
  });

  test('random: draws look uniform (mean, randint balance)', () => {
    const p = allParams(spec({ axes: [{ random: { n: 20000, seed: 11, params: { q: { uniform: [0, 1] }, K: { randint: [0, 3] } } } }] }));
    const mean = p.reduce((s, x) => s + (x.q as number), 0) / p.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01); // sd of the mean ~0.002
    for (const k of [0, 1, 2, 3]) {
      const share = p.filter((x) => x.K === k).length / p.length;
      expect(Math.abs(share - 0.25)).toBeLessThan(0.015); // sd ~0.003
    }
  });

  test('random: errors', () => {
    const iss = issuesOf(
      spec({
        axes: [
          {
            random: {
              n: 0,
              seed: 1.5,
              params: {
                q: { uniform: [1, 0] },
                beta: { loguniform: [0, 1] },
                K: { randint: [2.5, 4] },
                mode: { choice: [] },
                eps: { normal: [0, 1] },
              },
            },
          },
        ],
      }),
    );
    expect(iss).toEqual([
      { path: '/axes/0/random/n', message: 'n (number of points) must be an integer >= 1, got 0' },
      { path: '/axes/0/random/seed', message: 'seed must be an integer, got 1.5' },
      { path: '/axes/0/random/params/K/randint', message: 'randint [a, b] needs integers, got [2.5, 4]' },
      { path: '/axes/0/random/params/beta/loguniform/0', message: 'loguniform needs 0 < a <= b, got a = 0' },
      { path: '/axes/0/random/params/eps', message: 'a distribution must have exactly one of uniform, loguniform, choice, randint; found normal' },
      { path: '/axes/0/random/params/mode/choice', message: 'choice must not be empty' },
      { path: '/axes/0/random/params/q/uniform', message: 'uniform [a, b] needs a <= b, got [1, 0]' },
    ]);
  });
});

describe('order and random access', () => {
  const theSpec = () =>
    spec({
      axes: [
        { param: 'q', values: [0.1, 0.3, 0.5] },
        { param: 'D', linspace: [1, 6, 11] },
        { zip: [{ param: 'K', values: [2, 8] }, { param: 'beta', values: [1, 4] }] },
        { param: 'seed', replicates: 5 },
        { random: { n: 4, seed: 7, params: { 'rewards.0.scale': { loguniform: [0.1, 10] } } } },
      ],
      derive: { 'rewards.0.center': '[-D/2]', 'rewards.1.center': '[D/2]' },
    });

  test('cartesian product, last axis fastest, matches a naive expansion', () => {
    const c = compileSweep(theSpec());
    expect(c.total).toBe(3 * 11 * 2 * 5 * 4);
    expect(c.variables).toEqual(['q', 'D', 'K', 'beta', 'seed', 'rewards.0.scale']);
    const randomPoints = [0, 1, 2, 3].map((j) => [c.paramsAt(j)['rewards.0.scale']]);
    const expected = naiveExpand([
      { vars: ['q'], points: [[0.1], [0.3], [0.5]] },
      { vars: ['D'], points: [1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6].map((x) => [x]) },
      { vars: ['K', 'beta'], points: [[2, 1], [8, 4]] },
      { vars: ['seed'], points: [[0], [1], [2], [3], [4]] },
      { vars: ['rewards.0.scale'], points: randomPoints },
    ]);
    expect(expected).toHaveLength(c.total);
    for (let i = 0; i < c.total; i++) {
      const p = expected[i];
      // the derived values follow the axis variables, in derive order, as the configuration holds them
      const derived = { 'rewards.0.center': [-(p.D as number) / 2], 'rewards.1.center': [(p.D as number) / 2] };
      expect(c.paramsAt(i)).toEqual({ ...p, ...derived });
      expect(Object.keys(c.paramsAt(i))).toEqual([...Object.keys(p), 'rewards.0.center', 'rewards.1.center']);
      let cfg: unknown = baseConfig();
      for (const k of ['q', 'K', 'beta', 'seed', 'rewards.0.scale']) cfg = withPath(cfg, k, p[k]);
      cfg = withPath(cfg, 'rewards.0.center', [-(p.D as number) / 2]);
      cfg = withPath(cfg, 'rewards.1.center', [(p.D as number) / 2]);
      expect(c.configAt(i)).toEqual(cfg);
    }
  });

  test('the same spec expands the same way, in any order of access', () => {
    const a = compileSweep(theSpec());
    const b = compileSweep(JSON.parse(JSON.stringify(theSpec())));
    const order = [1319, 0, 7, 1000, 5, 7];
    for (const i of order) expect(a.configAt(i)).toEqual(b.configAt(i));
    expect(a.paramsAt(7)).toEqual(b.paramsAt(7));
  });

  test('configAt returns independent deep copies and never touches the spec', () => {
    const s = theSpec();
    const before = JSON.stringify(s);
    const c = compileSweep(s);
    const x = c.configAt(0) as { rewards: { kind: string }[]; support: { kind: string } };
    x.rewards[0].kind = 'changed';
    x.support.kind = 'changed';
    expect((c.configAt(0) as typeof x).rewards[0].kind).toBe('quadratic');
    expect(JSON.stringify(s)).toBe(before);
    // and mutating the spec after compilation does not change the expansion
    (s.base as { q: number }).q = 0.9;
    expect((c.configAt(0) as { q: number }).q).toBe(0.1);
  });

  test('index out of range is a RangeError', () => {
    const c = compileSweep(theSpec());
    for (const i of [-1, c.total, 1.5, NaN]) {
      expect(() => c.configAt(i)).toThrow(RangeError);
      expect(() => c.paramsAt(i)).toThrow(RangeError);
    }
  });

  test('large sweeps: random access without materialising', () => {
    const c = compileSweep(
      spec({ axes: [{ param: 'seed', replicates: 1e6 }, { param: 'q', linspace: [0.01, 0.99, 1e6] }, { param: 'D', replicates: 1e3 }], derive: { iterations: 'D' } }),
    );
    expect(c.total).toBe(1e15);
    const i = 1e15 - 1;
    expect(c.paramsAt(i)).toEqual({ seed: 999999, q: 0.99, D: 999, iterations: 999 });
    expect(c.paramsAt(123456789012345)).toEqual({ seed: 123456, q: expect.any(Number), D: 345, iterations: 345 });
    expect(issuesOf(spec({ axes: [{ param: 'seed', replicates: 1e9 }, { param: 'K', replicates: 1e9 }] }))[0]).toEqual({
      path: '/axes',
      message: 'the axes multiply to more than 2^53 configurations (1.000e+18)',
    });
  });
});

describe('params: configuration paths and free variables', () => {
  test('paths set nested fields; the last key may be new on an object', () => {
    const c = compileSweep(spec({ axes: [{ param: 'rewards.1.scale', values: [2] }, { param: 'support.n', values: [11] }] }));
    const cfg = c.configAt(0) as { rewards: Record<string, unknown>[]; support: Record<string, unknown> };
    expect(cfg.rewards[1]).toEqual({ kind: 'quadratic', center: 1, scale: 2 });
    expect(cfg.support.n).toBe(11);
  });

  test('paths whose parent is missing from base are refused', () => {
    expect(issuesOf(spec({ axes: [{ param: 'init.sd', values: [1] }] }))).toEqual([
      {
        path: '/axes/0/param',
        message: "cannot set 'init.sd': base has no field 'init' (add it to base first; only the last part of a path may name a missing field)",
      },
    ]);
    expect(issuesOf(spec({ axes: [{ param: 'rewards.2.scale', values: [1] }] }))[0].message).toBe(
      "cannot set 'rewards.2.scale': base.rewards has 2 elements, there is no index 2 (add it to base first)",
    );
    expect(issuesOf(spec({ axes: [{ param: 'rewards.2', values: [1] }] }))[0].message).toMatch(/no index 2/);
    expect(issuesOf(spec({ axes: [{ param: 'rewards.x', values: [1] }] }))[0].message).toBe(
      "cannot set 'rewards.x': base.rewards is an array, not an object with fields",
    );
    expect(issuesOf(spec({ axes: [{ param: 'support.0', values: [1] }] }))[0].message).toBe(
      "cannot set 'support.0': base.support is an object, not an array, so it cannot be indexed by 0",
    );
  });

  test('unused free variable refused (likely a typo)', () => {
    expect(issuesOf(spec({ axes: [{ param: 'Q', values: [0.1] }] }))).toEqual([
      { path: '/axes/0/param', message: `'Q' is not a configuration field, so it is a free variable, and no derive expression uses it (did you mean "q"?)` },
    ]);
    expect(issuesOf(spec({ axes: [{ param: 'Dist', values: [0.1] }] }))).toEqual([
      {
        path: '/axes/0/param',
        message: `'Dist' is not a configuration field, so it is a free variable, and no derive expression uses it (a typo? configuration fields: ${CONFIG_FIELDS.join(', ')})`,
      },
    ]);
    // inside random and zip too
    expect(issuesOf(spec({ axes: [{ random: { n: 2, seed: 1, params: { bta: { uniform: [0, 1] } } } }] }))[0].path).toBe(
      '/axes/0/random/params/bta',
    );
    // a free variable only used by derive is fine, and appears in params (with what it derives) but not in the configuration
    const c = compileSweep(spec({ axes: [{ param: 'D', values: [2] }], derive: { 'rewards.1.center': 'D' } }));
    expect(c.paramsAt(0)).toEqual({ D: 2, 'rewards.1.center': 2 });
    expect(c.derived).toEqual(['rewards.1.center']);
    expect(c.configAt(0)).not.toHaveProperty('D');
  });

  test('duplicate params, reserved and malformed names', () => {
    expect(issuesOf(spec({ axes: [{ param: 'q', values: [0.1] }, { zip: [{ param: 'q', values: [0.2] }] }] }))).toEqual([
      { path: '/axes/1/zip/0/param', message: "param 'q' is already varied by /axes/0/param; a param may appear in one axis only" },
    ]);
    expect(issuesOf(spec({ axes: [{ param: 'e', values: [1] }] }))[0].message).toMatch(/'e' is a constant/);
    expect(issuesOf(spec({ axes: [{ param: 'rewards.0.__proto__', values: [1] }] }))[0].message).toMatch(/reserved/);
    expect(issuesOf(spec({ axes: [{ param: '__proto__', values: [1] }] }))[0].message).toMatch(/reserved/);
    expect(issuesOf(spec({ axes: [{ param: 'a..b', values: [1] }] }))[0].message).toMatch(/invalid param "a..b"/);
    expect(issuesOf(spec({ axes: [{ param: 3, values: [1] }] }))[0]).toEqual({
      path: '/axes/0/param',
      message: 'param must be a string (a dotted path such as "rewards.1.scale", or a free variable name), got the number 3',
    });
  });
});

describe('structure', () => {
  test('every structural problem is listed', () => {
    const iss = issuesOf({
      name: '',
      tags: ['ok', 3],
      base: [],
      axes: [{ param: 'q' }, { param: 'q', values: [], linspace: [0, 1, 2] }, 5, { param: 'beta', values: [1, null] }, { values: [1] }],
      derive: { q: 'q' },
      extra: 1,
    });
    expect(iss).toEqual([
      { path: '/extra', message: 'unknown field "extra" (allowed here: name, tags, description, base, axes, derive, refine)' },
      { path: '/name', message: 'name must be a string of 1 to 200 characters, got 0 characters' },
      { path: '/tags/1', message: 'a tag must be a string of 1 to 100 characters, got the number 3' },
      { path: '/base', message: 'base must be an object (a RunConfig), got an array' },
      { path: '/axes/0', message: 'an axis needs a param with one of values, linspace, logspace, replicates, or a zip or random block' },
      { path: '/axes/1', message: 'an axis must have exactly one of values, linspace, logspace, replicates, zip, random; found values, linspace' },
      { path: '/axes/2', message: 'an axis must be an object, got the number 5' },
      { path: '/axes/3/values/1', message: 'must be a finite number, a string or a boolean, got null' },
      { path: '/axes/4/param', message: 'param must be a string (a dotted path such as "rewards.1.scale", or a free variable name), got undefined' },
    ]);
  });

  test('not an object; missing base; non-JSON values in base', () => {
    expect(issuesOf(null)).toEqual([{ path: '', message: 'a sweep specification must be an object { name, base, axes, derive }, got null' }]);
    expect(issuesOf({ name: 'x' })).toEqual([{ path: '/base', message: 'base (the RunConfig every configuration starts from) is required' }]);
    expect(issuesOf({ name: 'x', base: { q: Infinity, iterations: 10 } })).toEqual([{ path: '/base/q', message: 'must be a finite number, got Infinity' }]);
    expect(issuesOf({ name: 'x', base: { q: new Date(0) } })).toEqual([{ path: '/base/q', message: 'not a JSON value (not a plain object)' }]);
  });

  test('an own __proto__ key in base is copied as data, never as a prototype', () => {
    const base = JSON.parse('{"support": {"kind": "atoms", "n": 2}, "rewards": [], "__proto__": {"polluted": true}}');
    const cfg = compileSweep({ name: 'x', base }).configAt(0) as Record<string, unknown>;
    expect(Object.getPrototypeOf(cfg)).toBe(Object.prototype);
    expect(Object.keys(cfg)).toContain('__proto__');
    expect((cfg as { polluted?: boolean }).polluted).toBeUndefined();
  });
});
