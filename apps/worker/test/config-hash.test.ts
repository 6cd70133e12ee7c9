import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { normalizeForHash, validateConfig } from '@curation/core';
import { compileSweep } from '@curation/sweep-spec';
import { canonicalJson } from '../src/config-hash.ts';
import { prepareRun } from '../src/process-run.ts';

// The definition the stored hashes were made with: a faster canonicalJson must give
// the very same text, or every result stored so far would stop deduplicating.
function referenceCanonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => referenceCanonicalJson(v === undefined ? null : v)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${referenceCanonicalJson(obj[k])}`).join(',')}}`;
}

const RAW = {
  support: { kind: 'grid', min: -6, max: 6, n: 61 },
  rewards: [{ kind: 'quadratic', center: -1 }, { kind: 'quadratic', center: 1, clip: { max: 0 } }],
  K: 8, q: 0.3, iterations: 50, mode: 'sampled', samples: 1000, seed: 4,
};

describe('configuration hash', () => {
  it('canonical JSON is the reference text for any JSON value, with undefined members dropped', () => {
    const withUndefined = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined), fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(fc.string({ maxLength: 6 }), tie('value'), { maxKeys: 5 })),
    })).value;
    fc.assert(fc.property(withUndefined, (v) => {
      if (v === undefined) return;
      expect(canonicalJson(v)).toBe(referenceCanonicalJson(v));
    }), { numRuns: 500 });
  });

  it('refuses non-finite numbers instead of hashing them as null', () => {
    expect(() => canonicalJson({ a: [1, Number.NaN] })).toThrow(/non-finite/);
  });

  it('is pinned: the same configuration keeps the hash results were stored under', () => {
    const v = validateConfig(RAW as never);
    if (!v.ok) throw new Error('invalid');
    const text = canonicalJson(normalizeForHash(v.config));
    // Contract 2 added model, retrain and each reward's resolved beta to the hashed form and
    // changed the tol default, so hashes differ from contract 1 (results are keyed by core
    // version as well, so nothing of contract 1 is reused either way).
    expect(text).toBe('{"K":8,"beta":1,"eps":0.1,"init":{"kind":"uniform"},"iterations":50,"mode":"sampled","model":{"kind":"exact"},'
      + '"realFraction":0,"recordEvery":1,"retrain":"replace","rewards":[{"beta":1,"center":[-1],"kind":"quadratic","scale":1},'
      + '{"beta":1,"center":[1],"clip":{"max":0},"kind":"quadratic","scale":1}],"samples":1000,"seed":4,'
      + '"support":{"kind":"grid","max":[6],"min":[-6],"n":[61]},"tol":0.000001,"weights":[0.3,0.7]}');
    expect(createHash('sha256').update(text).digest('hex')).toBe('c4ef4dcbba4fd3cdb548f333002d667b1890ffc18bc264b0dbbb2e9b08c57a05');
  });

  it('prepareRun hashes and simulates exactly normalizeForHash of the validated configuration', () => {
    const sweep = compileSweep({ name: 't', base: RAW, axes: [{ param: 'q', values: [0.2, 0.7] }, { param: 'beta', values: [0.5, 2] }] });
    for (let i = 0; i < sweep.total; i++) {
      const p = prepareRun(sweep, i);
      if (!p.ok) throw new Error(p.error);
      const v = validateConfig(sweep.configAt(i) as never);
      if (!v.ok) throw new Error('invalid');
      const expected = normalizeForHash(v.config);
      expect(JSON.parse(p.configJson)).toEqual(expected);
      expect(p.configJson).toBe(referenceCanonicalJson(expected));
      expect(p.hash).toBe(createHash('sha256').update(referenceCanonicalJson(expected)).digest('hex'));
    }
  });
});
