import { describe, expect, test } from 'vitest';
import { validateConfig } from '@curation/core';
import { DEFAULT_LIMITS, validateSweep, type SpecIssue } from '../src/index.ts';
import { spec } from './helpers.ts';

function issues(r: ReturnType<typeof validateSweep>): SpecIssue[] {
  if (r.ok) throw new Error('expected ok: false');
  return r.issues;
}

describe('validateSweep', () => {
  test('DEFAULT_LIMITS', () => {
    expect(DEFAULT_LIMITS).toEqual({ maxConfigs: 1_000_000, maxCostSeconds: 300 });
  });

  test('a valid sweep: compiled expansion and cost totals', () => {
    const s = spec({ axes: [{ param: 'q', values: [0.2, 0.4] }, { param: 'D', values: [1, 2, 3] }], derive: { 'rewards.1.center': 'D' } });
    const r = validateSweep(s, DEFAULT_LIMITS);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.compiled.total).toBe(6);
    let max = 0;
    let sum = 0;
    for (let i = 0; i < 6; i++) {
      const v = validateConfig(r.compiled.configAt(i));
      if (!v.ok) throw new Error('config should be valid');
      max = Math.max(max, v.cost.seconds);
      sum += v.cost.seconds;
    }
    expect(r.cost.maxSeconds).toBe(max);
    expect(r.cost.totalSeconds).toBeCloseTo(sum, 12);
  });

  test('structural problems come back as issues', () => {
    expect(issues(validateSweep({ name: 'x', base: {}, axes: 3 }, DEFAULT_LIMITS))).toEqual([
      { path: '/axes', message: 'axes must be a list, got the number 3' },
    ]);
  });

  test('more configurations than maxConfigs is refused with the total and the limit', () => {
    const s = spec({ axes: [{ param: 'seed', replicates: 1000 }, { param: 'q', linspace: [0.1, 0.9, 101] }] });
    expect(issues(validateSweep(s, { maxConfigs: 100_000, maxCostSeconds: 300 }))).toEqual([
      { path: '/axes', message: 'the sweep expands to 101000 configurations, more than the limit of 100000' },
    ]);
    expect(validateSweep(s, { maxConfigs: 101_000, maxCostSeconds: 300 }).ok).toBe(true);
  });

  test('an invalid configuration is refused with its index, path and reason', () => {
    const s = spec({ axes: [{ param: 'q', values: [0.5, 0.7] }, { param: 'K', values: [2, 1] }] });
    expect(issues(validateSweep(s, DEFAULT_LIMITS))).toEqual([
      { path: '/K', index: 1, message: 'must be >= 2 (got 1) (in 2 configurations, first index 1)' },
    ]);
    const one = spec({ axes: [{ param: 'q', values: [0.5, 1.5] }] });
    expect(issues(validateSweep(one, DEFAULT_LIMITS))).toEqual([{ path: '/q', index: 1, message: expect.stringMatching(/^must be < 1 \(got 1.5\)$/) }]);
  });

  test('identical problems collapse; at most 20 issues', () => {
    const s = spec({ axes: [{ param: 'K', values: [1] }, { param: 'seed', replicates: 300 }] });
    expect(issues(validateSweep(s, DEFAULT_LIMITS))).toEqual([
      { path: '/K', index: 0, message: 'must be >= 2 (got 1) (in 300 configurations, first index 0)' },
    ]);
    // 50 distinct messages (the value differs): 19 shown + a summary
    const many = spec({ axes: [{ param: 'q', linspace: [1.1, 6, 50] }] });
    const iss = issues(validateSweep(many, DEFAULT_LIMITS));
    expect(iss).toHaveLength(20);
    expect(iss.slice(0, 19).every((x) => x.path === '/q' && typeof x.index === 'number')).toBe(true);
    expect(iss[0]).toEqual({ path: '/q', index: 0, message: 'must be < 1 (got 1.1)' });
    expect(iss[19]).toEqual({ path: '', message: '31 more distinct problems not shown' });
  });

  test('derive giving a non-finite value is reported per configuration', () => {
    const s = spec({ axes: [{ param: 'D', values: [2, 0, 0] }], derive: { 'rewards.0.scale': '1 / D' } });
    expect(issues(validateSweep(s, DEFAULT_LIMITS))).toEqual([
      { path: '/derive/rewards.0.scale', index: 1, message: 'gives Infinity, not a finite number, at D=0 (in 2 configurations, first index 1)' },
    ]);
  });

  test('maxCostSeconds is passed to the core', () => {
    const s = spec({ axes: [{ param: 'iterations', values: [10, 100000] }] });
    expect(validateSweep(s, { maxConfigs: 10, maxCostSeconds: 1e9 }).ok).toBe(true);
    const iss = issues(validateSweep(s, { maxConfigs: 10, maxCostSeconds: 1e-9 }));
    expect(iss.length).toBeGreaterThan(0);
    expect(iss[0].index).toBe(0);
  });

  test('unused free variable refused', () => {
    expect(issues(validateSweep(spec({ axes: [{ param: 'D', values: [1] }] }), DEFAULT_LIMITS))).toEqual([
      { path: '/axes/0/param', message: expect.stringMatching(/^'D' is not a configuration field, so it is a free variable, and no derive expression uses it \(a typo\? configuration fields: support, .*\)$/) },
    ]);
  });

  test('100,000 configurations compile, expand and validate', () => {
    const s = spec({
      axes: [
        { param: 'q', linspace: [0.01, 0.99, 100] },
        { param: 'beta', logspace: [0.1, 10, 100] },
        { param: 'seed', replicates: 10 },
      ],
      derive: { 'rewards.0.center': '[-beta/2]' },
    });
    const r = validateSweep(s, DEFAULT_LIMITS);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.compiled.total).toBe(100_000);
  });
});
