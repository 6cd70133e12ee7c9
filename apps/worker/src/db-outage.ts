// Postgres outages seen from a job. Failing the job on a connection error would make
// BullMQ retry it with backoff, but meanwhile the worker takes the next job, which fails
// at once too: within the 15 s that a job's attempts span, an outage would use up the
// attempts of every queued job of the sweep (and their runs could not even be marked
// failed, Postgres being down). So a job that meets an unreachable database keeps its
// slot and waits, with backoff, until Postgres answers, then is processed again (every
// step is idempotent); no attempt is used and no other job is taken meanwhile.
import { isDatabaseUnavailable, type Queryable } from '@curation/db';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Waits out an outage of a database the worker was already using: until `SELECT 1`
 * answers through the pool (true), with backoff from 250 ms up to maxDelayMs, however
 * long it takes, or until `stopped()` says to give up (false).
 */
export async function waitOutDatabaseOutage(db: Queryable, stopped: () => boolean, maxDelayMs = 5000): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    const delay = Math.min(maxDelayMs, 250 * 2 ** attempt);
    for (let waited = 0; waited < delay; waited += 100) {
      if (stopped()) return false;
      await sleep(Math.min(100, delay - waited));
    }
    if (stopped()) return false;
    try {
      await db.query('SELECT 1');
      return true;
    } catch (err) {
      if (!isDatabaseUnavailable(err)) return true; // it answers, if only with an error: let the job see it
    }
  }
}
