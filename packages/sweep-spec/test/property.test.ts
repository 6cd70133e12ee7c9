import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { compileSweep, parseSpecText, SpecError, validateSweep } from '../src/index.ts';
import { findJsonError } from '../src/text.ts';
import { baseConfig } from './helpers.ts';

const param = fc.oneof(
  fc.constantFrom('q', 'K', 'beta', 'D', 'seed', 'iterations', 'rewards.0.scale', 'rewards.1.center', 'rewards.5.center', 'init.sd', 'support.n', 'support.n.0', '__proto__', 'constructor', 'toString', 'e', 'pi', 'a..b', '', 'rewards.x'),
  fc.string({ maxLength: 6 }),
  fc.anything({ maxDepth: 1 }),
);

const expression = fc
  .array(fc.constantFrom('D', 'q', 'beta', '1', '0', '2.5', '1e400', '+', '-', '*', '/', '^', '**', '(', ')', '[', ']', ',', 'sqrt', 'min', 'pi', 'e', 'constructor', '__proto__', ' ', '$', 'rewards.0.scale'), { maxLength: 12 })
  .map((t) => t.join(''));

const scalarish = fc.oneof(fc.double(), fc.integer({ min: -3, max: 10 }), fc.string({ maxLength: 3 }), fc.boolean(), fc.constant(null), fc.constant('inf'));
const list = (min = 0) => fc.array(scalarish, { minLength: min, maxLength: 4 });
const triple = fc.oneof(fc.tuple(fc.double({ min: -5, max: 5 }), fc.double({ min: -5, max: 5 }), fc.integer({ min: -1, max: 6 })), list());

const simpleAxis = fc.oneof(
  fc.record({ param, values: fc.oneof(list(), scalarish) }),
  fc.record({ param, linspace: triple }),
  fc.record({ param, logspace: triple }),
  fc.record({ param, replicates: fc.oneof(fc.integer({ min: -2, max: 6 }), fc.double(), fc.string()) }),
);

const distribution = fc.oneof(
  fc.record({ uniform: fc.oneof(fc.tuple(fc.double(), fc.double()), list()) }),
  fc.record({ loguniform: fc.oneof(fc.tuple(fc.double({ min: -1, max: 10 }), fc.double({ min: -1, max: 10 })), list()) }),
  fc.record({ choice: list() }),
  fc.record({ randint: fc.oneof(fc.tuple(fc.integer({ min: -5, max: 5 }), fc.integer({ min: -5, max: 5 })), list()) }),
  fc.anything({ maxDepth: 1 }),
);

const axis = fc.oneof(
  simpleAxis,
  fc.record({ zip: fc.oneof(fc.array(simpleAxis, { maxLength: 3 }), fc.anything({ maxDepth: 1 })) }),
  fc.record({
    random: fc.record(
      {
        n: fc.oneof(fc.integer({ min: -1, max: 5 }), fc.double()),
        seed: fc.oneof(fc.integer(), fc.double(), fc.string()),
        params: fc.oneof(fc.dictionary(fc.oneof(fc.string({ maxLength: 5 }), fc.constantFrom('q', 'beta', 'D', '__proto__')), distribution, { maxKeys: 3 }), fc.anything({ maxDepth: 1 })),
      },
      { requiredKeys: [] },
    ),
  }),
  // several kinds at once, unknown fields
  fc.record({ param, values: list(), linspace: triple }),
  fc.record({ param, values: list(1), extra: fc.anything({ maxDepth: 1 }) }),
  fc.anything({ maxDepth: 2 }),
);

const w = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });

// Mostly well-formed, so that the deeper checks (paths, derive, expansion) are reached.
const goodParam = fc.constantFrom('q', 'K', 'beta', 'D', 'seed', 'iterations', 'rewards.0.scale', 'rewards.1.center', 'support.n', 'eps');
const goodAxis = fc.oneof(
  fc.record({ param: goodParam, values: fc.array(fc.oneof(fc.double({ min: -2, max: 10, noNaN: true }), fc.integer({ min: 0, max: 5 }), fc.constant('inf')), { minLength: 1, maxLength: 3 }) }),
  fc.record({ param: goodParam, linspace: fc.tuple(fc.double({ min: -2, max: 2, noNaN: true }), fc.double({ min: -2, max: 2, noNaN: true }), fc.integer({ min: 1, max: 4 })) }),
  fc.record({ param: goodParam, logspace: fc.tuple(fc.double({ min: 0.01, max: 5, noNaN: true }), fc.double({ min: 0.01, max: 5, noNaN: true }), fc.integer({ min: 1, max: 4 })) }),
  fc.record({ param: goodParam, replicates: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ zip: fc.array(fc.record({ param: goodParam, replicates: fc.integer({ min: 2, max: 3 }) }), { minLength: 1, maxLength: 2 }) }),
  fc.record({ random: fc.record({ n: fc.integer({ min: 1, max: 4 }), seed: fc.integer(), params: fc.dictionary(goodParam, distribution, { maxKeys: 2 }) }) }),
);

const mutatedSpec = fc.record(
  {
    name: fc.oneof(w(9, fc.constant('sweep')), w(1, fc.anything({ maxDepth: 1 }))),
    tags: fc.oneof(w(9, fc.constant(['t'])), w(1, fc.anything({ maxDepth: 1 }))),
    description: fc.oneof(w(9, fc.constant('d')), w(1, fc.anything({ maxDepth: 1 }))),
    base: fc.oneof(
      w(8, fc.constant(baseConfig())),
      w(1, fc.jsonValue({ maxDepth: 3 })),
      w(1, fc.record({ support: fc.anything({ maxDepth: 2 }), rewards: fc.anything({ maxDepth: 2 }), q: scalarish }, { requiredKeys: [] })),
    ),
    axes: fc.oneof(w(6, fc.array(goodAxis, { maxLength: 4 })), w(3, fc.array(fc.oneof(goodAxis, axis), { maxLength: 4 })), w(1, fc.anything({ maxDepth: 1 }))),
    derive: fc.oneof(
      w(6, fc.dictionary(goodParam, expression, { maxKeys: 2 })),
      w(3, fc.dictionary(param.filter((p): p is string => typeof p === 'string'), fc.oneof(expression, fc.anything({ maxDepth: 1 })), { maxKeys: 3 })),
      w(1, fc.anything({ maxDepth: 1 })),
    ),
  },
  { requiredKeys: ['name', 'base'] },
);

const anySpec = fc.oneof(w(8, mutatedSpec), w(1, fc.anything({ maxDepth: 3 })), w(1, fc.jsonValue({ maxDepth: 4 })));

function checkIssues(issues: unknown): void {
  expect(Array.isArray(issues)).toBe(true);
  expect((issues as unknown[]).length).toBeGreaterThan(0);
  for (const is of issues as { path: unknown; message: unknown; index?: unknown }[]) {
    expect(typeof is.path).toBe('string');
    expect(is.path === '' || (is.path as string).startsWith('/')).toBe(true);
    expect(typeof is.message).toBe('string');
    if (is.index !== undefined) expect(Number.isSafeInteger(is.index)).toBe(true);
  }
}

describe('property: malformed specs', () => {
  test('compileSweep throws only SpecError; expansion stays within the configured paths', () => {
    fc.assert(
      fc.property(anySpec, (spec) => {
        let compiled;
        try {
          compiled = compileSweep(spec);
        } catch (e) {
          if (!(e instanceof SpecError)) throw e;
          checkIssues(e.issues);
          return;
        }
        expect(compiled.total).toBeGreaterThanOrEqual(1);
        for (const i of [0, compiled.total - 1]) {
          try {
            expect(Object.keys(compiled.paramsAt(i))).toEqual([...compiled.variables, ...compiled.derived]);
            const cfg = compiled.configAt(i);
            expect(Object.getPrototypeOf(cfg)).toBe(Object.prototype);
          } catch (e) {
            if (!(e instanceof SpecError)) throw e;
            checkIssues(e.issues);
          }
        }
      }),
      { numRuns: 1500 },
    );
    // nothing leaked onto Object.prototype
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(Object.prototype)).toEqual([]);
  });

  test('validateSweep never throws: ok, or ok: false with issues that all have a string path', () => {
    fc.assert(
      fc.property(anySpec, (spec) => {
        const r = validateSweep(spec, { maxConfigs: 500, maxCostSeconds: 300 });
        if (!r.ok) {
          checkIssues(r.issues);
          expect(r.issues.length).toBeLessThanOrEqual(Math.max(20, r.issues.filter((x) => x.index === undefined).length));
        } else {
          expect(r.compiled.total).toBeLessThanOrEqual(500);
        }
      }),
      { numRuns: 1500 },
    );
  });
});

describe('property: specification text', () => {
  const jsonish = fc.oneof(
    fc.json({ maxDepth: 3 }),
    fc.tuple(fc.json({ maxDepth: 3 }), fc.nat(), fc.constantFrom('', ',', '}', ']', '"', ':', 'x', '\n', '\\')).map(([t, k, ins]) => {
      const at = t.length === 0 ? 0 : k % t.length;
      return t.slice(0, at) + ins + t.slice(at + (k % 2));
    }),
    fc.string({ maxLength: 20 }),
  );

  test('JSON: parses like JSON.parse, or a SpecError whose position the scanner agrees on', () => {
    fc.assert(
      fc.property(jsonish, (text) => {
        let expected: unknown;
        let valid = true;
        try {
          expected = JSON.parse(text);
        } catch {
          valid = false;
        }
        expect(findJsonError(text) === null).toBe(valid);
        if (valid) expect(parseSpecText(text, 'json')).toEqual(expected);
        else {
          try {
            parseSpecText(text, 'json');
            expect.unreachable();
          } catch (e) {
            expect(e).toBeInstanceOf(SpecError);
            expect((e as SpecError).message).toMatch(/^JSON syntax error at line \d+, column \d+: /);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('YAML: a value or a SpecError, nothing else', () => {
    fc.assert(
      fc.property(fc.oneof(jsonish, fc.string({ maxLength: 40, unit: fc.constantFrom('a', ':', ' ', '\n', '-', '[', ']', '{', '}', '&', '*', '!', '"', "'", '#', '|', '>') })), (text) => {
        try {
          parseSpecText(text, 'yaml');
        } catch (e) {
          expect(e).toBeInstanceOf(SpecError);
        }
      }),
      { numRuns: 1500 },
    );
  });
});
