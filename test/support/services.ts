// Where tests get Redis and Postgres: from testcontainers when a Docker engine answers
// (the same images as docker-compose.yml), otherwise from the local services named by
// REDIS_URL and DATABASE_URL. Tests only see URLs, never which one it was. Every test
// file gets its own database and BullMQ prefix, so runs never collide.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import pg from 'pg';
import { migrate, withDatabase, DEFAULT_DATABASE_URL } from '@curation/db';
import { DEFAULT_REDIS_URL } from '@curation/queue';

export const POSTGRES_IMAGE = 'postgres:16-alpine';
export const REDIS_IMAGE = 'redis:7-alpine';

interface Services { postgresUrl: string; redisUrl: string; stop: () => Promise<void> }
let services: Promise<Services> | undefined;

function dockerAnswers(): Promise<boolean> {
  const socket = process.env.DOCKER_HOST?.startsWith('unix://')
    ? process.env.DOCKER_HOST.slice('unix://'.length)
    : '/var/run/docker.sock';
  if (!existsSync(socket)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const req = http.get({ socketPath: socket, path: '/_ping', timeout: 1500 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => { req.destroy(); resolve(false); });
  });
}

async function start(): Promise<Services> {
  if (process.env.TEST_USE_LOCAL_SERVICES !== '1' && (await dockerAnswers())) {
    const { GenericContainer, Wait } = await import('testcontainers');
    const pgC = await new GenericContainer(POSTGRES_IMAGE)
      .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forLogMessage(/ready to accept connections/, 2))
      .start();
    const redisC = await new GenericContainer(REDIS_IMAGE).withExposedPorts(6379).start();
    return {
      postgresUrl: `postgresql://postgres@${pgC.getHost()}:${pgC.getMappedPort(5432)}/postgres`,
      redisUrl: `redis://${redisC.getHost()}:${redisC.getMappedPort(6379)}`,
      stop: async () => { await Promise.all([pgC.stop(), redisC.stop()]); },
    };
  }
  return {
    postgresUrl: process.env.DATABASE_URL || DEFAULT_DATABASE_URL,
    redisUrl: process.env.REDIS_URL || DEFAULT_REDIS_URL,
    stop: async () => {},
  };
}

export function getServices(): Promise<Services> {
  services ??= start();
  return services;
}

export function uniqueName(kind: string): string {
  return `cs_${kind}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

export interface TestDatabase { url: string; drop: () => Promise<void> }

/** A fresh database with all migrations applied; drop() removes it. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const { postgresUrl } = await getServices();
  const name = uniqueName('test');
  const url = withDatabase(postgresUrl, name);
  await migrate(url);
  return {
    url,
    drop: async () => {
      const admin = new pg.Client({ connectionString: withDatabase(postgresUrl, 'postgres') });
      await admin.connect();
      try {
        await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}

/** A BullMQ prefix no other test run uses. */
export async function createTestRedis(): Promise<{ url: string; prefix: string }> {
  const { redisUrl } = await getServices();
  return { url: redisUrl, prefix: uniqueName('q') };
}
