// "Postgres cannot be reached right now" as opposed to "a statement failed": the worker
// holds a job until Postgres answers again, the API answers 503 instead of 500, the CLI
// exits with its "unreachable" code. One definition, so the three agree.
// No imports: the CLI loads this without loading the database client.

// Node socket errors and the SQLSTATEs of a server that is going away or not yet up:
// 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, class 08
// (connection exception), 53300 too_many_connections.
const CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  '57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08004', '08006',
]);
// Prisma Client (pg driver adapter) wraps them: its codes for an unreachable or lost
// server, and the adapter's own description of the pg error in meta.driverAdapterError.
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017']);
const ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);
const MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended unexpectedly|the database system is (starting up|shutting down|in recovery mode)/i;

/** True for errors meaning "Postgres cannot be reached right now", as opposed to a failing statement. */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; message?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && (CODES.has(e.code) || PRISMA_CODES.has(e.code))) return true;
  const cause = (err as { meta?: { driverAdapterError?: { cause?: { kind?: unknown; originalCode?: unknown; code?: unknown } } } })
    .meta?.driverAdapterError?.cause;
  if (cause) {
    if (typeof cause.kind === 'string' && ADAPTER_KINDS.has(cause.kind)) return true;
    for (const c of [cause.originalCode, cause.code]) if (typeof c === 'string' && CODES.has(c)) return true;
  }
  if (typeof e.message === 'string' && MESSAGES.test(e.message)) return true;
  // net.connect with several addresses (happy eyeballs) reports an AggregateError.
  if (Array.isArray(e.errors)) return e.errors.some(isDatabaseUnavailable);
  return false;
}
