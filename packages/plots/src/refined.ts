// The picture of an adaptive sweep: its non-uniform cells (the leaves of the
// refinement, coloured by the outcome at their corners, outlined so the refinement
// shows) and the boundary drawn over them.
import { viridis } from './color.ts';
import { formatNumber } from './format.ts';
import { linearScale, logScale, tickLabels, type Scale } from './scale.ts';
import { AXIS_COLOR, DEFAULT_HEIGHT, DEFAULT_WIDTH, dim, el, emptySvg, n, svgDocument, text } from './svg.ts';

export interface RefinedCell {
  /** [from, to] on the x axis (and y axis; 1-d plots leave it out). */
  x: [number, number];
  y?: [number, number];
  /** The outcome (0..1 for verdicts) or null when unknown. */
  value: number | null;
  boundary?: boolean;
}

export interface RefinedPlotInput {
  title: string;
  xLabel: string;
  yLabel?: string;
  xLog?: boolean;
  yLog?: boolean;
  cells: RefinedCell[];
  /** Polylines in axis coordinates ([x, y] points; in 1-d [x]). */
  polylines: number[][][];
  /** Range of the colour scale (default: the cells' values). */
  valueRange?: [number, number];
  valueLabel?: string;
  width?: number;
  height?: number;
}

const scaleOf = (log: boolean | undefined, values: number[], range: [number, number]): Scale =>
  log ? logScale(values, range) : linearScale(values, range);

function label(s: Scale, v: number, i: number): string {
  const l = tickLabels(s)[i];
  if (!l) return formatNumber(v);
  return 'text' in l ? l.text : `1e${l.exponent}`;
}

/** An SVG of the refined cells and the boundary. */
export function refinedPlotSvg(input: RefinedPlotInput): string {
  const width = dim(input.width, DEFAULT_WIDTH);
  const height = dim(input.height, DEFAULT_HEIGHT);
  if (!input.cells.length) return emptySvg(width, height, input.title);
  const twoD = input.cells[0].y !== undefined;
  const left = 70;
  const right = width - 90;
  const top = 36;
  const bottom = height - 50;
  const xs = input.cells.flatMap((c) => c.x);
  const ys = twoD ? input.cells.flatMap((c) => c.y!) : [0, 1];
  const sx = scaleOf(input.xLog, xs, [left, right]);
  const sy = twoD ? scaleOf(input.yLog, ys, [bottom, top]) : linearScale([0, 1], [bottom, top]);
  const vals = input.cells.map((c) => c.value).filter((v): v is number => v !== null);
  const [v0, v1] = input.valueRange ?? (vals.length ? [Math.min(...vals), Math.max(...vals)] : [0, 1]);
  const colour = (v: number | null) => (v === null ? '#dddddd' : viridis(v1 > v0 ? (v - v0) / (v1 - v0) : 0.5));

  let body = '';
  for (const c of input.cells) {
    const x0 = sx.map(c.x[0]);
    const x1 = sx.map(c.x[1]);
    const [ya, yb] = twoD ? [sy.map(c.y![1]), sy.map(c.y![0])] : [top, bottom];
    body += el('rect', {
      x: Math.min(x0, x1), y: Math.min(ya, yb), width: Math.abs(x1 - x0), height: Math.abs(yb - ya),
      fill: colour(c.value), stroke: '#ffffff', 'stroke-width': 0.4, 'stroke-opacity': 0.8,
    });
  }
  for (const line of input.polylines) {
    if (!twoD || line.length === 1) {
      const x = sx.map(line[0][0]);
      body += el('line', { x1: x, x2: x, y1: top, y2: bottom, stroke: '#d62728', 'stroke-width': 2 });
      continue;
    }
    const d = line.map((p, i) => `${i ? 'L' : 'M'}${n(sx.map(p[0]))},${n(sy.map(p[1]))}`).join('');
    body += el('path', { d, fill: 'none', stroke: '#d62728', 'stroke-width': 2, 'stroke-linejoin': 'round' });
  }
  // Axes and ticks.
  body += el('rect', { x: left, y: top, width: right - left, height: bottom - top, fill: 'none', stroke: AXIS_COLOR });
  sx.ticks.forEach((t, i) => {
    const x = sx.map(t);
    if (x < left - 0.5 || x > right + 0.5) return;
    body += el('line', { x1: x, x2: x, y1: bottom, y2: bottom + 5, stroke: AXIS_COLOR });
    body += text(x, bottom + 18, label(sx, t, i), { 'text-anchor': 'middle' });
  });
  if (twoD) {
    sy.ticks.forEach((t, i) => {
      const y = sy.map(t);
      if (y < top - 0.5 || y > bottom + 0.5) return;
      body += el('line', { x1: left - 5, x2: left, y1: y, y2: y, stroke: AXIS_COLOR });
      body += text(left - 8, y + 4, label(sy, t, i), { 'text-anchor': 'end' });
    });
    body += text(16, (top + bottom) / 2, input.yLabel ?? '', { 'text-anchor': 'middle', transform: `rotate(-90 16 ${n((top + bottom) / 2)})` });
  }
  body += text((left + right) / 2, height - 12, input.xLabel, { 'text-anchor': 'middle' });
  body += text(width / 2, 22, input.title, { 'text-anchor': 'middle', 'font-size': 14 });
  // Colour key.
  const kx = right + 20;
  for (let i = 0; i < 20; i++) {
    const y = bottom - ((bottom - top) * (i + 1)) / 20;
    body += el('rect', { x: kx, y, width: 14, height: (bottom - top) / 20 + 0.5, fill: viridis(i / 19) });
  }
  body += text(kx + 18, bottom, formatNumber(v0), { 'font-size': 10 });
  body += text(kx + 18, top + 8, formatNumber(v1), { 'font-size': 10 });
  if (input.valueLabel) body += text(kx, top - 6, input.valueLabel, { 'font-size': 10 });
  return svgDocument({ width, height, title: input.title, body, desc: `${input.cells.length} cells, ${input.polylines.length} boundary lines` });
}
