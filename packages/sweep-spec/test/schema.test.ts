import { describe, expect, test } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import { CONFIG_FIELDS, compileSweep, parseSpecText, SweepSpecSchema, validateSweep, type SweepSpec } from '../src/index.ts';
import { readFileSync } from 'node:fs';
import { spec } from './helpers.ts';

describe('SweepSpecSchema', () => {
  // The configuration fields as the model reference documents them (its section 1 table),
  // read independently of the code that derives CONFIG_FIELDS from the core's schema.
  const documented = () => {
    const doc = readFileSync(new URL('../../../docs/model.md', import.meta.url), 'utf8');
    const from = doc.indexOf('| field |', doc.indexOf('## 1. Configuration'));
    const table = doc.slice(from, doc.indexOf('\n\n', from));
    return [...table.matchAll(/^\| `([A-Za-z]+)` \|/gm)].map((m) => m[1]);
  };

  test('the configuration fields are the documented ones, and an axis on any of them sets the configuration', () => {
    const fields = documented();
    expect(fields.length).toBeGreaterThan(10);
    expect([...CONFIG_FIELDS].sort()).toEqual([...fields].sort());
    for (const field of fields) {
      const c = compileSweep(spec({ axes: [{ param: field, values: ['v'] }] }));
      expect((c.configAt(0) as Record<string, unknown>)[field]).toBe('v');
    }
  });

  test('a name that is no configuration field is a free variable: refused unless derive reads it', () => {
    const refused = validateSweep(spec({ axes: [{ param: 'Dist', values: [1] }] }));
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.issues.map((i) => i.path)).toEqual(['/axes/0/param']);
    const used = compileSweep(spec({ axes: [{ param: 'Dist', values: [3] }], derive: { iterations: 'Dist' } }));
    expect(used.configAt(0)).not.toHaveProperty('Dist');
    expect((used.configAt(0) as { iterations: number }).iterations).toBe(3);
  });

  test('accepts the examples that compile', () => {
    const full: SweepSpec = {
      name: 'q-vs-D',
      tags: ['c4'],
      description: 'optional',
      base: spec().base as Record<string, unknown>,
      axes: [
        { param: 'q', values: [0.1, 0.3, 0.5] },
        { param: 'D', linspace: [1, 6, 11] },
        { param: 'eps', logspace: [0.01, 1, 3] },
        { zip: [{ param: 'K', values: [2, 8] }, { param: 'beta', values: [1, 4] }] },
        { param: 'seed', replicates: 5 },
        { random: { n: 200, seed: 7, params: { realFraction: { uniform: [0, 0.5] }, tol: { loguniform: [1e-9, 1e-6] }, mode: { choice: ['exact'] }, iterations: { randint: [10, 20] } } } },
      ],
      derive: { 'rewards.0.center': '[-D/2]', 'rewards.1.center': '[D/2]' },
    };
    expect([...Value.Errors(SweepSpecSchema, full)]).toEqual([]);
    expect(compileSweep(full).total).toBe(3 * 11 * 3 * 2 * 5 * 200);
  });

  test('refuses structurally wrong specs', () => {
    expect(Value.Check(SweepSpecSchema, { name: 'x', base: {}, axes: [{ param: 'q', values: [] }] })).toBe(false);
    expect(Value.Check(SweepSpecSchema, { name: 'x', base: [], axes: [] })).toBe(false);
    expect(Value.Check(SweepSpecSchema, { name: 'x', base: {}, extra: 1 })).toBe(false);
    expect(Value.Check(SweepSpecSchema, { name: 'x', base: {}, derive: { q: 1 } })).toBe(false);
  });

  test('is plain JSON (serialisable for OpenAPI)', () => {
    const json = JSON.parse(JSON.stringify(SweepSpecSchema));
    expect(json.type).toBe('object');
    expect(json.properties.base.description).toMatch(/RunConfig/);
  });

  test('the README examples compile', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const blocks = [...readme.matchAll(/```(json|yaml)\n([\s\S]*?)```/g)];
    expect(blocks.length).toBeGreaterThan(1);
    for (const [, format, text] of blocks) {
      const v = parseSpecText(text, format as 'json' | 'yaml');
      if (v && typeof v === 'object' && 'base' in v) expect(() => compileSweep(v)).not.toThrow();
    }
  });
});
