import { describe, expect, it } from 'vitest';
import { heatmapSvg, viridis, type HeatmapInput } from '../src/index.ts';
import { exampleHeatmap } from './examples.ts';
import { allText, checkSvg } from './util.ts';
import { findAll, hasClass, textContent, type XmlElement } from './xml.ts';

const cellsOf = (root: XmlElement): XmlElement[] => findAll(root, (e) => e.name === 'rect' && e.attrs.class === 'cell');
const tooltip = (e: XmlElement): string => textContent(e.children.find((c) => c.name === 'title')!);

const small = (over: Partial<HeatmapInput> = {}): HeatmapInput => ({
  title: 't',
  xLabel: 'x',
  yLabel: 'y',
  zLabel: 'z',
  xValues: [1, 2],
  yValues: ['a', 'b'],
  cells: [
    { x: 1, y: 'a', value: 0, count: 3 },
    { x: 2, y: 'a', value: 0.5, count: 3 },
    { x: 1, y: 'b', value: 1, count: 3 },
    { x: 2, y: 'b', value: null, count: 0 },
  ],
  ...over,
});

describe('heatmapSvg', () => {
  it('draws one cell rect per cell with its data attributes and tooltip', () => {
    const input = exampleHeatmap();
    const root = checkSvg(heatmapSvg(input));
    const cells = cellsOf(root);
    expect(cells).toHaveLength(input.cells.length);
    const byKey = new Map(cells.map((c) => [`${c.attrs['data-x']}|${c.attrs['data-y']}`, c]));
    for (const c of input.cells) {
      const e = byKey.get(`${c.x}|${c.y}`)!;
      expect(e).toBeDefined();
      expect(e.attrs['data-value']).toBe(c.value === null ? 'null' : String(c.value));
      expect(Number(e.attrs['data-count'])).toBe(c.count);
      expect(e.attrs['data-run-id']).toBe(c.runId);
      // linked to its run
      expect(e.parent!.name).toBe('a');
      expect(e.parent!.attrs.href).toBe(`/runs/${encodeURIComponent(c.runId!)}`);
    }
    const e = byKey.get('0.1|1')!;
    const v = input.cells.find((c) => c.x === 0.1 && c.y === 1)!.value!;
    expect(tooltip(e)).toBe(`x=0.1, y=1: ${Number(v.toPrecision(4))} (n=5)`);
    expect(tooltip(byKey.get('0.5|2.5')!)).toBe('x=0.5, y=2.5: n/a (n=0)');
  });

  it('places x left to right and the first y value at the bottom', () => {
    const root = checkSvg(heatmapSvg(small()));
    const get = (x: string, y: string): XmlElement => cellsOf(root).find((c) => c.attrs['data-x'] === x && c.attrs['data-y'] === y)!;
    expect(Number(get('1', 'a').attrs.x)).toBeLessThan(Number(get('2', 'a').attrs.x));
    expect(Number(get('1', 'a').attrs.y)).toBeGreaterThan(Number(get('1', 'b').attrs.y));
    expect(get('1', 'a').attrs.y).toBe(get('2', 'a').attrs.y);
  });

  it('colours the ends of the range with the ends of viridis and null cells hatched', () => {
    const root = checkSvg(heatmapSvg(small()));
    const fill = (v: string): string => cellsOf(root).find((c) => c.attrs['data-value'] === v)!.attrs.fill;
    expect(fill('0')).toBe('#440154');
    expect(fill('1')).toBe('#fde725');
    expect(fill('0.5')).toBe(viridis(0.5));
    expect(fill('null')).toMatch(/^url\(#.+-hatch\)$/);
    // n/a in the legend, and a colour bar going from 0 to 1
    expect(findAll(root, (e) => hasClass(e, 'legend-na'))).toHaveLength(1);
    expect(textContent(findAll(root, (e) => hasClass(e, 'legend-na'))[0])).toContain('n/a');
    const bar = findAll(root, (e) => hasClass(e, 'colorbar'))[0];
    expect([bar.attrs['data-min'], bar.attrs['data-max']]).toEqual(['0', '1']);
    const zTicks = findAll(root, (e) => hasClass(e, 'z-tick')).map((e) => Number(e.attrs['data-value']));
    expect(zTicks[0]).toBe(0);
    expect(zTicks[zTicks.length - 1]).toBe(1);
    expect(allText(root)).toContain('z');
  });

  it('has no n/a legend without null cells', () => {
    const input = small();
    input.cells[3].value = 0.25;
    const root = checkSvg(heatmapSvg(input));
    expect(findAll(root, (e) => hasClass(e, 'legend-na'))).toHaveLength(0);
    expect(findAll(root, (e) => e.attrs.fill?.includes('hatch'))).toHaveLength(0);
  });

  it('uses zRange when given and clamps values outside it', () => {
    const root = checkSvg(heatmapSvg(small({ zRange: [0.5, 0.75] })));
    const fill = (v: string): string => cellsOf(root).find((c) => c.attrs['data-value'] === v)!.attrs.fill;
    expect(fill('0')).toBe('#440154');
    expect(fill('0.5')).toBe('#440154');
    expect(fill('1')).toBe('#fde725');
    const bar = findAll(root, (e) => hasClass(e, 'colorbar'))[0];
    expect([bar.attrs['data-min'], bar.attrs['data-max']]).toEqual(['0.5', '0.75']);
  });

  it('escapes user text', () => {
    const nasty = `<script>alert("x")</script> & 'q' ]]>`;
    const svg = heatmapSvg(small({ title: nasty, xLabel: nasty, yLabel: nasty, zLabel: nasty, yValues: [nasty, 'b'], cells: [{ x: 1, y: nasty, value: 1, count: 1, runId: nasty }] }));
    expect(svg).not.toContain('<script');
    const root = checkSvg(svg);
    expect(textContent(root.children[0])).toBe(nasty);
    expect(cellsOf(root)[0].attrs['data-y']).toBe(nasty);
    expect(cellsOf(root)[0].attrs['data-run-id']).toBe(nasty);
    expect(allText(root)).toContain(`<script>alert("x")`);
  });

  it('drops script links but keeps ordinary ones', () => {
    const root = checkSvg(
      heatmapSvg(small({ cellHref: (c) => (c.x === 1 ? 'javascript:alert(1)' : c.value === null ? undefined : `/runs?x=${c.x}&y=${c.y}`) })),
    );
    const links = findAll(root, (e) => e.name === 'a');
    expect(links.map((a) => a.attrs.href)).toEqual(['/runs?x=2&y=a']);
  });

  it('writes values in the cells when there is room, in a readable colour', () => {
    const root = checkSvg(heatmapSvg(small()));
    const values = findAll(root, (e) => hasClass(e, 'cell-values'))[0];
    expect(values.attrs['pointer-events']).toBe('none');
    const texts = values.children.map((t) => [textContent(t), t.attrs.fill]);
    expect(texts).toEqual([
      ['0', '#ffffff'],
      ['0.5', '#000000'], // black reads better than white on the middle teal
      ['1', '#000000'],
      ['n/a', '#444444'],
    ]);
  });

  it('handles degenerate inputs', () => {
    // all values equal: the middle colour
    const eq = checkSvg(heatmapSvg(small({ cells: [{ x: 1, y: 'a', value: 2, count: 1 }, { x: 2, y: 'b', value: 2, count: 1 }] })));
    expect(cellsOf(eq).map((c) => c.attrs.fill)).toEqual([viridis(0.5), viridis(0.5)]);
    // single cell
    const one = checkSvg(heatmapSvg(small({ xValues: [7], yValues: [3], cells: [{ x: 7, y: 3, value: 0.1, count: 1 }] })));
    expect(cellsOf(one)).toHaveLength(1);
    // all null: no colour bar, n/a legend
    const nulls = checkSvg(heatmapSvg(small({ cells: [{ x: 1, y: 'a', value: null, count: 0 }] })));
    expect(findAll(nulls, (e) => hasClass(e, 'colorbar'))).toHaveLength(0);
    expect(findAll(nulls, (e) => hasClass(e, 'legend-na'))).toHaveLength(1);
    // NaN and Infinity count as null
    const nan = checkSvg(heatmapSvg(small({ cells: [{ x: 1, y: 'a', value: NaN, count: 0 }, { x: 2, y: 'a', value: Infinity, count: 0 }, { x: 1, y: 'b', value: 3, count: 1 }] })));
    expect(cellsOf(nan).map((c) => c.attrs['data-value'])).toEqual(['null', 'null', '3']);
    // no cells, or no axis values: "no data"
    for (const input of [small({ cells: [] }), small({ xValues: [], yValues: [], cells: [] })]) {
      const root = checkSvg(heatmapSvg(input));
      expect(cellsOf(root)).toHaveLength(0);
      expect(allText(root)).toContain('no data');
    }
    // cells outside the axis values are ignored
    const extra = checkSvg(heatmapSvg(small({ cells: [{ x: 1, y: 'a', value: 1, count: 1 }, { x: 99, y: 'a', value: 1, count: 1 }] })));
    expect(cellsOf(extra)).toHaveLength(1);
    // axis values from the cells when none are given (numbers sorted)
    const derived = checkSvg(heatmapSvg(small({ xValues: [], yValues: [], cells: [{ x: 3, y: 1, value: 1, count: 1 }, { x: 1, y: 1, value: 0, count: 1 }] })));
    const xt = findAll(derived, (e) => hasClass(e, 'x-tick')).map((e) => e.attrs['data-value']);
    expect(xt).toEqual(['1', '3']);
    // silly sizes fall back to something usable
    const sized = checkSvg(heatmapSvg(small({ width: -5, height: NaN })));
    expect(sized.attrs.width).toBe('720');
    expect(sized.attrs.height).toBe('480');
  });

  it('rotates and thins crowded axis labels and drops in-cell values', () => {
    const xValues = Array.from({ length: 80 }, (_, i) => i * 0.0125);
    const yValues = Array.from({ length: 60 }, (_, i) => 2 ** i);
    const cells = xValues.flatMap((x) => yValues.map((y) => ({ x, y, value: x * Math.log2(y), count: 1 })));
    const root = checkSvg(heatmapSvg({ title: 'big', xLabel: 'x', yLabel: 'y', zLabel: 'z', xValues, yValues, cells }));
    expect(cellsOf(root)).toHaveLength(80 * 60);
    const xt = findAll(root, (e) => hasClass(e, 'x-tick'));
    expect(xt.length).toBeLessThan(80);
    expect(xt[0].attrs.transform).toMatch(/^rotate\(-45 /);
    expect(findAll(root, (e) => hasClass(e, 'y-tick')).length).toBeLessThan(60);
    expect(findAll(root, (e) => hasClass(e, 'cell-values'))).toHaveLength(0);
    // category labels use at most 4 significant digits
    expect(findAll(root, (e) => hasClass(e, 'y-tick')).map(textContent)).toContain('1.074e9');
    // Cells of a few pixels: no tooltip each (a third of the elements), unless asked for.
    expect(cellsOf(root).every((c) => c.children.length === 0)).toBe(true);
    const titled = checkSvg(heatmapSvg({ title: 'big', xLabel: 'x', yLabel: 'y', zLabel: 'z', xValues, yValues, cells, cellTitles: true }));
    expect(tooltip(cellsOf(titled)[0])).toBe('x=0, y=1: 0 (n=1)');
  });

  it('is deterministic', () => {
    expect(heatmapSvg(exampleHeatmap())).toBe(heatmapSvg(exampleHeatmap()));
  });
});
