// Phase-diagram heatmap: one rect per (x, y) cell, viridis colours, colour bar, n/a cells hatched.

import { VIRIDIS_STOPS, textColorOn, viridis } from './color.ts';
import { escapeXml, formatCategory, formatNumber, formatTicks, textWidth, truncate } from './format.ts';
import { extent, niceTicks } from './scale.ts';
import {
  AXIS_COLOR,
  DEFAULT_HEIGHT,
  DEFAULT_WIDTH,
  MUTED_COLOR,
  dim,
  el,
  emptySvg,
  fittedText,
  idPrefix,
  n,
  svgDocument,
} from './svg.ts';

export type Category = number | string;

export interface HeatmapCell {
  x: Category;
  y: Category;
  value: number | null;
  count: number;
  /** The cell's only run (the cell links to it). */
  runId?: string;
  /** A run to show for a cell of several (seeds): data-first-run-id, no link. */
  firstRunId?: string;
}

export interface HeatmapInput {
  title: string;
  xLabel: string;
  yLabel: string;
  zLabel: string;
  /** distinct x values, in display order (left to right) */
  xValues: Category[];
  /** distinct y values, in display order (bottom to top) */
  yValues: Category[];
  cells: HeatmapCell[];
  /** default: min and max of the finite values */
  zRange?: [number, number];
  width?: number;
  height?: number;
  /** optional link per cell: the rect is wrapped in <a href> */
  cellHref?: (cell: HeatmapCell) => string | undefined;
  /**
   * A <title> tooltip in each cell; by default only up to TOOLTIP_CELLS cells. A grid of
   * more has cells of a few pixels, and the titles would be a third of its elements (a page
   * that shows the plot can build the tooltip from the data attributes on hover).
   */
  cellTitles?: boolean;
}

/** Cells up to which each cell carries its own tooltip by default. */
export const TOOLTIP_CELLS = 2500;

const TICK_FONT = 11;
const LABEL_FONT = 13;
const MAX_CATEGORY_LABEL = 110;
const NA_FILL = '#d9d9d9';

const key = (v: Category): string => String(v);

/** Distinct values in first-seen order. */
function distinct(values: Category[]): Category[] {
  const seen = new Set<string>();
  const out: Category[] = [];
  for (const v of values) {
    if ((typeof v !== 'number' && typeof v !== 'string') || seen.has(key(v))) continue;
    seen.add(key(v));
    out.push(v);
  }
  return out;
}

/** Axis values from the cells when none are given: numbers ascending, otherwise first-seen order. */
function fromCells(values: Category[]): Category[] {
  const d = distinct(values);
  return d.every((v) => typeof v === 'number') ? (d as number[]).slice().sort((a, b) => a - b) : d;
}

/** Rejects script-bearing URL schemes; other hrefs are used as given (escaped). */
function safeHref(href: string | undefined): string | undefined {
  if (typeof href !== 'string' || href === '') return undefined;
  const squashed = href.replace(/[\u0000-\u0020]/g, '').toLowerCase();
  if (/^(javascript|vbscript|data):/.test(squashed)) return undefined;
  return href;
}

export function heatmapSvg(input: HeatmapInput): string {
  const W = dim(input.width, DEFAULT_WIDTH, 240);
  const H = dim(input.height, DEFAULT_HEIGHT, 200);
  const title = String(input.title ?? '');
  const rawCells = (Array.isArray(input.cells) ? input.cells : []).filter((c) => c && typeof c === 'object');
  let xValues = distinct(Array.isArray(input.xValues) ? input.xValues : []);
  let yValues = distinct(Array.isArray(input.yValues) ? input.yValues : []);
  if (xValues.length === 0) xValues = fromCells(rawCells.map((c) => c.x));
  if (yValues.length === 0) yValues = fromCells(rawCells.map((c) => c.y));
  const xIndex = new Map(xValues.map((v, i) => [key(v), i]));
  const yIndex = new Map(yValues.map((v, i) => [key(v), i]));
  const cells = rawCells.filter((c) => xIndex.has(key(c.x)) && yIndex.has(key(c.y)));
  if (xValues.length === 0 || yValues.length === 0 || cells.length === 0) return emptySvg(W, H, title);

  const isValue = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  const finite = cells.map((c) => c.value).filter(isValue);
  const hasNull = cells.some((c) => !isValue(c.value));

  // colour range
  let zlo: number;
  let zhi: number;
  let hasScale = true;
  const zr = input.zRange;
  if (Array.isArray(zr) && isValue(zr[0]) && isValue(zr[1])) {
    zlo = Math.min(zr[0], zr[1]);
    zhi = Math.max(zr[0], zr[1]);
  } else if (finite.length > 0) {
    [zlo, zhi] = extent(finite);
  } else {
    zlo = 0;
    zhi = 1;
    hasScale = false;
  }
  if (!(zhi > zlo)) {
    // all values equal: a small range around the value, so the cells take the middle colour
    const pad = zlo === 0 ? 1 : Math.abs(zlo) * 0.1;
    zlo -= pad;
    zhi += pad;
  }
  const colourOf = (v: number): string => viridis((v - zlo) / (zhi - zlo));

  const zTicks = niceTicks(zlo, zhi, 6).filter((t) => t >= zlo - (zhi - zlo) * 1e-9 && t <= zhi + (zhi - zlo) * 1e-9);
  const zTickValues = zTicks.length >= 2 ? zTicks : [zlo, zhi];
  const zTickText = zTicks.length >= 2 ? formatTicks(zTickValues) : zTickValues.map((v) => formatNumber(v));

  // horizontal layout
  const xText = xValues.map((v) => truncate(formatCategory(v), MAX_CATEGORY_LABEL, TICK_FONT));
  const yText = yValues.map((v) => truncate(formatCategory(v), MAX_CATEGORY_LABEL, TICK_FONT));
  const yTickW = Math.max(0, ...yText.map((s) => textWidth(s, TICK_FONT)));
  const zTickW = hasScale ? Math.max(0, ...zTickText.map((s) => textWidth(s, TICK_FONT))) : 0;
  const left = Math.round(14 + 16 + 10 + yTickW + 8);
  const barW = 16;
  const rightArea = hasScale ? 18 + barW + 8 + zTickW + 12 + 16 + 12 : hasNull ? 70 : 16;
  const right = W - rightArea;
  const plotW = right - left;
  const nx = xValues.length;
  const ny = yValues.length;
  const cellW = plotW / nx;

  // x tick labels: horizontal when they fit, else rotated by 45 degrees, thinned when crowded
  const xTickW = Math.max(0, ...xText.map((s) => textWidth(s, TICK_FONT)));
  const rotate = xTickW > cellW - 4;
  const xEvery = rotate ? Math.max(1, Math.ceil(14 / cellW)) : 1;
  const xLabelDepth = rotate ? xTickW * 0.71 + 10 : 16;
  const top = 46;
  const bottom = Math.round(H - (8 + xLabelDepth + 8 + 18 + 8));
  const plotH = bottom - top;
  const cellH = plotH / ny;
  const yEvery = Math.max(1, Math.ceil(14 / cellH));

  // values written in the cells when there is room
  const valueFont = cellH >= 22 && cellW >= 40 ? 11 : 10;
  const cellText = cells.map((c) => (isValue(c.value) ? formatNumber(c.value, 3) : 'n/a'));
  const showValues =
    cells.length <= 400 && cellH >= 16 && cellText.every((s) => textWidth(s, valueFont) <= cellW - 6);

  const id = idPrefix(title, xValues, yValues, cells.length);
  const defs =
    `<pattern id="${id}-hatch" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)">` +
    el('rect', { x: 0, y: 0, width: 6, height: 6, fill: NA_FILL }) +
    el('line', { x1: 0, y1: 0, x2: 0, y2: 6, stroke: '#9e9e9e', 'stroke-width': 2 }) +
    `</pattern>` +
    `<linearGradient id="${id}-bar" x1="0" y1="1" x2="0" y2="0">` +
    VIRIDIS_STOPS.map((c, i) => el('stop', { offset: n(i / (VIRIDIS_STOPS.length - 1)), 'stop-color': c })).join('') +
    `</linearGradient>`;

  const parts: string[] = [];
  parts.push(
    fittedText(W / 2, 28, title, W - 24, 16, { 'text-anchor': 'middle', 'font-weight': 'bold', fill: AXIS_COLOR, class: 'plot-title' }),
  );
  // background for (x, y) combinations without a cell
  parts.push(el('rect', { x: left, y: top, width: plotW, height: plotH, fill: '#ffffff' }));

  const stroke = cellW >= 8 && cellH >= 8 ? ` stroke="#ffffff" stroke-width="0.75"` : '';
  const titles = input.cellTitles ?? cells.length <= TOOLTIP_CELLS;
  const width = n(cellW);
  const height = n(cellH);
  // The attributes written directly (the same as el() writes): a phase diagram can have
  // tens of thousands of cells, and this loop is most of the time of drawing it.
  const cellParts: string[] = [];
  let labelsSvg = '';
  cells.forEach((c, i) => {
    const xi = xIndex.get(key(c.x))!;
    const yi = yIndex.get(key(c.y))!;
    const x = left + xi * cellW;
    const y = bottom - (yi + 1) * cellH;
    const value = isValue(c.value) ? c.value : null;
    const fill = value === null ? `url(#${id}-hatch)` : colourOf(value);
    const count = Number.isFinite(c.count) ? c.count : 0;
    let rect =
      `<rect class="cell" x="${n(x)}" y="${n(y)}" width="${width}" height="${height}" fill="${fill}"${stroke}` +
      ` data-x="${escapeXml(c.x)}" data-y="${escapeXml(c.y)}" data-value="${value === null ? 'null' : String(value)}" data-count="${count}"` +
      (c.runId === undefined || c.runId === null ? '' : ` data-run-id="${escapeXml(c.runId)}"`) +
      (c.firstRunId === undefined || c.firstRunId === null ? '' : ` data-first-run-id="${escapeXml(c.firstRunId)}"`);
    if (titles) {
      const tip = `x=${formatCategory(c.x)}, y=${formatCategory(c.y)}: ${value === null ? 'n/a' : formatNumber(value)} (n=${count})`;
      rect += `><title>${escapeXml(tip)}</title></rect>`;
    } else {
      rect += '/>';
    }
    const href = input.cellHref ? safeHref(input.cellHref(c)) : undefined;
    if (href) rect = el('a', { href, 'xlink:href': href }, rect);
    cellParts.push(rect);
    if (showValues) {
      labelsSvg += el(
        'text',
        { x: x + cellW / 2, y: y + cellH / 2, dy: '0.35em', fill: value === null ? '#444444' : textColorOn(fill) },
        escapeXml(cellText[i]),
      );
    }
  });
  const cellsSvg = cellParts.join('');
  parts.push(el('g', { class: 'cells' }, cellsSvg));
  if (labelsSvg) {
    parts.push(el('g', { class: 'cell-values', 'font-size': valueFont, 'text-anchor': 'middle', 'pointer-events': 'none' }, labelsSvg));
  }
  parts.push(el('rect', { x: left, y: top, width: plotW, height: plotH, fill: 'none', stroke: AXIS_COLOR, 'stroke-width': 1 }));

  // axes
  let ticks = '';
  let tickText = '';
  xValues.forEach((v, i) => {
    const x = left + (i + 0.5) * cellW;
    if (i % xEvery !== 0) return;
    ticks += `M${n(x)},${n(bottom)}V${n(bottom + 5)}`;
    const a = { class: 'tick-label x-tick', 'data-value': String(v) };
    tickText += rotate
      ? el('text', { ...a, x, y: bottom + 9, dy: '0.7em', 'text-anchor': 'end', transform: `rotate(-45 ${n(x)} ${n(bottom + 9)})` }, escapeXml(xText[i]))
      : el('text', { ...a, x, y: bottom + 8, dy: '0.8em', 'text-anchor': 'middle' }, escapeXml(xText[i]));
  });
  yValues.forEach((v, i) => {
    if (i % yEvery !== 0) return;
    const y = bottom - (i + 0.5) * cellH;
    ticks += `M${n(left - 5)},${n(y)}H${n(left)}`;
    tickText += el('text', { class: 'tick-label y-tick', 'data-value': String(v), x: left - 8, y, dy: '0.35em', 'text-anchor': 'end' }, escapeXml(yText[i]));
  });
  parts.push(el('path', { d: ticks, stroke: AXIS_COLOR, 'stroke-width': 1, fill: 'none', class: 'ticks' }));
  parts.push(el('g', { 'font-size': TICK_FONT, fill: AXIS_COLOR }, tickText));
  if (input.xLabel) {
    parts.push(
      fittedText(left + plotW / 2, H - 14, String(input.xLabel), plotW, LABEL_FONT, { 'text-anchor': 'middle', fill: AXIS_COLOR, class: 'axis-label' }),
    );
  }
  if (input.yLabel) {
    parts.push(
      fittedText(0, 0, String(input.yLabel), plotH, LABEL_FONT, {
        transform: `translate(${n(14 + 8)},${n(top + plotH / 2)}) rotate(-90)`,
        'text-anchor': 'middle',
        dy: '0.35em',
        fill: AXIS_COLOR,
        class: 'axis-label',
      }),
    );
  }

  // colour bar and the n/a key
  const barX = right + 18;
  const naH = 14;
  const barTop = top;
  const barH = hasNull ? plotH - naH - 14 : plotH;
  if (hasScale) {
    let bar = el('rect', { x: barX, y: barTop, width: barW, height: barH, fill: `url(#${id}-bar)`, stroke: AXIS_COLOR, 'stroke-width': 0.75 });
    let barTicks = '';
    let barText = '';
    zTickValues.forEach((t, i) => {
      const y = barTop + barH - ((t - zlo) / (zhi - zlo)) * barH;
      barTicks += `M${n(barX + barW)},${n(y)}H${n(barX + barW + 4)}`;
      barText += el('text', { class: 'tick-label z-tick', 'data-value': String(t), x: barX + barW + 7, y, dy: '0.35em' }, escapeXml(zTickText[i]));
    });
    bar += el('path', { d: barTicks, stroke: AXIS_COLOR, 'stroke-width': 1, fill: 'none' });
    bar += el('g', { 'font-size': TICK_FONT, fill: AXIS_COLOR }, barText);
    if (input.zLabel) {
      bar += fittedText(0, 0, String(input.zLabel), barH, 12, {
        transform: `translate(${n(barX + barW + 7 + zTickW + 14)},${n(barTop + barH / 2)}) rotate(-90)`,
        'text-anchor': 'middle',
        dy: '0.35em',
        fill: AXIS_COLOR,
        class: 'axis-label',
      });
    }
    parts.push(el('g', { class: 'colorbar', 'data-min': String(zlo), 'data-max': String(zhi) }, bar));
  }
  if (hasNull) {
    const y = top + plotH - naH;
    parts.push(
      el(
        'g',
        { class: 'legend-na' },
        el('rect', { x: barX, y, width: barW, height: naH, fill: `url(#${id}-hatch)`, stroke: AXIS_COLOR, 'stroke-width': 0.75 }) +
          el('text', { x: barX + barW + 7, y: y + naH / 2, dy: '0.35em', 'font-size': TICK_FONT, fill: MUTED_COLOR }, 'n/a'),
      ),
    );
  }
  return svgDocument({ width: W, height: H, title, body: parts.join(''), defs });
}
