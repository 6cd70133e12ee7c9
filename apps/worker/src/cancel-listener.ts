// Brings cancels to running computations. Pub/sub is immediate but fire-and-forget
// (a message sent while we reconnect is gone), so Postgres, which holds the truth,
// is also polled for the sweeps we have in hand.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { stoppedSweeps, type Queryable } from '@curation/db';
import { cancelChannel, createRedis } from '@curation/queue';
import type { InFlight } from './stop-flag.ts';

export interface CancelListener { close(): Promise<void> }

export async function startCancelListener(opts: {
  redisUrl: string;
  prefix: string;
  pool: Queryable;
  inFlight: InFlight;
  logger: Logger;
  pollMs?: number;
}): Promise<CancelListener> {
  const { inFlight, logger } = opts;
  const channel = cancelChannel(opts.prefix);
  // A subscribed connection can do nothing else, hence its own.
  const sub: Redis = createRedis(opts.redisUrl, { forWorker: true });
  sub.on('error', (err) => logger.warn({ err }, 'cancel subscriber connection error'));
  sub.on('message', (ch: string, sweepId: string) => {
    if (ch !== channel) return;
    const n = inFlight.cancelSweep(sweepId);
    if (n) logger.info({ sweepId, jobs: n }, 'cancel received, stopping runs in hand');
  });
  await sub.subscribe(channel);

  let polling = false;
  const timer = setInterval(async () => {
    const ids = inFlight.sweepIds();
    if (polling || ids.length === 0) return;
    polling = true;
    try {
      for (const id of await stoppedSweeps(opts.pool, ids)) {
        if (inFlight.cancelSweep(id)) logger.info({ sweepId: id }, 'sweep found cancelled in Postgres, stopping runs in hand');
      }
    } catch (err) {
      logger.warn({ err }, 'cancel poll failed');
    } finally {
      polling = false;
    }
  }, opts.pollMs ?? 2000);
  timer.unref();

  return {
    async close() {
      clearInterval(timer);
      await sub.quit().catch(() => sub.disconnect());
    },
  };
}
