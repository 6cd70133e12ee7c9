// One x/y panel: frame, grid, ticks, labels and line series with markers and error bars.
// Used by the line plot (one panel) and the trajectory plot (three stacked panels).

import { escapeXml, formatNumber, textWidth, truncate } from './format.ts';
import { tickLabels, type Scale, type TickLabel } from './scale.ts';
import { AXIS_COLOR, GRID_COLOR, MUTED_COLOR, el, fittedText, marker, n, text, type MarkerShape } from './svg.ts';

export const TICK_FONT = 11;
export const LABEL_FONT = 13;

export interface PanelPoint {
  x: number;
  y: number | null;
  yLow?: number;
  yHigh?: number;
  count?: number;
}

export interface PanelSeries {
  name: string;
  color: string;
  marker: MarkerShape;
  dash?: string;
  lineWidth?: number;
  /** marker size in px (default 7) */
  markerSize?: number;
  showMarkers: boolean;
  points: PanelPoint[];
}

export interface PanelSpec {
  left: number;
  top: number;
  width: number;
  height: number;
  /** range within [left, left + width] (usually inset by a few px so points do not sit on the frame) */
  xScale: Scale;
  /** range within [top + height, top] */
  yScale: Scale;
  series: PanelSeries[];
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** x of the centre of the rotated y label */
  yLabelX?: number;
  showXTickLabels: boolean;
  /** message written in the middle of the panel (e.g. when nothing could be drawn) */
  note?: string;
}

function labelWidth(l: TickLabel, size: number): number {
  return 'text' in l ? textWidth(l.text, size) : textWidth(l.base, size) + textWidth(l.exponent, size * 0.75);
}

/** Width in px of the widest tick label of a scale. */
export function tickLabelWidth(scale: Scale, size = TICK_FONT): number {
  return Math.max(0, ...tickLabels(scale).map((l) => labelWidth(l, size)));
}

function tickLabel(x: number, y: number, l: TickLabel, value: number, axis: 'x' | 'y', anchor: string, dy: string): string {
  const content =
    'text' in l
      ? escapeXml(l.text)
      : `${escapeXml(l.base)}<tspan dy="-0.45em" font-size="${n(TICK_FONT * 0.75)}">${escapeXml(l.exponent)}</tspan>`;
  return el('text', { x, y, dy, 'text-anchor': anchor, class: `tick-label ${axis}-tick`, 'data-value': String(value) }, content);
}

function seriesTooltip(name: string, p: PanelPoint): string {
  let s = `${name}: x=${formatNumber(p.x)}, y=${formatNumber(p.y)}`;
  if (Number.isFinite(p.yLow) && Number.isFinite(p.yHigh)) s += ` [${formatNumber(p.yLow)}, ${formatNumber(p.yHigh)}]`;
  if (typeof p.count === 'number') s += ` (n=${p.count})`;
  return s;
}

/** Renders the series only (error bars, lines, markers). */
export function renderSeries(xScale: Scale, yScale: Scale, series: PanelSeries[]): { svg: string; drawn: number } {
  const bottom = yScale.range[0];
  const top = yScale.range[1];
  let out = '';
  let drawn = 0;
  series.forEach((s, si) => {
    const pts = s.points
      .filter((p) => p && Number.isFinite(p.x) && xScale.accepts(p.x))
      .slice()
      .sort((a, b) => a.x - b.x);
    let bars = '';
    let d = '';
    let markers = '';
    let penDown = false;
    let segmentPoints = 0;
    const isolated: [number, number][] = [];
    let lastPoint: [number, number] | null = null;
    // A line of far more points than pixels (a run recorded at every one of 10^5
    // generations) draws the same picture from the first, lowest, highest and last point
    // of each half-pixel column, and stays a small SVG that a browser renders at once.
    let column = Number.NaN;
    const col = { x: 0, first: 0, min: 0, minAt: 0, max: 0, maxAt: 0, last: 0, count: 0 };
    const flushColumn = (): void => {
      if (col.count === 0) return;
      const ys = [col.first];
      const inner = col.minAt <= col.maxAt ? [col.min, col.max] : [col.max, col.min];
      for (const y of [...inner, col.last]) if (y !== ys[ys.length - 1]) ys.push(y);
      for (const y of ys) {
        d += `${penDown ? 'L' : 'M'}${n(col.x)},${n(y)}`;
        penDown = true;
      }
      col.count = 0;
    };
    const lineTo = (px: number, py: number): void => {
      const c = Math.round(px * 2);
      if (c !== column || col.count === 0) {
        flushColumn();
        column = c;
        Object.assign(col, { x: px, first: py, min: py, minAt: 0, max: py, maxAt: 0, last: py, count: 1 });
        return;
      }
      col.count++;
      if (py < col.min) Object.assign(col, { min: py, minAt: col.count });
      if (py > col.max) Object.assign(col, { max: py, maxAt: col.count });
      col.last = py;
    };
    const endSegment = (): void => {
      flushColumn();
      if (segmentPoints === 1 && lastPoint) isolated.push(lastPoint);
      penDown = false;
      segmentPoints = 0;
    };
    for (const p of pts) {
      if (p.y === null || p.y === undefined || !Number.isFinite(p.y)) {
        endSegment(); // a gap
        continue;
      }
      if (!yScale.accepts(p.y)) continue; // e.g. y <= 0 on a log axis: skipped, the line goes on
      const px = xScale.map(p.x);
      const py = yScale.map(p.y);
      lineTo(px, py);
      segmentPoints++;
      lastPoint = [px, py];
      drawn++;
      if (typeof p.yLow === 'number' && typeof p.yHigh === 'number' && Number.isFinite(p.yLow) && Number.isFinite(p.yHigh)) {
        const lo = Math.min(p.yLow, p.yHigh);
        const hi = Math.max(p.yLow, p.yHigh);
        if (yScale.accepts(hi)) {
          const yHi = Math.max(top, yScale.map(hi));
          const loOk = yScale.accepts(lo);
          const yLo = loOk ? Math.min(bottom, yScale.map(lo)) : bottom;
          const cap = 3.5;
          let bd = `M${n(px)},${n(yLo)}V${n(yHi)}M${n(px - cap)},${n(yHi)}H${n(px + cap)}`;
          if (loOk && yScale.map(lo) <= bottom) bd += `M${n(px - cap)},${n(yLo)}H${n(px + cap)}`;
          bars += bd;
        }
      }
      if (s.showMarkers) markers += marker(s.marker, px, py, s.markerSize ?? 7, s.color, '', seriesTooltip(s.name, p));
    }
    endSegment();
    const g: string[] = [];
    if (bars) g.push(el('path', { d: bars, class: 'error-bar', fill: 'none', stroke: s.color, 'stroke-width': 1.1, 'stroke-opacity': 0.85 }));
    if (d) {
      g.push(
        el('path', {
          d,
          class: 'series-line',
          fill: 'none',
          stroke: s.color,
          'stroke-width': s.lineWidth ?? 1.8,
          'stroke-linejoin': 'round',
          'stroke-linecap': 'round',
          'stroke-dasharray': s.dash,
        }),
      );
    }
    // a point alone between gaps is invisible as a line: show it with a marker anyway
    if (!s.showMarkers) for (const [x, y] of isolated) g.push(marker(s.marker, x, y, 5, s.color));
    if (markers) g.push(markers);
    out += el('g', { class: 'series', 'data-series': s.name, 'data-index': si }, g.join(''));
  });
  return { svg: out, drawn };
}

export function renderPanel(p: PanelSpec): string {
  const { left, top, width, height, xScale, yScale } = p;
  const right = left + width;
  const bottom = top + height;
  let grid = '';
  let ticks = '';
  let labels = '';
  const yl = tickLabels(yScale);
  yScale.ticks.forEach((t, i) => {
    const y = yScale.map(t);
    if (y > top + 0.5 && y < bottom - 0.5) grid += `M${n(left)},${n(y)}H${n(right)}`;
    ticks += `M${n(left - 5)},${n(y)}H${n(left)}`;
    labels += tickLabel(left - 8, y, yl[i], t, 'y', 'end', '0.35em');
  });
  for (const t of yScale.minorTicks) {
    const y = yScale.map(t);
    if (y >= top && y <= bottom) ticks += `M${n(left - 3)},${n(y)}H${n(left)}`;
  }
  const xl = tickLabels(xScale);
  xScale.ticks.forEach((t, i) => {
    const x = xScale.map(t);
    if (x > left + 0.5 && x < right - 0.5) grid += `M${n(x)},${n(top)}V${n(bottom)}`;
    ticks += `M${n(x)},${n(bottom)}V${n(bottom + 5)}`;
    if (p.showXTickLabels) labels += tickLabel(x, bottom + 8, xl[i], t, 'x', 'middle', '0.8em');
  });
  const parts: string[] = [];
  if (p.title) {
    parts.push(fittedText(left, top - 7, p.title, width, 12.5, { 'font-weight': 'bold', fill: AXIS_COLOR, class: 'panel-title' }));
  }
  parts.push(el('rect', { x: left, y: top, width, height, fill: '#ffffff' }));
  if (grid) parts.push(el('path', { d: grid, stroke: GRID_COLOR, 'stroke-width': 1, fill: 'none', class: 'grid' }));
  const { svg: seriesSvg, drawn } = renderSeries(xScale, yScale, p.series);
  parts.push(seriesSvg);
  parts.push(el('rect', { x: left, y: top, width, height, fill: 'none', stroke: AXIS_COLOR, 'stroke-width': 1 }));
  parts.push(el('path', { d: ticks, stroke: AXIS_COLOR, 'stroke-width': 1, fill: 'none', class: 'ticks' }));
  parts.push(el('g', { 'font-size': TICK_FONT, fill: AXIS_COLOR }, labels));
  const note = p.note ?? (drawn === 0 ? 'no data' : undefined);
  if (note) {
    parts.push(
      text(left + width / 2, top + height / 2, truncate(note, width - 10, 13), {
        'text-anchor': 'middle',
        dy: '0.35em',
        'font-size': 13,
        fill: MUTED_COLOR,
        class: 'no-data',
      }),
    );
  }
  if (p.xLabel) {
    const y = bottom + (p.showXTickLabels ? 38 : 20);
    parts.push(fittedText(left + width / 2, y, p.xLabel, width, LABEL_FONT, { 'text-anchor': 'middle', fill: AXIS_COLOR, class: 'axis-label' }));
  }
  if (p.yLabel) {
    const x = p.yLabelX ?? left - 40;
    const y = top + height / 2;
    parts.push(
      fittedText(0, 0, p.yLabel, height, LABEL_FONT, {
        transform: `translate(${n(x)},${n(y)}) rotate(-90)`,
        'text-anchor': 'middle',
        dy: '0.35em',
        fill: AXIS_COLOR,
        class: 'axis-label',
      }),
    );
  }
  return el('g', { class: 'panel' }, parts.join(''));
}

/** A legend (colour line, marker, name) as a column starting at (x, y). */
export function renderLegend(x: number, y: number, maxWidth: number, series: PanelSeries[]): string {
  let out = '';
  series.forEach((s, i) => {
    const cy = y + i * 20;
    out += el('path', {
      d: `M${n(x)},${n(cy)}H${n(x + 24)}`,
      stroke: s.color,
      'stroke-width': s.lineWidth ?? 1.8,
      'stroke-dasharray': s.dash,
      fill: 'none',
    });
    out += marker(s.marker, x + 12, cy, 7, s.color);
    const name = truncate(s.name, maxWidth - 32, 12);
    out += el(
      'text',
      { x: x + 31, y: cy, dy: '0.35em', fill: AXIS_COLOR, 'font-size': 12 },
      escapeXml(name) + (name === s.name ? '' : `<title>${escapeXml(s.name)}</title>`),
    );
  });
  return el('g', { class: 'legend' }, out);
}

export function legendWidth(series: PanelSeries[], cap = 170): number {
  return Math.min(cap, 36 + Math.max(0, ...series.map((s) => textWidth(s.name, 12))));
}
