// prisma/schema.prisma and prisma/migrations must describe the same tables: the migrations
// make the database, the schema makes the Prisma Client that reads and writes it. On a
// database made by our applier, the catalog (tables, columns with their types,
// nullability and defaults, indexes, foreign keys) is compared with the schema's DMMF,
// and one row per model goes through Prisma Client and back. Views (schema `analyst`)
// are not in schema.prisma (see its header) and are not compared.
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { getDMMF as getDmmfOrError, type GetDMMFError } from '@prisma/get-dmmf';
import { createPool, prismaFor, type PrismaClient } from '@curation/db';
import { createTestDatabase, type TestDatabase } from './support/services.ts';

type Dmmf = Exclude<Awaited<ReturnType<typeof getDmmfOrError>>, GetDMMFError>;

/** The schema's DMMF; a schema Prisma cannot parse fails the test with Prisma's reason. */
async function getDMMF(options: Parameters<typeof getDmmfOrError>[0]): Promise<Dmmf> {
  const out = await getDmmfOrError(options);
  if ('error' in out && 'reason' in out) throw new Error(`schema.prisma does not parse: ${out.reason}`);
  return out as Dmmf;
}
type Model = Dmmf['datamodel']['models'][number];
type Field = Model['fields'][number];

const SCHEMA = readFileSync(new URL('../prisma/schema.prisma', import.meta.url), 'utf8');

// ------------------------------------------------------------------ what the schema says

/** Postgres' spelling (format_type) of a Prisma scalar with its native type. */
function pgType(f: Field): string {
  const [native, args] = (f.nativeType ?? [null, []]) as [string | null, string[]];
  const base = ((): string => {
    switch (f.type) {
      case 'String': return native === 'Uuid' ? 'uuid' : native === null || native === 'Text' ? 'text' : '?';
      case 'Int': return native === null || native === 'Integer' ? 'integer' : '?';
      case 'BigInt': return native === null || native === 'BigInt' ? 'bigint' : '?';
      case 'Float': return native === null || native === 'DoublePrecision' ? 'double precision' : '?';
      case 'Boolean': return 'boolean';
      case 'Json': return native === 'Json' ? 'json' : 'jsonb';
      case 'Bytes': return 'bytea';
      case 'DateTime': {
        const p = args[0] ?? '3';
        if (native === 'Timestamptz') return `timestamp(${p}) with time zone`;
        if (native === null || native === 'Timestamp') return `timestamp(${p}) without time zone`;
        return '?';
      }
      default: return '?';
    }
  })();
  if (base === '?') throw new Error(`no Postgres type known for ${f.name}: ${f.type} ${JSON.stringify(f.nativeType)} (extend pgType)`);
  return f.isList ? `${base}[]` : base;
}

const scalars = (m: Model) => m.fields.filter((f) => f.kind === 'scalar' || f.kind === 'enum');
const column = (f: Field) => f.dbName ?? f.name;
const table = (m: Model) => m.dbName ?? m.name;

interface Shape {
  columns: Map<string, string>;
  indexes: Set<string>;
  foreignKeys: Set<string>;
}

// Prisma's own rules: lists are nullable columns (Prisma never writes NOT NULL on them);
// an optional relation deletes with SET NULL and a required one RESTRICTs, unless stated.
function schemaShape(dmmf: Dmmf): Shape {
  const columns = new Map<string, string>();
  const indexes = new Set<string>();
  const foreignKeys = new Set<string>();
  const models = new Map(dmmf.datamodel.models.map((m) => [m.name, m]));
  for (const m of dmmf.datamodel.models) {
    for (const f of scalars(m)) {
      const nullable = !f.isRequired || f.isList;
      columns.set(`${table(m)}.${column(f)}`, `${pgType(f)} ${nullable ? 'NULL' : 'NOT NULL'}${f.hasDefaultValue ? ' DEFAULT' : ''}`);
    }
    for (const f of m.fields) {
      if (f.kind !== 'object' || !f.relationFromFields?.length) continue;
      const target = models.get(f.type)!;
      const cols = (names: readonly string[], model: Model) => names.map((n) => column(model.fields.find((x) => x.name === n)!));
      const onDelete = f.relationOnDelete ?? (f.isRequired ? 'Restrict' : 'SetNull');
      foreignKeys.add(`${table(m)}(${cols(f.relationFromFields, m)}) -> ${table(target)}(${cols(f.relationToFields ?? [], target)}) ON DELETE ${onDelete}`);
    }
  }
  for (const ix of dmmf.datamodel.indexes) {
    const m = models.get(ix.model)!;
    const cols = ix.fields.map((x) => column(m.fields.find((f) => f.name === x.name)!));
    const kind = ix.type === 'id' ? 'PRIMARY KEY' : ix.type === 'unique' ? 'UNIQUE' : 'INDEX';
    const suffix = ix.type === 'id' ? 'pkey' : ix.type === 'unique' ? 'key' : 'idx';
    const name = ix.dbName ?? (ix.type === 'id' ? `${table(m)}_pkey` : `${table(m)}_${cols.join('_')}_${suffix}`);
    indexes.add(`${table(m)}: ${kind} ${name} (${cols.join(', ')})`);
  }
  return { columns, indexes, foreignKeys };
}

// ------------------------------------------------------------------ what the migrations made

const ON_DELETE: Record<string, string> = { a: 'NoAction', r: 'Restrict', c: 'Cascade', n: 'SetNull', d: 'SetDefault' };

async function catalogShape(db: Pick<pg.ClientBase, 'query'>): Promise<Shape> {
  const columns = new Map<string, string>();
  const cols = await db.query<{ t: string; c: string; type: string; nullable: boolean; dflt: boolean }>(
    `SELECT c.table_name AS t, c.column_name AS c, format_type(a.atttypid, a.atttypmod) AS type,
            c.is_nullable = 'YES' AS nullable, (c.column_default IS NOT NULL OR c.is_generated = 'ALWAYS') AS dflt
       FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
       JOIN pg_attribute a ON a.attrelid = format('%I.%I', c.table_schema, c.table_name)::regclass AND a.attname = c.column_name
      WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' AND c.table_name <> '_prisma_migrations'`,
  );
  for (const r of cols.rows) columns.set(`${r.t}.${r.c}`, `${r.type} ${r.nullable ? 'NULL' : 'NOT NULL'}${r.dflt ? ' DEFAULT' : ''}`);

  const ix = await db.query<{ t: string; name: string; primary: boolean; unique: boolean; cols: string[] }>(
    `SELECT t.relname AS t, i.relname AS name, x.indisprimary AS primary, x.indisunique AS unique,
            array(SELECT coalesce(a.attname, '(expression)') FROM unnest(x.indkey) WITH ORDINALITY k(attnum, n)
                    LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.n)::text[] AS cols
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
      WHERE t.relnamespace = 'public'::regnamespace AND t.relkind = 'r' AND t.relname <> '_prisma_migrations'`,
  );
  const indexes = new Set(ix.rows.map((r) => `${r.t}: ${r.primary ? 'PRIMARY KEY' : r.unique ? 'UNIQUE' : 'INDEX'} ${r.name} (${r.cols.join(', ')})`));

  const fk = await db.query<{ t: string; ref: string; cols: string[]; refcols: string[]; del: string }>(
    `SELECT c.conrelid::regclass::text AS t, c.confrelid::regclass::text AS ref, c.confdeltype AS del,
            array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o)::text[] AS cols,
            array(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o)::text[] AS refcols
       FROM pg_constraint c WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace`,
  );
  const foreignKeys = new Set(fk.rows.map((r) => `${r.t}(${r.cols}) -> ${r.ref}(${r.refcols}) ON DELETE ${ON_DELETE[r.del]}`));
  return { columns, indexes, foreignKeys };
}

/** Every difference, one line each; empty when the two agree. */
function differences(schema: Shape, db: Shape): string[] {
  const out: string[] = [];
  for (const [k, v] of schema.columns) {
    const d = db.columns.get(k);
    if (d === undefined) out.push(`column ${k} (${v}) is in schema.prisma, not in the migrations`);
    else if (d !== v) out.push(`column ${k}: schema.prisma says ${v}, the migrations made ${d}`);
  }
  for (const [k, v] of db.columns) if (!schema.columns.has(k)) out.push(`column ${k} (${v}) is in the migrations, not in schema.prisma`);
  for (const [what, a, b] of [['index', schema.indexes, db.indexes], ['foreign key', schema.foreignKeys, db.foreignKeys]] as const) {
    for (const x of a) if (!b.has(x)) out.push(`${what} ${x} is in schema.prisma, not in the migrations`);
    for (const x of b) if (!a.has(x)) out.push(`${what} ${x} is in the migrations, not in schema.prisma`);
  }
  return out.sort();
}

// ------------------------------------------------------------------ tests

let tdb: TestDatabase;
let pool: pg.Pool;
let prisma: PrismaClient;
let dmmf: Dmmf;

beforeAll(async () => {
  tdb = await createTestDatabase();
  pool = createPool(tdb.url, 2);
  prisma = prismaFor(pool);
  dmmf = await getDMMF({ datamodel: SCHEMA });
});
afterAll(async () => {
  await pool?.end();
  await tdb?.drop();
});

describe('schema.prisma and the migrations', () => {
  it('describe the same tables, columns (type, nullability, default), indexes and foreign keys', async () => {
    const schema = schemaShape(dmmf);
    const db = await catalogShape(pool);
    // Every table is a model.
    expect(new Set([...db.columns.keys()].map((k) => k.split('.')[0]))).toEqual(new Set(dmmf.datamodel.models.map(table)));
    expect(differences(schema, db)).toEqual([]);
  });

  it('a column added by a migration alone is a difference', async () => {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('ALTER TABLE runs ADD COLUMN note text');
      await c.query('ALTER TABLE teams ALTER COLUMN compute_budget_seconds SET NOT NULL');
      await c.query('CREATE INDEX runs_worker_idx ON runs (worker)');
      const found = differences(schemaShape(dmmf), await catalogShape(c));
      expect(found).toEqual([
        'column runs.note (text NULL) is in the migrations, not in schema.prisma',
        'column teams.compute_budget_seconds: schema.prisma says double precision NULL, the migrations made double precision NOT NULL',
        'index runs: INDEX runs_worker_idx (worker) is in the migrations, not in schema.prisma',
      ]);
    } finally {
      await c.query('ROLLBACK');
      c.release();
    }
  });

  it('a field added to schema.prisma alone is a difference', async () => {
    const edited = SCHEMA.replace(/(model Worker \{\n)/, '$1  host String @default("")\n').replace('@@map("api_keys")', '@@index([name])\n  @@map("api_keys")');
    expect(edited).not.toBe(SCHEMA);
    const found = differences(schemaShape(await getDMMF({ datamodel: edited })), await catalogShape(pool));
    expect(found).toEqual([
      'column workers.host (text NOT NULL DEFAULT) is in schema.prisma, not in the migrations',
      'index api_keys: INDEX api_keys_name_idx (name) is in schema.prisma, not in the migrations',
    ]);
  });
});

describe('Prisma Client on a freshly migrated database', () => {
  it('writes and reads back one row of every model, every field', async () => {
    const team = randomUUID();
    const sweep = randomUUID();
    const now = new Date('2026-01-02T03:04:05.678Z');
    // One row per model, each with a value for every field Prisma may write. A model or
    // field added to the schema without a sample here fails the coverage check below.
    const rows: Record<string, Record<string, unknown>> = {
      Team: { id: team, name: 'round trip', computeBudgetSeconds: 12.5, createdAt: now },
      ApiKey: {
        id: randomUUID(), teamId: team, name: 'k', prefix: 'cs_abcdefgh', hash: 'f'.repeat(64), role: 'admin',
        createdAt: now, lastUsedAt: now, revokedAt: now,
      },
      TeamReader: { roleName: 'round_trip_reader', teamId: team, createdAt: now },
      Sweep: {
        id: sweep, name: 's', tags: ['a', 'b'], spec: { axes: [{ param: 'q', values: [0.5] }], refine: null }, total: 3,
        status: 'running', idempotencyKey: 'idem', enqueued: 2, coreVersion: '2.0.0', createdAt: now, startedAt: now,
        finishedAt: null, teamId: team, estimatedCostSeconds: 1.25, retryCostSeconds: 0.5, refineStage: 1,
        refineDone: true,
      },
      Result: {
        id: 7n, configHash: 'h'.repeat(64), coreVersion: '2.0.0', gitRevision: 'abc', config: { q: 0.5 },
        summary: { converged: true, audit: { applies: false } }, trajectory: new Uint8Array([1, 2, 3, 255]),
        generator: 'g', converged: true, convergedAt: 12, collapsed: false, nashGap: 0.001, basinShare0: 0.25,
        survivingBasins: 2, inInterval: true, finalEntropy: 0.7, outsideDecayRate: -0.1, auditApplies: false,
        inIntervalB5: true, inIntervalCorrected: false, outsideDomination: 0.3, finalOutside: 1e-9, durationMs: 4.5,
        createdAt: now,
      },
      Run: {
        id: 9n, sweepId: sweep, index: 1, params: { q: 0.5 }, status: 'succeeded', attempts: 2, error: 'e',
        configHash: 'h'.repeat(64), resultId: 7n, worker: 'w1', startedAt: now, finishedAt: now, reused: true,
        durationMs: 3.5, costSeconds: 0.25, stage: 1, cell: [4, 8],
      },
      Worker: { id: 'w1', startedAt: now, heartbeatAt: now },
      ReconcilerLease: { name: 'reconciler', holder: 'w1', expiresAt: now },
      // After Run: its insert made counter rows of its own (ids from 1).
      SweepRunCount: { id: 1000n, sweepId: sweep, status: 'queued', n: -2n, reused: 1n },
      // Index 2: the succeeded Run above made the stats row of index 1 (a trigger).
      RunStat: {
        sweepId: sweep, index: 2, runId: 9n, contract: 2, coreVersion: '2.0.0', converged: true, convergedAt: 12, collapsed: false,
        nashGap: 0.001, basinShare0: 0.25, survivingBasins: 2, inInterval: true, finalEntropy: 0.7, outsideDecayRate: -0.1,
        auditApplies: false, inIntervalB5: true, inIntervalCorrected: false, outsideDomination: 0.3, finalOutside: 1e-9,
      },
      RunStatsLine: {
        sweepId: sweep, contract: 2, version: 5n, n: 3, coreVersions: ['2.0.0', '2.0.1'], collapsedRate: 0.5, convergedRate: 1,
        inIntervalRate: null, meanNashGap: 0.25, meanConvergedAt: 40, metrics: { nash_gap: [3, 0.25, 0.1, 0.07] },
      },
    };
    // Never written: generated by Postgres from core_version.
    const generated: Record<string, Record<string, unknown>> = { Result: { contract: 2 } };

    const models = dmmf.datamodel.models;
    expect(Object.keys(rows).sort()).toEqual(models.map((m) => m.name).sort());
    for (const m of models) {
      const fields = scalars(m).map((f) => f.name).sort();
      expect([...Object.keys(rows[m.name]), ...Object.keys(generated[m.name] ?? {})].sort(), m.name).toEqual(fields);
    }

    // In the order of `rows`, so that what a row references exists first.
    for (const m of Object.keys(rows).map((name) => models.find((x) => x.name === name)!)) {
      const delegate = (prisma as unknown as Record<string, { create(a: object): Promise<unknown>; findUniqueOrThrow(a: object): Promise<Record<string, unknown>> }>)[
        m.name[0].toLowerCase() + m.name.slice(1)
      ];
      const data = rows[m.name];
      await delegate.create({ data });
      const id = m.fields.filter((f) => f.isId).map((f) => f.name);
      const compound = m.primaryKey?.fields ?? [];
      expect(id.length + compound.length, `${m.name} has an id`).toBeGreaterThan(0);
      const where = id.length
        ? { [id[0]]: data[id[0]] }
        : { [compound.join('_')]: Object.fromEntries(compound.map((f) => [f, data[f]])) };
      const back = await delegate.findUniqueOrThrow({ where });
      const { trajectory, ...rest } = back;
      const { trajectory: wrote, ...expected } = data;
      expect(rest, m.name).toEqual({ ...expected, ...generated[m.name] });
      if (wrote) expect(Buffer.from(trajectory as Uint8Array).equals(Buffer.from(wrote as Uint8Array))).toBe(true);
    }
  });
});
