// Worker settings: a number setting that is not one stops the worker at start with a
// line naming the variable, what it holds and what it may hold.
import { describe, expect, it } from 'vitest';
import { DEFAULTS, readSettings } from '../src/settings.ts';
import { withGenericPlans } from '../src/worker.ts';

describe('worker settings', () => {
  it('unset or blank numbers take their defaults', () => {
    const s = readSettings({ WORKER_JOBS_PER_THREAD: ' ', RUN_TIMEOUT_SECONDS: '' });
    expect(s.jobsPerThread).toBe(DEFAULTS.jobsPerThread);
    expect(s.runTimeoutSeconds).toBe(DEFAULTS.runTimeoutSeconds);
    expect(readSettings({ WORKER_CONCURRENCY: '3', RUN_TIMEOUT_SECONDS: '0.5' })).toMatchObject({ concurrency: 3, runTimeoutSeconds: 0.5 });
  });

  it('refuses a number that is not one, not whole, or below its least value, naming what it may hold', () => {
    expect(() => readSettings({ WORKER_CONCURRENCY: 'four' })).toThrow(new Error('WORKER_CONCURRENCY="four" is not an integer >= 1'));
    expect(() => readSettings({ WORKER_CONCURRENCY: '1.5' })).toThrow(new Error('WORKER_CONCURRENCY="1.5" is not an integer >= 1'));
    expect(() => readSettings({ WORKER_LOCK_DURATION_MS: '999' })).toThrow(new Error('WORKER_LOCK_DURATION_MS="999" is not an integer >= 1000'));
    expect(() => readSettings({ RUN_TIMEOUT_SECONDS: '0' })).toThrow(new Error('RUN_TIMEOUT_SECONDS="0" is not a number >= 0.001'));
    expect(() => readSettings({ SHUTDOWN_GRACE_SECONDS: 'Infinity' })).toThrow(new Error('SHUTDOWN_GRACE_SECONDS="Infinity" is not a number >= 0'));
  });

  it('WORKER_DB_CLIENT: pg by default, prisma on request, anything else refused', () => {
    expect(readSettings({}).dbClient).toBe('pg');
    expect(readSettings({ WORKER_DB_CLIENT: ' Prisma ' }).dbClient).toBe('prisma');
    expect(() => readSettings({ WORKER_DB_CLIENT: 'mysql' })).toThrow(new Error('WORKER_DB_CLIENT must be "pg" or "prisma" (got "mysql")'));
  });

  it('the worker plans its statements generically, keeping the options a DATABASE_URL has', () => {
    const opts = (u: string) => new URL(withGenericPlans(u)).searchParams.get('options');
    expect(opts('postgresql://u@h:5432/db')).toBe('-c plan_cache_mode=force_generic_plan');
    expect(opts('postgresql://u@h/db?options=-c%20search_path%3Dx&sslmode=disable')).toBe('-c search_path=x -c plan_cache_mode=force_generic_plan');
    expect(withGenericPlans('host=h dbname=db')).toBe('host=h dbname=db');
  });
});
