// Line plot: several series with markers, optional error bars, linear or log y axis.

import { seriesColor } from './color.ts';
import { legendWidth, renderLegend, renderPanel, tickLabelWidth, type PanelSeries } from './panel.ts';
import { linearScale, logScale, type Scale } from './scale.ts';
import { AXIS_COLOR, DEFAULT_HEIGHT, DEFAULT_WIDTH, MARKERS, dim, emptySvg, fittedText, svgDocument } from './svg.ts';

export interface LinePoint {
  x: number;
  y: number | null;
  yLow?: number;
  yHigh?: number;
  count?: number;
}

export interface LinePlotInput {
  title: string;
  xLabel: string;
  yLabel: string;
  series: { name: string; points: LinePoint[] }[];
  logY?: boolean;
  width?: number;
  height?: number;
}

/** Markers are drawn unless a series is this long (then lines only). */
const MAX_MARKERS = 150;
const INSET = 8;

export function linePlotSvg(input: LinePlotInput): string {
  const W = dim(input.width, DEFAULT_WIDTH);
  const H = dim(input.height, DEFAULT_HEIGHT);
  const title = String(input.title ?? '');
  const logY = input.logY === true;
  const raw = Array.isArray(input.series) ? input.series : [];
  const series: PanelSeries[] = raw.map((s, i) => {
    const points = Array.isArray(s?.points) ? s.points.filter((p) => p && typeof p === 'object') : [];
    return {
      name: String(s?.name ?? `series ${i + 1}`),
      color: seriesColor(i),
      marker: MARKERS[i % MARKERS.length],
      showMarkers: points.length <= MAX_MARKERS,
      points,
    };
  });

  const okY = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && (!logY || v > 0);
  const xs: number[] = [];
  const ys: number[] = [];
  for (const s of series) {
    for (const p of s.points) {
      if (!Number.isFinite(p.x) || !okY(p.y)) continue;
      xs.push(p.x);
      ys.push(p.y);
      if (okY(p.yLow)) ys.push(p.yLow);
      if (okY(p.yHigh)) ys.push(p.yHigh);
    }
  }
  if (xs.length === 0) return emptySvg(W, H, title);

  const top = 48;
  const bottom = H - 58;
  const yCount = Math.max(3, Math.min(7, Math.floor((bottom - top) / 50)));
  const yMaxTicks = Math.max(3, Math.floor((bottom - top) / 28));
  const makeY = (range: [number, number]): Scale => (logY ? logScale(ys, range, yMaxTicks) : linearScale(ys, range, yCount));
  const yTickW = tickLabelWidth(makeY([0, 1]));
  const showLegend = series.length > 1;
  const legW = showLegend ? legendWidth(series) : 0;
  const left = Math.round(14 + 16 + 10 + yTickW + 8);
  const right = W - 20 - (showLegend ? legW + 12 : 0);
  // the data area is inset from the frame so that points and error bars do not sit on it
  const xScale = linearScale(xs, [left + INSET, right - INSET], Math.max(3, Math.min(8, Math.floor((right - left) / 80))));
  const yScale = makeY([bottom - INSET, top + INSET]);

  const body =
    fittedText(W / 2, 28, title, W - 24, 16, { 'text-anchor': 'middle', 'font-weight': 'bold', fill: AXIS_COLOR, class: 'plot-title' }) +
    renderPanel({
      left,
      top,
      width: right - left,
      height: bottom - top,
      xScale,
      yScale,
      series,
      xLabel: input.xLabel ? String(input.xLabel) : undefined,
      yLabel: input.yLabel ? String(input.yLabel) : undefined,
      yLabelX: 14 + 8,
      showXTickLabels: true,
    }) +
    (showLegend ? renderLegend(right + 14, top + 10, legW, series) : '');
  return svgDocument({ width: W, height: H, title, body });
}
