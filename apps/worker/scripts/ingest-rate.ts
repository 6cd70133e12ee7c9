// Ingestion rate: runs stored per second by one worker process, for cheap
// configurations (so storage and queue overhead, not the core, dominate), and for a
// second sweep of the same configurations (pure dedup: link, no compute).
//   node --import tsx apps/worker/scripts/ingest-rate.ts [configs=4000] [batch=100]
import { Queue } from 'bullmq';
import { createPool } from '@curation/db';
import { batchJobId, createRedis, RUNS_QUEUE } from '@curation/queue';
import { createTestDatabase, createTestRedis } from '../../../test/support/services.ts';
import { insertSweep, silentLogger, waitSweep } from '../test/helpers.ts';
import { startWorker } from '../src/worker.ts';

const configs = Number(process.argv[2] ?? 4000);
const batch = Number(process.argv[3] ?? 100);

const tdb = await createTestDatabase();
const db = createPool(tdb.url);
const redis = await createTestRedis();
const connection = createRedis(redis.url);
const queue = new Queue(RUNS_QUEUE, { connection, prefix: redis.prefix });
const worker = await startWorker({ databaseUrl: tdb.url, redisUrl: redis.url, prefix: redis.prefix, logger: silentLogger() });

const spec = (name: string) => ({
  name,
  base: { support: { kind: 'grid', min: -3, max: 3, n: 21 }, rewards: [{ kind: 'quadratic', center: -1 }, { kind: 'quadratic', center: 1 }], iterations: 20 },
  axes: [{ param: 'q', linspace: [0.01, 0.99, configs] }],
});

async function measure(name: string): Promise<number> {
  const { id, total } = await insertSweep(db, spec(name));
  const t0 = performance.now();
  const jobs = [];
  for (let i = 0; i < total; i += batch) {
    const indexes = Array.from({ length: Math.min(batch, total - i) }, (_, k) => i + k);
    jobs.push({ name: 'runs', data: { sweepId: id, indexes }, opts: { jobId: batchJobId(id, i) } });
  }
  await queue.addBulk(jobs);
  await waitSweep(db, id, ['succeeded', 'failed'], 600_000);
  const s = (performance.now() - t0) / 1000;
  const rate = total / s;
  console.log(`${name}: ${total} runs in ${s.toFixed(2)} s = ${rate.toFixed(0)} runs/s`);
  return rate;
}

try {
  await measure('fresh (compute + store)');
  await measure('dedup (link only)');
  const { rows: r } = await db.query('SELECT count(*)::int AS n, avg(duration_ms) AS ms, avg(length(trajectory)) AS bytes FROM results');
  console.log(`results: ${r[0].n}, mean core time ${Number(r[0].ms).toFixed(2)} ms, mean trajectory ${Number(r[0].bytes).toFixed(0)} bytes`);
} finally {
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  connection.disconnect(); // Queue.close leaves a connection it was given open
  await db.end();
  await tdb.drop();
}
