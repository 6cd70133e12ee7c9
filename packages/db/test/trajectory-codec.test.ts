import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { simulate } from '@curation/core';
import { decodeTrajectory, encodeTrajectory, trajectoryVersion, type StoredMetricsRow } from '../src/trajectory-codec.ts';

/** Every number as its 64-bit pattern (null stays null), so equal means bit-identical. */
function bits(rows: StoredMetricsRow[]): unknown[] {
  const b = (x: number | null) => (x === null ? null : Buffer.from(new Float64Array([x]).buffer).toString('hex'));
  return rows.map((r) => ({
    t: b(r.t), entropy: b(r.entropy), effectiveSupport: b(r.effectiveSupport), outside: b(r.outside),
    mass: r.mass.map(b), meanReward: r.meanReward.map(b), varReward: r.varReward.map(b), step: b(r.step), shareStep: b(r.shareStep),
  }));
}

const anyDouble = fc.oneof(
  fc.double(), // NaN, infinities, -0, subnormals included
  fc.double({ min: -1, max: 1, noNaN: true }),
  fc.constantFrom(0, -0, Number.MIN_VALUE, -Number.MAX_VALUE, 1e-300, 2 ** 53 + 1),
);
const rowsArb = fc.integer({ min: 0, max: 4 }).chain((m) => fc.array(fc.record({
  t: fc.oneof(fc.nat(), anyDouble),
  entropy: anyDouble, effectiveSupport: anyDouble, outside: anyDouble,
  mass: fc.array(anyDouble, { minLength: m, maxLength: m }),
  meanReward: fc.array(anyDouble, { minLength: m, maxLength: m }),
  varReward: fc.array(anyDouble, { minLength: m, maxLength: m }),
  step: fc.option(anyDouble.filter((x) => !Number.isNaN(x)), { nil: null }),
  shareStep: fc.option(anyDouble.filter((x) => !Number.isNaN(x)), { nil: null }),
}), { maxLength: 40 }));

describe('trajectory codec', () => {
  it('writes version 3 and gives back every value of a real run bit for bit, smaller than version 2', () => {
    const base = { support: { kind: 'grid', min: -12, max: 12, n: 401 }, rewards: [{ kind: 'quadratic', center: -2 }, { kind: 'quadratic', center: 2 }], K: 'inf', iterations: 300, eps: 0.5, recordEvery: 10, q: 0.3 };
    const rows = simulate(base).trajectory as StoredMetricsRow[];
    const v3 = encodeTrajectory(rows);
    const v2 = encodeTrajectory(rows, 2);
    expect(trajectoryVersion(v3)).toBe(3);
    expect(trajectoryVersion(v2)).toBe(2);
    expect(bits(decodeTrajectory(v3))).toEqual(bits(rows));
    expect(decodeTrajectory(v3)).toEqual(decodeTrajectory(v2));
    expect(v3.byteLength).toBeLessThan(0.8 * v2.byteLength);
  });

  it('round-trips any rows exactly: NaN, infinities, -0, subnormals, null steps, t not evenly spaced', () => {
    fc.assert(fc.property(rowsArb, (rows) => {
      const back = decodeTrajectory(encodeTrajectory(rows));
      // The columns keep a null step as NaN, so a NaN step comes back null (as in version 2).
      expect(bits(back)).toEqual(bits(rows as StoredMetricsRow[]));
      expect(bits(back)).toEqual(bits(decodeTrajectory(encodeTrajectory(rows, 2))));
    }), { numRuns: 500 });
  });

  it('keeps t exactly when it is evenly spaced but not representable as t0 + r * stride', () => {
    const row = (t: number) => ({ t, entropy: 1, effectiveSupport: 2, mass: [0.5], outside: 0, meanReward: [0], varReward: [0], step: null, shareStep: null });
    for (const ts of [[0, 0.1, 0.2, 0.30000000000000004], [0, 0.1, 0.2, 0.3], [-0, 1, 2], [5], [], [0, 10, 20, 31]]) {
      const rows = ts.map(row);
      expect(bits(decodeTrajectory(encodeTrajectory(rows)))).toEqual(bits(rows));
    }
  });

  it('refuses a cut or padded version 3 trajectory', () => {
    const rows = [0, 10, 20].map((t) => ({ t, entropy: 1.5 + t, effectiveSupport: 2, mass: [0.25, 0.75], outside: 1e-9, meanReward: [0, 1], varReward: [0.1, 0.2], step: t ? 0.01 : null, shareStep: t ? 0.02 : null }));
    const v3 = encodeTrajectory(rows);
    expect(() => decodeTrajectory(v3.subarray(0, v3.byteLength - 1))).toThrow(/cut short|corrupt/);
    expect(() => decodeTrajectory(Buffer.concat([v3, Buffer.from([0])]))).toThrow(/past its columns/);
  });
});

describe('summary encoding', () => {
  it('gives the JSON text and the columns, and refuses a number JSON cannot hold', async () => {
    const { encodeSummary } = await import('../src/result-encoding.ts');
    const base = { support: { kind: 'grid', min: -6, max: 6, n: 61 }, rewards: [{ kind: 'quadratic', center: -1 }, { kind: 'quadratic', center: 1 }], K: 'inf', iterations: 20, q: 0.4 };
    const { summary } = simulate(base);
    const e = encodeSummary(summary);
    expect(JSON.parse(e.summaryJson)).toEqual(summary);
    expect(e.columns).toMatchObject({ converged: summary.converged, finalEntropy: summary.final.entropy, survivingBasins: summary.survivingBasins });
    expect(() => encodeSummary({ ...summary, nashGap: Number.NaN })).toThrow(/non-finite number in result JSON \(summary\)/);
  });
});
