import { describe, expect, test } from 'vitest';
import {
  compileSweep, DEFAULT_SIZE_LIMITS, measureSpec, parseSpecText, SpecError, SpecTooLargeError, validateSweep,
} from '../src/index.ts';

function thrown(f: () => unknown): SpecError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return e as SpecError;
  }
  throw new Error('expected a SpecError');
}

const YAML_SPEC = `
name: q-vs-D
tags: [c4]
base:
  support: { kind: grid, min: -5, max: 5, n: 41 }
  rewards:
    - { kind: quadratic, center: -1 }
    - { kind: quadratic, center: 1 }
axes:
  - param: q
    values: [0.1, 0.3, 0.5]
  - param: D
    linspace: [1, 6, 11]
  - zip:
      - { param: K, values: [2, inf] }   # a bare inf is the string "inf"
      - { param: beta, values: [1, 4] }
  - { param: seed, replicates: 5 }
derive:
  rewards.0.center: "[-D/2]"
  rewards.1.center: "[D/2]"
`;

describe('parseSpecText', () => {
  test('YAML', () => {
    const v = parseSpecText(YAML_SPEC, 'yaml') as Record<string, unknown>;
    expect(v.name).toBe('q-vs-D');
    const c = compileSweep(v);
    expect(c.total).toBe(3 * 11 * 2 * 5);
    expect(c.paramsAt(5)).toEqual({ q: 0.1, D: 1, K: 'inf', beta: 4, seed: 0, 'rewards.0.center': [-0.5], 'rewards.1.center': [0.5] });
    expect((c.configAt(5) as { rewards: { center: number[] }[] }).rewards[0].center).toEqual([-0.5]);
  });

  test('JSON', () => {
    expect(parseSpecText('{"name": "x", "base": {}}', 'json')).toEqual({ name: 'x', base: {} });
  });

  test('JSON syntax error: line and column', () => {
    const e = thrown(() => parseSpecText('{\n  "name": "x",\n  "base": {,}\n}', 'json'));
    expect(e.issues).toHaveLength(1);
    expect(e.issues[0].path).toBe('');
    expect(e.issues[0].message).toMatch(/^JSON syntax error at line 3, column 12: /);
    expect(e.message).toBe(e.issues[0].message);
    expect(thrown(() => parseSpecText('', 'json')).message).toBe('JSON syntax error at line 1, column 1: expected a value: unexpected end of input');
    // V8 gives no position for these: the package finds it
    expect(thrown(() => parseSpecText('{"a":}', 'json')).message).toBe('JSON syntax error at line 1, column 6: unexpected character "}"');
    expect(thrown(() => parseSpecText('{\n  "a": tru }', 'json')).message).toBe('JSON syntax error at line 2, column 8: unexpected character "t"');
    expect(thrown(() => parseSpecText('{"a": 1} x', 'json')).message).toMatch(/line 1, column 10: unexpected text after the JSON value/);
    expect(thrown(() => parseSpecText('{"a":\n', 'json')).message).toMatch(/line 2, column 1/);
  });

  test('YAML syntax error: line and column', () => {
    const e = thrown(() => parseSpecText('name: x\nbase:\n  a: [1, 2\n  b: 3\n', 'yaml'));
    expect(e.issues[0].message).toMatch(/^YAML syntax error at line \d+, column \d+: /);
    const dup = thrown(() => parseSpecText('name: x\nname: y\n', 'yaml'));
    expect(dup.message).toMatch(/^YAML syntax error at line 2, column 1: Map keys must be unique/);
  });

  test('YAML alias bombs are refused', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 9; i++) bomb.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill('*' + String.fromCharCode(97 + i)).join(', ')}]`);
    expect(thrown(() => parseSpecText(bomb.join('\n'), 'yaml')).message).toMatch(/YAML/);
  });

  test('unknown format', () => {
    expect(thrown(() => parseSpecText('{}', 'toml' as 'json')).message).toMatch(/unknown specification format "toml"/);
  });
});

/** A spec whose base holds one list of `n` zeros under x0 and `aliases` aliases of it. */
function aliasBomb(n: number, aliases: number): string {
  const lines = [
    'name: bomb',
    'base:',
    '  support: {kind: grid, min: -3, max: 3, n: 61}',
    '  rewards: [{kind: quadratic, center: -1}, {kind: quadratic, center: 1}]',
    `  x0: &a [${new Array(n).fill(0).join(',')}]`,
  ];
  for (let i = 1; i <= aliases; i++) lines.push(`  x${i}: *a`);
  return lines.join('\n') + '\n';
}

function tooLarge(f: () => unknown): SpecTooLargeError {
  const e = thrown(f);
  expect(e).toBeInstanceOf(SpecTooLargeError);
  return e as SpecTooLargeError;
}

describe('size after parsing', () => {
  test('the issue\'s attack, one 200,000-element list reused by 99 aliases: refused before the YAML is parsed', () => {
    const text = aliasBomb(200_000, 99);
    expect(text.length).toBeGreaterThan(400_000);
    const e = tooLarge(() => parseSpecText(text, 'yaml'));
    expect(e.oversize).toEqual({
      limit: 'maxYamlItems', found: 200_109, max: 20_000, path: '',
      message: `the YAML text has 200109 items (commas and line breaks), more than the limit of 20000 for YAML; send a specification this large as JSON`,
    });
    // Past the YAML bound (here a smaller version of it), the bound on each list refuses it after parsing.
    const after = tooLarge(() => parseSpecText(aliasBomb(2_000, 99), 'yaml', { ...DEFAULT_SIZE_LIMITS, maxListLength: 1_000 }));
    expect(after.oversize).toEqual({
      limit: 'maxListLength', found: 2_000, max: 1_000, path: '/base/x0',
      message: 'a list of 2000 elements, more than the limit of 1000 per list',
    });
    expect(after.issues).toEqual([{ path: '/base/x0', message: after.oversize.message }]);
  });

  test('lists within the limit multiplied by aliases: refused by the expanded count, wherever the aliases are', () => {
    const e = tooLarge(() => parseSpecText(aliasBomb(2_000, 99), 'yaml', { ...DEFAULT_SIZE_LIMITS, maxNodes: 100_000 }));
    expect(e.oversize).toMatchObject({ limit: 'maxNodes', max: 100_000, found: 100_001 });
    expect(e.oversize.path).toMatch(/^\/base\/x\d+\/\d+$/);
    expect(e.message).toBe('the specification expands to more than 100000 values (aliases counted at every use), the limit');
    // The same document without aliases is what JSON.stringify would have made of it: 198,000 values.
    expect(measureSpec(parseSpecText(aliasBomb(2_000, 99), 'yaml'))).toBeNull();
  });

  test('a long string reused by aliases (the yaml library does not count scalar aliases): refused by bytes', () => {
    const text = `name: s\nbase:\n  a: &s "${'x'.repeat(200_000)}"\n${Array.from({ length: 60 }, (_, i) => `  b${i}: *s`).join('\n')}\n`;
    const e = tooLarge(() => parseSpecText(text, 'yaml'));
    expect(e.oversize).toMatchObject({ limit: 'maxBytes', max: 10 * 1024 * 1024 });
    expect(e.oversize.found).toBeGreaterThan(10 * 1024 * 1024);
  });

  test('JSON bodies have the same bounds (no aliases, but lists and totals)', () => {
    const list = JSON.stringify({ name: 'j', base: { v: new Array(100_001).fill(1) } });
    expect(tooLarge(() => parseSpecText(list, 'json')).oversize).toMatchObject({ limit: 'maxListLength', found: 100_001, path: '/base/v' });
    const small = { ...DEFAULT_SIZE_LIMITS, maxBytes: 1000, maxNodes: 50, maxListLength: 10 };
    expect(tooLarge(() => parseSpecText(JSON.stringify({ a: 'x'.repeat(2000) }), 'json', small)).oversize).toMatchObject({ limit: 'maxBytes', path: '/a' });
    expect(tooLarge(() => parseSpecText(JSON.stringify({ a: [[1, 2, 3], [4, 5, 6]], b: new Array(9).fill({ c: [1, 2, 3, 4] }) }), 'json', small)).oversize)
      .toMatchObject({ limit: 'maxNodes', found: 51 });
  });

  test('exactly at the limits is accepted; the measure counts every value once per use', () => {
    const limits = { ...DEFAULT_SIZE_LIMITS, maxBytes: 10_000, maxNodes: 12, maxListLength: 3 };
    // root, a, [1,2,3] (4), b -> the same list again (4), c: 1 node... = 1 + 4 + 4 + 1 = 10 with the object b, 11 with c
    const shared = [1, 2, 3];
    expect(measureSpec({ a: shared, b: shared, c: 'x' }, limits)).toBeNull();
    expect(measureSpec({ a: shared, b: shared, c: shared }, limits)).toMatchObject({ limit: 'maxNodes', found: 13 });
    expect(measureSpec([1, 2, 3, 4], limits)).toMatchObject({ limit: 'maxListLength', found: 4, path: '' });
    // {"a":"é","b":[true,false,null,-1.5e-7]} is 39 characters.
    const doc = { a: 'é', b: [true, false, null, -1.5e-7] };
    expect(JSON.stringify(doc)).toHaveLength(39);
    expect(measureSpec(doc, { ...DEFAULT_SIZE_LIMITS, maxBytes: 39 })).toBeNull();
    expect(measureSpec(doc, { ...DEFAULT_SIZE_LIMITS, maxBytes: 38 })).toMatchObject({ limit: 'maxBytes', found: 39 });
  });

  test('validateSweep applies the same bounds (for callers that did not parse text)', () => {
    const spec = { name: 'v', base: { support: { kind: 'grid', min: -1, max: 1, n: 11 }, rewards: [{ kind: 'quadratic', center: -1 }, { kind: 'quadratic', center: 1 }], iterations: 5 }, axes: [{ param: 'q', values: [0.1, 0.2, 0.3, 0.4] }] };
    const r = validateSweep(spec, { maxConfigs: 100, maxCostSeconds: 300, specSize: { ...DEFAULT_SIZE_LIMITS, maxListLength: 3 } });
    expect(r).toEqual({ ok: false, issues: [{ path: '/axes/0/values', message: 'a list of 4 elements, more than the limit of 3 per list' }] });
    expect(validateSweep(spec).ok).toBe(true);
  });
});
