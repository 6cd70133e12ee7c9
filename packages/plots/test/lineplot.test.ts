import { describe, expect, it } from 'vitest';
import { linePlotSvg, type LinePlotInput } from '../src/index.ts';
import { exampleLinePlot, exampleLogPlot } from './examples.ts';
import { allText, checkSvg } from './util.ts';
import { findAll, hasClass, textContent, type XmlElement } from './xml.ts';

const byClass = (root: XmlElement, c: string): XmlElement[] => findAll(root, (e) => hasClass(e, c));
const markersOf = (root: XmlElement): XmlElement[] =>
  byClass(root, 'series').flatMap((g) => g.children.filter((e) => !hasClass(e, 'series-line') && !hasClass(e, 'error-bar')));
const moves = (d: string): number => (d.match(/M/g) ?? []).length;

const base = (over: Partial<LinePlotInput> = {}): LinePlotInput => ({
  title: 'p',
  xLabel: 'x',
  yLabel: 'y',
  series: [{ name: 's', points: [{ x: 0, y: 1 }, { x: 1, y: 2 }, { x: 2, y: 3 }] }],
  ...over,
});

describe('linePlotSvg', () => {
  it('draws every series with markers, error bars and a legend', () => {
    const input = exampleLinePlot();
    const root = checkSvg(linePlotSvg(input));
    expect(byClass(root, 'series')).toHaveLength(3);
    expect(byClass(root, 'series-line')).toHaveLength(3);
    expect(markersOf(root)).toHaveLength(33);
    const bars = byClass(root, 'error-bar');
    expect(bars).toHaveLength(3);
    // one vertical segment and two caps per point
    for (const b of bars) expect(moves(b.attrs.d)).toBe(11 * 3);
    const legend = byClass(root, 'legend');
    expect(legend).toHaveLength(1);
    expect(textContent(legend[0])).toContain('K = 8');
    // marker tooltips carry the values
    expect(textContent(markersOf(root)[0])).toMatch(/^K = 2: x=0, y=2\.8 \[2\.72, 2\.88\] \(n=5\)$/);
    expect(allText(root)).toContain('entropy (nats)');
  });

  it('has no error bars without yLow/yHigh and no legend for one series', () => {
    const root = checkSvg(linePlotSvg(base()));
    expect(byClass(root, 'error-bar')).toHaveLength(0);
    expect(byClass(root, 'legend')).toHaveLength(0);
  });

  it('uses nice ticks covering the data on linear axes', () => {
    const root = checkSvg(linePlotSvg(base({ series: [{ name: 's', points: [{ x: 0.3, y: -0.07 }, { x: 7.9, y: 0.93 }] }] })));
    const ys = byClass(root, 'y-tick').map((e) => Number(e.attrs['data-value']));
    const xs = byClass(root, 'x-tick').map((e) => Number(e.attrs['data-value']));
    expect(ys[0]).toBeLessThanOrEqual(-0.07);
    expect(ys[ys.length - 1]).toBeGreaterThanOrEqual(0.93);
    expect(xs[0]).toBeLessThanOrEqual(0.3);
    expect(xs[xs.length - 1]).toBeGreaterThanOrEqual(7.9);
    const step = ys[1] - ys[0];
    expect([0.1, 0.2, 0.5]).toContain(Number(step.toPrecision(6)));
    // typographic minus on negative labels, same number of decimals everywhere
    const labels = byClass(root, 'y-tick').map(textContent);
    expect(labels[0]).toBe('\u22120.2');
    expect(new Set(labels.map((l) => l.split('.')[1]?.length)).size).toBe(1);
  });

  it('breaks lines at null y', () => {
    const root = checkSvg(linePlotSvg(base({ series: [{ name: 's', points: [{ x: 0, y: 1 }, { x: 1, y: 2 }, { x: 2, y: null }, { x: 3, y: 3 }, { x: 4, y: 4 }] }] })));
    const line = byClass(root, 'series-line')[0];
    expect(moves(line.attrs.d)).toBe(2);
    expect(markersOf(root)).toHaveLength(4);
  });

  it('draws decade ticks on a log axis and skips non-positive values', () => {
    const root = checkSvg(
      linePlotSvg(base({ logY: true, series: [{ name: 's', points: [{ x: 0, y: 0.5 }, { x: 1, y: 0 }, { x: 2, y: -1 }, { x: 3, y: 0.002 }, { x: 4, y: 3e-5, yLow: -1, yHigh: 1e-4 }] }] })),
    );
    const ticks = byClass(root, 'y-tick').map((e) => Number(e.attrs['data-value']));
    expect(ticks).toEqual([1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1]);
    // exponents are drawn as superscripts
    const labels = byClass(root, 'y-tick');
    expect(textContent(labels[0])).toBe('10\u22125');
    expect(labels[0].children[0].name).toBe('tspan');
    // 3 drawable points, one line without a break, the error bar clipped at the bottom of the axis
    expect(markersOf(root)).toHaveLength(3);
    expect(moves(byClass(root, 'series-line')[0].attrs.d)).toBe(1);
    expect(byClass(root, 'error-bar')).toHaveLength(1);
    // linear small ranges keep plain labels
    const plain = checkSvg(linePlotSvg(base({ logY: true })));
    expect(byClass(plain, 'y-tick').map(textContent)).toEqual(['1', '10']);
  });

  it('escapes titles, labels and series names', () => {
    const nasty = 'a < b && c > "d" \'e\'';
    const svg = linePlotSvg(base({ title: nasty, xLabel: nasty, yLabel: nasty, series: [{ name: nasty, points: [{ x: 1, y: 1 }] }, { name: 'b', points: [{ x: 2, y: 2 }] }] }));
    const root = checkSvg(svg);
    expect(textContent(root.children[0])).toBe(nasty);
    expect(findAll(root, (e) => textContent(e) === nasty && e.name === 'text').length).toBeGreaterThanOrEqual(3);
    expect(svg).toContain('a &lt; b &amp;&amp; c &gt; &quot;d&quot;');
  });

  it('says "no data" for degenerate inputs and still draws single points and flat lines', () => {
    for (const input of [
      base({ series: [] }),
      base({ series: [{ name: 's', points: [] }] }),
      base({ series: [{ name: 's', points: [{ x: 1, y: null }, { x: NaN, y: 1 }] }] }),
      base({ logY: true, series: [{ name: 's', points: [{ x: 1, y: 0 }, { x: 2, y: -3 }] }] }),
    ]) {
      const root = checkSvg(linePlotSvg(input));
      expect(byClass(root, 'no-data')).toHaveLength(1);
      expect(textContent(root.children[0])).toBe('p');
    }
    const single = checkSvg(linePlotSvg(base({ series: [{ name: 's', points: [{ x: 5, y: 5, yLow: 4, yHigh: 6 }] }] })));
    expect(markersOf(single)).toHaveLength(1);
    expect(byClass(single, 'no-data')).toHaveLength(0);
    const flat = checkSvg(linePlotSvg(base({ series: [{ name: 's', points: [{ x: 0, y: 2 }, { x: 1, y: 2 }] }] })));
    const ys = byClass(flat, 'y-tick').map((e) => Number(e.attrs['data-value']));
    expect(ys[0]).toBeLessThan(2);
    expect(ys[ys.length - 1]).toBeGreaterThan(2);
  });

  it('drops markers on long series but keeps isolated points visible', () => {
    const points = Array.from({ length: 500 }, (_, i) => ({ x: i, y: i === 250 || i === 252 ? null : Math.sin(i / 30) }));
    const root = checkSvg(linePlotSvg(base({ series: [{ name: 's', points }] })));
    // the point at 251 is alone between two gaps
    expect(markersOf(root)).toHaveLength(1);
    expect(moves(byClass(root, 'series-line')[0].attrs.d)).toBe(3);
  });

  it('renders the log example', () => {
    const root = checkSvg(linePlotSvg(exampleLogPlot()));
    const ticks = byClass(root, 'y-tick').map((e) => Math.log10(Number(e.attrs['data-value'])));
    for (const t of ticks) expect(Number.isInteger(Math.round(t * 1e9) / 1e9)).toBe(true);
  });
});
