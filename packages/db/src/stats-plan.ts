// How a stats statement is run on a large sweep: group keys taken from the run's index
// instead of its params jsonb, planner settings that keep the cost proportional to the
// sweep, and a reply cache for sweeps whose results can no longer change.
import pg from 'pg';
import type { Queryable } from './queryable.ts';

// ------------------------------------------------------------------ group keys from the run index

/**
 * A run's index is the mixed-radix number of its axis positions (last axis fastest), so
 * an axis variable's position is `(index / stride) % length`: an integer computed from a
 * column already read, where `params -> 'q'` is a jsonb lookup per row and a jsonb sort.
 * `values[d]` is the variable's value at position d, and `rank[d]` its place in jsonb order
 * (the order the groups are listed in).
 */
export interface IndexKey {
  stride: number;
  length: number;
  values: unknown[];
  rank: number[];
}

/** Positions looked up per variable at most: a longer axis is grouped by its jsonb value. */
const MAX_AXIS_LENGTH = 100_000;

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Length of one simple axis (or zip member), null when the spec does not say it plainly. */
function simpleLength(a: Record<string, unknown>): number | null {
  if (Array.isArray(a.values)) return a.values.length;
  for (const k of ['linspace', 'logspace']) {
    const v = a[k];
    if (Array.isArray(v) && v.length === 3 && Number.isSafeInteger(v[2])) return v[2] as number;
  }
  if (Number.isSafeInteger(a.replicates)) return a.replicates as number;
  return null;
}

/** Each axis of a (stored, validated) spec: its length and its variables; null when one is not plain. */
function axesOf(spec: unknown): { length: number; vars: string[] }[] | null {
  if (!isObj(spec) || 'refine' in spec) return null; // an adaptive sweep's indexes are lattice points
  const axes = spec.axes ?? [];
  if (!Array.isArray(axes)) return null;
  const out: { length: number; vars: string[] }[] = [];
  for (const a of axes) {
    if (!isObj(a)) return null;
    if (typeof a.param === 'string') {
      const length = simpleLength(a);
      if (length === null) return null;
      out.push({ length, vars: [a.param] });
    } else if (Array.isArray(a.zip) && a.zip.length) {
      const members = a.zip.filter(isObj);
      const length = members.length ? simpleLength(members[0]) : null;
      if (length === null || members.length !== a.zip.length || members.some((m) => typeof m.param !== 'string')) return null;
      out.push({ length, vars: members.map((m) => m.param as string) });
    } else if (isObj(a.random) && Number.isSafeInteger(a.random.n) && isObj(a.random.params)) {
      out.push({ length: a.random.n as number, vars: Object.keys(a.random.params) });
    } else return null;
  }
  return out;
}

/**
 * Index keys for `groupVars`, or null when any of them must be grouped by its stored value
 * instead: a derived parameter, an adaptive sweep, an axis whose positions do not hold
 * distinct values, a sweep whose size is not the product of its axes, or a position whose
 * first run is not stored yet. The values come from the stored runs (the run at index
 * d * stride holds position d), so a key means exactly what `params -> v` would.
 */
export async function indexKeys(db: Queryable, sweepId: string, spec: unknown, total: number, groupVars: string[]): Promise<IndexKey[] | null> {
  if (!groupVars.length) return [];
  const axes = axesOf(spec);
  if (!axes || axes.reduce((a, x) => a * x.length, 1) !== total) return null;
  const strides = axes.map((_, k) => axes.slice(k + 1).reduce((a, x) => a * x.length, 1));
  const out: IndexKey[] = [];
  for (const v of groupVars) {
    const k = axes.findIndex((a) => a.vars.includes(v));
    if (k < 0 || axes[k].length > MAX_AXIS_LENGTH) return null;
    const { length } = axes[k];
    const stride = strides[k];
    // jsonb order of the values, from Postgres itself: the order ORDER BY params -> v gives.
    const { rows } = await db.query<{ d: number; value: unknown }>(
      `SELECT index / $3::int AS d, params -> $4::text AS value
         FROM runs WHERE sweep_id = $1 AND index = ANY(SELECT g * $3::int FROM generate_series(0, $2::int - 1) g)
        ORDER BY params -> $4::text, index`,
      [sweepId, length, stride, v],
    );
    if (rows.length !== length) return null;
    const values = new Array<unknown>(length);
    const rank = new Array<number>(length);
    const seen = new Set<string>();
    rows.forEach((r, i) => {
      values[r.d] = r.value;
      rank[r.d] = i;
      seen.add(JSON.stringify(r.value ?? null));
    });
    if (seen.size !== length) return null;
    out.push({ stride, length, values, rank });
  }
  return out;
}

// ------------------------------------------------------------------ planner settings

/**
 * Settings for one stats statement. Joins as nested loops from the sweep's runs into the
 * results index: a hash or merge join would read every result of the database to find
 * the sweep's, so the cost would grow with the database instead of the sweep. Memory
 * enough to sort a million-run sweep's rows in memory; no JIT, whose compile time is
 * paid again by every statement.
 */
const STATS_SETTINGS = [
  "SET LOCAL work_mem = '256MB'",
  'SET LOCAL jit = off',
  'SET LOCAL enable_hashjoin = off',
  'SET LOCAL enable_mergejoin = off',
];

const isPool = (db: Queryable): db is pg.Pool =>
  typeof (db as Partial<pg.Pool>).connect === 'function' && typeof (db as Partial<pg.Pool>).totalCount === 'number';

/** Runs `q` with the stats settings (in a read-only transaction of its own when `db` is a pool). */
export async function statsQuery<R extends pg.QueryResultRow>(db: Queryable, q: { text: string; values: unknown[] }): Promise<pg.QueryResult<R>> {
  if (!isPool(db)) return db.query<R>(q);
  const c = await db.connect();
  try {
    await c.query('BEGIN READ ONLY');
    for (const s of STATS_SETTINGS) await c.query(s);
    const res = await c.query<R>(q);
    await c.query('COMMIT');
    return res;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}

/**
 * Statements that together make one reply, run at once on as many connections of the
 * pool, all reading one snapshot: the first transaction exports its snapshot and the
 * others take it (SET TRANSACTION SNAPSHOT), so the parts add up to what one statement
 * would have read, even while the sweep's runs change. On a single connection (not a
 * pool), or when the pool has no connection to spare, they share connections.
 */
export async function statsQueriesShared<R extends pg.QueryResultRow>(db: Queryable, qs: { text: string; values: unknown[] }[]): Promise<R[]> {
  if (!isPool(db) || qs.length < 2) {
    const out: R[] = [];
    for (const q of qs) out.push(...(await statsQuery<R>(db, q)).rows);
    return out;
  }
  const clients: pg.PoolClient[] = [];
  // Extra connections only while the pool has them to spare: requests waiting on each
  // other's second connection would otherwise stall the pool. Parts then share clients.
  const spare = () => db.waitingCount === 0 && (db.idleCount > 0 || db.totalCount < (db.options.max ?? 10));
  try {
    clients.push(await db.connect());
    while (clients.length < qs.length && spare()) clients.push(await db.connect());
    const begin = async (c: pg.PoolClient, snapshot: string | null) => {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      if (snapshot !== null) await c.query(`SET TRANSACTION SNAPSHOT ${pg.escapeLiteral(snapshot)}`);
      for (const s of STATS_SETTINGS) await c.query(s);
      // The parts are the parallelism: no parallel workers of their own on top.
      if (clients.length > 1) await c.query('SET LOCAL max_parallel_workers_per_gather = 0');
    };
    await begin(clients[0], null);
    const { rows } = await clients[0].query<{ s: string }>('SELECT pg_export_snapshot() AS s');
    await Promise.all(clients.slice(1).map((c) => begin(c, rows[0].s)));
    const parts = (await Promise.all(clients.map(async (c, i) => {
      const mine: pg.QueryResult<R>[] = [];
      for (let j = i; j < qs.length; j += clients.length) mine.push(await c.query<R>(qs[j]));
      return mine;
    }))).flat();
    await Promise.all(clients.map((c) => c.query('COMMIT')));
    return parts.flatMap((r) => r.rows);
  } catch (err) {
    await Promise.all(clients.map((c) => c.query('ROLLBACK').catch(() => {})));
    throw err;
  } finally {
    for (const c of clients) c.release();
  }
}

/** Parts a stats statement over the stats rows is split into (see statsQueriesShared); tests and benchmarks set it. */
export const statsParallelSettings = { parts: 2 };

/**
 * Groups of at least `minRows` runs that are ranges of the run index are read range by
 * range (stats-sql.ts, StatsSource.ranges) instead of sorted; below it a lookup per
 * group costs more than the sort it saves. Tests and benchmarks set it.
 */
export const statsRangeSettings = { minRows: 16 };

// ------------------------------------------------------------------ reply cache

/**
 * The state of a sweep's results: `settled` when nothing can change them any more (the
 * sweep finished or was cancelled, and no run is queued to run or running), and a
 * `version` that moves with every statement that changes the sweep's runs (the newest
 * row of its run counters, which the triggers of migration 20261208000000 append with
 * every such statement and compaction replaces with new ones).
 */
export interface ResultsState {
  settled: boolean;
  version: string | null;
  /** The sweep's configurations. */
  total: number;
}

export async function resultsState(db: Queryable, sweepId: string): Promise<ResultsState> {
  const { rows } = await db.query<{ settled: boolean; version: string | null; total: number }>(
    `SELECT s.total, s.status IN ('succeeded', 'failed', 'cancelled')
              AND coalesce(c.running, 0) = 0 AND (s.status = 'cancelled' OR coalesce(c.queued, 0) = 0) AS settled,
            c.version::text AS version
       FROM sweeps s
       LEFT JOIN LATERAL (SELECT max(id) AS version,
                                 sum(n) FILTER (WHERE status = 'running') AS running,
                                 sum(n) FILTER (WHERE status = 'queued') AS queued
                            FROM sweep_run_counts WHERE sweep_id = s.id) c ON true
      WHERE s.id = $1`,
    [sweepId],
  );
  return rows.length ? rows[0] : { settled: false, version: null, total: 0 };
}

/** Replies that took at least `minMs` to compute are kept (cheap ones are recomputed); tests lower it. */
export const statsCacheSettings = { minMs: 250 };
/** Entries kept per pool, weighed by their number of groups (or lines). */
const CACHE_WEIGHT = 200_000;

interface Entry { value: unknown; weight: number }

/** A small LRU map, one per pool: replies of settled sweeps, keyed by sweep, version and request. */
class ReplyCache {
  private readonly map = new Map<string, Entry>();
  private weight = 0;

  get<T>(key: string): T | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    this.map.delete(key);
    this.map.set(key, e);
    return e.value as T;
  }

  set(key: string, value: unknown, weight: number): void {
    if (weight > CACHE_WEIGHT / 4) return;
    const old = this.map.get(key);
    if (old) {
      this.weight -= old.weight;
      this.map.delete(key);
    }
    this.map.set(key, { value, weight });
    this.weight += weight;
    for (const [k, e] of this.map) {
      if (this.weight <= CACHE_WEIGHT) break;
      this.map.delete(k);
      this.weight -= e.weight;
    }
  }
}

const caches = new WeakMap<object, ReplyCache>();
const flights = new WeakMap<object, Map<string, Promise<unknown>>>();

/**
 * `compute()`, shared by the identical requests that arrive while it runs (a dashboard
 * polling a large sweep, a plot and a table asking the same): one statement for all.
 */
export function shared<T>(db: Queryable, key: string, compute: () => Promise<T>): Promise<T> {
  let m = flights.get(db);
  if (!m) flights.set(db, (m = new Map()));
  const running = m.get(key);
  if (running) return running as Promise<T>;
  const p = compute().finally(() => m.delete(key));
  m.set(key, p);
  return p;
}

export function replyCache(db: Queryable): ReplyCache {
  let c = caches.get(db);
  if (!c) caches.set(db, (c = new ReplyCache()));
  return c;
}
