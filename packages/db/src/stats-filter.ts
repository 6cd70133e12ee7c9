// The pure half of a stats request: where= filters parsed from text, the groupBy
// variables and metrics checked against the sweep and the summary fields, each filter
// resolved to what it compares. stats-sql.ts turns the result into SQL.
import { StatsQueryError } from './stats-error.ts';
import { SUMMARY_FIELD_HELP, didYouMean, parseSummaryField, requireMetric, requireVariable, resolveVariable, type SummaryField } from './stats-fields.ts';

export const FILTER_OPS = ['=', '!=', '<', '<=', '>', '>='] as const;
export type FilterOp = (typeof FILTER_OPS)[number];

export interface Filter {
  /** An axis variable (`q`) or a summary field (`summary.collapsed`). */
  field: string;
  op: FilterOp;
  value: number | boolean | string | null;
}

const CLAUSE_RE = /^\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*(<=|>=|!=|<>|==|=|<|>)\s*(.*?)\s*$/s;
const NUMBER_RE = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const BARE_RE = /^[^\s"'<>=!;]+$/;

/** Splits on `;` outside quotes. */
function splitClauses(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  for (const ch of text) {
    if (quote) {
      cur += ch;
      if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      cur += ch;
    } else if (ch === ';') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function parseValue(raw: string): Filter['value'] | undefined {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (raw === 'null') return null;
  if (NUMBER_RE.test(raw)) {
    const n = Number(raw);
    return Number.isFinite(n) ? n : undefined;
  }
  if (raw.length >= 2 && (raw[0] === '"' || raw[0] === "'") && raw[raw.length - 1] === raw[0]) {
    const inner = raw.slice(1, -1);
    return inner.includes(raw[0]) ? undefined : inner;
  }
  return BARE_RE.test(raw) ? raw : undefined;
}

/**
 * Parses `q>=0.3;summary.collapsed=false;D!=2` (one string or several, e.g. repeated
 * `where` params). Values: numbers, true/false, null, "quoted" or bare strings.
 * Throws StatsQueryError naming the offending clause.
 */
export function parseWhere(input: string | string[] | undefined | null): Filter[] {
  if (input === undefined || input === null) return [];
  const texts = Array.isArray(input) ? input : [input];
  const filters: Filter[] = [];
  for (const text of texts) {
    for (const clause of splitClauses(text)) {
      if (clause.trim() === '') continue;
      const m = CLAUSE_RE.exec(clause);
      if (!m) {
        throw new StatsQueryError(
          `malformed where clause ${JSON.stringify(clause.trim())}: expected <field><op><value> with op one of ${FILTER_OPS.join(' ')} (clauses separated by ;)`,
          'where',
        );
      }
      const op = (m[2] === '<>' ? '!=' : m[2] === '==' ? '=' : m[2]) as FilterOp;
      if (m[3] === '') throw new StatsQueryError(`malformed where clause ${JSON.stringify(clause.trim())}: missing value after ${op}`, 'where');
      const value = parseValue(m[3]);
      if (value === undefined) {
        throw new StatsQueryError(
          `malformed where clause ${JSON.stringify(clause.trim())}: cannot read value ${JSON.stringify(m[3])} (use a number, true, false, null, or a string; quote strings with spaces or operators)`,
          'where',
        );
      }
      if (value === null && op !== '=' && op !== '!=') {
        throw new StatsQueryError(`malformed where clause ${JSON.stringify(clause.trim())}: null only works with = and !=`, 'where');
      }
      filters.push({ field: m[1], op, value });
    }
  }
  return filters;
}

/** A filter as the caller wrote it, for messages. */
export const showFilter = (f: Filter): string =>
  `${f.field}${f.op}${f.value === null ? 'null' : typeof f.value === 'string' ? JSON.stringify(f.value) : String(f.value)}`;

/** A filter on an axis variable (compared as jsonb) or on a summary field (with the field's kind checked). */
export type ResolvedFilter =
  | { on: 'variable'; variable: string; op: FilterOp; value: Filter['value'] }
  | { on: 'summary'; field: SummaryField; op: FilterOp; value: Filter['value'] };

/** What `f` compares, or a StatsQueryError naming the clause. */
export function resolveFilter(f: Filter, variables: readonly string[]): ResolvedFilter {
  if (!FILTER_OPS.includes(f.op)) throw new StatsQueryError(`unknown operator ${JSON.stringify(f.op)}: use one of ${FILTER_OPS.join(' ')}`, 'where');
  const variable = resolveVariable(f.field, variables);
  if (variable !== null) return { on: 'variable', variable, op: f.op, value: f.value };
  const s = parseSummaryField(f.field);
  if (!s) {
    throw new StatsQueryError(
      `unknown field ${JSON.stringify(f.field)}${didYouMean(f.field, variables)} in where clause ${JSON.stringify(showFilter(f))}: not an axis variable of this sweep ` +
        `(${variables.join(', ') || 'none'}) nor a summary field (${SUMMARY_FIELD_HELP})`,
      'where',
    );
  }
  if (f.value !== null) {
    if (s.kind === 'boolean') {
      if (typeof f.value !== 'boolean') throw new StatsQueryError(`where clause ${JSON.stringify(showFilter(f))}: ${f.field} is true or false`, 'where');
      if (f.op !== '=' && f.op !== '!=') throw new StatsQueryError(`where clause ${JSON.stringify(showFilter(f))}: ${f.field} only compares with = or !=`, 'where');
    } else if (typeof f.value !== 'number') {
      throw new StatsQueryError(`where clause ${JSON.stringify(showFilter(f))}: ${f.field} is a number`, 'where');
    }
  }
  return { on: 'summary', field: s, op: f.op, value: f.value };
}

// ------------------------------------------------------------------ groupBy, metrics, contract

export const MAX_GROUP_BY = 6;
export const MAX_METRICS = 24;

/** The groupBy names (deduplicated, as written) and the variables they stand for. */
export function checkGroupBy(groupBy: readonly string[], variables: readonly string[]): { names: string[]; variables: string[] } {
  const names = [...new Set(groupBy)];
  if (names.length > MAX_GROUP_BY) throw new StatsQueryError(`takes at most ${MAX_GROUP_BY} variables`, 'groupBy');
  return { names, variables: names.map((g) => requireVariable(g, variables, 'groupBy')) };
}

/** The metric names (deduplicated, as written) and their summary fields. */
export function checkMetrics(metrics: readonly string[]): { names: string[]; fields: SummaryField[] } {
  const names = [...new Set(metrics)];
  if (names.length > MAX_METRICS) throw new StatsQueryError(`takes at most ${MAX_METRICS} fields`, 'metrics');
  return { names, fields: names.map((m) => requireMetric(m)) };
}

export function checkContract(c: number | undefined): void {
  if (c !== undefined && !(Number.isSafeInteger(c) && c >= 1)) throw new StatsQueryError(`must be a positive integer, got ${String(c)}`, 'contract');
}
