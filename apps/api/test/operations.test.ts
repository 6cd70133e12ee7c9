// Operators' endpoints: Prometheus metrics and the bull-board queue UI.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { setup, spec, type Env, type TeamKey } from './helpers.ts';
import { waitFor } from '../../../test/support/wait-for.ts';

function metric(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('operations', () => {
  let env: Env;
  let app: FastifyInstance;
  let auth: TeamKey;
  let admin: TeamKey;
  beforeAll(async () => {
    env = await setup();
    app = await env.app();
    auth = await env.team();
    admin = await env.team({ admin: true });
  });
  const asAdmin = (url: string) => app.inject({ method: 'GET', url, headers: admin.headers });
  afterAll(async () => { await env?.close(); });

  it('exports queue depth, runs by status and HTTP figures in Prometheus format', async () => {
    const submitted = await app.inject({ method: 'POST', url: '/v1/sweeps', payload: spec(3, 2), headers: auth.headers });
    expect(submitted.statusCode).toBe(201);
    const { id } = submitted.json();
    await waitFor('6 runs enqueued', async () => (await app.inject({ url: `/v1/sweeps/${id}`, headers: auth.headers })).json().enqueued === 6);

    const res = await asAdmin('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.body;
    expect(metric(text, 'curation_runs', '{status="queued"}')).toBe(6);
    expect(metric(text, 'curation_runs', '{status="succeeded"}')).toBe(0);
    expect(metric(text, 'curation_queue_jobs', '{state="waiting"}')).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'curation_workers')).toBe(0);
    expect(metric(text, 'curation_runs_per_second')).toBe(0);
    expect(metric(text, 'http_request_duration_seconds_count', '{method="POST",route="/v1/sweeps",status_code="201"}')).toBe(1);
    expect(text).toMatch(/^curation_run_duration_seconds_bucket\{le="\+Inf"\} 0$/m);
  });

  it('observes the compute time of each new result once', async () => {
    await env.pool.query(
      `INSERT INTO results (config_hash, core_version, git_revision, config, summary, trajectory, converged, collapsed,
         surviving_basins, final_entropy, duration_ms)
       VALUES ('h1', 'v', 'g', '{}', '{}', '\\x00', true, false, 2, 1.0, 250), ('h2', 'v', 'g', '{}', '{}', '\\x00', true, false, 2, 1.0, 2000)`,
    );
    const first = (await asAdmin('/metrics')).body;
    expect(metric(first, 'curation_run_duration_seconds_count')).toBe(2);
    expect(metric(first, 'curation_run_duration_seconds_bucket', '{le="0.5"}')).toBe(1);
    const again = (await asAdmin('/metrics')).body;
    expect(metric(again, 'curation_run_duration_seconds_count')).toBe(2);
  });

  it('a new API instance counts the results stored before its first scrape, in the right buckets', async () => {
    await env.pool.query(
      `INSERT INTO results (config_hash, core_version, git_revision, config, summary, trajectory, converged, collapsed,
         surviving_basins, final_entropy, duration_ms)
       VALUES ('h3', 'v', 'g', '{}', '{}', '\\x00', true, false, 2, 1.0, 500)`,
    );
    const other = await env.app();
    const text = (await other.inject({ method: 'GET', url: '/metrics', headers: admin.headers })).body;
    // 250 ms, 500 ms (on a bound: counted in le="0.5") and 2 s.
    expect(metric(text, 'curation_run_duration_seconds_count')).toBe(3);
    expect(metric(text, 'curation_run_duration_seconds_bucket', '{le="0.1"}')).toBe(0);
    expect(metric(text, 'curation_run_duration_seconds_bucket', '{le="0.5"}')).toBe(2);
    expect(metric(text, 'curation_run_duration_seconds_bucket', '{le="1"}')).toBe(2);
    expect(metric(text, 'curation_run_duration_seconds_bucket', '{le="5"}')).toBe(3);
    expect(metric(text, 'curation_run_duration_seconds_sum')).toBeCloseTo(2.75, 9);
  });

  it('serves bull-board with the runs queue at /admin/queues', async () => {
    const page = await asAdmin('/admin/queues');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    const api = await asAdmin('/admin/queues/api/queues');
    expect(api.statusCode).toBe(200);
    expect(api.json().queues.map((q: { name: string }) => q.name)).toEqual(['runs']);
  });
});
