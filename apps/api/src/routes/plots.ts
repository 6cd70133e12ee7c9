// SVG plots of results, drawn by @curation/plots from aggregates computed in Postgres:
//   GET /sweeps/:id/plot.svg?x=q&y=D&z=summary.basinShare.0[&agg=mean]   phase diagram (heatmap)
//   GET /sweeps/:id/plot.svg?x=D&z=summary.nashGap[&series=q]            line plot, mean +- sd over seeds
//   GET /runs/:id/plot.svg                                               one run's trajectory
import type { FastifyPluginAsync, FastifyReply, RawServerDefault } from 'fastify';
import { Type } from '@sinclair/typebox';
import { heatmapSvg, linePlotSvg, trajectoryPlotSvg, type Category, type HeatmapCell, type LinePoint } from '@curation/plots';
import {
  parseWhere, requireMetric, requireVariable, runTrajectory, sweepMeta, sweepStats, type MetricStats, type StatsGroup, type SweepStats,
} from '@curation/db';
import type { TypeBoxProvider } from '../type-provider.ts';
import { MAX_AXIS_CELLS, binnedGrid } from './plot-bins.ts';
import type { Deps } from '../deps.ts';
import { ApiError, notFound } from '../errors.ts';
import { visibilityOf } from '../auth.ts';
import { RunIdParams, SweepIdParams, errors } from '../schemas.ts';
import { ContractParam, ListParam, badRequest } from '../stats-params.ts';

export const AGGREGATES = ['mean', 'median', 'min', 'max', 'count', 'std', 'meanSquare', 'rms'] as const;
export type Aggregate = (typeof AGGREGATES)[number];

const DEFAULT_Z = 'summary.basinShare.0';
const SVG_TYPE = 'image/svg+xml; charset=utf-8';

const Size = (what: string) => Type.Optional(Type.Integer({ minimum: 200, maximum: 4000, description: `${what} in pixels` }));

const SweepPlotQuery = Type.Object({
  x: Type.String({ minLength: 1, description: 'axis variable on the horizontal axis' }),
  y: Type.Optional(Type.String({ minLength: 1, description: 'axis variable on the vertical axis: a heatmap (phase diagram); without it, a line plot' })),
  z: Type.Optional(Type.String({ description: `the summary field plotted (default ${DEFAULT_Z})` })),
  agg: Type.Optional(
    Type.Unsafe<Aggregate>({
      type: 'string',
      enum: [...AGGREGATES],
      description: 'the aggregate over the runs of a cell or point (seeds), default mean; line plots draw +- sd bars for mean, p10..p90 for median',
    }),
  ),
  series: Type.Optional(Type.String({ minLength: 1, description: 'line plot only: one line per value of this axis variable' })),
  where: Type.Optional(ListParam('filters as in /stats, e.g. seed<10;summary.converged=true')),
  logY: Type.Optional(Type.Unsafe<string>({ type: 'string', enum: ['0', '1', 'true', 'false'], description: 'line plot only: log y axis' })),
  contract: ContractParam,
  width: Size('width'),
  height: Size('height'),
});

const RunPlotQuery = Type.Object({ width: Size('width'), height: Size('height') });

const svgReply = {
  description: 'SVG image',
  content: { 'image/svg+xml': { schema: { type: 'string' } } },
};

/** Group values as plot categories: numbers stay numbers. */
const category = (v: unknown): Category => (typeof v === 'number' || typeof v === 'string' ? v : JSON.stringify(v));

function sortCategories(values: Category[]): Category[] {
  const seen = new Map<string, Category>();
  for (const v of values) seen.set(`${typeof v}:${v}`, v);
  return [...seen.values()].sort((a, b) => {
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    if (typeof a === 'number') return -1;
    if (typeof b === 'number') return 1;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

function aggregateOf(m: MetricStats | undefined, agg: Aggregate): number | null {
  if (!m) return null;
  switch (agg) {
    case 'mean': return m.mean;
    case 'median': return m.median;
    case 'min': return m.min;
    case 'max': return m.max;
    case 'count': return m.count;
    case 'std': return m.std;
    case 'meanSquare': return m.meanSquare;
    case 'rms': return m.rms;
  }
}

const AGG_WORDS = new Map<Aggregate, string>([
  ['mean', 'mean'], ['median', 'median'], ['min', 'minimum'], ['max', 'maximum'], ['count', 'number of runs with'],
  ['std', 'standard deviation'], ['meanSquare', 'mean square'], ['rms', 'root mean square'],
]);

const LINE_BARS = new Map<Aggregate, string>([['mean', ', error bars +- sd'], ['median', ', error bars p10 to p90']]);

/** "contract 2, core 2.0.0" and the runs of other contracts left out, for a plot's title. */
export function provenance(stats: Pick<SweepStats, 'contract' | 'coreVersions' | 'otherContracts'>): string {
  if (stats.contract === null) return 'no results';
  const core = stats.coreVersions.length ? `, core ${stats.coreVersions.join(' + ')}` : '';
  const left = stats.otherContracts.map((o) => `${o.runs} run${o.runs === 1 ? '' : 's'} of contract ${o.contract} left out`);
  return `contract ${stats.contract}${core}${left.length ? ` (${left.join(', ')})` : ''}`;
}

/** `mean of basin share (reward 1) [summary.basinShare.0]`: the label, then the one name. */
function valueTitle(agg: Aggregate, z: string, label: string): string {
  const what = label === z ? z : `${label} [${z}]`;
  return `${AGG_WORDS.get(agg)} ${agg === 'count' ? what : `of ${what}`}`;
}

function sendSvg(reply: FastifyReply, svg: string) {
  return reply.header('content-type', SVG_TYPE).send(svg);
}

function short(v: unknown): string {
  return typeof v === 'number' ? String(Number(v.toPrecision(6))) : typeof v === 'string' ? v : JSON.stringify(v);
}

/**
 * Drawn diagrams by the aggregate they draw: a settled sweep's stats reply is kept
 * (packages/db stats-plan.ts) and hands out the same group objects each time, so the
 * SVG of a kept aggregate is drawn once and lives as long as the aggregate does. A reply
 * computed afresh has new objects and is drawn anew.
 */
const drawn = new WeakMap<StatsGroup, Map<string, string>>();

function drawOnce(groups: StatsGroup[], key: string, draw: () => string): string {
  const anchor = groups[0];
  if (!anchor) return draw();
  let byKey = drawn.get(anchor);
  if (!byKey) drawn.set(anchor, (byKey = new Map()));
  let svg = byKey.get(key);
  if (svg === undefined) byKey.set(key, (svg = draw()));
  return svg;
}

export const plotRoutes: FastifyPluginAsync<Deps, RawServerDefault, TypeBoxProvider> = async (app, deps) => {
  const { pool } = deps;

  app.get('/sweeps/:id/plot.svg', {
    schema: {
      tags: ['results'],
      summary: 'Phase diagram (heatmap over x and y) or line plot (over x, error bars over seeds) of a summary field',
      description:
        'With x and y: a heatmap of the aggregate `agg` (mean by default) of z over the runs of each (x, y) cell, with a colour ' +
        'scale; a cell holding exactly one run links to that run\'s plot. With only x: the mean of z against x with error bars ' +
        '(+- sample sd over the runs, i.e. seeds; p10..p90 with agg=median), one line per value of `series` if given.',
      params: SweepIdParams,
      querystring: SweepPlotQuery,
      response: { 200: svgReply, ...errors(400, 404) },
    },
  }, async (request, reply) => {
    const { id } = request.params;
    const q = request.query;
    const z = q.z ?? DEFAULT_Z;
    const visibility = visibilityOf(request);
    const where = parseWhere(q.where);
    const meta = await sweepMeta(pool, id, visibility);
    if (!meta) throw notFound('sweep', id);
    const sweepName = typeof (meta.spec as { name?: unknown })?.name === 'string' ? (meta.spec as { name: string }).name : id;
    // Each parameter checked by its own name, so a 400 says which one is wrong.
    requireVariable(q.x, meta.variables, 'x');
    if (q.y !== undefined) requireVariable(q.y, meta.variables, 'y');
    if (q.series !== undefined) requireVariable(q.series, meta.variables, 'series');
    const zField = requireMetric(z, 'z');
    const { contract } = q;

    if (q.y !== undefined) {
      if (q.series !== undefined) throw badRequest('series is for line plots (x only); a heatmap has x and y');
      if (q.logY !== undefined) throw badRequest('logY is for line plots (x only)');
      if (q.y === q.x) throw badRequest(`x and y are both ${JSON.stringify(q.x)}: a heatmap needs two different variables`);
      const agg: Aggregate = q.agg ?? 'mean';
      const stats = await sweepStats(pool, id, { groupBy: [q.x, q.y], metrics: [z], where, contract, visibility });
      if (!stats) throw notFound('sweep', id);
      // The groups are those of one aggregate; what else the picture depends on is in the key.
      const drawKey = JSON.stringify([q.x, q.y, z, agg, q.width, q.height, sweepName, stats.contract, stats.groups.length, stats.groups.at(-1)?.key]);
      const yVar = q.y;
      return sendSvg(reply, drawOnce(stats.groups, drawKey, () => {
        const xValues = sortCategories(stats.groups.map((g) => category(g.key[q.x])));
        const yValues = sortCategories(stats.groups.map((g) => category(g.key[yVar])));
        let grid: { xValues: Category[]; yValues: Category[]; cells: HeatmapCell[]; xPer: number; yPer: number };
        if (xValues.length <= MAX_AXIS_CELLS && yValues.length <= MAX_AXIS_CELLS) {
          const cells = stats.groups.map((g): HeatmapCell => ({
            x: category(g.key[q.x]),
            y: category(g.key[yVar]),
            value: aggregateOf(g.metrics[z], agg),
            count: g.n,
            ...(g.runId ? { runId: g.runId } : {}),
            firstRunId: g.firstRunId,
          }));
          grid = { xValues, yValues, cells, xPer: 1, yPer: 1 };
        } else {
          grid = binnedGrid(stats.groups, { x: q.x, y: yVar, z, agg, xValues, yValues, category });
        }
        const { cells } = grid;
        const perCell = [...new Set(cells.map((c) => c.count))];
        const runs = perCell.length === 1 ? `${perCell[0]} run${perCell[0] === 1 ? '' : 's'} per cell` : 'runs per cell vary';
        const binned = grid.xPer * grid.yPer > 1
          ? `; ${grid.xPer} x ${grid.yPer} values of ${xValues.length} x ${yValues.length} per cell${agg === 'median' ? ", the median of the groups' medians" : ''}`
          : '';
        const svg = heatmapSvg({
          title: `${valueTitle(agg, z, zField.label)} over seeds (${runs}${binned}): ${sweepName}; ${provenance(stats)}`,
          xLabel: q.x,
          yLabel: yVar,
          zLabel: `${agg}(${z})`,
          xValues: grid.xValues,
          yValues: grid.yValues,
          cells,
          // The dashboard's page of the sweep, opened on the cell's run: it works in a new tab,
          // where a link into /v1 would answer 401 (a browser sends no API key of its own).
          cellHref: (c) => (c.runId ? `/sweeps/${encodeURIComponent(id)}#run=${encodeURIComponent(c.runId)}` : undefined),
          width: q.width,
          height: q.height,
        });
        return svg;
      }));
    }

    const agg: Aggregate = q.agg ?? 'mean';
    if (q.series === q.x) throw badRequest(`x and series are both ${JSON.stringify(q.x)}`);
    const groupBy = q.series !== undefined ? [q.series, q.x] : [q.x];
    const stats = await sweepStats(pool, id, { groupBy, metrics: [z], where, contract, visibility });
    if (!stats) throw notFound('sweep', id);
    const bad = stats.groups.find((g) => typeof g.key[q.x] !== 'number');
    if (bad) {
      throw badRequest(`x variable ${JSON.stringify(q.x)} has the non-numeric value ${JSON.stringify(bad.key[q.x])}: a line plot needs numbers (use a heatmap)`);
    }
    const bySeries = new Map<string, StatsGroup[]>();
    for (const g of stats.groups) {
      const name = q.series !== undefined ? `${q.series} = ${short(g.key[q.series])}` : z;
      bySeries.set(name, [...(bySeries.get(name) ?? []), g]);
    }
    const series = [...bySeries].map(([name, groups]) => ({
      name,
      points: groups.map((g): LinePoint => {
        const m = g.metrics[z];
        const y = aggregateOf(m, agg);
        // error bars: +- sd around the mean, p10..p90 around the median
        const bars =
          agg === 'mean' && y !== null && m?.std != null ? { yLow: y - m.std, yHigh: y + m.std }
            : agg === 'median' && m?.p10 != null && m?.p90 != null ? { yLow: m.p10, yHigh: m.p90 }
              : {};
        return { x: g.key[q.x] as number, y, ...bars, count: m?.count ?? 0 };
      }),
    }));
    const svg = linePlotSvg({
      title: `${valueTitle(agg, z, zField.label)} over seeds${LINE_BARS.get(agg) ?? ''}: ${sweepName}; ${provenance(stats)}`,
      xLabel: q.x,
      yLabel: agg === 'mean' ? z : `${agg}(${z})`,
      series,
      logY: q.logY === '1' || q.logY === 'true',
      width: q.width,
      height: q.height,
    });
    return sendSvg(reply, svg);
  });

  app.get('/runs/:id/plot.svg', {
    schema: {
      tags: ['results'],
      summary: 'The trajectory of one run: basin masses and outside, entropy, step (log axis)',
      params: RunIdParams,
      querystring: RunPlotQuery,
      response: { 200: svgReply, ...errors(404) },
    },
  }, async (request, reply) => {
    const { id } = request.params;
    const run = await runTrajectory(pool, id, visibilityOf(request));
    if (!run) throw notFound('run', id);
    if (!run.trajectory) throw new ApiError(404, `run ${JSON.stringify(id)} has no trajectory yet (status ${run.status})`);
    const params = run.variables.map((k) => `${k} = ${short(run.params[k])}`).join(', ');
    const svg = trajectoryPlotSvg({
      title: `run ${run.id} (${run.sweepName}, index ${run.index}${params ? `: ${params}` : ''}); contract ${run.contract}, core ${run.coreVersion}`,
      rows: run.trajectory,
      width: request.query.width,
      height: request.query.height,
    });
    return sendSvg(reply, svg);
  });
};
