// The best a single process can do with the same cores: each thread simulates its
// share in a loop, with no queue, no messages per run and no database. Warmed on the
// first configurations before the clock starts, as the service's workers are.
import { parentPort, workerData } from 'node:worker_threads';
import { simulate, type RunConfig } from '@curation/core';

const { configs, warm } = workerData as { configs: RunConfig[]; warm: RunConfig[] };
for (const c of warm) simulate(c, {});
parentPort!.once('message', () => {
  const t0 = performance.now();
  for (const c of configs) simulate(c, {});
  parentPort!.postMessage(performance.now() - t0);
});
parentPort!.postMessage('ready');
