// Postgres outages seen from a job. Failing the job on a connection error would make
// BullMQ retry it with backoff, but meanwhile the worker takes the next job, which fails
// at once too: within the 15 s that a job's attempts span, an outage would use up the
// attempts of every queued job of the sweep (and their runs could not even be marked
// failed, Postgres being down). So a job that meets an unreachable database keeps its
// slot and waits, with backoff, until Postgres answers, then is processed again (every
// step is idempotent); no attempt is used and no other job is taken meanwhile.
import type pg from 'pg';

// Node socket errors and the SQLSTATEs of a server that is going away or not yet up:
// 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, class 08
// (connection exception), 53300 too_many_connections.
const CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  '57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08004', '08006',
]);
const MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended unexpectedly|the database system is (starting up|shutting down|in recovery mode)/i;

/** True for errors meaning "Postgres cannot be reached right now", as opposed to a failing statement. */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; message?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && CODES.has(e.code)) return true;
  if (typeof e.message === 'string' && MESSAGES.test(e.message)) return true;
  // net.connect with several addresses (happy eyeballs) reports an AggregateError.
  if (Array.isArray(e.errors)) return e.errors.some(isDatabaseUnavailable);
  return false;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Waits until `SELECT 1` answers (true), with backoff from 250 ms up to maxDelayMs,
 * or until `stopped()` says to give up (false).
 */
export async function waitForDatabase(db: Pick<pg.Pool, 'query'>, stopped: () => boolean, maxDelayMs = 5000): Promise<boolean> {
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
