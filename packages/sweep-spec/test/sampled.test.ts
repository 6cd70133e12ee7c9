// Million-configuration sweeps: the params layout that lets Postgres build run rows, and
// the sampled validation of sweeps above FULL_VALIDATION_MAX configurations.
import { describe, expect, test } from 'vitest';
import { validateConfig } from '@curation/core';
import { FULL_VALIDATION_MAX, compileSweep, sampleIndexes, validateSweep, type CompiledSweep } from '../src/index.ts';
import { spec } from './helpers.ts';

/** paramsAt(i) as the layout assembles it (what insertRunRange does in SQL). */
function fromLayout(c: CompiledSweep, i: number): { params: unknown; error: string | null } {
  const layout = c.paramsLayout!()!;
  const strides = layout.lengths.map((_, k) => layout.lengths.slice(k + 1).reduce((t, l) => t * l, 1));
  const members: string[] = [];
  let error: string | null = null;
  for (const part of layout.parts) {
    let sub = 0;
    for (const k of part.axes) sub = sub * layout.lengths[k] + (Math.floor(i / strides[k]) % layout.lengths[k]);
    if (part.members[sub] !== null) members.push(part.members[sub]!);
    error ??= part.errors?.[sub] ?? null;
  }
  return { params: JSON.parse(`{${members.join(',')}}`), error };
}

describe('paramsLayout', () => {
  const specs: Record<string, Record<string, unknown>> = {
    'values, linspace, logspace and replicates': spec({
      axes: [{ param: 'q', values: [0.1, 0.5] }, { param: 'D', linspace: [0.5, 8, 3] }, { param: 'eps', logspace: [0.01, 1, 2] }, { param: 'seed', replicates: 2 }],
      derive: { 'rewards.0.center': '[-D/2]', 'rewards.1.center': '[D/2 + q]' },
    }),
    'zip and random axes, a derive over two axes and a constant one': spec({
      axes: [
        { zip: [{ param: 'K', values: [2, 8, 'inf'] }, { param: 'beta', linspace: [1, 3, 3] }] },
        { random: { n: 4, seed: 7, params: { q: { uniform: [0.1, 0.9] } } } },
        { param: 'D', values: [1, 2] },
      ],
      derive: { 'rewards.0.center': '[-D * beta]', 'rewards.1.center': '[pi]' },
    }),
    'no axes': spec(),
  };
  for (const [name, s] of Object.entries(specs)) {
    test(`gives paramsAt for every index: ${name}`, () => {
      const c = compileSweep(s);
      for (let i = 0; i < c.total; i++) expect(fromLayout(c, i)).toEqual({ params: c.paramsAt(i), error: null });
    });
  }

  test('a derive that is not finite somewhere: no member there, the reason instead, as configAt throws', () => {
    const c = compileSweep(spec({ axes: [{ param: 'q', values: [0.2, 0.4] }, { param: 'D', values: [1, 0, 2] }], derive: { 'rewards.1.center': '[1 / D]' } }));
    for (let i = 0; i < c.total; i++) {
      const got = fromLayout(c, i);
      if (i % 3 === 1) {
        expect(() => c.configAt(i)).toThrow(/not a finite number/);
        expect(got.error).toMatch(/^\/derive\/rewards\.1\.center: gives .*not a finite number, at D=0$/);
        expect(got.params).toEqual({ q: c.paramsAt(i - 1).q, D: 0 });
      } else {
        expect(got).toEqual({ params: c.paramsAt(i), error: null });
      }
    }
  });

  test('null when a derive reads axes whose combinations exceed the bound', () => {
    const c = compileSweep(spec({ axes: [{ param: 'q', linspace: [0.1, 0.9, 300] }, { param: 'D', linspace: [1, 2, 300] }], derive: { 'rewards.1.center': '[D * q]' } }));
    expect(c.paramsLayout!(50_000)).toBeNull();
    expect(c.paramsLayout!(90_000)).not.toBeNull();
  });
});

describe('sampled validation', () => {
  const big = (extra: Record<string, unknown> = {}) => spec({
    axes: [{ param: 'q', linspace: [0.01, 0.99, 200] }, { param: 'D', linspace: [0.5, 8, 200] }],
    derive: { 'rewards.0.center': '[-D/2]', 'rewards.1.center': '[D/2]' },
    ...extra,
  });
  const limits = { maxConfigs: 1_000_000, maxCostSeconds: 300 };

  test('a sweep above FULL_VALIDATION_MAX is checked on a deterministic sample with every corner', () => {
    const c = compileSweep(big());
    expect(c.total).toBeGreaterThan(FULL_VALIDATION_MAX);
    const a = sampleIndexes(c);
    expect(a).toEqual(sampleIndexes(c));
    expect(a.all).toEqual(expect.arrayContaining([0, 199, 39_800, 39_999]));
    expect(a.all.every((i, k) => Number.isInteger(i) && i >= 0 && i < c.total && (k === 0 || i > a.all[k - 1]))).toBe(true);
    expect(a.all.length).toBeLessThan(5000);
  });

  test('prices the sweep from the sample, close to the sum over every configuration', () => {
    const r = validateSweep(big(), limits);
    if (!r.ok) throw new Error('expected ok');
    expect(r.cost.sampled).toBeGreaterThan(0);
    expect(r.cost.perConfig).toBeUndefined();
    let sum = 0;
    for (let i = 0; i < r.compiled.total; i++) {
      const v = validateConfig(r.compiled.configAt(i), { checkValues: false, maxCostSeconds: Infinity });
      if (v.ok) sum += v.cost.seconds;
    }
    expect(r.cost.totalSeconds).toBeCloseTo(sum, 6);
    // Whole validation below the bound, as before.
    const whole = validateSweep(big(), { ...limits, fullValidationMax: 1_000_000 });
    if (!whole.ok) throw new Error('expected ok');
    expect(whole.cost.perConfig).toHaveLength(40_000);
  });

  test('a problem of every configuration is still reported once, at base; one of part of the sweep with its first index', () => {
    const everywhere = validateSweep(big({ base: { ...(spec().base as object), iterations: -1 } }), limits);
    expect(everywhere.ok).toBe(false);
    if (everywhere.ok) return;
    expect(everywhere.issues).toEqual([expect.objectContaining({ path: '/base/iterations' })]);
    // q above 1 in the upper third of its axis: found by the sample, counted among the checked.
    const corner = validateSweep(big({ axes: [{ param: 'q', linspace: [0.01, 1.5, 200] }, { param: 'D', linspace: [0.5, 8, 200] }] }), limits);
    expect(corner.ok).toBe(false);
    if (corner.ok) return;
    expect(corner.issues[0]).toMatchObject({ path: '/q', index: expect.any(Number) });
    expect(corner.issues[0].message).toMatch(/configurations checked/);
  });
});
