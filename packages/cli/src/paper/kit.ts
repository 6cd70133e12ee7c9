// Loading the paper kit (a directory of sweep specs plus published.json) and running
// it: in-process with the core, or through the sweep service.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { simulate } from '@curation/core';
import { compileSweep, parseSpecText, validateSweep, DEFAULT_LIMITS, type SweepSpec } from '@curation/sweep-spec';
import { FINISHED, type ApiClient, type Sweep } from '../api-client.ts';
import { InputError } from '../read-input.ts';
import type { ExperimentResult, KitResults, Published, RunRecord, RunSummary, StatsGroupRecord } from './types.ts';

export interface KitSpec {
  id: string;
  file: string;
  text: string;
  format: 'yaml' | 'json';
  spec: SweepSpec;
  header: string;
  variables: string[];
  total: number;
}

export interface Kit {
  dir: string;
  published: Published;
  specs: KitSpec[];
}

/** The leading comment block of a YAML spec, without the `# ` marks. */
export function headerComment(text: string): string {
  const lines: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('#')) break;
    lines.push(line.replace(/^# ?/, ''));
  }
  return lines.join('\n').trim();
}

/** Reads published.json and every spec (*.yaml, *.yml, *.json other than published.json) of `dir`, validated. */
export function loadKit(dir: string, only?: string[]): Kit {
  if (!existsSync(join(dir, 'published.json'))) throw new InputError(`${dir} is not a paper kit: no published.json`);
  let published: Published;
  try {
    published = JSON.parse(readFileSync(join(dir, 'published.json'), 'utf8')) as Published;
  } catch (err) {
    throw new InputError(`${join(dir, 'published.json')} is not valid JSON: ${(err as Error).message}`);
  }
  const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/i.test(f) && f !== 'published.json').sort();
  const specs: KitSpec[] = [];
  for (const file of files) {
    const id = basename(file).replace(/\.(ya?ml|json)$/i, '');
    if (only && !only.includes(id)) continue;
    const text = readFileSync(join(dir, file), 'utf8');
    const format = /\.json$/i.test(file) ? 'json' : 'yaml';
    const spec = parseSpecText(text, format) as SweepSpec;
    const checked = validateSweep(spec, DEFAULT_LIMITS);
    if (!checked.ok) {
      throw new InputError(`${join(dir, file)}: ${checked.issues.map((i) => `${i.path || '/'}: ${i.message}`).join('; ')}`);
    }
    specs.push({
      id, file, text, format, spec,
      header: format === 'yaml' ? headerComment(text) : String((spec as { description?: string }).description ?? ''),
      variables: checked.compiled.variables,
      total: checked.compiled.total,
    });
  }
  if (only) {
    const missing = only.filter((id) => !specs.some((s) => s.id === id));
    if (missing.length) throw new InputError(`no such experiment in ${dir}: ${missing.join(', ')}`);
  }
  return { dir, published, specs };
}

function experimentBase(s: KitSpec): Omit<ExperimentResult, 'runs' | 'status'> {
  return {
    id: s.id,
    file: s.file,
    name: s.spec.name,
    description: String((s.spec as { description?: string }).description ?? ''),
    header: s.header,
    variables: s.variables,
    total: s.total,
  };
}

export type Progress = (line: string) => void;

/** Runs every configuration of the kit with the core in this process (identical configurations once). */
export function runInProcess(kit: Kit, progress: Progress = () => {}): KitResults {
  const started = Date.now();
  const memo = new Map<string, RunRecord>();
  const experiments: ExperimentResult[] = [];
  for (const s of kit.specs) {
    const t0 = Date.now();
    const compiled = compileSweep(s.spec);
    const runs: RunRecord[] = [];
    for (let i = 0; i < compiled.total; i++) {
      const config = compiled.configAt(i);
      const key = JSON.stringify(config);
      let rec = memo.get(key);
      if (!rec) {
        const out = simulate(config);
        // Through JSON like a stored result, so both modes feed the report the same values.
        rec = {
          index: i, params: {}, status: 'succeeded',
          summary: JSON.parse(JSON.stringify(out.summary)) as RunSummary,
          contract: out.contract, coreVersion: out.coreVersion, error: null,
        };
        memo.set(key, rec);
      }
      runs.push({ ...rec, index: i, params: compiled.paramsAt(i) });
    }
    experiments.push({ ...experimentBase(s), status: 'succeeded', runs });
    progress(`${s.id}: ${compiled.total} runs in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  const finished = Date.now();
  return {
    kit: 'curation-sweeps paper kit',
    mode: 'in-process',
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(finished).toISOString(),
    wallSeconds: (finished - started) / 1000,
    computed: memo.size,
    experiments,
  };
}

// ------------------------------------------------------------------ through the service

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every variable but q: Table 5 averages over q within each group. */
const nashGapGroupBy = (variables: string[]) => variables.filter((v) => v !== 'q');

async function fetchRuns(client: ApiClient, sweepId: string): Promise<RunRecord[]> {
  const res = await client.fetch('GET', `/sweeps/${sweepId}/runs.ndjson`, { stream: true, headers: { accept: 'application/x-ndjson' } });
  const text = await res.text();
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => {
    const r = JSON.parse(l) as RunRecord & { runId?: string };
    return {
      index: r.index, params: r.params, status: r.status, summary: r.summary,
      contract: r.contract ?? null, coreVersion: r.coreVersion ?? null, error: r.error ?? null,
    };
  });
}

async function fetchNashGapStats(client: ApiClient, sweepId: string, variables: string[]): Promise<StatsGroupRecord[] | undefined> {
  if (!variables.includes('q')) return undefined;
  const reply = await client.get<{ groups: StatsGroupRecord[] }>(`/sweeps/${sweepId}/stats`, {
    groupBy: nashGapGroupBy(variables).join(','),
    metrics: 'summary.nashGap',
  });
  return reply.groups.map((g) => ({ key: g.key, n: g.n, metrics: g.metrics }));
}

/** The runs and aggregates of sweeps already run (the report's input), fetched from the service. */
export async function fetchExperiments(client: ApiClient, kit: Kit, sweepIds: Record<string, string>): Promise<ExperimentResult[]> {
  const out: ExperimentResult[] = [];
  for (const s of kit.specs) {
    const id = sweepIds[s.id];
    if (!id) continue;
    const sweep = await client.get<Sweep>(`/sweeps/${id}`);
    const reused = (sweep.counts as { reused?: number }).reused;
    out.push({
      ...experimentBase(s),
      sweepId: id,
      status: sweep.status,
      ...(typeof reused === 'number' ? { reused } : {}),
      runs: await fetchRuns(client, id),
      nashGapStats: s.id.startsWith('table5') ? await fetchNashGapStats(client, id, s.variables) : undefined,
    });
  }
  return out;
}

export interface ServiceOptions {
  pollMs?: number;
  progress?: Progress;
}

/** Submits every spec of the kit, follows them until all have ended, then fetches runs and stats. */
export async function runThroughService(client: ApiClient, kit: Kit, o: ServiceOptions = {}): Promise<KitResults> {
  const progress = o.progress ?? (() => {});
  const started = Date.now();
  const sweepIds: Record<string, string> = {};
  for (const s of kit.specs) {
    const reply = await client.post<{ id: string; total: number }>('/sweeps', {
      body: s.text,
      contentType: s.format === 'yaml' ? 'application/yaml' : 'application/json',
    });
    sweepIds[s.id] = reply.id;
    progress(`submitted ${s.id}: sweep ${reply.id}, ${reply.total} runs`);
  }
  const total = kit.specs.reduce((a, s) => a + s.total, 0);
  let lastLine = '';
  let lastAt = 0;
  for (;;) {
    const sweeps = await Promise.all(Object.values(sweepIds).map((id) => client.get<Sweep>(`/sweeps/${id}`)));
    const settled = sweeps.reduce((a, s) => a + s.counts.succeeded + s.counts.failed + s.counts.cancelled, 0);
    const failed = sweeps.reduce((a, s) => a + s.counts.failed, 0);
    const ended = sweeps.filter((s) => FINISHED.includes(s.status)).length;
    const line = `${settled}/${total} runs done, ${ended}/${sweeps.length} sweeps ended${failed ? `, ${failed} failed` : ''}`;
    if (line !== lastLine && (Date.now() - lastAt > 2000 || ended === sweeps.length)) {
      progress(`${line} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
      lastLine = line;
      lastAt = Date.now();
    }
    if (ended === sweeps.length) break;
    await sleep(o.pollMs ?? 1000);
  }
  const experiments = await fetchExperiments(client, kit, sweepIds);
  const finished = Date.now();
  const reused = experiments.reduce((a, e) => a + (e.reused ?? 0), 0);
  // Only an API that reports counts.reused says how many runs were computed rather than served.
  const reuseKnown = experiments.some((e) => e.reused !== undefined);
  return {
    kit: 'curation-sweeps paper kit',
    mode: 'service',
    api: client.base,
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(finished).toISOString(),
    wallSeconds: (finished - started) / 1000,
    ...(reuseKnown ? { computed: experiments.reduce((a, e) => a + e.runs.filter((r) => r.status === 'succeeded').length, 0) - reused } : {}),
    experiments,
  };
}
