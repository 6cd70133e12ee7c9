// What a user sees for the usual mistakes: each problem at its place in the spec, with
// the fix when there is a likely one. Whole messages, path included.
import { describe, expect, test } from 'vitest';
import { closestName, editDistance, parseSpecText, SpecError, specVariables, validateSweep, compileSweep, type SpecIssue } from '../src/index.ts';
import { spec } from './helpers.ts';

/** The q x D example of the README, as a user would start from it. */
const EXAMPLE = `name: q-vs-D
base:
  support: { kind: grid, min: -12, max: 12, n: 481 }
  rewards:
    - { kind: quadratic, center: 0 }
    - { kind: quadratic, center: 0 }
  K: inf
  iterations: 400
axes:
  - { param: q, values: [0.1, 0.3, 0.5] }
  - { param: D, linspace: [1, 6, 6] }
derive:
  rewards.0.center: "[-D/2]"
  rewards.1.center: "[D/2]"
`;

function issuesOf(yaml: string): SpecIssue[] {
  const r = validateSweep(parseSpecText(yaml, 'yaml'));
  if (r.ok) throw new Error('expected the spec to be refused');
  return r.issues;
}

function syntaxError(yaml: string): string {
  try {
    parseSpecText(yaml, 'yaml');
  } catch (e) {
    if (e instanceof SpecError) return e.message;
    throw e;
  }
  throw new Error('expected a syntax error');
}

describe('spec errors point at the mistake and name the fix', () => {
  test('the unchanged example is valid', () => {
    expect(validateSweep(parseSpecText(EXAMPLE, 'yaml')).ok).toBe(true);
  });

  test('a misspelt field of base: once, at /base/..., with the closest field', () => {
    expect(issuesOf(EXAMPLE.replace('iterations: 400', 'iteration: 400'))).toEqual([
      { path: '/base/iteration', message: 'unknown field "iteration" (did you mean "iterations"?)' },
    ]);
  });

  test('a misspelt field inside a reward of base: the fields of that reward kind are the candidates', () => {
    expect(issuesOf(EXAMPLE.replace('- { kind: quadratic, center: 0 }', '- { kind: quadratic, center: 0, sacle: 2 }'))).toEqual([
      { path: '/base/rewards/0/sacle', message: 'unknown field "sacle" (did you mean "scale"?)' },
    ]);
  });

  test('a problem at a path an axis or derive sets stays per configuration', () => {
    expect(issuesOf(EXAMPLE.replace('center: "[-D/2]"', 'center: "[-D/2, 1]"'))).toEqual([
      { path: '/rewards/0/center', index: 0, message: 'must have 1 entries (got 2) (in 18 configurations, first index 0)' },
    ]);
  });

  test('a base problem in only some configurations keeps the configuration index', () => {
    const s = spec({ axes: [{ param: 'support.n', values: [41, 42] }] });
    (s.base as Record<string, unknown>).init = { kind: 'table', values: new Array(41).fill(1) };
    const r = validateSweep(s);
    expect(r.ok ? [] : r.issues).toEqual([{ path: '/init/values', index: 1, message: 'must have one entry per atom: 42 (got 41)' }]);
  });

  test('a misspelt axis kind: named first, with the kind meant', () => {
    expect(issuesOf(EXAMPLE.replace('linspace: [1, 6, 6]', 'linespace: [1, 6, 6]'))).toEqual([
      { path: '/axes/1/linespace', message: 'unknown axis kind "linespace" (did you mean "linspace"?)' },
    ]);
  });

  test('an axis kind nothing resembles: what an axis needs, and what was found', () => {
    expect(issuesOf(EXAMPLE.replace('linspace: [1, 6, 6]', 'range: [1, 6]'))).toEqual([
      { path: '/axes/1', message: 'an axis needs a param with one of values, linspace, logspace, replicates, or a zip or random block; found "range"' },
    ]);
  });

  test('a misspelt top-level field, field of an axis and distribution', () => {
    expect(issuesOf(EXAMPLE.replace('derive:', 'derives:'))[0]).toEqual({ path: '/derives', message: 'unknown field "derives" (did you mean "derive"?)' });
    expect(issuesOf(EXAMPLE.replace('- { param: q, values: [0.1, 0.3, 0.5] }', '- { param: q, values: [0.1, 0.3, 0.5], parm: x }'))).toEqual([
      { path: '/axes/0/parm', message: 'unknown field "parm" (did you mean "param"?)' },
    ]);
    expect(issuesOf(EXAMPLE.replace('- { param: q, values: [0.1, 0.3, 0.5] }', '- { random: { n: 2, seed: 1, params: { q: { unifrom: [0.1, 0.9] } } } }'))).toEqual([
      { path: '/axes/0/random/params/q/unifrom', message: 'unknown distribution "unifrom" (did you mean "uniform"?)' },
    ]);
  });

  test('a misspelt configuration field in derive', () => {
    expect(issuesOf(EXAMPLE.replace('rewards.1.center', 'reward.1.center'))).toEqual([
      { path: '/derive/reward.1.center', message: `derive sets configuration fields: 'reward' is not one (did you mean "rewards"?)` },
    ]);
  });

  test('YAML [0.3 0.5] (no comma) is one string, and the message shows it', () => {
    expect(issuesOf(EXAMPLE.replace('values: [0.1, 0.3, 0.5]', 'values: [0.3 0.5]'))).toEqual([
      { path: '/q', index: 0, message: 'must be a number (got string "0.3 0.5") (in 6 configurations, first index 0)' },
    ]);
    expect(issuesOf(EXAMPLE.replace('K: inf', 'K: inf\n  beta: [2 3]'))).toEqual([
      { path: '/base/beta', message: 'must be a number (got array)' },
    ]);
  });

  test('a YAML syntax error gives the line, the column, the reason and the lines around it with a caret', () => {
    expect(syntaxError('name: x\nbase:\n  a: [1, 2\nb: 3\n')).toBe(
      'YAML syntax error at line 4, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]\n' +
      '      a: [1, 2\n' +
      '    b: 3\n' +
      '    ^',
    );
  });
});

describe('closestName', () => {
  test('edit distance counts a transposition as one edit', () => {
    expect(editDistance('linespace', 'linspace')).toBe(1);
    expect(editDistance('cetner', 'center')).toBe(1);
    expect(editDistance('abc', 'abc')).toBe(0);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  test('suggests only close names; ties go to the first candidate; case is free', () => {
    expect(closestName('iteration', ['seed', 'iterations', 'q'])).toBe('iterations');
    expect(closestName('Beta', ['beta', 'eta'])).toBe('beta');
    expect(closestName('xyz', ['beta', 'q', 'K'])).toBeUndefined();
    expect(closestName('x', ['q', 'K'])).toBeUndefined();
    expect(closestName('bat', ['bet', 'bot'])).toBe('bet');
  });
});

describe('specVariables', () => {
  test('the axis variables in the order compileSweep gives them', () => {
    const s = spec({
      axes: [
        { param: 'q', values: [0.2, 0.4] },
        { zip: [{ param: 'beta', values: [1, 2] }, { param: 'D', values: [1, 2] }] },
        { random: { n: 2, seed: 3, params: { seed: { randint: [0, 9] }, K: { choice: [2, 4] } } } },
      ],
      derive: { 'rewards.1.center': 'D' },
    });
    expect(specVariables(s)).toEqual(['q', 'beta', 'D', 'K', 'seed']);
    expect(specVariables(s)).toEqual(compileSweep(s).variables);
    expect(specVariables(null)).toEqual([]);
    expect(specVariables({ axes: [3, { zip: 'x' }] })).toEqual([]);
  });
});
