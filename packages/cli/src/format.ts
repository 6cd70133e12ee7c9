// Human output: numbers to 4 significant digits, aligned tables, durations.

/** 4 significant digits, without trailing zeros; integers below 1e6 as they are. */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x) && Math.abs(x) < 1e6) return String(x);
  const abs = Math.abs(x);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e6)) {
    // 1.235e-7, 2.5e+8: mantissa to 4 digits, trailing zeros dropped
    const [m, e] = x.toExponential(3).split('e');
    return `${String(Number(m))}e${e}`;
  }
  return String(Number(x.toPrecision(4)));
}

/** A cell: numbers formatted, null/undefined as "-", everything else as text. */
export function formatCell(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

const isNumeric = (v: unknown) => typeof v === 'number';

/**
 * An aligned table: a header line, then one line per row. Columns of numbers are
 * right-aligned, others left-aligned; two spaces between columns, no trailing blanks.
 */
export function formatTable(header: string[], rows: unknown[][]): string {
  const cells = rows.map((r) => header.map((_, j) => formatCell(r[j])));
  const width = header.map((h, j) => Math.max(h.length, ...cells.map((r) => r[j].length)));
  // Numbers, or nothing at all ("-" for every row, e.g. std of single runs): right-aligned.
  const right = header.map((_, j) => rows.length > 0 && rows.every((r) => r[j] === null || r[j] === undefined || isNumeric(r[j])));
  const line = (r: string[]) => r
    .map((c, j) => (right[j] ? c.padStart(width[j]) : c.padEnd(width[j])))
    .join('  ')
    .trimEnd();
  return [line(header), ...cells.map(line)].join('\n') + '\n';
}

/** 75 -> "1m15s", 3725 -> "1h02m", null -> "-". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '-';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(s / 3600);
  if (h < 48) return `${h}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

/** A rate per second for humans: 4 significant digits, "-" when unknown. */
export function formatRate(perSecond: number | null): string {
  return perSecond === null || !Number.isFinite(perSecond) ? '-' : formatNumber(perSecond);
}

/** The contract a core version implements: its major number (as the service labels results). */
export function contractOf(coreVersion: string): number {
  const m = /^([0-9]+)\./.exec(coreVersion);
  return m ? Number(m[1]) : 1;
}

export interface Provenance {
  contract: number | null;
  coreVersions?: string[];
  otherContracts?: { contract: number; runs: number }[];
}

/** "contract 2, core 2.0.0 (3 runs of contract 1 left out)": which results a reply aggregates. */
export function provenanceText(p: Provenance): string {
  if (p.contract === null || p.contract === undefined) return 'no results yet';
  const core = p.coreVersions?.length ? `, core ${p.coreVersions.join(' + ')}` : '';
  const left = (p.otherContracts ?? []).map((o) => `${o.runs} run${o.runs === 1 ? '' : 's'} of contract ${o.contract} left out`);
  return `contract ${p.contract}${core}${left.length ? ` (${left.join(', ')})` : ''}`;
}
