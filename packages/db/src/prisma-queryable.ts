// The repositories' hand-written SQL issued through Prisma Client instead of a pg pool:
// a Queryable over `$queryRawUnsafe` / `$executeRawUnsafe`, so the same functions
// (claims, finishes, result inserts, ...) run unchanged on either. Replies keep pg's
// shape and pg's JavaScript types, which is what those functions were written against.
//
// Prisma decodes raw rows its own way; this converts back where pg differs:
//   int8 (count(*), bigint ids) -> string, as pg gives (Prisma: bigint);
//   numeric -> string (Prisma: Decimal; its text drops trailing zeros pg keeps: 1.50 -> '1.5');
//   bytea -> Buffer (Prisma: a plain Uint8Array on the same bytes, not copied);
//   the same inside arrays. timestamptz/date -> Date, json/jsonb, int4, float8, bool,
//   text and uuid (and their arrays) already match.
// Not covered (no repository statement returns them): `time` comes back as a Date (pg: a
// string), `interval` and other types Prisma cannot decode throw; a `timestamp` without
// time zone is read as UTC (pg: local time; the same when TZ is UTC).
//
// A statement that returns no rows (an UPDATE without RETURNING) must go through
// `$executeRawUnsafe` to learn how many rows it touched, so each statement is classified
// once by its top-level keywords. Transactions: pass the `tx` of `prisma.$transaction`;
// a `BEGIN` sent through here would run on whichever connection the pool hands out.
import type pg from 'pg';
import { Prisma, prismaFor, type PrismaClient } from './client.ts';
import type { Queryable } from './queryable.ts';

/** What this needs of Prisma Client: the client itself or a transaction's `tx`. */
export type RawPrisma = Pick<PrismaClient, '$queryRawUnsafe' | '$executeRawUnsafe'>;

/** A Queryable running every statement through `prisma` (a client or an interactive transaction's `tx`). */
export function prismaQueryable(prisma: RawPrisma): Queryable {
  const query = async (textOrConfig: string | pg.QueryConfig, values?: unknown[], ...rest: unknown[]): Promise<pg.QueryResult> => {
    if (typeof values === 'function' || rest.length > 0) throw new TypeError('prismaQueryable: callbacks are not supported');
    let text: string;
    if (typeof textOrConfig === 'string') text = textOrConfig;
    else {
      if ((textOrConfig as { rowMode?: unknown }).rowMode !== undefined) throw new TypeError('prismaQueryable: rowMode is not supported');
      text = textOrConfig.text;
      values ??= textOrConfig.values;
    }
    const params = values ?? [];
    const kind = classify(text);
    try {
      if (kind.returnsRows) {
        const rows = await prisma.$queryRawUnsafe<Record<string, unknown>[]>(text, ...params);
        for (const row of rows) toPgRow(row);
        return { command: kind.command, rowCount: rows.length, oid: 0, fields: [], rows };
      }
      const n = await prisma.$executeRawUnsafe(text, ...params);
      return { command: kind.command, rowCount: n, oid: 0, fields: [], rows: [] };
    } catch (err) {
      throw asPgError(err);
    }
  };
  // pg's query has a dozen overloads (callbacks, submittables); the repositories use the
  // promise form with text and values, which is what this implements.
  return { query } as unknown as Queryable;
}

/** The Queryable over the Prisma Client of `pool` (prismaFor), on the pool's own connections. */
export function prismaQueryableFor(pool: pg.Pool): Queryable {
  return prismaQueryable(prismaFor(pool));
}

// ---- values: pg's types

function toPgValue(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return typeof v === 'bigint' ? v.toString() : v;
  if (v instanceof Uint8Array) return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (Prisma.Decimal.isDecimal(v)) return (v as Prisma.Decimal).toString();
  if (Array.isArray(v)) {
    // Arrays of Postgres arrays hold only scalars; a json array holds no bigint,
    // Decimal or bytes, so it comes back as it was.
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (x !== null && (typeof x === 'bigint' || typeof x === 'object')) v[i] = toPgValue(x);
    }
  }
  return v;
}

function toPgRow(row: Record<string, unknown>): void {
  for (const k in row) {
    const v = row[k];
    if (v !== null && (typeof v === 'bigint' || typeof v === 'object')) row[k] = toPgValue(v);
  }
}

// ---- errors: pg's SQLSTATE where callers look for it

/**
 * A statement Postgres refused comes back as pg reports it (message, `code` = SQLSTATE,
 * `constraint`, `table`), with Prisma's error as `cause` and its `meta` kept, so error
 * checks written for pg (and isDatabaseUnavailable) see the same thing.
 */
function asPgError(err: unknown): unknown {
  if (!(err instanceof Prisma.PrismaClientKnownRequestError)) return err;
  const cause = (err.meta as { driverAdapterError?: { cause?: Record<string, unknown> } } | undefined)?.driverAdapterError?.cause;
  if (!cause || typeof cause.originalCode !== 'string') return err;
  const e = new Error(typeof cause.originalMessage === 'string' ? cause.originalMessage : err.message, { cause: err }) as Error & Record<string, unknown>;
  e.code = cause.originalCode;
  e.meta = err.meta;
  const constraint = cause.constraint as { index?: unknown } | undefined;
  if (typeof constraint?.index === 'string') e.constraint = constraint.index;
  if (typeof cause.table === 'string') e.table = cause.table;
  return e;
}

// ---- statements: rows or a count

interface Kind { command: string; returnsRows: boolean }

const kinds = new Map<string, Kind>();
const MAX_KINDS = 1000;

function classify(sql: string): Kind {
  let kind = kinds.get(sql);
  if (!kind) {
    kind = classifyUncached(sql);
    if (kinds.size >= MAX_KINDS) kinds.clear();
    kinds.set(sql, kind);
  }
  return kind;
}

const ROWS = new Set(['SELECT', 'VALUES', 'TABLE', 'SHOW', 'EXPLAIN']);
const DML = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

/**
 * The statement's main command (after any WITH list) and whether it returns rows: a
 * query, or DML with a top-level RETURNING. Words inside parentheses, quotes, dollar
 * quotes and comments do not count, so a data-modifying CTE's own RETURNING does not
 * make the outer UPDATE return rows.
 */
function classifyUncached(sql: string): Kind {
  const words = topLevelWords(sql);
  let command = '';
  let i = 0;
  if (words[0] === 'WITH') {
    for (i = 1; i < words.length; i++) if (ROWS.has(words[i]) || DML.has(words[i])) break;
  }
  command = words[i] ?? '';
  if (ROWS.has(command)) return { command, returnsRows: true };
  if (DML.has(command)) return { command, returnsRows: words.includes('RETURNING', i + 1) };
  return { command, returnsRows: false };
}

/** The words outside parentheses, quotes and comments, upper-cased, in order. */
function topLevelWords(sql: string): string[] {
  const words: string[] = [];
  let depth = 0;
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i];
    if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      // Postgres nests block comments.
      let level = 1;
      i += 2;
      while (i < n && level > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') { level++; i += 2; } else if (sql[i] === '*' && sql[i + 1] === '/') { level--; i += 2; } else i++;
      }
    } else if (c === "'" || c === '"') {
      const escapes = c === "'" && i > 0 && (sql[i - 1] === 'E' || sql[i - 1] === 'e');
      i++;
      while (i < n) {
        if (escapes && sql[i] === '\\') i += 2;
        else if (sql[i] === c) { if (sql[i + 1] === c) i += 2; else { i++; break; } } else i++;
      }
    } else if (c === '$' && /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.test(sql.slice(i, i + 64))) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64))![0];
      const end = sql.indexOf(tag, i + tag.length);
      i = end < 0 ? n : end + tag.length;
    } else if (c === '(') { depth++; i++; } else if (c === ')') { depth--; i++; } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_$]/.test(sql[j])) j++;
      if (depth === 0) words.push(sql.slice(i, j).toUpperCase());
      i = j;
    } else i++;
  }
  return words;
}
