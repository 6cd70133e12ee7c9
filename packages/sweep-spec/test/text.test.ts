import { describe, expect, test } from 'vitest';
import { compileSweep, parseSpecText, SpecError } from '../src/index.ts';

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
    expect(c.paramsAt(5)).toEqual({ q: 0.1, D: 1, K: 'inf', beta: 4, seed: 0 });
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
