// Trajectory of one run: basin masses and "outside", entropy, and the steps (log axis),
// as three stacked panels sharing the generation axis. Basin i is named after its
// reward, "basin (reward i+1)", as every label of the service names per-reward quantities.

import { seriesColor } from './color.ts';
import { legendWidth, renderLegend, renderPanel, tickLabelWidth, type PanelSeries } from './panel.ts';
import { extent, linearScale, logScale } from './scale.ts';
import { AXIS_COLOR, DEFAULT_HEIGHT, DEFAULT_WIDTH, MARKERS, dim, emptySvg, fittedText, svgDocument } from './svg.ts';

export interface TrajectoryRow {
  t: number;
  entropy: number;
  mass: number[];
  outside: number;
  step: number | null;
  /** Contract 2: the largest change of a basin mass or the outside mass; absent or null before. */
  shareStep?: number | null;
}

export interface TrajectoryPlotInput {
  title: string;
  rows: TrajectoryRow[];
  /** default "basin (reward 1)", "basin (reward 2)", ... */
  basinNames?: string[];
  width?: number;
  height?: number;
}

/** Markers are drawn when there are at most this many recorded generations. */
const MAX_MARKERS = 60;
const MARKER_SIZE = 5.5;
const INSET = 5;
const LINE_COLOR = '#3b3b3b';

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function trajectoryPlotSvg(input: TrajectoryPlotInput): string {
  const W = dim(input.width, DEFAULT_WIDTH);
  const H = dim(input.height, DEFAULT_HEIGHT, 240);
  const title = String(input.title ?? '');
  const rows = (Array.isArray(input.rows) ? input.rows : [])
    .filter((r) => r && typeof r === 'object' && Number.isFinite(r.t))
    .slice()
    .sort((a, b) => a.t - b.t);
  if (rows.length === 0) return emptySvg(W, H, title);

  const showMarkers = rows.length <= MAX_MARKERS;
  const m = Math.max(0, extent(rows.map((r) => (Array.isArray(r.mass) ? r.mass.length : 0)))[1]);
  const names = Array.from({ length: m }, (_, i) => {
    const given = input.basinNames?.[i];
    return given !== undefined && given !== null && String(given) !== '' ? String(given) : `basin (reward ${i + 1})`;
  });
  const massSeries: PanelSeries[] = names.map((name, i) => ({
    name,
    color: seriesColor(i),
    marker: MARKERS[i % MARKERS.length],
    showMarkers,
    markerSize: MARKER_SIZE,
    points: rows.map((r) => ({ x: r.t, y: num(Array.isArray(r.mass) ? r.mass[i] : null) })),
  }));
  massSeries.push({
    name: 'outside',
    color: '#8a8a8a',
    marker: 'circle',
    dash: '6 4',
    showMarkers,
    markerSize: MARKER_SIZE,
    points: rows.map((r) => ({ x: r.t, y: num(r.outside) })),
  });
  const entropySeries: PanelSeries = {
    name: 'entropy',
    color: LINE_COLOR,
    marker: 'circle',
    showMarkers,
    markerSize: MARKER_SIZE,
    points: rows.map((r) => ({ x: r.t, y: num(r.entropy) })),
  };
  const stepSeries: PanelSeries = {
    name: 'step',
    color: LINE_COLOR,
    marker: 'circle',
    showMarkers,
    markerSize: MARKER_SIZE,
    points: rows.map((r) => ({ x: r.t, y: num(r.step) })),
  };
  const shareSeries: PanelSeries = {
    name: 'share step',
    color: seriesColor(0),
    marker: 'square',
    dash: '6 4',
    showMarkers,
    markerSize: MARKER_SIZE,
    points: rows.map((r) => ({ x: r.t, y: num(r.shareStep) })),
  };
  const hasShare = shareSeries.points.some((p) => p.y !== null);
  const stepPanel = hasShare ? [stepSeries, shareSeries] : [stepSeries];

  const massValues = [0, 1, ...massSeries.flatMap((s) => s.points.map((p) => p.y).filter((v): v is number => v !== null))];
  const entropyValues = entropySeries.points.map((p) => p.y).filter((v): v is number => v !== null);
  const stepValues = stepPanel.flatMap((s) => s.points.map((p) => p.y)).filter((v): v is number => v !== null && v > 0);

  // layout
  const titleArea = 42;
  const panelTitle = 20;
  const gap = 10;
  const bottomArea = 50;
  const panelH = Math.max(30, (H - titleArea - bottomArea - 3 * panelTitle - 2 * gap) / 3);
  const tops = [0, 1, 2].map((i) => titleArea + panelTitle + i * (panelH + panelTitle + gap));
  const legW = legendWidth(massSeries, 150);

  const yMassProbe = linearScale(massValues, [0, 1], 6);
  const yEntProbe = linearScale(entropyValues, [0, 1], 6);
  const yStepProbe = logScale(stepValues, [0, 1], 8);
  const yTickW = Math.max(tickLabelWidth(yMassProbe), tickLabelWidth(yEntProbe), tickLabelWidth(yStepProbe));
  const left = Math.round(14 + yTickW + 10);
  const right = W - 20 - legW - 12;
  const xScale = linearScale(
    rows.map((r) => r.t),
    [left + INSET, right - INSET],
    Math.max(3, Math.min(10, Math.floor((right - left) / 70))),
  );
  const yTicks = Math.max(3, Math.min(6, Math.floor(panelH / 30)));
  const yRange = (i: number): [number, number] => [tops[i] + panelH - INSET, tops[i] + INSET];
  const yMass = linearScale(massValues, yRange(0), yTicks);
  const yEnt = linearScale(entropyValues, yRange(1), yTicks);
  const yStep = logScale(stepValues, yRange(2), Math.max(3, Math.floor(panelH / 20)));

  const common = { left, width: right - left, height: panelH, xScale };
  const body =
    fittedText(W / 2, 26, title, W - 24, 16, { 'text-anchor': 'middle', 'font-weight': 'bold', fill: AXIS_COLOR, class: 'plot-title' }) +
    renderPanel({ ...common, top: tops[0], yScale: yMass, series: massSeries, title: 'Basin mass and outside', showXTickLabels: false }) +
    renderPanel({
      ...common,
      top: tops[1],
      yScale: yEnt,
      series: [entropySeries],
      title: 'Entropy (nats)',
      showXTickLabels: false,
    }) +
    renderPanel({
      ...common,
      top: tops[2],
      yScale: yStep,
      series: stepPanel,
      title: hasShare
        ? 'Step: total variation (solid) and share step (dashed) between consecutive generations (log scale)'
        : 'Step: total variation between consecutive generations (log scale)',
      showXTickLabels: true,
      xLabel: 'generation t',
      note: stepValues.length === 0 ? 'no positive step' : undefined,
    }) +
    renderLegend(right + 14, tops[0] + 8, legW, massSeries);
  return svgDocument({ width: W, height: H, title, body });
}
