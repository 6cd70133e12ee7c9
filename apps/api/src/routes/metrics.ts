// Prometheus metrics at /metrics. HTTP figures come from this process; queue, run and
// worker figures are read from Redis and Postgres at scrape time, so every API
// instance reports the same cluster-wide numbers (scrape one, or dedupe by job).
import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify';
import client from 'prom-client';
import type { Deps } from '../deps.ts';

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized', 'waiting-children'] as const;
const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
// Rate window for runs per second: long enough to smooth batch completions.
const RATE_WINDOW_SECONDS = 60;

export interface MetricsOptions extends Deps {
  /** The onRequest hook that admits a scrape (an admin key), or null for a public /metrics. */
  guard: onRequestAsyncHookHandler | null;
}

export const metricsRoutes: FastifyPluginAsync<MetricsOptions> = async (app, deps) => {
  const { guard } = deps;
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });

  const httpDuration = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method, route and status code',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  // Not encapsulated (skip-override, below), so this hook sees every request of the application.
  app.addHook('onResponse', async (request, reply) => {
    httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  new client.Gauge({
    name: 'curation_queue_jobs',
    help: 'BullMQ jobs in the runs queue by state (a job carries a batch of configurations)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const counts = await deps.queue.getJobCounts(...QUEUE_STATES);
      for (const state of QUEUE_STATES) this.set({ state }, counts[state] ?? 0);
    },
  });
  new client.Gauge({
    name: 'curation_workers',
    help: 'Worker connections currently attached to the runs queue',
    registers: [registry],
    async collect() {
      this.set(await deps.queue.getWorkersCount());
    },
  });
  new client.Gauge({
    name: 'curation_runs',
    help: 'Runs by status over all sweeps',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      // From the counters the triggers on runs keep (not a count of every run row), with
      // queued runs of a cancelled sweep counted as cancelled, as the API shows them.
      const { rows } = await deps.pool.query<{ status: string; n: string }>(
        `SELECT CASE WHEN c.status = 'queued' AND s.status = 'cancelled' THEN 'cancelled' ELSE c.status END AS status,
                sum(c.n) AS n
           FROM sweep_run_counts c JOIN sweeps s ON s.id = c.sweep_id
          GROUP BY 1`,
      );
      for (const status of RUN_STATUSES) this.set({ status }, Number(rows.find((r) => r.status === status)?.n ?? 0));
    },
  });
  new client.Gauge({
    name: 'curation_runs_per_second',
    help: `Runs finished per second over the last ${RATE_WINDOW_SECONDS} s`,
    registers: [registry],
    async collect() {
      const { rows } = await deps.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM runs WHERE finished_at > now() - make_interval(secs => $1)`,
        [RATE_WINDOW_SECONDS],
      );
      this.set(Number(rows[0].n) / RATE_WINDOW_SECONDS);
    },
  });
  // Computed results are observed once each: the watermark is the highest result id seen.
  const buckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300];
  const runDuration = new client.Histogram({
    name: 'curation_run_duration_seconds',
    help: 'Compute time of each stored result',
    buckets,
    registers: [registry],
  });
  let watermark: string | null = null;
  async function observeNewResults() {
    if (watermark === null) {
      // The results stored before this instance's first scrape, in one aggregate: each
      // bucket's count observed at the mean of its durations, so the buckets, the count and
      // the sum are those of the stored durations without reading every row. The bucket of
      // v is (b[k-1], b[k]] as Prometheus counts it: width_bucket over the negated bounds.
      const { rows: top } = await deps.pool.query<{ id: string | null }>('SELECT max(id)::text AS id FROM results');
      const seen = top[0].id ?? '0';
      const { rows } = await deps.pool.query<{ n: string; mean: number }>(
        `SELECT count(*) AS n, avg(duration_ms) / 1000 AS mean FROM results
          WHERE id <= $2::bigint GROUP BY width_bucket(-duration_ms / 1000, $1::float8[])`,
        [buckets.map((b) => -b).reverse(), seen],
      );
      for (const r of rows) for (let i = Number(r.n); i > 0; i--) runDuration.observe(r.mean);
      watermark = seen;
    }
    const { rows } = await deps.pool.query<{ id: string; duration_ms: number }>(
      'SELECT id::text AS id, duration_ms FROM results WHERE id > $1::bigint ORDER BY id LIMIT 100000',
      [watermark],
    );
    for (const r of rows) runDuration.observe(r.duration_ms / 1000);
    if (rows.length) watermark = rows[rows.length - 1].id;
  }

  app.get('/metrics', { schema: { hide: true }, ...(guard ? { onRequest: guard } : {}) }, async (_request, reply) => {
    await observeNewResults();
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
};
// What fastify-plugin does: the plugin's hooks apply to its parent, the root instance.
Object.assign(metricsRoutes, { [Symbol.for('skip-override')]: true });
