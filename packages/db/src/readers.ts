// Read-only Postgres roles for analysts (docs/analyst-sql.md): one team's rows, through the
// versioned views of the `analyst` schema. The row filter is row-level security on the base
// tables, keyed on the role's entry in team_readers (migration analyst_views); the grants
// come from grant_analyst_reader() in the same migration, so a later view is granted the
// same way. Creating a role needs a database user with CREATEROLE (or a superuser), and
// every statement runs in one transaction: a role exists with its team and grants, or not at all.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { pgErrorCode, prismaFor } from './client.ts';

export interface Reader {
  roleName: string;
  teamId: string;
  createdAt: Date;
}

export interface CreatedReader extends Reader {
  /** Shown once: Postgres keeps only its SCRAM verifier. */
  password: string;
}

/** A role of that name exists already (on the server: role names are cluster-wide). */
export class DuplicateReaderError extends Error {
  constructor(role: string) {
    super(`a role named ${JSON.stringify(role)} already exists on this server`);
    this.name = 'DuplicateReaderError';
  }
}

/** Unquoted Postgres identifiers, lower case, at most 63 bytes: no quoting surprises in a connection string or psql. */
export const ROLE_NAME_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/** `<team>_reader_<6 hex>`: the team in the name for whoever reads pg_roles, a random tail because role names are shared by every database of the server. */
export function defaultReaderRoleName(teamName: string): string {
  const slug = teamName.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 40) || 'team';
  const head = /^[a-z_]/.test(slug) ? slug : `t_${slug}`;
  return `${head}_reader_${randomBytes(3).toString('hex')}`;
}

/**
 * The SCRAM-SHA-256 verifier Postgres stores for `password` (RFC 5802/7677, Postgres's
 * own format). Sent instead of the password, so the password never reaches the server,
 * its logs or pg_stat_statements.
 */
export function scramSha256Verifier(password: string, salt: Buffer = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;
const quoteLiteral = (s: string) => `'${s.replace(/'/g, "''")}'`;

// createReader and dropReader stay on a pg client: CREATE ROLE, GRANT and DROP ROLE take
// no parameters (identifiers and the verifier are written into the statement) and must
// commit or roll back with the team_readers row in one transaction.

/**
 * Creates a LOGIN role that can read the analyst views (and, under row-level security,
 * only `teamId`'s rows), and nothing else: no write, no other table, read-only
 * transactions by default.
 */
export async function createReader(pool: pg.Pool, teamId: string, o: { roleName: string; password?: string }): Promise<CreatedReader> {
  if (!ROLE_NAME_RE.test(o.roleName)) {
    throw new Error(`role name ${JSON.stringify(o.roleName)}: use lower-case letters, digits and _ (at most 63, not starting with a digit)`);
  }
  const password = o.password ?? randomBytes(24).toString('base64url');
  const role = quoteIdent(o.roleName);
  try {
    // One interactive transaction of the pool's Prisma Client: DDL has no model API, so
    // those statements are SQL through the same client.
    return await prismaFor(pool).$transaction(async (tx) => {
      // Utility statements take no parameters; the name is checked above, the verifier is base64.
      await tx.$executeRawUnsafe(
        `CREATE ROLE ${role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS
           PASSWORD ${quoteLiteral(scramSha256Verifier(password))}`,
      );
      await tx.$executeRawUnsafe(`ALTER ROLE ${role} SET default_transaction_read_only = on`);
      const reader = await tx.teamReader.create({ data: { roleName: o.roleName, teamId } });
      await tx.$executeRaw`SELECT grant_analyst_reader(${o.roleName})`;
      const [{ db }] = await tx.$queryRaw<{ db: string }[]>`SELECT current_database() AS db`;
      await tx.$executeRawUnsafe(`GRANT CONNECT ON DATABASE ${quoteIdent(db)} TO ${role}`);
      return { roleName: reader.roleName, teamId: reader.teamId, createdAt: reader.createdAt, password };
    });
  } catch (err) {
    if (pgErrorCode(err) === '42710') throw new DuplicateReaderError(o.roleName);
    throw err;
  }
}

/** The readers of a team (or of every team), oldest first. */
export async function listReaders(db: pg.Pool, teamId?: string): Promise<Reader[]> {
  return prismaFor(db).teamReader.findMany({ where: teamId === undefined ? {} : { teamId }, orderBy: [{ createdAt: 'asc' }, { roleName: 'asc' }] });
}

/**
 * Drops a reader role made by createReader (and only such a role: the name must be in
 * team_readers). False when there is no such reader. Its privileges in this database go
 * with it; DROP ROLE fails if it was granted anything in another database.
 */
export async function dropReader(pool: pg.Pool, roleName: string): Promise<boolean> {
  return prismaFor(pool).$transaction(async (tx) => {
    const { count } = await tx.teamReader.deleteMany({ where: { roleName } });
    if (count === 0) return false;
    const exists = await tx.$queryRaw<unknown[]>`SELECT 1 FROM pg_roles WHERE rolname = ${roleName}`;
    if (exists.length) {
      await tx.$executeRawUnsafe(`DROP OWNED BY ${quoteIdent(roleName)}`);
      await tx.$executeRawUnsafe(`DROP ROLE ${quoteIdent(roleName)}`);
    }
    return true;
  });
}

/** `postgresql://role:password@host:port/db?...` on the server and database of `databaseUrl`. */
export function readerConnectionString(databaseUrl: string, roleName: string, password: string): string {
  const u = new URL(databaseUrl);
  u.username = encodeURIComponent(roleName);
  u.password = encodeURIComponent(password);
  if (!u.port) u.port = '5432';
  return u.toString();
}
