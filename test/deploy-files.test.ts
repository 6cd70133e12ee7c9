// No Docker engine runs here, so the compose file and the Dockerfile are checked by
// reading them: the structure a `docker compose up --scale worker=4` relies on.
import { readFileSync, existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { POSTGRES_IMAGE, REDIS_IMAGE } from './support/services.ts';

// merge: compose files share settings through YAML merge keys (<<: *app).
const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true });
const dockerfile = readFileSync('Dockerfile', 'utf8');
const rootPkg = JSON.parse(readFileSync('package.json', 'utf8'));

describe('docker-compose.yml', () => {
  const s = compose.services;

  it('runs postgres, redis, migrations, the API and workers', () => {
    expect(Object.keys(s).sort()).toEqual(['api', 'migrate', 'postgres', 'redis', 'worker']);
  });

  it('uses the same database and Redis images as the test harness', () => {
    expect(s.postgres.image).toBe(POSTGRES_IMAGE);
    expect(s.redis.image).toBe(REDIS_IMAGE);
  });

  it('configures Redis the way BullMQ requires: noeviction and an append-only file on a volume', () => {
    const cmd: string[] = s.redis.command;
    expect(cmd[cmd.indexOf('--maxmemory-policy') + 1]).toBe('noeviction');
    expect(cmd[cmd.indexOf('--appendonly') + 1]).toBe('yes');
    expect(s.redis.volumes.some((v: string) => v.endsWith(':/data'))).toBe(true);
  });

  it('keeps Postgres data on a named volume', () => {
    expect(s.postgres.volumes.some((v: string) => v.endsWith(':/var/lib/postgresql/data'))).toBe(true);
    expect(Object.keys(compose.volumes)).toEqual(expect.arrayContaining(['pgdata', 'redisdata']));
  });

  it('builds API, workers and migrations from one image and points them at the same services', () => {
    for (const name of ['api', 'worker', 'migrate']) {
      expect(s[name].build.context).toBe('.');
      expect(s[name].image).toBe(s.api.image);
      expect(s[name].environment.DATABASE_URL).toMatch(/@postgres:5432\//);
      expect(s[name].environment.REDIS_URL).toBe('redis://redis:6379');
    }
    expect(s.api.environment.QUEUE_PREFIX).toBe(s.worker.environment.QUEUE_PREFIX);
  });

  it('starts the API and workers only after migrations succeeded', () => {
    expect(s.migrate.depends_on.postgres.condition).toBe('service_healthy');
    for (const name of ['api', 'worker']) {
      expect(s[name].depends_on.migrate.condition).toBe('service_completed_successfully');
      expect(s[name].depends_on.redis.condition).toBe('service_healthy');
    }
  });

  it('lets workers scale: replicas, no fixed name or host port, a stop grace above the worker\'s own', () => {
    expect(s.worker.deploy.replicas).toBeGreaterThanOrEqual(2);
    expect(s.worker.container_name).toBeUndefined();
    expect(s.worker.ports).toBeUndefined();
    const grace = Number(s.worker.environment.SHUTDOWN_GRACE_SECONDS);
    expect(Number.parseInt(s.worker.stop_grace_period, 10)).toBeGreaterThan(grace);
    expect(s.worker.init).toBe(true);
  });

  it('runs entry points that exist in the repository', () => {
    for (const name of ['api', 'worker', 'migrate']) {
      const cmd: string[] = s[name].command;
      expect(cmd.slice(0, 3)).toEqual(['node', '--import', 'tsx']);
      expect(existsSync(cmd[3]), cmd[3]).toBe(true);
    }
  });

  it('publishes the API port and checks readiness', () => {
    expect(s.api.ports).toContain(`${s.api.environment.PORT}:3000`);
    expect(s.api.healthcheck.test.join(' ')).toContain('/ready');
  });
});

describe('Dockerfile', () => {
  it('installs from the lockfile with every workspace manifest present', () => {
    expect(dockerfile).toMatch(/npm ci/);
    for (const ws of rootPkg.workspaces as string[]) {
      expect(dockerfile).toContain(`COPY ${ws}/package.json ${ws}/`);
    }
  });

  it('uses a Node version the engines field accepts and generates the Prisma client at build time', () => {
    const from = dockerfile.match(/^FROM node:(\d+)\.(\d+)/m);
    expect(from).not.toBeNull();
    expect(Number(from![1])).toBeGreaterThanOrEqual(20);
    expect(dockerfile).toMatch(/ensure-prisma\.mjs/);
    expect(rootPkg.dependencies.tsx).toBeDefined(); // runtime, not dev: the image runs TypeScript through tsx
  });

  it('keeps generated files and node_modules out of the build context', () => {
    const ignore = readFileSync('.dockerignore', 'utf8').split('\n');
    expect(ignore).toEqual(expect.arrayContaining(['node_modules', 'packages/db/generated']));
  });
});
