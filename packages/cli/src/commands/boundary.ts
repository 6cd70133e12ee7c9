// `sweep boundary ID`: the boundary an adaptive (refine) sweep found, as a table of
// polyline points in the refine axes' coordinates (or the API's JSON with --json).
import type { Command } from 'commander';
import { ApiClient, addApiOptions, runApiCommand, type ApiFlags } from '../api-client.ts';
import { formatTable } from '../format.ts';

interface BoundaryFlags extends ApiFlags {
  json?: boolean;
  cells?: boolean;
}

export interface BoundaryReply {
  id: string;
  status: string;
  stage: number;
  done: boolean;
  runs: number;
  budget: number;
  fullGrid: number;
  finest: number;
  axes: { param: string; min: number; max: number; scale: string }[];
  outcome: Record<string, unknown>;
  polylines: number[][][];
  cells: { range: [number, number][]; level: number; boundary: boolean; value: number | null }[];
  leaves: number;
}

/** One line of progress, then one row per point: line, point, then one column per refine axis. */
export function boundaryText(b: BoundaryReply, withCells = false): string {
  const names = b.axes.map((a) => a.param);
  const outcome = Object.entries(b.outcome).filter(([k]) => k !== 'kind').map(([k, v]) => `${k} ${v}`).join(', ');
  let out =
    `sweep ${b.id} ${b.status}: stage ${b.stage}${b.done ? ' (done)' : ''}, ${b.runs} of a budget of ${b.budget} runs ` +
    `(a full grid at 1/${b.finest} would take ${b.fullGrid}); ${outcome}; ${b.polylines.length} line(s)\n`;
  const rows: unknown[][] = [];
  b.polylines.forEach((line, i) => line.forEach((p, j) => rows.push([i, j, ...p])));
  out += rows.length ? formatTable(['line', 'point', ...names], rows) : 'no boundary found (yet)\n';
  if (withCells) {
    const cellRows = b.cells.map((c) => [c.level, ...c.range.flatMap((r) => r), c.value]);
    out += formatTable(['level', ...names.flatMap((n) => [`${n}.from`, `${n}.to`]), 'value'], cellRows);
  }
  return out;
}

export async function runBoundary(id: string, flags: BoundaryFlags): Promise<number> {
  const client = ApiClient.fromFlags(flags);
  const b = await client.get<BoundaryReply>(`/sweeps/${encodeURIComponent(id)}/boundary`);
  process.stdout.write(flags.json ? `${JSON.stringify(b, null, 2)}\n` : boundaryText(b, flags.cells));
  return 0;
}

export function registerBoundary(program: Command): void {
  const cmd = program
    .command('boundary')
    .description('the boundary an adaptive (refine) sweep found: polylines in the refine axes\' coordinates')
    .argument('<id>', 'sweep id')
    .option('--cells', 'also list the cells the boundary crosses')
    .option('--json', 'print the API reply as JSON');
  addApiOptions(cmd).action(async (id: string, flags: BoundaryFlags) => {
    await runApiCommand(() => runBoundary(id, flags));
  });
}
