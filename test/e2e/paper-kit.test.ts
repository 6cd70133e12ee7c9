// The paper kit end to end: a cut-down kit through the real API (listening on a port)
// and two worker processes, run by the `sweep paper` command; its report's verdicts must
// follow from the stored results, so changing a stored value changes the verdict.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { ApiClient } from '../../packages/cli/src/api-client.ts';
import { fetchExperiments, headerComment, loadKit } from '../../packages/cli/src/paper/kit.ts';
import { buildReport } from '../../packages/cli/src/paper/report.ts';
import type { KitResults } from '../../packages/cli/src/paper/types.ts';
import { ROOT, setup, spawnWorker, type Env } from './support.ts';
import { runSweep, type ProcessResult } from '../support/run-process.ts';

const KIT = join(ROOT, 'examples/paper');

/** The kit's own specs with smaller axes (header, base and derive as in examples/paper). */
const CUT: Record<string, unknown[]> = {
  'table3-gaussian': [{ param: 'q', values: [0.1] }, { param: 'D', values: [2, 6] }],
  'table3-quadratic': [{ param: 'q', values: [0.1] }, { param: 'D', values: [2, 6] }, { param: 'iterations', values: [50] }],
  'table5-gaussian': [{ param: 'q', linspace: [0.1, 0.9, 9] }, { param: 'D', values: [2] }],
  plateau: [{ param: 'q', values: [0.2, 0.5] }],
  'lemma33-counterexample': [{ param: 'c', values: [2, 4.7] }],
};

function cutKit(dir: string): void {
  writeFileSync(join(dir, 'published.json'), readFileSync(join(KIT, 'published.json')));
  for (const [id, axes] of Object.entries(CUT)) {
    const text = readFileSync(join(KIT, `${id}.yaml`), 'utf8');
    const spec = { ...parseYaml(text), axes, name: `e2e-${id}` };
    const header = headerComment(text).split('\n').map((l) => `# ${l}`.trimEnd()).join('\n');
    writeFileSync(join(dir, `${id}.yaml`), `${header}\n${stringifyYaml(spec)}`);
  }
}

function sweepCli(args: string[]): Promise<ProcessResult> {
  return runSweep(args, { cwd: ROOT });
}

/** The verdict cell of the verdict-table row for `what` under `reading`. */
function verdictIn(markdown: string, what: string, reading: string): string | undefined {
  const row = markdown.split('\n').find((l) => l.startsWith(`| ${what} |`) && l.includes(`| ${reading} |`));
  return row?.match(/\*\*(reproduced|not reproduced|no result)\*\*/)?.[1];
}

describe('e2e: the paper kit through the service', () => {
  let env: Env;
  let dir: string;
  let base: string;
  let key: string;
  beforeAll(async () => {
    env = await setup();
    await env.app.listen({ port: 0, host: '127.0.0.1' });
    const addr = env.app.server.address() as { port: number };
    base = `http://127.0.0.1:${addr.port}`;
    key = env.auth.authorization.replace(/^Bearer /, '');
    await Promise.all([spawnWorker(env), spawnWorker(env)]);
    dir = mkdtempSync(join(tmpdir(), 'paper-kit-'));
    cutKit(dir);
  });
  afterAll(async () => {
    await env?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes a report whose verdicts follow the stored results, and change when a stored value changes', async () => {
    const out = join(dir, 'report');
    const res = await sweepCli(['paper', '--kit', dir, '-o', out, '--api', base, '--api-key', key, '--interval', '200']);
    expect(res.stderr).toMatch(/published values: /);
    expect(res.code).toBe(0);
    const markdown = readFileSync(join(out, 'report.md'), 'utf8');
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as KitResults;
    expect(results.mode).toBe('service');
    expect(results.experiments.map((e) => e.id).sort()).toEqual(Object.keys(CUT).sort());
    for (const f of markdown.matchAll(/\]\(([^)]+\.svg)\)/g)) expect(readFileSync(join(out, f[1]), 'utf8')).toMatch(/^<svg|^<\?xml/);

    // The verdict in report.md is the one the stored share gives with the stated tolerance.
    const t3 = results.experiments.find((e) => e.id === 'table3-gaussian')!;
    const stored = async (sweepId: string, where: string) => (await env.pool.query(
      `SELECT s.id, s.basin_share0, s.nash_gap FROM runs r JOIN results s ON s.id = r.result_id WHERE r.sweep_id = $1 AND ${where}`, [sweepId])).rows[0];
    const d6 = await stored(t3.sweepId!, `(r.params->>'D')::float8 = 6`);
    const expected = Math.abs(d6.basin_share0 - 0.095) <= 0.0015 ? 'reproduced' : 'not reproduced';
    expect(verdictIn(markdown, 'share of the basin of reward 1, q = 0.1, D = 6', 'gaussian')).toBe(expected);
    expect(expected).toBe('reproduced');
    expect(verdictIn(markdown, 'share of the basin of reward 1, q = 0.1, D = 6', 'quadratic, T = 50')).toBe('not reproduced');
    expect(verdictIn(markdown, 'mean squared Nash error, D = 2', 'gaussian')).toBe('reproduced');
    expect(markdown).toMatch(/\| prop3\.4 \| [^\n]*\| \*\*holds\*\* \|/);
    expect(markdown).toMatch(/\| lemma3\.3 \| [^\n]*\| \*\*holds\*\* \|/);

    // Change the stored share of that run: the regenerated report turns the verdict.
    await env.pool.query(
      `UPDATE results SET basin_share0 = 0.1, summary = jsonb_set(summary, '{basinShare,0}', '0.1'::jsonb) WHERE id = $1`, [d6.id]);
    // And one nash gap of Table 5 (q = 0.5, D = 2): the service's meanSquare moves with it.
    const t5 = results.experiments.find((e) => e.id === 'table5-gaussian')!;
    const q5 = await stored(t5.sweepId!, `(r.params->>'q')::float8 = 0.5`);
    await env.pool.query(
      `UPDATE results SET nash_gap = 0.05, summary = jsonb_set(summary, '{nashGap}', '0.05'::jsonb) WHERE id = $1`, [q5.id]);

    const kit = loadKit(dir);
    const client = new ApiClient(base, key);
    const sweepIds = Object.fromEntries(results.experiments.map((e) => [e.id, e.sweepId!]));
    const again = buildReport(kit.published, { ...results, experiments: await fetchExperiments(client, kit, sweepIds) });
    const row = (id: string, reading: string) => again.values.find((v) => v.id === id && v.reading === reading)!;
    expect(row('table3.q0.1.D6', 'gaussian')).toMatchObject({ ours: 0.1, verdict: 'not reproduced' });
    expect(row('table3.q0.1.D6', 'gaussian').diff).toBeCloseTo(0.005, 12);
    // Untouched values keep their verdicts.
    expect(row('table3.q0.1.D2', 'gaussian').verdict).toBe(buildReport(kit.published, results).values.find((v) => v.id === 'table3.q0.1.D2' && v.reading === 'gaussian')!.verdict);
    const t5row = row('table5.D2', 'gaussian');
    expect(t5row.basis).toMatch(/service's stats/);
    expect(t5row.ours!).toBeGreaterThan(0.05 ** 2 / 9);
    expect(t5row.verdict).toBe('not reproduced');
    expect(again.markdown).toMatch(/\| share of the basin of reward 1, q = 0\.1, D = 6 \| [^\n]* \| gaussian \| 0\.095000 \| 0\.100000 \| \+0\.005000 \| ±0\.001500 \| \*\*not reproduced\*\* \|/);
  });
});
