// No Docker engine runs here, so the compose file and the Dockerfile are checked by
// reading them: the structure a `docker compose up --scale worker=4` relies on, and an
// image that runs only what `npm run build` compiles.
import { readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { POSTGRES_IMAGE, REDIS_IMAGE } from './support/services.ts';

// merge: compose files share settings through YAML merge keys (<<: *app).
const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true });
const dockerfile = readFileSync('Dockerfile', 'utf8');
const rootPkg = JSON.parse(readFileSync('package.json', 'utf8'));
const ROOT = resolve('.');

/** A Dockerfile's stages: each FROM with the instructions after it (continuations joined, comments dropped). */
function stages(text: string) {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const out: { image: string; name?: string; steps: { op: string; args: string }[] }[] = [];
  for (const line of lines) {
    const [op, ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (op.toUpperCase() === 'FROM') {
      const m = args.match(/^(\S+)(?:\s+AS\s+(\S+))?$/i);
      out.push({ image: m![1], name: m![2], steps: [] });
    } else {
      out.at(-1)!.steps.push({ op: op.toUpperCase(), args });
    }
  }
  return out;
}

/** Every file `tsc -b` writes for the root solution (tsconfig.json and its references), as absolute paths. */
function buildOutputs(): Map<string, string> {
  const outputs = new Map<string, string>(); // output -> the project's directory
  const visit = (configPath: string) => {
    const parsed = ts.getParsedCommandLineOfConfigFile(configPath, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
    if (!parsed) throw new Error(`cannot read ${configPath}`);
    for (const f of parsed.fileNames) for (const o of ts.getOutputFileNames(parsed, f, false)) outputs.set(resolve(o), resolve(configPath, '..'));
    for (const ref of parsed.projectReferences ?? []) visit(ts.resolveProjectReferencePath(ref));
  };
  visit(join(ROOT, 'tsconfig.json'));
  return outputs;
}
const OUTPUTS = buildOutputs();
const isBuildOutput = (path: string) => OUTPUTS.has(resolve(path));

/** Whether an engines range like "^22.12 || >=24" or ">=20.19 <21" accepts a Node major version. */
function enginesAccept(range: string, major: number): boolean {
  return range.split('||').some((alt) => {
    const lo = alt.match(/(\^|~|>=)\s*(\d+)/);
    const hi = alt.match(/<\s*(\d+)/);
    if (!lo) return false;
    const min = Number(lo[2]);
    return lo[1] === '>=' ? major >= min && (!hi || major < Number(hi[1])) : major === min;
  });
}

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

  it('runs compiled JavaScript that `npm run build` produces, never TypeScript through tsx', () => {
    for (const name of ['api', 'worker', 'migrate']) {
      const cmd: string[] = s[name].command;
      expect(cmd).toHaveLength(2);
      expect(cmd[0]).toBe('node');
      expect(cmd[1]).toMatch(/\/dist\/[\w-]+\.js$/);
      expect(isBuildOutput(cmd[1]), `${cmd[1]} is not an output of tsc -b`).toBe(true);
    }
  });

  it('publishes the API port and checks readiness', () => {
    expect(s.api.ports).toContain(`${s.api.environment.PORT}:3000`);
    expect(s.api.healthcheck.test.join(' ')).toContain('/ready');
  });
});

describe('Dockerfile', () => {
  const all = stages(dockerfile);
  const build = all[0];
  const runtime = all.at(-1)!;
  const runs = (stage: typeof build) => stage.steps.filter((x) => x.op === 'RUN').map((x) => x.args).join(' && ');

  it('is multi-stage: a build stage and a runtime stage on the current LTS Node (24), slim', () => {
    expect(all.length).toBeGreaterThanOrEqual(2);
    expect(build.name).toBeDefined();
    for (const stage of [build, runtime]) expect(stage.image).toMatch(/^node:24(\.\d+)*-bookworm-slim$/);
    expect(enginesAccept(rootPkg.engines.node, 24)).toBe(true);
  });

  it('builds with every dependency: npm ci from the lockfile, the Prisma client, npm run build', () => {
    for (const ws of rootPkg.workspaces as string[]) {
      expect(dockerfile).toContain(`COPY ${ws}/package.json ${ws}/`);
    }
    const cmds = runs(build);
    expect(cmds).toMatch(/npm ci(?! [^&]*--omit)/);
    expect(cmds).toMatch(/ensure-prisma\.mjs/);
    expect(cmds.indexOf('npm run build')).toBeGreaterThan(cmds.indexOf('ensure-prisma.mjs'));
  });

  it('ships only production dependencies and the compiled output, not the sources', () => {
    expect(runs(runtime)).toMatch(/npm ci [^&]*--omit=dev/);
    // Prisma's CLI and TypeScript are optional peers of @prisma/client: --omit=dev alone keeps them.
    expect(runs(runtime)).toMatch(/npm ci [^&]*--omit=optional/);
    const copies = runtime.steps.filter((x) => x.op === 'COPY').map((x) => x.args.split(/\s+/));
    expect(copies.some((c) => c.includes('.'))).toBe(false); // no `COPY . .`
    const fromBuild = copies.filter((c) => c[0] === `--from=${build.name}`).map((c) => c[1].replace(/^\/app\//, ''));
    // Every compiled workspace's dist/ comes from the build stage.
    const projects = new Set(OUTPUTS.values());
    expect(projects.size).toBeGreaterThanOrEqual(8);
    for (const dir of projects) expect(fromBuild, dir).toContain(`${dir.slice(ROOT.length + 1)}/dist`);
    expect(fromBuild).toEqual(expect.arrayContaining(['packages/db/dist', 'packages/db/generated']));
    expect(runtime.steps).toContainEqual({ op: 'ENV', args: 'NODE_ENV=production' });
  });

  it('runs as a non-root user the compiled API by default', () => {
    const users = runtime.steps.filter((x) => x.op === 'USER').map((x) => x.args);
    expect(users.length).toBeGreaterThan(0);
    expect(['root', '0']).not.toContain(users.at(-1));
    const cmd = runtime.steps.filter((x) => x.op === 'CMD').at(-1)!;
    const argv: string[] = JSON.parse(cmd.args);
    expect(argv[0]).toBe('node');
    expect(isBuildOutput(argv[1]), `${argv[1]} is not an output of tsc -b`).toBe(true);
    expect(argv[1]).toBe(compose.services.api.command[1]);
  });

  it('keeps tsx and the build tools out of production dependencies', () => {
    const manifests = ['package.json', ...(rootPkg.workspaces as string[]).map((ws) => `${ws}/package.json`)];
    for (const file of manifests) {
      const deps = JSON.parse(readFileSync(file, 'utf8')).dependencies ?? {};
      for (const tool of ['tsx', 'typescript', 'vitest', 'prisma', 'eslint']) expect(deps[tool], `${file}: ${tool}`).toBeUndefined();
    }
  });

  it('keeps generated files, build output and node_modules out of the build context', () => {
    const ignore = readFileSync('.dockerignore', 'utf8').split('\n');
    expect(ignore).toEqual(expect.arrayContaining(['node_modules', 'packages/db/generated', '**/dist']));
    expect(existsSync('Dockerfile')).toBe(true);
  });
});
