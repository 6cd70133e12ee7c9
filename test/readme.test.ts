// The README's examples, run as written: every `$ npx sweep ...` line of its code blocks
// is run by bash (in document order, `npx sweep` being this repository's `sweep`) against
// a real API and worker on a fresh database, and what it prints is compared with the
// lines the README shows under it. So the README cannot drift from the program. (`$ curl`
// lines with `<id>` placeholders are for people, not run.)
//
// Matching: stdout's lines, then stderr's, against the README's lines; a README line
// `...` stands for any number of lines, and `...` within a line for any text. The
// README's example id `3f0c` stands for the first four characters of the sweep id the
// last `submit` printed. A command shown without output only has to succeed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../apps/api/src/app.ts';
import { startWorker, type RunningWorker } from '../apps/worker/src/worker.ts';
import { createTestDatabase, createTestRedis, type TestDatabase } from './support/services.ts';
import { runProcess, SWEEP_BIN as BIN, type ProcessResult as Result } from './support/run-process.ts';
import { createKey, createTeam } from '@curation/db';

const ROOT = new URL('..', import.meta.url).pathname;
const EXAMPLE_ID = '3f0c';
const UUID_LINE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Example { command: string; expected: string[]; line: number }

/** `$ ` lines of the README's indented code blocks, each with the lines under it. */
function readmeExamples(markdown: string): Example[] {
  const out: Example[] = [];
  let current: Example | null = null;
  markdown.split('\n').forEach((raw, i) => {
    const inBlock = raw.startsWith('    ');
    const text = raw.slice(4);
    if (!inBlock) {
      current = null;
    } else if (text.startsWith('$ ')) {
      current = { command: text.slice(2), expected: [], line: i + 1 };
      out.push(current);
    } else if (current) {
      current.expected.push(text);
    }
  });
  return out;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const linePattern = (e: string) => new RegExp(`^${e.split('...').map(escape).join('.*')}$`);

/** Whether `actual` matches `expected`: a `...` line is any number of lines, `...` in a line any text. */
function linesMatch(expected: string[], actual: string[]): boolean {
  if (expected.length === 0) return actual.length === 0;
  const [e, ...rest] = expected;
  if (e === '...') {
    for (let k = 0; k <= actual.length; k++) if (linesMatch(rest, actual.slice(k))) return true;
    return false;
  }
  if (actual.length === 0) return false;
  return linePattern(e).test(actual[0]) && linesMatch(rest, actual.slice(1));
}


let db: TestDatabase;
let app: FastifyInstance;
let worker: RunningWorker;
let env: Record<string, string | undefined> = {};
let cwd = '';

function run(command: string): Promise<Result> {
  const script = command.replaceAll('npx sweep', `"${process.execPath}" "${BIN}"`);
  return runProcess('bash', ['-o', 'pipefail', '-c', script], { cwd, env });
}

const lines = (s: string) => (s === '' ? [] : s.replace(/\n$/, '').split('\n'));

beforeAll(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'readme-'));
  symlinkSync(join(ROOT, 'examples'), join(cwd, 'examples'));
  db = await createTestDatabase();
  const redis = await createTestRedis();
  app = await buildApp({ databaseUrl: db.url, redisUrl: redis.url, prefix: redis.prefix, logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const pool = new pg.Pool({ connectionString: db.url, max: 1 });
  let key = '';
  try {
    key = (await createKey(pool, (await createTeam(pool, 'readme')).id, { name: 'readme' })).key;
  } finally {
    await pool.end();
  }
  env = { ...process.env, SWEEP_API: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, SWEEP_API_KEY: key };
  worker = await startWorker({
    databaseUrl: db.url, redisUrl: redis.url, prefix: redis.prefix, concurrency: 1, logger: pino({ level: 'silent' }),
  });
});

afterAll(async () => {
  await worker?.close();
  await app?.close();
  await db?.drop();
});

describe('README', () => {
  const examples = readmeExamples(readFileSync(join(ROOT, 'README.md'), 'utf8'));

  it('has examples to run (the parser finds them)', () => {
    expect(examples.filter((e) => e.command.includes('npx sweep')).length).toBeGreaterThanOrEqual(6);
  });

  it('every `$` example prints what the README shows', async () => {
    let prefix = '';
    for (const ex of examples.filter((e) => e.command.includes('npx sweep'))) {
      const command = prefix ? ex.command.replaceAll(EXAMPLE_ID, prefix) : ex.command;
      const r = await run(command);
      const actual = [...lines(r.stdout), ...lines(r.stderr)];
      const first = lines(r.stdout)[0];
      if (first && UUID_LINE.test(first)) prefix = first.slice(0, EXAMPLE_ID.length);
      const expected = ex.expected.map((l) => (prefix ? l.replaceAll(EXAMPLE_ID, prefix) : l));
      const where = `README.md line ${ex.line}: $ ${ex.command}`;
      if (expected.length === 0) {
        expect(r.code, `${where}\n${r.stderr}`).toBe(0);
      } else {
        expect(linesMatch(expected, actual), `${where}\nREADME:\n${expected.join('\n')}\nprinted:\n${actual.join('\n')}`).toBe(true);
      }
    }
  }, 600_000);
});

describe('the matcher', () => {
  it('"..." lines, and "..." within a line', () => {
    expect(linesMatch(['a', '...', 'c...'], ['a', 'x', 'y', 'cz'])).toBe(true);
    expect(linesMatch(['s 3f... ok: 1 of 2 in ...'], ['s 3f0c-99 ok: 1 of 2 in 4s'])).toBe(true);
    expect(linesMatch(['s 3f... ok: 1 of 2 in ...'], ['s 3f0c-99 ok: 2 of 2 in 4s'])).toBe(false);
    expect(linesMatch(['(a.b)'], ['(aXb)'])).toBe(false);
    expect(linesMatch(['a', '...'], ['a'])).toBe(true);
    expect(linesMatch(['a'], ['a', 'b'])).toBe(false);
    expect(linesMatch(['a...'], ['b'])).toBe(false);
    expect(linesMatch(['x', 'y'], ['x', 'z'])).toBe(false);
  });
});
