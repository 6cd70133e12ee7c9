// Sweep queries of the API: submission with idempotency, listing, progress counts,
// cancel and retry, and the bookkeeping of the resumable background enqueue.
// Reads of sweeps (one, a page, run counts) use Prisma's model API. Submission, cancel,
// retry and the enqueue bookkeeping stay SQL on a pg client: they run in transactions
// that lock the sweep or team row (FOR UPDATE / FOR KEY SHARE) beside the budget checks
// of teams.ts, and insert runs with unnest and ON CONFLICT.
import type pg from 'pg';
import { Prisma, prismaFor, type PrismaClient } from './client.ts';
import type { Queryable } from './queryable.ts';
import { chargeRetry, lockTeam, overBudget, type OverBudget } from './teams.ts';

export const SWEEP_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type SweepStatus = (typeof SWEEP_STATUSES)[number];
export const RUN_STATUSES = SWEEP_STATUSES;
export type RunStatus = SweepStatus;

/** A sweep that can no longer change unless retried. */
export const FINISHED_SWEEP_STATUSES: readonly SweepStatus[] = ['succeeded', 'failed', 'cancelled'];

/**
 * Whose sweeps a caller may see: one team's, or every sweep (admin keys, and sweeps
 * from before teams, which have no team). Queries that take it answer "not found" for
 * a sweep outside it, exactly as for an unknown id.
 */
export type Visibility = { teamId: string } | { all: true };

export const ALL_SWEEPS: Visibility = { all: true };

/** The team id to filter on, or null for every sweep. */
export const visibleTeam = (v: Visibility): string | null => ('teamId' in v ? v.teamId : null);

export interface SweepRow {
  id: string;
  name: string;
  tags: string[];
  total: number;
  status: SweepStatus;
  idempotencyKey: string | null;
  /** The submitting team; null for sweeps from before teams. */
  teamId: string | null;
  /** validateSweep's total estimated compute (seconds), counted against the team's budget. */
  estimatedCostSeconds: number;
  enqueued: number;
  coreVersion: string;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** Adaptive sweeps only: the current stage, whether the refiner is done, the budget of runs (total grows up to it). */
  refine?: { stage: number; done: boolean; budget: number } | null;
}

export interface SweepWithSpec extends SweepRow { spec: unknown }

const COLUMNS = `id, name, coalesce(tags, '{}') AS tags, total, status, idempotency_key AS "idempotencyKey",
  team_id AS "teamId", estimated_cost_seconds AS "estimatedCostSeconds", enqueued, core_version AS "coreVersion", created_at AS "createdAt", started_at AS "startedAt",
  finished_at AS "finishedAt",
  CASE WHEN spec ? 'refine' THEN json_build_object('stage', refine_stage, 'done', refine_done, 'budget', (spec #>> '{refine,budget}')::int) END AS refine`;

export interface NewSweep {
  id: string;
  name: string;
  tags: string[];
  spec: unknown;
  total: number;
  coreVersion: string;
  idempotencyKey: string | null;
  /** The submitting team (null only for tools that predate teams). */
  teamId: string | null;
  /** Total estimated compute of the sweep (seconds). */
  estimatedCostSeconds?: number;
}

export type InsertSweepResult =
  | { created: true; sweep: SweepRow }
  /** The key was used before (by this team); sameSpec says whether that submission carried the same spec. */
  | { created: false; sweep: SweepRow; sameSpec: boolean }
  /** Refused: the team's compute budget cannot hold this sweep. Nothing was stored. */
  | { created: false; overBudget: OverBudget };

/**
 * Inserts a sweep, or returns the team's sweep that already holds its idempotency key.
 *
 * With a team, one transaction locks the team's row (FOR UPDATE), so the team's
 * submissions are serialised: the budget check (estimated cost of the team's sweeps
 * that are not cancelled + this one <= teams.compute_budget_seconds) cannot be raced
 * past by concurrent submissions, and a concurrent duplicate of an idempotency key
 * finds the first one's row. ON CONFLICT (team_id, idempotency_key) DO NOTHING stays
 * as the last guard, so a key never yields two sweeps.
 */
export async function insertSweep(pool: pg.Pool, s: NewSweep): Promise<InsertSweepResult> {
  if (s.teamId === null) return insertSweepRow(pool, s);
  return inTransaction(pool, async (c) => {
    const team = await lockTeam(c, s.teamId!);
    if (!team) throw new Error(`team ${s.teamId} does not exist`);
    if (s.idempotencyKey !== null) {
      const prior = await findSweepByIdempotencyKey(c, s.teamId, s.idempotencyKey, s.spec);
      if (prior) return { created: false, ...prior };
    }
    const over = await overBudget(c, s.teamId!, team.budget, s.estimatedCostSeconds ?? 0);
    if (over) return { created: false, overBudget: over };
    return insertSweepRow(c, s);
  });
}

async function insertSweepRow(db: Queryable, s: NewSweep): Promise<InsertSweepResult> {
  const specJson = JSON.stringify(s.spec);
  const ins = await db.query<SweepRow>(
    `INSERT INTO sweeps (id, name, tags, spec, total, core_version, idempotency_key, team_id, estimated_cost_seconds)
     VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9)
     ON CONFLICT (team_id, idempotency_key) DO NOTHING
     RETURNING ${COLUMNS}`,
    [s.id, s.name, s.tags, specJson, s.total, s.coreVersion, s.idempotencyKey, s.teamId, s.estimatedCostSeconds ?? 0],
  );
  if (ins.rows.length) return { created: true, sweep: ins.rows[0] };
  const prior = await findSweepByIdempotencyKey(db, s.teamId, s.idempotencyKey!, s.spec);
  if (!prior) throw new Error(`idempotency key ${s.idempotencyKey} conflicted but no sweep holds it`);
  return { created: false, ...prior };
}

/** The team's sweep submitted with this Idempotency-Key (keys are unique per team). */
export async function findSweepByIdempotencyKey(
  db: Queryable,
  teamId: string | null,
  key: string,
  spec: unknown,
): Promise<{ sweep: SweepRow; sameSpec: boolean } | null> {
  const { rows } = await db.query<SweepRow & { sameSpec: boolean }>(
    `SELECT ${COLUMNS}, spec = $2::jsonb AS "sameSpec" FROM sweeps
      WHERE idempotency_key = $1 AND team_id IS NOT DISTINCT FROM $3::uuid`,
    [key, JSON.stringify(spec), teamId],
  );
  if (!rows.length) return null;
  const { sameSpec, ...sweep } = rows[0];
  return { sweep, sameSpec };
}

/** SQL condition: the sweep (column `col`, default team_id) is visible; `p` is the placeholder of visibleTeam(). */
export const teamCondition = (p: string, col = 'team_id') => `(${p}::uuid IS NULL OR ${col} = ${p}::uuid)`;

const ROW_FIELDS = {
  id: true, name: true, tags: true, total: true, status: true, idempotencyKey: true, teamId: true,
  estimatedCostSeconds: true, enqueued: true, coreVersion: true, createdAt: true, startedAt: true, finishedAt: true,
  refineStage: true, refineDone: true,
} as const satisfies Prisma.SweepSelect;

type RowFields = Prisma.SweepGetPayload<{ select: typeof ROW_FIELDS }>;

/** The row as the API shows it; `budget` is the refine block's (undefined: not an adaptive sweep). */
function toRow({ refineStage, refineDone, status, ...r }: RowFields, budget: number | undefined): SweepRow {
  return { ...r, status: status as SweepStatus, refine: budget === undefined ? null : { stage: refineStage, done: refineDone, budget } };
}

const visibleWhere = (vis: Visibility): Prisma.SweepWhereInput => ('teamId' in vis ? { teamId: vis.teamId } : {});

/**
 * The refine budgets of those of the sweeps that are adaptive. The budget lives in the
 * spec, and Prisma's model API reads a json column only whole: one indexed lookup that
 * reads just that path, instead of sending every spec of a page.
 */
async function refineBudgets(prisma: PrismaClient, ids: string[]): Promise<Map<string, number>> {
  if (!ids.length) return new Map();
  const rows = await prisma.$queryRaw<{ id: string; budget: number }[]>(
    Prisma.sql`SELECT id::text, (spec #>> '{refine,budget}')::int AS budget FROM sweeps WHERE id = ANY(${ids}::uuid[]) AND spec ? 'refine'`,
  );
  return new Map(rows.map((r) => [r.id, r.budget]));
}

/** A sweep the caller may see, or null (unknown, or another team's). */
export async function getSweep(db: pg.Pool, id: string, vis: Visibility): Promise<SweepRow | null> {
  const prisma = prismaFor(db);
  const row = await prisma.sweep.findFirst({ where: { id, ...visibleWhere(vis) }, select: ROW_FIELDS });
  if (!row) return null;
  return toRow(row, (await refineBudgets(prisma, [row.id])).get(row.id));
}

export async function getSweepWithSpec(db: pg.Pool, id: string, vis: Visibility): Promise<SweepWithSpec | null> {
  const row = await prismaFor(db).sweep.findFirst({ where: { id, ...visibleWhere(vis) }, select: { ...ROW_FIELDS, spec: true } });
  if (!row) return null;
  const { spec, ...rest } = row;
  const refine = spec !== null && typeof spec === 'object' && !Array.isArray(spec) && 'refine' in spec ? (spec.refine as { budget?: unknown } | null) : undefined;
  return { ...toRow(rest, refine === undefined ? undefined : Number(refine?.budget)), spec };
}

export interface SweepCursor { createdAt: Date; id: string }

export interface ListSweepsOptions {
  limit: number;
  after?: SweepCursor | null;
  tag?: string;
  status?: SweepStatus;
  visibility: Visibility;
}

/** Newest first, keyset on (created_at, id) so pages stay stable while sweeps are added. */
export async function listSweeps(db: pg.Pool, o: ListSweepsOptions): Promise<{ items: SweepRow[]; next: SweepCursor | null }> {
  const prisma = prismaFor(db);
  const where: Prisma.SweepWhereInput = { ...visibleWhere(o.visibility) };
  if (o.tag !== undefined) where.tags = { has: o.tag };
  if (o.status !== undefined) where.status = o.status;
  // (created_at, id) < cursor, written so that the created_at index serves the range.
  if (o.after) Object.assign(where, { createdAt: { lte: o.after.createdAt }, NOT: { createdAt: o.after.createdAt, id: { gte: o.after.id } } });
  const rows = await prisma.sweep.findMany({ where, select: ROW_FIELDS, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: o.limit + 1 });
  const more = rows.length > o.limit;
  const page = more ? rows.slice(0, o.limit) : rows;
  const budgets = await refineBudgets(prisma, page.map((r) => r.id));
  const items = page.map((r) => toRow(r, budgets.get(r.id)));
  const last = items[items.length - 1];
  return { items, next: more && last ? { createdAt: last.createdAt, id: last.id } : null };
}

/** Runs per status, and how many of the succeeded ones took a stored result instead of computing. */
export type StatusCounts = Record<RunStatus, number> & { reused: number };

export const emptyCounts = (): StatusCounts => ({ queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0, reused: 0 });

// On the pg pool: through Prisma this costs more than the service's 5% (docs/service-design.md, "Hot paths on pg").
/**
 * Run counts per status of each sweep, and the reused runs (sweeps without run rows
 * are absent). Read from `sweep_run_counts`, which triggers on `runs` keep exact with
 * every statement that changes runs (migration 20261208000000_sweep_run_counts): a sum
 * over a few rows per sweep, whatever its size. Queued runs of a cancelled sweep count
 * as cancelled: cancel leaves them for a background pass to write (cancelQueuedRunsChunk).
 * A sweep whose rows have piled up is compacted on the way.
 */
export async function runStatusCounts(db: Queryable, sweepIds: string[]): Promise<Map<string, StatusCounts>> {
  const out = new Map<string, StatusCounts>();
  if (!sweepIds.length) return out;
  const { rows } = await db.query<{ sweepId: string; status: string; n: number; reused: number; rowCount: number; cancelled: boolean }>(
    `SELECT c.sweep_id AS "sweepId", c.status, sum(c.n)::float8 AS n, sum(c.reused)::float8 AS reused,
            count(*)::int AS "rowCount", s.status = 'cancelled' AS cancelled
       FROM sweep_run_counts c JOIN sweeps s ON s.id = c.sweep_id
      WHERE c.sweep_id = ANY($1::uuid[])
      GROUP BY c.sweep_id, c.status, s.status`,
    [sweepIds],
  );
  const pile = new Map<string, number>();
  for (const r of rows) {
    pile.set(r.sweepId, (pile.get(r.sweepId) ?? 0) + r.rowCount);
    if (r.n === 0 && r.reused === 0) continue;
    const c = out.get(r.sweepId) ?? emptyCounts();
    const status = r.cancelled && r.status === 'queued' ? 'cancelled' : r.status;
    if (status in c) c[status as RunStatus] += r.n;
    c.reused += r.reused;
    out.set(r.sweepId, c);
  }
  const compact = [...pile].filter(([, n]) => n > COMPACT_AFTER_ROWS).map(([id]) => id);
  if (compact.length) await compactRunCounts(db, compact);
  return out;
}

/** Counter rows of one sweep above which a read compacts them (a few per status and statement). */
export const COMPACT_AFTER_ROWS = 200;

/**
 * Replaces the counter rows of each sweep by their sums (one row per status, none for
 * a zero). One statement per sweep: its DELETE and INSERT commit together, so a read
 * sees the old rows or the sum. Two compactions at once stay exact: the second waits
 * for the rows the first deletes and then skips them, and never sees the first's sum.
 * Rows of sweeps that no longer exist are dropped.
 */
export async function compactRunCounts(db: Queryable, sweepIds: string[]): Promise<void> {
  for (const id of sweepIds) {
    await db.query(
      `WITH d AS (DELETE FROM sweep_run_counts WHERE sweep_id = $1 RETURNING status, n, reused)
       INSERT INTO sweep_run_counts (sweep_id, status, n, reused)
       SELECT $1, status, sum(n), sum(reused) FROM d
        WHERE EXISTS (SELECT 1 FROM sweeps WHERE id = $1)
        GROUP BY status HAVING sum(n) <> 0 OR sum(reused) <> 0`,
      [id],
    );
  }
}

/** Sweeps with more than `rows` counter rows (for a periodic compaction). */
export async function sweepsToCompact(db: Queryable, rows = COMPACT_AFTER_ROWS): Promise<string[]> {
  const r = await db.query<{ id: string }>(
    'SELECT sweep_id AS id FROM sweep_run_counts GROUP BY sweep_id HAVING count(*) > $1',
    [rows],
  );
  return r.rows.map((x) => x.id);
}

export type CancelOutcome =
  | { outcome: 'not_found' }
  | { outcome: 'finished'; status: SweepStatus }
  | { outcome: 'cancelled'; cancelledRuns: number };

/**
 * Cancels a sweep in constant time: the sweep row says `cancelled` and from then on its
 * queued runs read as cancelled (counts, run pages, the analyst view); workers refuse to
 * claim in a cancelled sweep. `cancelledRuns` is how many runs that turned (queued ones
 * and configurations never enqueued). The rows themselves are rewritten afterwards in
 * chunks (cancelQueuedRunsChunk). The sweep row is locked FOR UPDATE, which waits for an
 * enqueuer chunk in flight (it holds FOR KEY SHARE), so its runs are counted here.
 */
export async function cancelSweep(pool: pg.Pool, id: string, vis: Visibility): Promise<CancelOutcome> {
  return inTransaction(pool, async (c) => {
    const { rows } = await c.query<{ status: SweepStatus; total: number }>(
      `SELECT status, total FROM sweeps WHERE id = $1 AND ${teamCondition('$2')} FOR UPDATE`,
      [id, visibleTeam(vis)],
    );
    if (!rows.length) return { outcome: 'not_found' };
    const status = rows[0].status;
    if (FINISHED_SWEEP_STATUSES.includes(status)) return { outcome: 'finished', status };
    const counts = (await runStatusCounts(c, [id])).get(id) ?? emptyCounts();
    await c.query(`UPDATE sweeps SET status = 'cancelled', finished_at = now() WHERE id = $1`, [id]);
    const rowsSeen = counts.queued + counts.running + counts.succeeded + counts.failed + counts.cancelled;
    return { outcome: 'cancelled', cancelledRuns: counts.queued + Math.max(0, rows[0].total - rowsSeen) };
  });
}

/** Runs rewritten per statement by cancelQueuedRunsChunk: short row locks, bounded WAL per transaction. */
export const CANCEL_CHUNK_ROWS = 20_000;

/**
 * Writes `cancelled` (finished when the sweep was cancelled) into the next `limit` queued
 * runs of a cancelled sweep after index `after`; how many and the last index written, or
 * null when the sweep is not cancelled (any more): a retry that reopened it must find
 * its runs queued. Keyset by index: the entries the previous chunks left dead at the
 * start of the queued range are never read again. The sweep row is locked FOR SHARE
 * first, the order cancel and retry use (FOR UPDATE), so a concurrent retry either
 * waits for this chunk or is seen by it.
 */
// A pg transaction like cancel's: see inTransaction's note on why (docs/service-design.md, "Hot paths on pg").
export async function cancelQueuedRunsChunk(
  pool: pg.Pool, id: string, after = -1, limit = CANCEL_CHUNK_ROWS,
): Promise<{ n: number; last: number } | null> {
  return inTransaction(pool, async (c) => {
    const { rows } = await c.query<{ status: SweepStatus }>('SELECT status FROM sweeps WHERE id = $1 FOR SHARE', [id]);
    if (rows[0]?.status !== 'cancelled') return null;
    const upd = await c.query<{ n: number; last: number | null }>(
      `WITH q AS (SELECT id FROM runs WHERE sweep_id = $1 AND status = 'queued' AND index > $2 ORDER BY index LIMIT $3),
       u AS (UPDATE runs r SET status = 'cancelled', finished_at = s.finished_at
               FROM sweeps s, q WHERE s.id = $1 AND r.id = q.id AND r.status = 'queued' RETURNING r.index)
       SELECT count(*)::int AS n, max(index) AS last FROM u`,
      [id, after, limit],
    );
    return { n: upd.rows[0].n, last: upd.rows[0].last ?? after };
  });
}

/** Cancelled sweeps that still have queued rows to rewrite (a pass cut short by a restart). */
export async function sweepsToCancel(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT s.id FROM sweeps s WHERE s.status = 'cancelled'
        AND EXISTS (SELECT 1 FROM runs r WHERE r.sweep_id = s.id AND r.status = 'queued')
      ORDER BY s.finished_at`,
  );
  return rows.map((r) => r.id);
}

export interface SweepSnapshot { status: SweepStatus; finishedAt: Date | null }

export type RetryOutcome =
  | { outcome: 'not_found' }
  | { outcome: 'nothing'; status: SweepStatus }
  /** A cancelled sweep counts against its team's budget again when retried; it no longer fits. */
  | { outcome: 'over_budget'; overBudget: OverBudget }
  | {
      outcome: 'retried';
      /** Indexes put back to queued, ascending. */
      indexes: number[];
      /** True when part of the sweep was never enqueued (cancelled mid-enqueue): the enqueuer must resume it. */
      enqueuePending: boolean;
      status: SweepStatus;
      before: SweepSnapshot;
    };

/** Puts failed and cancelled runs back to queued and reopens the sweep. */
export async function retrySweep(pool: pg.Pool, id: string, vis: Visibility): Promise<RetryOutcome> {
  return inTransaction(pool, async (c) => {
    const { rows } = await c.query<{ status: SweepStatus; finishedAt: Date | null; pending: boolean; teamId: string | null; cost: number }>(
      `SELECT status, finished_at AS "finishedAt", enqueued < total AS pending, team_id AS "teamId",
              estimated_cost_seconds AS cost FROM sweeps
        WHERE id = $1 AND ${teamCondition('$2')} FOR UPDATE`,
      [id, visibleTeam(vis)],
    );
    if (!rows.length) return { outcome: 'not_found' };
    const { teamId, cost: _cost, ...before } = rows[0];
    // Failed runs compute again, and a cancelled sweep counts in full again: checked and charged (teams.ts).
    const over = await chargeRetry(c, id, teamId);
    if (over) return { outcome: 'over_budget', overBudget: over };
    // Queued runs the cancel left to its background pass read as cancelled: they run again too.
    const unwritten = before.status !== 'cancelled' ? []
      : (await c.query<{ index: number }>(`SELECT index FROM runs WHERE sweep_id = $1 AND status = 'queued'`, [id])).rows;
    const runs = await c.query<{ index: number }>(
      `UPDATE runs SET status = 'queued', error = NULL, started_at = NULL, finished_at = NULL, worker = NULL
       WHERE sweep_id = $1 AND status IN ('failed', 'cancelled')
       RETURNING index`,
      [id],
    );
    runs.rows.push(...unwritten);
    if (!runs.rows.length && !before.pending) return { outcome: 'nothing', status: before.status };
    const upd = await c.query<{ status: SweepStatus }>(
      `UPDATE sweeps SET status = CASE WHEN started_at IS NULL THEN 'queued' ELSE 'running' END, finished_at = NULL
       WHERE id = $1 RETURNING status`,
      [id],
    );
    return {
      outcome: 'retried',
      indexes: runs.rows.map((r) => r.index).sort((a, b) => a - b),
      enqueuePending: before.pending,
      status: upd.rows[0].status,
      before: { status: before.status, finishedAt: before.finishedAt },
    };
  });
}

/**
 * Undoes a retry whose jobs could not be queued: its runs go back to failed (with the
 * reason) and the sweep to its former state, so the next retry finds them again.
 */
export async function revertRetry(pool: pg.Pool, id: string, indexes: number[], before: SweepSnapshot, reason: string): Promise<void> {
  await inTransaction(pool, async (c) => {
    await c.query('SELECT 1 FROM sweeps WHERE id = $1 FOR UPDATE', [id]);
    await c.query(
      `UPDATE runs SET status = 'failed', error = $3, finished_at = now()
       WHERE sweep_id = $1 AND index = ANY($2::int[]) AND status = 'queued'`,
      [id, indexes, reason],
    );
    await c.query('UPDATE sweeps SET status = $2, finished_at = $3 WHERE id = $1', [id, before.status, before.finishedAt]);
  });
}

// ---- background enqueue bookkeeping ----
// On the enqueuer's pg connection: it holds a session-level advisory lock across chunks, which Prisma cannot pin (docs/service-design.md, "Hot paths on pg").

export interface EnqueueState { spec: unknown; total: number; enqueued: number; status: SweepStatus; estimatedCostSeconds: number }

export async function getEnqueueState(db: Queryable, id: string): Promise<EnqueueState | null> {
  const { rows } = await db.query<EnqueueState>(
    'SELECT spec, total, enqueued, status, estimated_cost_seconds AS "estimatedCostSeconds" FROM sweeps WHERE id = $1',
    [id],
  );
  return rows[0] ?? null;
}

/** Sweeps whose enqueue did not finish (API restarted mid-way), oldest first. */
export async function sweepsToEnqueue(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM sweeps WHERE enqueued < total AND status <> 'cancelled' ORDER BY created_at`,
  );
  return rows.map((r) => r.id);
}

/**
 * Inserts the run rows of one chunk (params as JSON texts, aligned with indexes) unless
 * the sweep was cancelled. FOR KEY SHARE on the sweep orders this against a concurrent
 * cancel (FOR UPDATE) without blocking workers' ordinary updates of the sweep row.
 * Returns false when the sweep is gone or cancelled.
 */
export async function insertRunChunk(client: pg.PoolClient, sweepId: string, indexes: number[], params: string[], costs?: number[]): Promise<boolean> {
  if (!indexes.length) return true;
  return insertRuns(client, sweepId, Math.min(...indexes), Math.max(...indexes) + 1, [], (conflict) => ({
    text: `INSERT INTO runs (sweep_id, index, params, cost_seconds)
           SELECT $1, u.i, u.p, u.c FROM unnest($2::int[], $3::jsonb[], $4::float8[]) AS u(i, p, c)
           ${conflict}`,
    values: [sweepId, indexes, params, costs ?? indexes.map(() => null)],
  }));
}

/**
 * One transaction: the sweep row locked FOR KEY SHARE, then the insert unless the sweep
 * is gone or cancelled. `ON CONFLICT DO NOTHING` costs a second descent of the unique
 * index and a confirmation WAL record per row, so it is used only when rows of
 * [from, to) already exist (an enqueue resumed after a crash, or a chunk done twice);
 * a concurrent writer of the same rows that the check could not see makes the plain
 * insert fail with a unique violation, and the chunk is done again with it.
 */
async function insertRuns(
  client: pg.PoolClient, sweepId: string, from: number, to: number, setup: string[],
  statement: (conflict: string) => { text: string; values: unknown[] },
): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    await client.query('BEGIN');
    try {
      for (const s of setup) await client.query(s);
      const { rows } = await client.query<{ status: SweepStatus; some: boolean }>(
        `SELECT status, EXISTS (SELECT 1 FROM runs WHERE sweep_id = $1 AND index >= $2 AND index < $3) AS some
           FROM sweeps WHERE id = $1 FOR KEY SHARE`,
        [sweepId, from, to],
      );
      const open = rows.length > 0 && rows[0].status !== 'cancelled';
      if (open) await client.query(statement(rows[0].some || attempt > 0 ? 'ON CONFLICT (sweep_id, index) DO NOTHING' : ''));
      await client.query('COMMIT');
      return open;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      if (attempt > 0 || (err as { code?: string }).code !== '23505') throw err;
    }
  }
}

/** paramsAt's JSON in pieces (sweep-spec's ParamsLayout), as insertRunRange takes it. */
export interface RunParamsLayout {
  lengths: number[];
  parts: { axes: number[]; members: (string | null)[]; errors: (string | null)[] | null }[];
}

/**
 * Inserts the run rows of indexes start..end-1 built by Postgres itself (generate_series),
 * their params assembled from the layout's pieces, so a chunk of a million-run sweep
 * sends a few thousand strings instead of a row per run. An index where a derive is not
 * finite becomes a failed run with the reason (its params: the axis variables). Costs,
 * when given, align with start..end-1; otherwise NULL (budgets then count the sweep's
 * mean). Same locking and answer as insertRunChunk.
 */
export async function insertRunRange(
  client: pg.PoolClient, sweepId: string, start: number, end: number, layout: RunParamsLayout, costs?: ArrayLike<number>,
): Promise<boolean> {
  const { lengths } = layout;
  const strides = lengths.map((_, k) => lengths.slice(k + 1).reduce((t, l) => t * l, 1));
  // Parts on the same axes (an axis and the derives that read only it) become one list:
  // one join each instead of one per part.
  const byAxes = new Map<string, { axes: number[]; members: (string | null)[]; errors: (string | null)[] | null }>();
  for (const part of layout.parts) {
    const key = part.axes.join(',');
    const had = byAxes.get(key);
    if (!had) {
      byAxes.set(key, { axes: part.axes, members: [...part.members], errors: part.errors ? [...part.errors] : null });
      continue;
    }
    had.members = had.members.map((m, i) => [m, part.members[i]].filter((x) => x !== null).join(',') || null);
    if (part.errors) had.errors = (had.errors ?? had.members.map(() => null)).map((e, i) => e ?? part.errors![i]);
  }
  const parts = [...byAxes.values()];
  const values: unknown[] = [sweepId, start, end];
  const param = (v: unknown) => `$${values.push(v)}`;
  const members: string[] = [];
  const errors: string[] = [];
  const joins: string[] = [];
  parts.forEach((part, n) => {
    // The part's mixed-radix number of i's digits on its axes (last axis fastest), 1-based.
    let inner = 1;
    const terms: string[] = [];
    for (let j = part.axes.length - 1; j >= 0; j--) {
      const k = part.axes[j];
      terms.push(`((i / ${strides[k]}) % ${lengths[k]}) * ${inner}`);
      inner *= lengths[k];
    }
    // Joined, not subscripted: a subscript of an array parameter of variable-width
    // elements walks the array from its start for every row. Each piece is a jsonb object,
    // parsed once a chunk instead of once a row: a row's params are their concatenation
    // (a later piece wins a repeated key, as the last one does in a JSON text).
    const objects = part.members.map((m) => (m === null ? '{}' : `{${m}}`));
    joins.push(`JOIN unnest(${param(objects)}::jsonb[], ${param(part.errors ?? [])}::text[]) WITH ORDINALITY AS p${n}(m, e, o)
                ON p${n}.o = ${terms.length ? terms.join(' + ') : '0'} + 1`);
    members.push(`p${n}.m`);
    if (part.errors) errors.push(`p${n}.e`);
  });
  const error = errors.length ? `coalesce(${errors.join(', ')})` : 'NULL::text';
  // float8[] elements have a fixed width: a subscript is direct.
  const cost = costs ? `(${param(Array.from(costs))}::float8[])[i - $2 + 1]` : 'NULL::float8';
  const params = members.length ? members.join(' || ') : `'{}'::jsonb`;
  // The joins' row estimates are rough; JIT compiling for them costs more than the statement.
  return insertRuns(client, sweepId, start, end, ['SET LOCAL jit = off'], (conflict) => ({
    text: `INSERT INTO runs (sweep_id, index, params, cost_seconds, status, error, finished_at)
           SELECT $1, i, ${params}, ${cost},
                  CASE WHEN ${error} IS NULL THEN 'queued' ELSE 'failed' END, ${error}, CASE WHEN ${error} IS NULL THEN NULL ELSE now() END
             FROM generate_series($2::int, $3::int - 1) AS i
             ${joins.join('\n             ')}
           ${conflict}`,
    values,
  }));
}

/** Records that every configuration below `end` has its run row and its job. */
export async function advanceEnqueued(db: Queryable, sweepId: string, end: number): Promise<SweepStatus | null> {
  const { rows } = await db.query<{ status: SweepStatus }>(
    'UPDATE sweeps SET enqueued = GREATEST(enqueued, $2) WHERE id = $1 RETURNING status',
    [sweepId, end],
  );
  return rows[0]?.status ?? null;
}

/** Session-level advisory lock keyed by the sweep id; held by one enqueuer across all API instances. */
export async function tryLockSweep(client: pg.PoolClient, sweepId: string): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(
    `SELECT pg_try_advisory_lock(hashtextextended('sweep-enqueue:' || $1, 0)) AS ok`,
    [sweepId],
  );
  return rows[0].ok;
}

export async function unlockSweep(client: pg.PoolClient, sweepId: string): Promise<void> {
  await client.query(`SELECT pg_advisory_unlock(hashtextextended('sweep-enqueue:' || $1, 0))`, [sweepId]);
}

// pg transactions: an interactive prisma.$transaction costs more than the service's 5% (docs/service-design.md, "Hot paths on pg").
async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const out = await fn(c);
    await c.query('COMMIT');
    return out;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}
