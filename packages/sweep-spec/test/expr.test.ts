import { describe, expect, test } from 'vitest';
import { compileExpression, ExprError, type ExprScope } from '../src/expr.ts';
import { compileSweep, SpecError } from '../src/index.ts';
import { spec } from './helpers.ts';

function scopeOf(vars: Record<string, unknown>): { scope: ExprScope; vals: unknown[] } {
  const names = Object.keys(vars);
  const map = new Map(names.map((n, i) => [n, i]));
  return {
    scope: {
      lookup: (n) => map.get(n),
      isNumeric: (s) => typeof vars[names[s]] === 'number',
      names: () => names,
    },
    vals: names.map((n) => vars[n]),
  };
}

function ev(src: string, vars: Record<string, unknown> = {}): unknown {
  const { scope, vals } = scopeOf(vars);
  return compileExpression(src, scope).evaluate(vals);
}

function err(src: string, vars: Record<string, unknown> = {}): ExprError {
  try {
    ev(src, vars);
  } catch (e) {
    expect(e).toBeInstanceOf(ExprError);
    return e as ExprError;
  }
  throw new Error(`expected ${src} to fail`);
}

describe('derive expressions: evaluation', () => {
  test('numbers and arithmetic', () => {
    expect(ev('1 + 2')).toBe(3);
    expect(ev('7 - 2 - 1')).toBe(4); // left-associative
    expect(ev('8 / 4 / 2')).toBe(1);
    expect(ev('2.5e1 * .5')).toBe(12.5);
    expect(ev('1e-3')).toBe(0.001);
  });

  test('precedence and parentheses', () => {
    expect(ev('1 + 2 * 3')).toBe(7);
    expect(ev('(1 + 2) * 3')).toBe(9);
    expect(ev('2 * 3 ^ 2')).toBe(18);
    expect(ev('10 - 4 / 2')).toBe(8);
  });

  test('unary minus', () => {
    expect(ev('-3')).toBe(-3);
    expect(ev('--3')).toBe(3);
    expect(ev('-D/2', { D: 4 })).toBe(-2);
    expect(ev('2 * -3')).toBe(-6);
    expect(ev('-2 ^ 2')).toBe(-4); // power binds tighter than unary minus
    expect(ev('(-2) ^ 2')).toBe(4);
    expect(ev('2 ^ -1')).toBe(0.5);
    expect(ev('+3')).toBe(3);
  });

  test('power is right-associative; ** is a synonym', () => {
    expect(ev('2 ^ 3 ^ 2')).toBe(512);
    expect(ev('2 ** 3 ** 2')).toBe(512);
    expect(ev('(2 ^ 3) ^ 2')).toBe(64);
  });

  test('arrays', () => {
    expect(ev('[-D/2]', { D: 3 })).toEqual([-1.5]);
    expect(ev('[1, 2 + 3, x]', { x: 7 })).toEqual([1, 5, 7]);
    expect(ev('[[0, 1], [2, x]]', { x: 3 })).toEqual([[0, 1], [2, 3]]);
  });

  test('functions and constants', () => {
    expect(ev('sqrt(16)')).toBe(4);
    expect(ev('exp(0) + log(e)')).toBe(2);
    expect(ev('log10(1000)')).toBe(3);
    expect(ev('abs(-2)')).toBe(2);
    expect(ev('min(3, 1, 2)')).toBe(1);
    expect(ev('max(3, 1, 2)')).toBe(3);
    expect(ev('pow(2, 10)')).toBe(1024);
    expect(ev('floor(2.7) + ceil(2.1) + round(2.5)')).toBe(8);
    expect(ev('sin(0) + cos(0)')).toBe(1);
    expect(ev('tanh(0)')).toBe(0);
    expect(ev('pi')).toBe(Math.PI);
    expect(ev('2 * pi * r', { r: 1 })).toBe(2 * Math.PI);
  });

  test('dotted identifiers name axis variables', () => {
    expect(ev('init.sd * 2', { 'init.sd': 0.25 })).toBe(0.5);
    expect(ev('rewards.1.scale + 1', { 'rewards.1.scale': 2 })).toBe(3);
  });
});

describe('derive expressions: errors', () => {
  test('syntax errors carry the position', () => {
    const e1 = err('[-D/2', { D: 1 });
    expect(e1.pos).toBe(5);
    expect(e1.message).toMatch(/expected '\]'.*position 6/);
    const e2 = err('1 + * 2');
    expect(e2.pos).toBe(4);
    expect(e2.message).toContain('position 5');
    expect(err('(1 + 2').message).toMatch(/expected '\)'/);
    expect(err('1 2').message).toMatch(/unexpected '2' at position 3/);
    expect(err('1 + $').message).toMatch(/unexpected character "\$" at position 5/);
    expect(err('').message).toMatch(/empty expression/);
    expect(err('[]').message).toMatch(/empty array/);
  });

  test('unknown identifiers and functions', () => {
    const e = err('Dx + 1', { D: 1 });
    expect(e.message).toMatch(/unknown identifier 'Dx' \(axis variables: D; constants: pi, e\) at position 1/);
    expect(err('1 + foo(2)').message).toMatch(/unknown function 'foo'.*at position 5/);
    expect(err('sqrt + 1').message).toMatch(/'sqrt' is a function/);
    expect(err('pow(1)').message).toMatch(/pow\(\) takes 2 arguments, got 1/);
    expect(err('sqrt()').message).toMatch(/sqrt\(\) takes 1 argument, got 0/);
  });

  test('arrays cannot be used in arithmetic; non-numeric variables refused', () => {
    expect(err('[1] + 1').message).toMatch(/array cannot be/);
    expect(err('sqrt([4])').message).toMatch(/array cannot be/);
    expect(err('-[1]').message).toMatch(/array cannot be/);
    expect(err('m + 1', { m: 'exact' }).message).toMatch(/non-numeric/);
  });

  test('JavaScript object internals are unreachable', () => {
    for (const name of ['constructor', '__proto__', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'this', 'globalThis', 'process']) {
      expect(err(name).message).toMatch(/unknown identifier/);
      expect(err(`${name}(1)`).message).toMatch(/unknown function/);
    }
    expect(err('constructor.constructor').message).toMatch(/unknown identifier 'constructor.constructor'/);
    expect(err('x.constructor', { x: 1 }).message).toMatch(/unknown identifier 'x.constructor'/);
    expect(err('min.call(1)').message).toMatch(/unknown function 'min.call'/);
    expect(err('"a"').message).toMatch(/unexpected character/);
    expect(err('x[0]', { x: 1 }).message).toMatch(/unexpected '\['/);
  });

  test('deep nesting and long expressions are refused, not a stack overflow', () => {
    expect(err('('.repeat(5000) + '1' + ')'.repeat(5000)).message).toMatch(/longer than|nested too deeply/);
    expect(err('('.repeat(150) + '1' + ')'.repeat(150)).message).toMatch(/nested too deeply/);
    expect(err('-'.repeat(150) + '1').message).toMatch(/nested too deeply/);
  });
});

describe('derive in a sweep', () => {
  test('errors are reported at /derive/<key> with the position', () => {
    const s = spec({
      axes: [{ param: 'D', values: [1, 2] }],
      derive: { 'rewards.0.center': '[-D/2', 'rewards.1.center': '[Dx]', 'rewards.0.scale': 'foo(D)' },
    });
    let caught: unknown;
    try {
      compileSweep(s);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(SpecError);
    const issues = (caught as SpecError).issues;
    expect(issues).toEqual([
      { path: '/derive/rewards.0.center', message: expect.stringMatching(/expected '\]'.*at position 6 in "\[-D\/2"/) },
      { path: '/derive/rewards.1.center', message: expect.stringMatching(/unknown identifier 'Dx'.*at position 2/) },
      { path: '/derive/rewards.0.scale', message: expect.stringMatching(/unknown function 'foo'.*at position 1/) },
    ]);
  });

  test('derive applies after axes and may read config-path axis variables', () => {
    const c = compileSweep(
      spec({
        axes: [{ param: 'rewards.0.scale', values: [2, 3] }, { param: 'D', values: [4] }],
        derive: { 'rewards.1.scale': 'rewards.0.scale * 10', 'rewards.1.center': '[D/2]', 'rewards.0.center': '-D/2' },
      }),
    );
    const cfg = c.configAt(1) as { rewards: Record<string, unknown>[] };
    expect(cfg.rewards[0]).toEqual({ kind: 'quadratic', center: -2, scale: 3 });
    expect(cfg.rewards[1]).toEqual({ kind: 'quadratic', center: [2], scale: 30 });
    // a run's params name every value the sweep chose: the axis variables, then the derived ones in derive order
    expect(c.paramsAt(1)).toEqual({ 'rewards.0.scale': 3, D: 4, 'rewards.1.scale': 30, 'rewards.1.center': [2], 'rewards.0.center': -2 });
    expect(Object.keys(c.paramsAt(1))).toEqual(['rewards.0.scale', 'D', 'rewards.1.scale', 'rewards.1.center', 'rewards.0.center']);
  });

  test('a derive result that is not finite is a per-configuration SpecError with index', () => {
    const c = compileSweep(spec({ axes: [{ param: 'D', values: [1, 0] }], derive: { 'rewards.0.scale': '1 / D' } }));
    expect((c.configAt(0) as { rewards: { scale: number }[] }).rewards[0].scale).toBe(1);
    expect(() => c.paramsAt(1)).toThrow(SpecError);
    try {
      c.configAt(1);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(SpecError);
      expect((e as SpecError).issues).toEqual([
        { path: '/derive/rewards.0.scale', index: 1, message: 'gives Infinity, not a finite number, at D=0' },
      ]);
    }
  });

  test('derive targets must be configuration paths, not axis params, not overlapping', () => {
    const issuesOf = (s: unknown) => {
      try {
        compileSweep(s);
      } catch (e) {
        return (e as SpecError).issues;
      }
      return [];
    };
    expect(issuesOf(spec({ axes: [{ param: 'D', values: [1] }], derive: { foo: 'D' } }))).toEqual([
      { path: '/derive/foo', message: expect.stringMatching(/'foo' is not one/) },
    ]);
    expect(issuesOf(spec({ axes: [{ param: 'q', values: [0.1] }], derive: { q: '0.2 + q' } }))).toEqual([
      { path: '/derive/q', message: expect.stringMatching(/also varied by \/axes\/0\/param/) },
    ]);
    expect(issuesOf(spec({ axes: [{ param: 'rewards.0.center', values: [1] }], derive: { rewards: '[1]' } }))).toEqual([
      { path: '/axes/0/param', message: expect.stringMatching(/'rewards.0.center' lies inside 'rewards', which \/derive\/rewards also sets/) },
    ]);
    expect(issuesOf(spec({ derive: { 'q.x': '1' } }))[0].message).toMatch(/base.q is the number 0.5, not an object/);
    expect(issuesOf(spec({ derive: { q: '' } }))[0].message).toMatch(/non-empty string/);
    expect(issuesOf(spec({ derive: { q: 5 } }))[0].message).toMatch(/must be a non-empty string, got the number 5/);
  });
});
