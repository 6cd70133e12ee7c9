import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VIRIDIS_STOPS, escapeXml, formatNumber, logTicks, niceNum, niceTicks, viridis } from '../src/index.ts';

const isNiceStep = (step: number): boolean => {
  const e = Math.floor(Math.log10(step) + 1e-9);
  const f = step / 10 ** e;
  return [1, 2, 5, 10].some((m) => Math.abs(f - m) < 1e-6);
};

describe('niceTicks', () => {
  it('gives the textbook ticks', () => {
    expect(niceTicks(0, 1, 6)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 100, 5)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(0.05, 0.97, 7)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(-13, 13, 6)).toEqual([-15, -10, -5, 0, 5, 10, 15]);
    expect(niceTicks(0, 200, 7)).toEqual([0, 50, 100, 150, 200]);
  });

  it('covers the range with evenly spaced 1, 2, 5 x 10^k steps (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1e9, max: 1e9, noNaN: true }),
        fc.double({ min: 1e-6, max: 1e9, noNaN: true }),
        fc.integer({ min: 2, max: 12 }),
        (a, span, count) => {
          const lo = a;
          const hi = a + span;
          // (spans narrower than a millionth of the magnitude are at the limit of double precision)
          fc.pre(hi - lo > Math.max(Math.abs(hi), Math.abs(lo)) * 1e-6);
          const t = niceTicks(lo, hi, count);
          expect(t.length).toBeGreaterThanOrEqual(2);
          expect(t.length).toBeLessThanOrEqual(3 * count + 2);
          const step = t[1] - t[0];
          // (up to a rounding tolerance of a millionth of a step)
          expect(t[0]).toBeLessThanOrEqual(lo + step * 1e-6);
          expect(t[t.length - 1]).toBeGreaterThanOrEqual(hi - step * 1e-6);
          expect(isNiceStep(step)).toBe(true);
          for (let i = 1; i < t.length; i++) expect(Math.abs(t[i] - t[i - 1] - step)).toBeLessThanOrEqual(step * 1e-6);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('handles degenerate input', () => {
    expect(niceTicks(0, 0)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    const t = niceTicks(5, 5);
    expect(t[0]).toBeLessThan(5);
    expect(t[t.length - 1]).toBeGreaterThan(5);
    expect(niceTicks(3, 1)).toEqual(niceTicks(1, 3));
    for (const [a, b] of [[NaN, NaN], [Infinity, -Infinity], [NaN, 2]]) {
      const u = niceTicks(a, b);
      expect(u.length).toBeGreaterThanOrEqual(2);
      expect(u.every(Number.isFinite)).toBe(true);
    }
  });

  it('niceNum picks 1, 2, 5 or 10', () => {
    expect(niceNum(0.23, true)).toBe(0.2);
    expect(niceNum(3.4, true)).toBe(5);
    expect(niceNum(7.1, true)).toBe(10);
    expect(niceNum(1.2, false)).toBe(2);
  });
});

describe('logTicks', () => {
  it('gives decades covering the range', () => {
    expect(logTicks(0.003, 0.5)).toEqual([0.001, 0.01, 0.1, 1]);
    expect(logTicks(1e-3, 1)).toEqual([1e-3, 1e-2, 1e-1, 1]);
    expect(logTicks(20, 20)).toEqual([10, 100]);
    expect(logTicks(100, 100)).toEqual([10, 100, 1000]);
  });
  it('thins long ranges to every k-th decade', () => {
    const t = logTicks(1e-15, 1, 8);
    expect(t.length).toBeLessThanOrEqual(9);
    expect(t[0]).toBeLessThanOrEqual(1e-15);
    expect(t[t.length - 1]).toBeGreaterThanOrEqual(1);
    const ratios = t.slice(1).map((v, i) => Math.round(Math.log10(v / t[i])));
    expect(new Set(ratios).size).toBe(1);
  });
});

describe('formatNumber', () => {
  it.each([
    [0, '0'],
    [-0, '0'],
    [1, '1'],
    [0.1, '0.1'],
    [0.1 + 0.2, '0.3'],
    [123.456, '123.5'],
    [-2.5, '-2.5'],
    [0.0012345, '0.001234'],
    [0.00012346, '1.235e-4'],
    [0.00012344, '1.234e-4'],
    [-1.7975e308, '-1.797e308'],
    [Number.MAX_VALUE, '1.798e308'],
    [5e-324, '5e-324'],
    [1.5e-5, '1.5e-5'],
    [10000, '10000'],
    [12345, '1.235e4'],
    [524288, '5.243e5'],
    [1e6, '1e6'],
    [2.5e7, '2.5e7'],
    [NaN, 'NaN'],
    [Infinity, 'Infinity'],
  ])('%s -> %s', (v, s) => {
    expect(formatNumber(v)).toBe(s);
  });
  it('never uses more than 4 significant digits', () => {
    fc.assert(
      fc.property(fc.double({ min: -1e300, max: 1e300, noNaN: true }), (v) => {
        const s = formatNumber(v);
        const mantissa = s.split('e')[0].replace(/^-/, '').replace('.', '').replace(/^0+/, '');
        expect(mantissa.replace(/0+$/, '').length).toBeLessThanOrEqual(4);
        expect(Math.abs(Number(s) - v)).toBeLessThanOrEqual(Math.abs(v) * 1e-3 + 1e-300);
      }),
    );
  });
  it('null is n/a', () => expect(formatNumber(null)).toBe('n/a'));
});

describe('viridis', () => {
  it('starts and ends at the viridis ends', () => {
    expect(viridis(0)).toBe('#440154');
    expect(viridis(1)).toBe('#fde725');
    expect(viridis(-3)).toBe('#440154');
    expect(viridis(7)).toBe('#fde725');
    expect(VIRIDIS_STOPS).toHaveLength(16);
  });
  it('passes through the stops and interpolates between them', () => {
    VIRIDIS_STOPS.forEach((c, i) => expect(viridis(i / 15)).toBe(c));
    expect(viridis(0.5)).toMatch(/^#[0-9a-f]{6}$/);
    // luminance increases monotonically (perceptually ordered)
    const lum = (h: string): number => 0.2126 * parseInt(h.slice(1, 3), 16) + 0.7152 * parseInt(h.slice(3, 5), 16) + 0.0722 * parseInt(h.slice(5, 7), 16);
    for (let i = 1; i <= 100; i++) expect(lum(viridis(i / 100))).toBeGreaterThan(lum(viridis((i - 1) / 100)));
  });
});

describe('escapeXml', () => {
  it('escapes markup characters and drops characters XML cannot carry', () => {
    expect(escapeXml(`<a href="x">Tom & 'Jerry'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;Tom &amp; &apos;Jerry&apos;&lt;/a&gt;');
    expect(escapeXml('a\u0000b\u001bc\ud800d')).toBe('abcd');
    expect(escapeXml('tab\tnew\nline \u00e9 \ud83d\ude00')).toBe('tab\tnew\nline \u00e9 \ud83d\ude00');
  });
});
