// The paper kit's report: a pure function of the published data and the kit's results
// (fetched from the service or computed in-process). Every verdict is computed here from
// the results and the tolerance stated next to the published value; none is written in
// by hand, and no outcome is assumed.
import { heatmapSvg, linePlotSvg, type HeatmapCell } from '@curation/plots';
import type {
  ExperimentResult, KitResults, Published, PublishedClaim, PublishedValue, RunRecord, StatsGroupRecord,
} from './types.ts';

export type ValueVerdict = 'reproduced' | 'not reproduced' | 'no result';
export type ClaimVerdict = 'holds' | 'does not hold' | 'no result';

export interface ValueRow {
  id: string;
  experiment: string;
  /** The reading (gaussian, quadratic, ...) and any other setting of the row, e.g. `quadratic, T = 2000`. */
  reading: string;
  paper: number;
  ours: number | null;
  diff: number | null;
  allowed: number;
  verdict: ValueVerdict;
  /** Where `ours` comes from (one run, the service's aggregate, or computed from the runs). */
  basis: string;
}

export interface ClaimRow {
  id: string;
  verdict: ClaimVerdict;
  /** The measured quantities the verdict is computed from. */
  evidence: string;
}

export interface Report {
  markdown: string;
  /** File name -> SVG document. */
  figures: Record<string, string>;
  values: ValueRow[];
  claims: ClaimRow[];
}

// ------------------------------------------------------------------ small helpers

const EPS = 1e-9;
const same = (a: unknown, b: number) => typeof a === 'number' && Math.abs(a - b) <= EPS * Math.max(1, Math.abs(b));
const matches = (params: Record<string, unknown>, want: Record<string, number>) =>
  Object.entries(want).every(([k, v]) => same(params[k], v));
const ok = (r: RunRecord) => r.status === 'succeeded' && r.summary !== null;
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

const VAR_LABEL: Record<string, string> = { iterations: 'T', 'model.bandwidth': 'h', 'model.components': 'k' };
const varLabel = (v: string) => VAR_LABEL[v] ?? v;

function fmt(v: number | null | undefined, kind: 'share' | 'sci' | 'g' = 'g'): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  if (kind === 'share') return v.toFixed(6);
  if (kind === 'sci') return v === 0 ? '0' : v.toExponential(3);
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5)) return v.toExponential(3);
  return String(Number(v.toPrecision(6)));
}
const signed = (v: number | null, kind: 'share' | 'sci') => (v === null ? '-' : `${v >= 0 ? '+' : ''}${fmt(v, kind)}`);

function distinctNumbers(runs: RunRecord[], v: string): number[] {
  return [...new Set(runs.map((r) => r.params[v]).filter((x): x is number => typeof x === 'number'))].sort((a, b) => a - b);
}

/** `T = 2000, h = 0.5` for the variables of `params` not in `skip`. */
function settingLabel(params: Record<string, unknown>, variables: string[], skip: string[]): string {
  return variables.filter((v) => !skip.includes(v)).map((v) => `${varLabel(v)} = ${String(params[v])}`).join(', ');
}

/** The reading named by an experiment id: `table3-quadratic` -> `quadratic`. */
export const readingOf = (id: string) => id.replace(/^table\d+-/, '');

function mdTable(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Rows `rowVar`, columns `colVar`, one cell per run (the first run when several match). */
function gridTable(runs: RunRecord[], rowVar: string, colVar: string, cell: (r: RunRecord) => string): string {
  const rows = distinctNumbers(runs, rowVar);
  const cols = distinctNumbers(runs, colVar);
  return mdTable(
    [`${varLabel(rowVar)} \\ ${varLabel(colVar)}`, ...cols.map(String)],
    rows.map((rv) => [String(rv), ...cols.map((cv) => {
      const r = runs.find((x) => same(x.params[rowVar], rv) && same(x.params[colVar], cv));
      return r && ok(r) ? cell(r) : '-';
    })]),
  );
}

/** Splits runs by the value of the variables other than `keep` (one group per setting). */
function groupsBy(runs: RunRecord[], variables: string[], keep: string[]): { label: string; params: Record<string, unknown>; runs: RunRecord[] }[] {
  const other = variables.filter((v) => !keep.includes(v));
  const out = new Map<string, { label: string; params: Record<string, unknown>; runs: RunRecord[] }>();
  for (const r of runs) {
    const params = Object.fromEntries(other.map((v) => [v, r.params[v]]));
    const k = JSON.stringify(params);
    if (!out.has(k)) out.set(k, { label: settingLabel(r.params, other, []), params, runs: [] });
    out.get(k)!.runs.push(r);
  }
  return [...out.values()];
}

// ------------------------------------------------------------------ published values

function allowedOf(v: PublishedValue): number {
  return v.tolerance.abs ?? (v.tolerance.rel ?? 0) * Math.abs(v.value);
}

function verdictOf(ours: number | null, v: PublishedValue): { diff: number | null; verdict: ValueVerdict } {
  if (ours === null) return { diff: null, verdict: 'no result' };
  const diff = ours - v.value;
  return { diff, verdict: Math.abs(diff) <= allowedOf(v) ? 'reproduced' : 'not reproduced' };
}

function shareRows(v: PublishedValue, e: ExperimentResult): ValueRow[] {
  const runs = e.runs.filter((r) => matches(r.params, v.params));
  return runs.map((r) => {
    const ours = ok(r) ? num(r.summary!.basinShare[0]) : null;
    const setting = settingLabel(r.params, e.variables, Object.keys(v.params));
    return {
      id: v.id, experiment: e.id,
      reading: [readingOf(e.id), setting].filter(Boolean).join(', '),
      paper: v.value, ours, allowed: allowedOf(v), ...verdictOf(ours, v),
      basis: `run ${r.index} of ${e.sweepId ? `sweep ${e.sweepId}` : e.id}: summary.basinShare[0]`,
    };
  });
}

function statsMeanSquare(stats: StatsGroupRecord[], params: Record<string, unknown>): number | null | undefined {
  const g = stats.find((s) => Object.entries(params).every(([k, v]) => typeof v === 'number' ? same(s.key[k], v) : s.key[k] === v));
  if (!g) return undefined;
  return num(g.metrics['summary.nashGap']?.meanSquare);
}

function meanSquareRows(v: PublishedValue, e: ExperimentResult): ValueRow[] {
  const runs = e.runs.filter((r) => matches(r.params, v.params));
  return groupsBy(runs, e.variables, ['q', ...Object.keys(v.params)]).map((g) => {
    const gaps = g.runs.map((r) => (ok(r) ? num(r.summary!.nashGap) : null));
    const complete = gaps.every((x) => x !== null) && gaps.length > 0;
    const computed = complete ? (gaps as number[]).reduce((a, x) => a + x * x, 0) / gaps.length : null;
    const fromStats = e.nashGapStats ? statsMeanSquare(e.nashGapStats, { ...v.params, ...g.params }) : undefined;
    const ours = fromStats !== undefined ? fromStats : computed;
    const qs = distinctNumbers(g.runs, 'q');
    return {
      id: v.id, experiment: e.id,
      reading: [readingOf(e.id), g.label].filter(Boolean).join(', '),
      paper: v.value, ours, allowed: allowedOf(v), ...verdictOf(ours, v),
      basis: `${fromStats !== undefined ? 'the service\'s stats (meanSquare of summary.nashGap)' : 'mean of nashGap^2 computed from the runs'} over ${qs.length} q values (${qs.join(', ')})`,
    };
  });
}

export function evaluateValues(published: Published, results: KitResults): ValueRow[] {
  const rows: ValueRow[] = [];
  for (const v of published.values) {
    for (const id of v.experiments) {
      const e = results.experiments.find((x) => x.id === id);
      if (!e) continue;
      rows.push(...(v.quantity === 'share' ? shareRows(v, e) : meanSquareRows(v, e)));
    }
  }
  return rows;
}

// ------------------------------------------------------------------ claims

function claimRow(c: PublishedClaim, results: KitResults): ClaimRow {
  const e = results.experiments.find((x) => x.id === c.experiment);
  const none = (why: string): ClaimRow => ({ id: c.id, verdict: 'no result', evidence: why });
  if (!e) return none(`experiment ${c.experiment} is not in this kit run`);
  const runs = e.runs.filter((r) => ok(r) && (!c.params || matches(r.params, c.params)));
  if (!runs.length) return none(`no succeeded run of ${c.experiment}${c.params ? ` with ${JSON.stringify(c.params)}` : ''}`);
  if (c.check === 'shareEqualsQ') {
    const tol = Number(c.tolerance.abs);
    let worst = 0;
    let at: unknown = null;
    for (const r of runs) {
      const s = num(r.summary!.basinShare[0]);
      const q = num(r.params.q);
      const err = s === null || q === null ? Infinity : Math.abs(s - q);
      if (err >= worst) { worst = err; at = r.params.q; }
    }
    return {
      id: c.id, verdict: worst <= tol ? 'holds' : 'does not hold',
      evidence: `largest |share of the basin of reward 1 - q| over ${runs.length} runs: ${fmt(worst, 'sci')} (at q = ${String(at)}); tolerance ${fmt(tol, 'sci')}`,
    };
  }
  if (c.check === 'outsideGrows') {
    const r = runs[0];
    const s = r.summary!;
    const a = s.audit;
    if (!a) return none('the run has no audit (m != 2)');
    const initialOutside = 1 - a.initMass.reduce((x, y) => x + y, 0);
    const threshold = Number(c.tolerance.outside);
    const assumption21 = a.disjoint && a.initMass.every((m) => m > 0) && a.gapsExceed2eps.every(Boolean) && a.inWindow;
    const dom = a.outsideDomination;
    const parts: [string, boolean][] = [
      [`every clause of Assumption 2.1 holds (disjoint ${a.disjoint}, initMass ${a.initMass.map((m) => fmt(m)).join(', ')}, gapsExceed2eps ${a.gapsExceed2eps.join(', ')}, inWindow ${a.inWindow})`, assumption21],
      [`the outside mass grows, ${fmt(initialOutside)} at t = 0 to ${fmt(s.final.outside)} at the end (>= ${threshold})`, s.final.outside > initialOutside && s.final.outside >= threshold],
      [`B.4 fails: outsideDomination ${fmt(dom)} >= 1`, dom !== null && dom >= 1],
      [`applies is ${a.applies}`, a.applies === false],
    ];
    return {
      id: c.id, verdict: parts.every(([, b]) => b) ? 'holds' : 'does not hold',
      evidence: parts.map(([t, b]) => `${b ? 'yes' : 'NO'}: ${t}`).join('; '),
    };
  }
  // qKRule
  const minAgreement = Number(c.tolerance.agreement);
  let agree = 0;
  const off: string[] = [];
  for (const r of runs) {
    const q = Number(r.params.q);
    const K = Number(r.params.K);
    const survived = r.summary!.survivingBasins >= 2;
    const predicted = q * K >= 1;
    if (survived === predicted) agree++;
    else off.push(`q = ${q}, K = ${K} (qK = ${fmt(q * K)}: ${survived ? 'survives' : 'dies'})`);
  }
  const rate = agree / runs.length;
  return {
    id: c.id, verdict: rate >= minAgreement ? 'holds' : 'does not hold',
    evidence: `"survives iff q K >= 1" matches ${agree} of ${runs.length} runs (${(100 * rate).toFixed(0)}%, needed ${(100 * minAgreement).toFixed(0)}%)` +
      (off.length ? `; the others: ${off.join('; ')}` : ''),
  };
}

export function evaluateClaims(published: Published, results: KitResults): ClaimRow[] {
  return published.claims.map((c) => claimRow(c, results));
}

// ------------------------------------------------------------------ figures

function table3Figure(results: KitResults, q: number, published: Published): string | null {
  const series: { name: string; points: { x: number; y: number | null }[] }[] = [];
  for (const e of results.experiments.filter((x) => x.id.startsWith('table3-'))) {
    for (const g of groupsBy(e.runs.filter((r) => same(r.params.q, q)), e.variables, ['q', 'D'])) {
      series.push({
        name: [readingOf(e.id), g.label].filter(Boolean).join(', '),
        points: distinctNumbers(g.runs, 'D').map((D) => {
          const r = g.runs.find((x) => same(x.params.D, D));
          return { x: D, y: r && ok(r) ? num(r.summary!.basinShare[0]) : null };
        }),
      });
    }
  }
  if (!series.length) return null;
  const paper = published.values.filter((v) => v.quantity === 'share' && v.params.q === q && typeof v.params.D === 'number');
  if (paper.length) series.push({ name: 'paper (Table 3)', points: paper.map((v) => ({ x: v.params.D, y: v.value })).sort((a, b) => a.x - b.x) });
  return linePlotSvg({ title: `Table 3: share of the basin of reward 1 at q = ${q}, by reading`, xLabel: 'D (distance between the optima)', yLabel: 'share of the basin of reward 1', series });
}

function table5Figure(results: KitResults, published: Published, rows: ValueRow[]): string | null {
  const series: { name: string; points: { x: number; y: number | null }[] }[] = [];
  for (const e of results.experiments.filter((x) => x.id.startsWith('table5-'))) {
    for (const g of groupsBy(e.runs, e.variables, ['q', 'D'])) {
      series.push({
        name: [readingOf(e.id), g.label].filter(Boolean).join(', '),
        points: distinctNumbers(g.runs, 'D').map((D) => {
          const gaps = g.runs.filter((r) => same(r.params.D, D)).map((r) => (ok(r) ? num(r.summary!.nashGap) : null));
          const row = rows.find((x) => x.experiment === e.id && x.reading === [readingOf(e.id), g.label].filter(Boolean).join(', ') &&
            published.values.find((v) => v.id === x.id)?.params.D === D);
          const y = row ? row.ours : gaps.every((x) => x !== null) ? (gaps as number[]).reduce((a, x) => a + x * x, 0) / gaps.length : null;
          return { x: D, y };
        }),
      });
    }
  }
  if (!series.length) return null;
  const paper = published.values.filter((v) => v.quantity === 'meanSquareNashGap');
  if (paper.length) series.push({ name: 'paper (Table 5)', points: paper.map((v) => ({ x: v.params.D, y: v.value })).sort((a, b) => a.x - b.x) });
  return linePlotSvg({ title: 'Table 5: mean squared Nash error over q, by D', xLabel: 'D (distance between the optima)', yLabel: 'mean over q of (share - q)^2', series, logY: true });
}

function table4Figure(results: KitResults): string | null {
  const series: { name: string; points: { x: number; y: number | null }[] }[] = [];
  for (const e of results.experiments.filter((x) => x.id.startsWith('table4-'))) {
    for (const g of groupsBy(e.runs, e.variables, ['D'])) {
      series.push({
        name: `${readingOf(e.id)}, ${g.label}`,
        points: distinctNumbers(g.runs, 'D').map((D) => {
          const r = g.runs.find((x) => same(x.params.D, D));
          return { x: D, y: r && ok(r) ? num(r.summary!.outsideDecayRate) : null };
        }),
      });
    }
  }
  if (!series.length) return null;
  return linePlotSvg({ title: 'Table 4: decay rate of the outside mass', xLabel: 'D (distance between the optima)', yLabel: 'outsideDecayRate (per generation)', series });
}

function finiteKFigure(e: ExperimentResult): string {
  const qs = distinctNumbers(e.runs, 'q');
  const Ks = distinctNumbers(e.runs, 'K');
  const cells: HeatmapCell[] = e.runs.filter(ok).map((r) => {
    const s = num(r.summary!.basinShare[0]);
    return { x: Number(r.params.K), y: Number(r.params.q), value: s === null ? null : Math.max(-20, Math.log10(Math.max(s, 1e-300))), count: 1 };
  });
  return heatmapSvg({
    title: 'Finite K: share of the basin of reward 1 (log10, floor -20)', xLabel: 'K (candidates per curated sample)', yLabel: 'q (weight of reward 1)',
    zLabel: 'log10 share of the basin of reward 1', xValues: Ks, yValues: qs, cells,
  });
}

function capacityFigure(e: ExperimentResult, x: string, title: string): string {
  const series = groupsBy(e.runs, e.variables, [x]).map((g) => ({
    name: g.label,
    points: distinctNumbers(g.runs, x).map((v) => {
      const r = g.runs.find((rr) => same(rr.params[x], v));
      return { x: v, y: r && ok(r) ? r.summary!.final.entropy : null };
    }),
  }));
  return linePlotSvg({ title, xLabel: x === 'model.bandwidth' ? 'kernel bandwidth h' : 'mixture components k', yLabel: 'final entropy (nats)', series });
}

// ------------------------------------------------------------------ the report

function verdictTable(rows: ValueRow[], published: Published): string {
  return mdTable(
    ['published value', 'source', 'reading', 'paper', 'ours', 'ours - paper', 'tolerance', 'verdict'],
    rows.map((r) => {
      const v = published.values.find((x) => x.id === r.id)!;
      const kind = v.quantity === 'share' ? 'share' : 'sci';
      const what = v.quantity === 'share'
        ? `share of the basin of reward 1, ${Object.entries(v.params).map(([k, x]) => `${k} = ${x}`).join(', ')}`
        : `mean squared Nash error, ${Object.entries(v.params).map(([k, x]) => `${k} = ${x}`).join(', ')}`;
      return [what, `${v.source.table}, ${v.source.row}${v.source.column ? `, ${v.source.column}` : ''}`, r.reading,
        fmt(r.paper, kind), fmt(r.ours, kind), signed(r.diff, kind), `±${fmt(r.allowed, kind)}`, `**${r.verdict}**`];
    }),
  );
}

/** Per published value: which readings reproduce it, or a plain statement that none does. */
function readingsVerdict(rows: ValueRow[], published: Published): string[] {
  return published.values.map((v) => {
    const mine = rows.filter((r) => r.id === v.id);
    const where = `${v.source.table} (${v.source.row}${v.source.column ? `, ${v.source.column}` : ''}) = ${fmt(v.value, v.quantity === 'share' ? 'share' : 'sci')}`;
    if (!mine.length) return `- ${where}: not compared (no experiment of this kit run holds it).`;
    const good = mine.filter((r) => r.verdict === 'reproduced').map((r) => r.reading);
    const bad = mine.filter((r) => r.verdict !== 'reproduced').map((r) => `${r.reading} (${r.verdict}${r.diff !== null ? `, off by ${fmt(Math.abs(r.diff), v.quantity === 'share' ? 'share' : 'sci')}` : ''})`);
    if (!good.length) return `- ${where}: **no reading in this kit reproduces it**; tried ${bad.join('; ')}.`;
    return `- ${where}: reproduced under ${good.join('; ')}${bad.length ? `; not under ${bad.join('; ')}` : ''}.`;
  });
}

/** The `Grid:` / `Trimmed:` paragraph of a spec's header. */
function gridNote(header: string): string {
  const paras = header.split(/\n\s*\n/);
  return paras.filter((p) => /^(Grid|Trimmed):/.test(p.trim())).map((p) => p.replace(/\s*\n\s*/g, ' ').trim()).join(' ');
}

function experimentIntro(e: ExperimentResult): string[] {
  const failed = e.runs.filter((r) => r.status !== 'succeeded').length;
  const where = e.sweepId ? `sweep \`${e.sweepId}\`` : 'computed in-process';
  const versions = [...new Set(e.runs.map((r) => (r.coreVersion ? `core ${r.coreVersion} (contract ${r.contract})` : null)).filter(Boolean))];
  return [
    `*Spec*: \`examples/paper/${e.file}\`, ${where}, ${e.runs.length} runs${failed ? ` (**${failed} did not succeed**)` : ''}` +
      `${e.reused ? `, ${e.reused} served from stored results` : ''}${versions.length ? `; ${versions.join(', ')}` : ''}.`,
    '',
    `*Reading*: ${e.description}`,
    '',
    ...(gridNote(e.header) ? [`*Grid*: ${gridNote(e.header).replace(/^Grid:\s*/, '')}`, ''] : []),
  ];
}

export function buildReport(published: Published, results: KitResults): Report {
  const values = evaluateValues(published, results);
  const claims = evaluateClaims(published, results);
  const figures: Record<string, string> = {};
  const exp = (id: string) => results.experiments.find((e) => e.id === id);
  const md: string[] = [];
  const totalRuns = results.experiments.reduce((a, e) => a + e.runs.length, 0);
  const reused = results.experiments.reduce((a, e) => a + (e.reused ?? 0), 0);

  md.push(`# Reproducing ${published.paper.authors[0].split(' ').pop()} et al. (${published.paper.venue})`, '');
  md.push(`*${published.paper.title}*${published.paper.arxiv ? ` (arXiv ${published.paper.arxiv})` : ''}.`, '');
  md.push(
    `Generated by \`sweep paper\` (${results.mode === 'service' ? `through the service at ${results.api}` : 'in-process, with the core directly'}): ` +
    `${results.experiments.length} experiments, ${totalRuns} runs` +
    `${results.computed !== undefined ? ` (${results.computed} computed${reused ? `, ${reused} served from stored results` : ''}${results.mode === 'in-process' ? ', identical configurations once' : ''})` : ''}` +
    `, ${results.wallSeconds.toFixed(1)} s wall time, finished ${results.finishedAt}.`, '');
  md.push(`**What was transcribed.** ${published.transcription}`, '');
  for (const n of published.notTranscribed) md.push(`- ${n.table}: ${n.what}.`);
  md.push('');

  md.push('## Verdicts', '');
  md.push('Each published number against our value under every reading the kit runs. The verdict is computed from the results: ' +
    '"reproduced" when |ours - paper| is within the tolerance stated in `examples/paper/published.json`, else "not reproduced".', '');
  md.push(values.length ? verdictTable(values, published) : '(no published value is covered by the experiments of this run)', '');
  md.push(...readingsVerdict(values, published), '');
  md.push('Stated results checked on their experiments:', '');
  md.push(mdTable(['result', 'source', 'statement', 'verdict', 'evidence'], claims.map((c) => {
    const p = published.claims.find((x) => x.id === c.id)!;
    return [p.id, p.source.result, p.statement, `**${c.verdict}**`, c.evidence];
  })), '');

  // ---- Table 3
  const t3 = results.experiments.filter((e) => e.id.startsWith('table3-'));
  if (t3.length) {
    md.push('## Table 3: the limit share of the basin of reward 1 over q and D', '');
    const qs = [...new Set(published.values.filter((v) => v.quantity === 'share').map((v) => v.params.q))];
    for (const q of qs.length ? qs : [0.1]) {
      const svg = table3Figure(results, q, published);
      if (svg) {
        const name = `table3-share-q${q}.svg`;
        figures[name] = svg;
        md.push(`![Table 3 at q = ${q}](${name})`, '');
      }
    }
    for (const e of t3) {
      md.push(`### Reading: ${readingOf(e.id)}`, '', ...experimentIntro(e));
      for (const g of groupsBy(e.runs, e.variables, ['q', 'D'])) {
        md.push(`Share of the basin of reward 1${g.label ? ` (${g.label})` : ''}; \`*\` = outside the Lemma 3.5 interval [lo, hi] of the audit:`, '');
        md.push(gridTable(g.runs, 'q', 'D', (r) => {
          const s = num(r.summary!.basinShare[0]);
          const iv = r.summary!.audit?.interval;
          const outside = s !== null && iv && (s < iv[0] - 1e-12 || s > iv[1] + 1e-12);
          return `${fmt(s, 'share')}${outside ? '*' : ''}`;
        }), '');
      }
      const q0 = e.runs.filter((r) => ok(r) && same(r.params.q, 0.1));
      if (q0.length) {
        md.push('Lemma 3.5 interval at q = 0.1, with the audit\'s verdicts (applies: the premises hold along the run; inInterval is null while outside mass >= 1e-3):', '');
        md.push(mdTable(['D', ...e.variables.filter((v) => v !== 'q' && v !== 'D').map(varLabel), 'share', 'interval', 'final outside', 'outsideDomination', 'applies', 'inInterval'],
          q0.map((r) => {
            const a = r.summary!.audit;
            return [String(r.params.D), ...e.variables.filter((v) => v !== 'q' && v !== 'D').map((v) => String(r.params[v])),
              fmt(r.summary!.basinShare[0], 'share'), a ? `[${fmt(a.interval[0], 'share')}, ${fmt(a.interval[1], 'share')}]` : '-',
              fmt(r.summary!.final.outside), fmt(a?.outsideDomination), String(a?.applies ?? '-'), String(a?.inInterval ?? 'null')];
          })), '');
      }
    }
  }

  // ---- Table 5
  const t5 = results.experiments.filter((e) => e.id.startsWith('table5-'));
  if (t5.length) {
    md.push('## Table 5: mean squared Nash error over q, by D', '');
    const svg = table5Figure(results, published, values);
    if (svg) {
      figures['table5-nash-error.svg'] = svg;
      md.push('![Table 5](table5-nash-error.svg)', '');
    }
    for (const e of t5) {
      md.push(`### Reading: ${readingOf(e.id)}`, '', ...experimentIntro(e));
      const rows: string[][] = [];
      for (const g of groupsBy(e.runs, e.variables, ['q', 'D'])) {
        for (const D of distinctNumbers(g.runs, 'D')) {
          const gaps = g.runs.filter((r) => same(r.params.D, D)).map((r) => (ok(r) ? num(r.summary!.nashGap) : null));
          const computed = gaps.every((x) => x !== null) ? (gaps as number[]).reduce((a, x) => a + x * x, 0) / gaps.length : null;
          const stats = e.nashGapStats ? statsMeanSquare(e.nashGapStats, { D, ...g.params }) : undefined;
          const paper = published.values.find((v) => v.quantity === 'meanSquareNashGap' && v.params.D === D);
          rows.push([String(D), g.label || '-', fmt(computed, 'sci'), stats === undefined ? '-' : fmt(stats, 'sci'), paper ? fmt(paper.value, 'sci') : 'not available offline']);
        }
      }
      md.push(mdTable(['D', 'setting', 'ours, from the runs', 'ours, service stats (meanSquare)', 'paper'], rows), '');
    }
  }

  // ---- Table 4
  const t4 = results.experiments.filter((e) => e.id.startsWith('table4-'));
  if (t4.length) {
    md.push('## Table 4: decay rate of the outside mass', '');
    md.push('The paper\'s Table 4 entries are not available offline: our rates are shown without a verdict. ' +
      'outsideDecayRate is the least-squares slope of ln(outside mass) against t over the second half of the run (ln of the per-generation ratio when the decay is geometric).', '');
    const svg = table4Figure(results);
    if (svg) {
      figures['table4-decay-rate.svg'] = svg;
      md.push('![Table 4](table4-decay-rate.svg)', '');
    }
    for (const e of t4) {
      md.push(`### Reading: ${readingOf(e.id)}`, '', ...experimentIntro(e));
      md.push(gridTable(e.runs, 'q', 'D', (r) => fmt(r.summary!.outsideDecayRate)), '');
    }
  }

  // ---- Proposition 3.4
  const plateau = exp('plateau');
  if (plateau) {
    md.push('## Proposition 3.4 / Corollary 3.8: plateau rewards give share = q', '', ...experimentIntro(plateau));
    md.push(mdTable(['q', 'share of the basin of reward 1', 'share - q', 'converged', 'inInterval'], plateau.runs.filter(ok).map((r) => {
      const s = num(r.summary!.basinShare[0]);
      return [String(r.params.q), fmt(s, 'share'), s === null ? '-' : signed(s - Number(r.params.q), 'sci'), String(r.summary!.converged), String(r.summary!.audit?.inInterval ?? 'null')];
    })), '');
  }

  // ---- Lemma 3.3
  const l33 = exp('lemma33-counterexample');
  if (l33) {
    md.push('## Lemma 3.3: the outside mass decays only under B.4 (four-atom counterexample)', '', ...experimentIntro(l33));
    md.push(mdTable(['c (compromise atom)', 'final outside', 'outsideDomination', 'B.4 (< 1)', 'Assumption 2.1 clauses', 'applies', 'outsideDecayRate', 'share of the basin of reward 1'],
      l33.runs.filter(ok).map((r) => {
        const s = r.summary!;
        const a = s.audit!;
        const a21 = a.disjoint && a.initMass.every((m) => m > 0) && a.gapsExceed2eps.every(Boolean) && a.inWindow;
        return [String(r.params.c), fmt(s.final.outside), fmt(a.outsideDomination), String(a.outsideDomination !== null && a.outsideDomination < 1),
          a21 ? 'all hold' : 'not all', String(a.applies), fmt(s.outsideDecayRate), fmt(s.basinShare[0], 'share')];
      })), '');
  }

  // ---- finite K
  const fk = exp('finite-k');
  if (fk) {
    md.push('## Finite K: where the minority basin survives', '', ...experimentIntro(fk));
    figures['finite-k.svg'] = finiteKFigure(fk);
    md.push('![finite K](finite-k.svg)', '');
    md.push('Surviving basins (2 = both hold at least 1% of their weight; 1 = the minority died); `!` marks a run where "survives iff q K >= 1" is wrong:', '');
    md.push(gridTable(fk.runs, 'q', 'K', (r) => {
      const surv = r.summary!.survivingBasins;
      const predicted = Number(r.params.q) * Number(r.params.K) >= 1;
      return `${surv}${(surv >= 2) !== predicted ? '!' : ''}`;
    }), '');
  }

  // ---- capacity and accumulation
  const kern = exp('capacity-kernel');
  const mix = exp('capacity-mixture');
  const acc = exp('accumulate');
  if (kern || mix || acc) {
    md.push('## Beyond the paper: capacity and accumulation', '');
    md.push('No published number: these runs leave the lemmas\' premises (exact refit, replace, no real data), so the audit\'s `applies` speaks only of the landscape.', '');
    const capTable = (e: ExperimentResult, x: string) => mdTable(
      [varLabel(x), 'q', 'share of the basin of reward 1', 'share - q', 'final outside', 'entropy (nats)', 'surviving basins', 'converged'],
      e.runs.filter(ok).map((r) => {
        const s = num(r.summary!.basinShare[0]);
        return [String(r.params[x]), String(r.params.q), fmt(s, 'share'), s === null ? '-' : signed(s - Number(r.params.q), 'sci'),
          fmt(r.summary!.final.outside), fmt(r.summary!.final.entropy), String(r.summary!.survivingBasins), String(r.summary!.converged)];
      }));
    if (kern) {
      md.push('### Kernel refit: bandwidth', '', ...experimentIntro(kern));
      figures['capacity-kernel.svg'] = capacityFigure(kern, 'model.bandwidth', 'Kernel refit: entropy of the limit against the bandwidth');
      md.push('![kernel bandwidth](capacity-kernel.svg)', '', capTable(kern, 'model.bandwidth'), '');
    }
    if (mix) {
      md.push('### Mixture refit: number of components', '', ...experimentIntro(mix));
      figures['capacity-mixture.svg'] = capacityFigure(mix, 'model.components', 'Mixture refit: entropy of the limit against the components');
      md.push('![mixture size](capacity-mixture.svg)', '', capTable(mix, 'model.components'), '');
    }
    if (acc) {
      md.push('### Replace against accumulate, with and without real data', '', ...experimentIntro(acc));
      md.push(mdTable(['retrain', 'realFraction', 'mode', 'share of the basin of reward 1', 'final outside', 'entropy (nats)', 'effective support', 'surviving basins'],
        acc.runs.filter(ok).map((r) => [String(r.params.retrain), String(r.params.realFraction), String(r.params.mode),
          fmt(r.summary!.basinShare[0], 'share'), fmt(r.summary!.final.outside), fmt(r.summary!.final.entropy),
          fmt(r.summary!.final.effectiveSupport), String(r.summary!.survivingBasins)])), '');
    }
  }

  md.push('## How this report was made', '');
  md.push('- The kit is `examples/paper/`: one sweep spec per experiment (its header names the paper\'s table or result and the reading) and `published.json` (the transcribed numbers, their source and tolerance). Nothing else holds an expected outcome.');
  md.push('- `results.json` next to this file holds every run\'s summary as fetched; `sweep paper --from results.json` rebuilds this report from it.');
  md.push('- Trimmed grids (from the spec headers):');
  for (const e of results.experiments) {
    const t = e.header.split(/\n\s*\n/).find((p) => /Trimmed:/.test(p));
    md.push(`  - ${e.id}: ${t ? t.replace(/\s*\n\s*/g, ' ').replace(/^.*?Trimmed:\s*/, '') : 'nothing trimmed'}`);
  }
  md.push('');
  return { markdown: md.join('\n'), figures, values, claims };
}
