// `sweep admin ...`: teams and API keys, managed directly in the database (DATABASE_URL,
// or --database-url), not through the API: they are what gives access to the API.
// `migrate` creates the database and applies pending migrations (the deploy step, like
// `npm run db:migrate`); every other subcommand first checks that the schema is current
// and otherwise stops naming that step, as the API does.
//
//   sweep admin migrate
//   sweep admin create-team NAME [--budget SECONDS]
//   sweep admin create-key TEAM [--name N] [--admin]     prints the key, once
//   sweep admin list-keys TEAM
//   sweep admin revoke-key KEY_ID
//   sweep admin list-teams
//   sweep admin create-reader TEAM [--role NAME]         a read-only Postgres role, prints its connection string once
//   sweep admin list-readers [TEAM]
//   sweep admin drop-reader ROLE
//
// Exit codes: 0 done, 2 bad arguments, 3 unknown team, key or reader, 4 the team (or role) exists already,
// 5 the database cannot be reached, 1 anything else.
import type { Command } from 'commander';
import type pg from 'pg';
import { isDatabaseUnavailable } from '@curation/db/availability';
import { EXIT_CONFLICT, EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_UNREACHABLE, EXIT_USAGE } from '../exit-codes.ts';

interface DbFlags { databaseUrl?: string; json?: boolean }

class AdminError extends Error {
  readonly code: number;
  constructor(message: string, code: number) {
    super(message);
    this.code = code;
  }
}

// Besides a server that cannot be reached (isDatabaseUnavailable), one that will not
// let us in: no such database (3D000), password or role refused (28P01, 28000).
const CANNOT_USE = new Set(['3D000', '28P01', '28000']);

function exitCodeOf(err: unknown, db: typeof import('@curation/db')): number {
  if (err instanceof AdminError) return err.code;
  if (err instanceof db.DuplicateTeamError || err instanceof db.DuplicateReaderError) return EXIT_CONFLICT;
  const e = err as { code?: string };
  if (isDatabaseUnavailable(err) || (e?.code && CANNOT_USE.has(e.code))) return EXIT_UNREACHABLE;
  return EXIT_FAILURE;
}

function messageOf(err: unknown): string {
  const e = err as { message?: string; code?: string; errors?: { message?: string }[] };
  const inner = e?.errors?.[0]?.message;
  return e?.message || inner || e?.code || String(err);
}

/** Checks the schema (or migrates, for `migrate`), connects, runs, disconnects; failures become one stderr line and an exit code. */
async function withDb(
  flags: DbFlags,
  fn: (pool: pg.Pool, db: typeof import('@curation/db')) => Promise<void>,
  o: { migrate?: boolean } = {},
): Promise<void> {
  const db = await import('@curation/db');
  const url = flags.databaseUrl || db.databaseUrl();
  let pool: pg.Pool | undefined;
  try {
    if (o.migrate) {
      const { applied, alreadyApplied } = await db.migrate(url);
      process.stdout.write(`applied ${applied.length} migration(s)${applied.length ? ` (${applied.join(', ')})` : ''}, ${alreadyApplied.length} already applied\n`);
      process.exitCode = 0;
      return;
    }
    await db.checkSchema(url);
    pool = db.createPool(url, 2);
    await fn(pool, db);
    process.exitCode = 0;
  } catch (err) {
    const code = exitCodeOf(err, db);
    const where = code === EXIT_UNREACHABLE ? ` (database ${redact(url)})` : '';
    process.stderr.write(`error: ${messageOf(err)}${where}\n`);
    process.exitCode = code;
  } finally {
    await pool?.end().catch(() => {});
  }
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}

async function teamOrFail(pool: pg.Pool, db: typeof import('@curation/db'), ref: string) {
  const team = await db.findTeam(pool, ref);
  if (!team) throw new AdminError(`no team ${JSON.stringify(ref)} (see: sweep admin list-teams)`, EXIT_NOT_FOUND);
  return team;
}

const iso = (d: Date | null) => (d ? d.toISOString() : '-');
const budgetText = (s: number | null) => (s === null ? 'unlimited' : `${s} s`);

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + '\n';
}

function parseBudget(raw: string | undefined): number | null | undefined {
  if (raw === undefined) return undefined;
  if (raw === 'unlimited' || raw === 'none') return null;
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || v < 0) {
    throw new AdminError(`--budget ${JSON.stringify(raw)} is not a number of seconds >= 0 (or "unlimited")`, EXIT_USAGE);
  }
  return v;
}

export function registerAdmin(program: Command): void {
  const admin = program
    .command('admin')
    .description('manage teams, API keys and read-only SQL roles in the database (DATABASE_URL); `migrate` applies the migrations');

  const dbOption = (cmd: Command) =>
    cmd.option('--database-url <url>', 'Postgres URL (default: $DATABASE_URL, else the local default)');

  dbOption(admin.command('migrate'))
    .description('create the database if needed and apply pending migrations (the deploy step; the other commands, the API and the workers only check)')
    .action(async (flags: DbFlags) => {
      await withDb(flags, async () => {}, { migrate: true });
    });

  dbOption(admin.command('create-team'))
    .description('create a team (exit 4 if the name is taken)')
    .argument('<name>', 'team name (unique)')
    .option('--budget <seconds>', 'compute budget: total estimated seconds of its sweeps that are not cancelled (default: $DEFAULT_TEAM_BUDGET_SECONDS, else unlimited)')
    .option('--json', 'print the team as JSON')
    .action(async (name: string, flags: DbFlags & { budget?: string }) => {
      await withDb(flags, async (pool, db) => {
        const explicit = parseBudget(flags.budget);
        const budget = explicit !== undefined ? explicit : db.defaultTeamBudgetSeconds();
        const team = await db.createTeam(pool, name, { computeBudgetSeconds: budget });
        if (flags.json) process.stdout.write(`${JSON.stringify(team, null, 2)}\n`);
        else process.stdout.write(`team ${team.name} created: id ${team.id}, compute budget ${budgetText(team.computeBudgetSeconds)}\n`);
      });
    });

  dbOption(admin.command('create-key'))
    .description('create an API key for a team and print it (it is stored hashed and cannot be shown again)')
    .argument('<team>', 'team name or id')
    .option('--name <name>', 'a label for the key (e.g. who or what uses it)', 'default')
    .option('--admin', 'an admin key: sees every team\'s sweeps, /metrics and /admin/queues')
    .option('--json', 'print { key, id, team, role, ... } as JSON')
    .action(async (ref: string, flags: DbFlags & { name: string; admin?: boolean }) => {
      await withDb(flags, async (pool, db) => {
        const team = await teamOrFail(pool, db, ref);
        const { key, info } = await db.createKey(pool, team.id, { name: flags.name, role: flags.admin ? 'admin' : 'member' });
        if (flags.json) {
          process.stdout.write(`${JSON.stringify({ key, ...info, team: team.name }, null, 2)}\n`);
        } else {
          // The key alone on stdout (KEY=$(sweep admin create-key team) works); the rest on stderr.
          process.stdout.write(`${key}\n`);
          process.stderr.write(
            `${info.role} key ${info.id} (${info.name}) for team ${team.name} created.\n` +
              'Store it now: this is the only time it is shown; the database keeps only its hash.\n' +
              'Use it as: Authorization: Bearer <key>  (sweep --api-key, or SWEEP_API_KEY)\n',
          );
        }
      });
    });

  dbOption(admin.command('list-keys'))
    .description('list the keys of a team (never the keys themselves: prefix, role, created, last used, revoked)')
    .argument('<team>', 'team name or id')
    .option('--json', 'print the keys as JSON')
    .action(async (ref: string, flags: DbFlags) => {
      await withDb(flags, async (pool, db) => {
        const team = await teamOrFail(pool, db, ref);
        const keys = await db.listKeys(pool, team.id);
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(keys, null, 2)}\n`);
          return;
        }
        if (!keys.length) {
          process.stdout.write(`team ${team.name} has no keys (sweep admin create-key ${team.name})\n`);
          return;
        }
        process.stdout.write(table([
          ['ID', 'NAME', 'PREFIX', 'ROLE', 'CREATED', 'LAST USED', 'REVOKED'],
          ...keys.map((k) => [k.id, k.name, `${k.prefix}...`, k.role, iso(k.createdAt), iso(k.lastUsedAt), iso(k.revokedAt)]),
        ]));
      });
    });

  dbOption(admin.command('revoke-key'))
    .description('revoke a key (it stops working at once; exit 3 if there is no such key)')
    .argument('<key-id>', 'key id (from list-keys)')
    .action(async (id: string, flags: DbFlags) => {
      await withDb(flags, async (pool, db) => {
        if (!(await db.revokeKey(pool, id))) throw new AdminError(`no key with id ${JSON.stringify(id)} (see: sweep admin list-keys TEAM)`, EXIT_NOT_FOUND);
        process.stdout.write(`key ${id} revoked\n`);
      });
    });

  dbOption(admin.command('create-reader'))
    .description('create a read-only Postgres role that sees only this team\'s rows through the analyst views, and print its connection string (shown once)')
    .argument('<team>', 'team name or id')
    .option('--role <name>', 'role name (lower-case letters, digits, _; default <team>_reader_<random>)')
    .option('--json', 'print { role, team, connectionString } as JSON')
    .action(async (ref: string, flags: DbFlags & { role?: string }) => {
      await withDb(flags, async (pool, db) => {
        const team = await teamOrFail(pool, db, ref);
        const roleName = flags.role ?? db.defaultReaderRoleName(team.name);
        if (!db.ROLE_NAME_RE.test(roleName)) {
          throw new AdminError(`--role ${JSON.stringify(roleName)}: use lower-case letters, digits and _ (at most 63, not starting with a digit)`, EXIT_USAGE);
        }
        let reader;
        try {
          reader = await db.createReader(pool, team.id, { roleName });
        } catch (err) {
          if ((err as { code?: string }).code === '42501') {
            throw new AdminError(`the database user cannot create roles (it needs CREATEROLE): ${messageOf(err)}`, EXIT_FAILURE);
          }
          throw err;
        }
        const url = db.readerConnectionString(flags.databaseUrl || db.databaseUrl(), reader.roleName, reader.password);
        if (flags.json) {
          process.stdout.write(`${JSON.stringify({ role: reader.roleName, team: team.name, teamId: team.id, connectionString: url }, null, 2)}\n`);
        } else {
          // The connection string alone on stdout (URL=$(sweep admin create-reader team) works); the rest on stderr.
          process.stdout.write(`${url}\n`);
          process.stderr.write(
            `read-only role ${reader.roleName} for team ${team.name} created.\n` +
              'Store the connection string now: the password is shown only this once.\n' +
              'It reads the views analyst.runs_v1 and analyst.sweeps_v1, and only this team\'s rows.\n',
          );
        }
      });
    });

  dbOption(admin.command('list-readers'))
    .description('list the read-only roles (of one team, or all)')
    .argument('[team]', 'team name or id')
    .option('--json', 'print the readers as JSON')
    .action(async (ref: string | undefined, flags: DbFlags) => {
      await withDb(flags, async (pool, db) => {
        const team = ref === undefined ? undefined : await teamOrFail(pool, db, ref);
        const readers = await db.listReaders(pool, team?.id);
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(readers, null, 2)}\n`);
          return;
        }
        if (!readers.length) {
          process.stdout.write('no readers (sweep admin create-reader TEAM)\n');
          return;
        }
        const names = new Map((await db.listTeams(pool)).map((t) => [t.id, t.name]));
        process.stdout.write(table([
          ['ROLE', 'TEAM', 'CREATED'],
          ...readers.map((r) => [r.roleName, names.get(r.teamId) ?? r.teamId, iso(r.createdAt)]),
        ]));
      });
    });

  dbOption(admin.command('drop-reader'))
    .description('drop a read-only role made by create-reader (exit 3 if there is no such reader)')
    .argument('<role>', 'role name (from list-readers)')
    .action(async (role: string, flags: DbFlags) => {
      await withDb(flags, async (pool, db) => {
        if (!(await db.dropReader(pool, role))) throw new AdminError(`no reader role ${JSON.stringify(role)} (see: sweep admin list-readers)`, EXIT_NOT_FOUND);
        process.stdout.write(`role ${role} dropped\n`);
      });
    });

  dbOption(admin.command('list-teams'))
    .description('list teams with their live keys, sweeps and compute budget used')
    .option('--json', 'print the teams as JSON')
    .action(async (flags: DbFlags) => {
      await withDb(flags, async (pool, db) => {
        const teams = await db.listTeams(pool);
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(teams, null, 2)}\n`);
          return;
        }
        if (!teams.length) {
          process.stdout.write('no teams yet (sweep admin create-team NAME)\n');
          return;
        }
        process.stdout.write(table([
          ['NAME', 'ID', 'KEYS', 'SWEEPS', 'BUDGET USED', 'BUDGET'],
          ...teams.map((t) => [t.name, t.id, String(t.keys), String(t.sweeps), `${Number(t.budgetUsedSeconds.toPrecision(6))} s`, budgetText(t.computeBudgetSeconds)]),
        ]));
      });
    });
}
