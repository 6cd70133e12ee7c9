import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { CORE_VERSION, simulate } from '../src/index.ts';

// Copied from the shared contract folder so that the tests run in any clone.
const GOLDEN = new URL('./golden', import.meta.url).pathname;
export const GOLDEN_NAMES = ['a-two-rewards-inf', 'b-finite-K5-real', 'c-one-reward-2d'];
/** Top-level fields the golden files do not pin down (the implementation's own version and representation). */
const NOT_COMPARED = ['coreVersion', 'config', 'generator'];

/** Field-by-field comparison with the golden tolerance; returns the mismatches. */
export function compareToGolden(actual: unknown, expected: unknown, path = ''): string[] {
  if (typeof expected === 'number') {
    if (typeof actual !== 'number') return [`${path}: expected a number, got ${JSON.stringify(actual)}`];
    const d = Math.abs(actual - expected);
    return d <= 1e-12 || d <= 1e-9 * Math.abs(expected) ? [] : [`${path}: ${actual} vs ${expected}`];
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return [`${path}: array length differs`];
    return expected.flatMap((x, i) => compareToGolden(actual[i], x, `${path}/${i}`));
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object') return [`${path}: expected an object`];
    const a = actual as Record<string, unknown>;
    const e = expected as Record<string, unknown>;
    const keys = new Set([...Object.keys(e), ...Object.keys(a)]);
    for (const k of NOT_COMPARED) keys.delete(k);
    return [...keys].flatMap((k) => (k in e ? compareToGolden(a[k], e[k], `${path}/${k}`) : [`${path}/${k}: unexpected field`]));
  }
  return actual === expected ? [] : [`${path}: ${JSON.stringify(actual)} vs ${JSON.stringify(expected)}`];
}

function keyPaths(v: unknown, path = ''): string[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => keyPaths(x, `${path}/${i}`));
  if (v !== null && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => [`${path}/${k}`, ...keyPaths(x, `${path}/${k}`)]);
  return [];
}

describe('golden outputs of an independent implementation', () => {
  for (const name of GOLDEN_NAMES) {
    it(`${name} agrees field by field`, () => {
      const config = JSON.parse(readFileSync(`${GOLDEN}/${name}.json`, 'utf8'));
      const expected = JSON.parse(readFileSync(`${GOLDEN}/${name}.expected.json`, 'utf8'));
      const out = simulate(config, { includeDistribution: true });
      expect(compareToGolden(JSON.parse(JSON.stringify(out)), expected)).toEqual([]);
      expect(out.generator).toBeNull();
      expect(out.contract).toBe(2);
      expect(out.coreVersion).toBe(CORE_VERSION);
    });

    it(`${name}: the config as run has the golden shape and, fed back, gives the same output`, () => {
      const config = JSON.parse(readFileSync(`${GOLDEN}/${name}.json`, 'utf8'));
      const expected = JSON.parse(readFileSync(`${GOLDEN}/${name}.expected.json`, 'utf8'));
      const out = JSON.parse(JSON.stringify(simulate(config, { includeDistribution: true })));
      // Same keys in the same order at every level, same values (the golden writes 1.0 where we write 1).
      expect(keyPaths(out.config)).toEqual(keyPaths(expected.config));
      expect(compareToGolden(out.config, expected.config)).toEqual([]);
      const again = JSON.parse(JSON.stringify(simulate(out.config, { includeDistribution: true })));
      expect(again).toEqual(out);
    });
  }

  it('the comparison itself detects a perturbation', () => {
    const expected = JSON.parse(readFileSync(`${GOLDEN}/a-two-rewards-inf.expected.json`, 'utf8'));
    const broken = JSON.parse(JSON.stringify(expected));
    broken.summary.final.mass[0] *= 1 + 1e-8;
    broken.summary.audit.disjoint = false;
    broken.trajectory[3].shareStep = null;
    broken.coordinates[5][0] += 1e-6;
    expect(compareToGolden(broken, expected)).toHaveLength(4);
  });
});
