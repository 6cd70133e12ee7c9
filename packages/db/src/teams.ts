// Teams and API keys (docs/service-design.md, "Access control"). A key belongs to a team;
// sweeps belong to the team whose key submitted them.
//
// A key is `cs_` + 32 random bytes in base64url (43 characters). Only its sha256 (hex) is
// stored. A fast hash is the right tool here, unlike for passwords: the key carries 256
// bits of randomness, so nobody can guess or brute-force it from the hash, and a fast,
// deterministic hash lets every request find its key with one lookup on a unique index.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import { Prisma, pgErrorCode, prismaFor } from './client.ts';
import type { Queryable } from './queryable.ts';
import { isUuid } from './uuid.ts';

export const KEY_PREFIX = 'cs_';
/** Characters of the key kept in clear (prefix included) to tell keys apart in listings. */
export const KEY_DISPLAY_CHARS = 11;
/** Shape of every key this module issues: `cs_` and 43 base64url characters. */
export const KEY_RE = /^cs_[A-Za-z0-9_-]{43}$/;

export type KeyRole = 'member' | 'admin';

export interface Team {
  id: string;
  name: string;
  /** null: unlimited. */
  computeBudgetSeconds: number | null;
  createdAt: Date;
}

export interface ApiKeyInfo {
  id: string;
  teamId: string;
  name: string;
  prefix: string;
  role: KeyRole;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** What a request authenticated with a key may do. */
export interface KeyAuth {
  keyId: string;
  teamId: string;
  teamName: string;
  role: KeyRole;
}

/** A team name is taken (unique violation). */
export class DuplicateTeamError extends Error {
  constructor(name: string) {
    super(`a team named ${JSON.stringify(name)} already exists`);
    this.name = 'DuplicateTeamError';
  }
}

export const hashKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

const KEY_FIELDS = { id: true, teamId: true, name: true, prefix: true, role: true, createdAt: true, lastUsedAt: true, revokedAt: true } as const;

// Teams and keys are read and written through Prisma's model API (prismaFor: the pool's
// client); `db` is the service's pool.
export async function createTeam(db: pg.Pool, name: string, o: { computeBudgetSeconds?: number | null } = {}): Promise<Team> {
  if (!name.trim()) throw new Error('a team name cannot be empty');
  const budget = o.computeBudgetSeconds ?? null;
  if (budget !== null && !(Number.isFinite(budget) && budget >= 0)) throw new Error(`compute budget ${budget} is not a number of seconds >= 0`);
  try {
    return await prismaFor(db).team.create({ data: { id: randomUUID(), name, computeBudgetSeconds: budget } });
  } catch (err) {
    if (pgErrorCode(err) === '23505') throw new DuplicateTeamError(name);
    throw err;
  }
}

/** A team by id (uuid) or by name. */
export async function findTeam(db: pg.Pool, ref: string): Promise<Team | null> {
  return prismaFor(db).team.findFirst({ where: isUuid(ref) ? { OR: [{ id: ref.toLowerCase() }, { name: ref }] } : { name: ref } });
}

export async function listTeams(db: pg.Pool): Promise<(Team & { keys: number; sweeps: number; budgetUsedSeconds: number })[]> {
  const prisma = prismaFor(db);
  const [teams, used] = await Promise.all([
    prisma.team.findMany({
      orderBy: { name: 'asc' },
      include: { _count: { select: { keys: { where: { revokedAt: null } }, sweeps: true } } },
    }),
    // The budget charge is an aggregate over each sweep's runs (SWEEP_CHARGE): SQL, through the same client.
    prisma.$queryRaw<{ teamId: string; used: number }[]>(
      Prisma.sql`SELECT s.team_id AS "teamId", coalesce(sum(${Prisma.raw(SWEEP_CHARGE)}), 0)::float8 AS used
                   FROM sweeps s WHERE s.team_id IS NOT NULL GROUP BY s.team_id`,
    ),
  ]);
  const usedBy = new Map(used.map((u) => [u.teamId, u.used]));
  return teams.map(({ _count, ...t }) => ({ ...t, keys: _count.keys, sweeps: _count.sweeps, budgetUsedSeconds: usedBy.get(t.id) ?? 0 }));
}

/** A new random key in the documented shape. */
export function generateKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

/**
 * Creates a key for a team. The plaintext is returned here and only here: the table
 * keeps its sha256 and its first characters.
 */
export async function createKey(
  db: pg.Pool,
  teamId: string,
  o: { name?: string; role?: KeyRole } = {},
): Promise<{ key: string; info: ApiKeyInfo }> {
  const key = generateKey();
  const info = await prismaFor(db).apiKey.create({
    data: { id: randomUUID(), teamId, name: o.name ?? 'default', prefix: key.slice(0, KEY_DISPLAY_CHARS), hash: hashKey(key), role: o.role ?? 'member' },
    select: KEY_FIELDS,
  });
  return { key, info: { ...info, role: info.role as KeyRole } };
}

/** Revokes a key (idempotent: a revoked key keeps its first revocation time); false when there is no such key. */
export async function revokeKey(db: pg.Pool, keyId: string): Promise<boolean> {
  if (!isUuid(keyId)) return false;
  const id = keyId.toLowerCase();
  const prisma = prismaFor(db);
  const { count } = await prisma.apiKey.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: new Date() } });
  return count > 0 || (await prisma.apiKey.count({ where: { id } })) > 0;
}

/** The keys of a team, revoked ones included, oldest first. */
export async function listKeys(db: pg.Pool, teamId: string): Promise<ApiKeyInfo[]> {
  const keys = await prismaFor(db).apiKey.findMany({ where: { teamId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], select: KEY_FIELDS });
  return keys.map((k) => ({ ...k, role: k.role as KeyRole }));
}

/** The live (not revoked) key whose plaintext this is, or null. */
export async function findKeyByPlaintext(db: pg.Pool, key: string): Promise<KeyAuth | null> {
  if (!KEY_RE.test(key)) return null;
  const found = await prismaFor(db).apiKey.findUnique({
    where: { hash: hashKey(key) },
    select: { id: true, teamId: true, role: true, revokedAt: true, team: { select: { name: true } } },
  });
  if (!found || found.revokedAt !== null) return null;
  return { keyId: found.id, teamId: found.teamId, teamName: found.team.name, role: found.role as KeyRole };
}

/** Writes last_used_at at most once per key per this interval (per process). */
export const TOUCH_INTERVAL_MS = 60_000;
const lastTouched = new Map<string, number>();

/**
 * Records that a key was used. Throttled: at most one UPDATE per key per minute per
 * process (and the UPDATE itself skips rows touched within the minute, for other
 * processes), so requests do not each cost a write. Returns whether it wrote.
 */
export async function touchLastUsed(db: pg.Pool, keyId: string, now = Date.now()): Promise<boolean> {
  const prior = lastTouched.get(keyId);
  if (prior !== undefined && now - prior < TOUCH_INTERVAL_MS) return false;
  lastTouched.set(keyId, now);
  if (lastTouched.size > 10_000) {
    for (const [k, t] of lastTouched) if (now - t >= TOUCH_INTERVAL_MS) lastTouched.delete(k);
  }
  try {
    const { count } = await prismaFor(db).apiKey.updateMany({
      where: { id: keyId, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: new Date(now - TOUCH_INTERVAL_MS) } }] },
      data: { lastUsedAt: new Date(now) },
    });
    return count > 0;
  } catch (err) {
    lastTouched.delete(keyId);
    throw err;
  }
}

/**
 * What one sweep `s` costs its team's budget (docs/service-design.md, "Budgets"), in
 * estimated seconds: a sweep that is not cancelled, its whole estimate; a cancelled one,
 * the estimate of the runs that were computed or started (succeeded, failed, running,
 * or cancelled after they started), so cancelling gives back only what was never
 * computed; both plus the estimate of the failed runs retries put back to work. Runs
 * served from the result cache are charged as computed: a budget must not tell a team
 * what others have computed.
 */
export const SWEEP_CHARGE = `(CASE WHEN s.status <> 'cancelled' THEN s.estimated_cost_seconds ELSE (
    SELECT coalesce(sum(coalesce(r.cost_seconds, s.estimated_cost_seconds / greatest(s.total, 1))), 0) FROM runs r
     WHERE r.sweep_id = s.id AND (r.status IN ('succeeded', 'failed', 'running') OR (r.status = 'cancelled' AND r.started_at IS NOT NULL))
  ) END + s.retry_cost_seconds)`;

// The budget statements below run inside the submission's and retry's pg transactions (sweeps.ts says why those stay on pg).
/** What the team's sweeps cost its budget (seconds), see SWEEP_CHARGE. */
export async function teamBudgetUsed(db: Queryable, teamId: string): Promise<number> {
  const { rows } = await db.query<{ used: number }>(
    `SELECT coalesce(sum(${SWEEP_CHARGE}), 0)::float8 AS used FROM sweeps s WHERE s.team_id = $1`,
    [teamId],
  );
  return rows[0].used;
}

export interface OverBudget {
  budgetSeconds: number;
  usedSeconds: number;
  requestedSeconds: number;
}

/**
 * Locks the team's row until the transaction ends, so that its submissions and
 * retries are checked against its budget one at a time; the budget (null: none), or
 * undefined when there is no such team.
 */
export async function lockTeam(c: Queryable, teamId: string): Promise<{ budget: number | null } | undefined> {
  const { rows } = await c.query<{ budget: number | null }>(
    'SELECT compute_budget_seconds AS budget FROM teams WHERE id = $1 FOR UPDATE',
    [teamId],
  );
  return rows[0];
}

/** Why `requestedSeconds` more do not fit the team's budget, or null when they do. Call with the team locked. */
export async function overBudget(c: Queryable, teamId: string, budget: number | null, requestedSeconds: number): Promise<OverBudget | null> {
  if (budget === null) return null;
  const usedSeconds = await teamBudgetUsed(c, teamId);
  return usedSeconds + requestedSeconds > budget ? { budgetSeconds: budget, usedSeconds, requestedSeconds } : null;
}

/**
 * A retry of the sweep's failed and cancelled runs, checked against the team's budget
 * and charged when it fits. Call in the retry's transaction, with the sweep row locked
 * and before its runs are put back to `queued`. What the retry adds: the estimate of
 * the failed runs (they compute again), and for a cancelled sweep, which counts in
 * full again once reopened, the part of its estimate it had given back. Returns why it
 * does not fit, or null (the charge is then recorded in sweeps.retry_cost_seconds).
 */
export async function chargeRetry(c: Queryable, sweepId: string, teamId: string | null): Promise<OverBudget | null> {
  const { rows } = await c.query<{ failed: number; current: number; reopened: number }>(
    `SELECT (SELECT coalesce(sum(coalesce(r.cost_seconds, s.estimated_cost_seconds / greatest(s.total, 1))), 0)
               FROM runs r WHERE r.sweep_id = s.id AND r.status = 'failed')::float8 AS failed,
            ${SWEEP_CHARGE}::float8 AS current,
            (s.estimated_cost_seconds + s.retry_cost_seconds)::float8 AS reopened
       FROM sweeps s WHERE s.id = $1`,
    [sweepId],
  );
  if (!rows[0]) return null;
  const { failed, current, reopened } = rows[0];
  if (teamId !== null) {
    const team = await lockTeam(c, teamId);
    const requested = failed + Math.max(0, reopened - current);
    const over = await overBudget(c, teamId, team?.budget ?? null, requested);
    if (over) return over;
  }
  if (failed > 0) await c.query('UPDATE sweeps SET retry_cost_seconds = retry_cost_seconds + $2 WHERE id = $1', [sweepId, failed]);
  return null;
}

/**
 * DEFAULT_TEAM_BUDGET_SECONDS: the compute budget of new teams created without an
 * explicit one (unset or empty: unlimited). Throws on a malformed value.
 */
export function defaultTeamBudgetSeconds(env: Record<string, string | undefined> = process.env): number | null {
  const raw = env.DEFAULT_TEAM_BUDGET_SECONDS;
  if (raw === undefined || raw.trim() === '') return null;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < 0) throw new Error(`DEFAULT_TEAM_BUDGET_SECONDS=${JSON.stringify(raw)} is not a number of seconds >= 0`);
  return v;
}
