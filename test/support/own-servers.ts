// Private Redis and Postgres servers for tests that stop, kill or restart a server
// (fault injection). Each instance runs on its own free port with its own temporary
// directory, so several vitest worker processes can use them at once, and the shared
// services (Postgres on 5432, Redis on 6379) are never touched.
//
// Cleanup is layered, because a test file may end without calling stop():
//  1. stop() in the test's afterAll ends the server and removes its directory;
//  2. process 'exit' and SIGTERM/SIGINT/SIGHUP handlers (vitest's forks pool ends its
//     workers with SIGTERM, which skips 'exit' handlers) kill what is still running;
//  3. a detached guardian shell per instance polls this process and, once it is gone
//     (even by SIGKILL), kills the server and removes the directory.
//
// Postgres refuses to run as root: when we are root, initdb/pg_ctl are spawned with the
// uid/gid of the `postgres` OS user (Node's spawn uid/gid options, which also drop the
// supplementary groups) and the temporary directory is chowned to that user.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import {
  appendFileSync, chownSync, closeSync, existsSync, fstatSync, mkdtempSync, openSync,
  readFileSync, readdirSync, readSync, rmSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface OwnRedis {
  url: string;
  port: number;
  /** The instance's temporary directory (AOF files, redis.log). */
  dir: string;
  /** Ends the server (SIGTERM, AOF flushed) and removes its directory; final. */
  stop(): Promise<void>;
  /** Graceful shutdown, then start again on the same port and directory (the AOF reloads). */
  restart(): Promise<void>;
  /** SIGKILL: no shutdown, no save. The directory stays; start() brings it back. */
  kill(): Promise<void>;
  /** Starts the server again after kill(); resolves once PING answers. No-op if running. */
  start(): Promise<void>;
}

export interface OwnPostgres {
  /** postgresql://postgres@127.0.0.1:PORT/postgres */
  url: string;
  port: number;
  /** The instance's temporary directory (data/, postgres.log, the unix socket). */
  dir: string;
  /** pg_ctl stop -m fast, then removes the directory; final. */
  stop(): Promise<void>;
  /** Starts the server again after kill(), same port and data; resolves once it accepts connections. No-op if running. */
  start(): Promise<void>;
  /** pg_ctl stop -m fast, then start. */
  restart(): Promise<void>;
  /** pg_ctl stop -m immediate (crash-like: recovery replays the WAL on the next start). */
  kill(): Promise<void>;
}

const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 20_000;
const PORT_ATTEMPTS = 5;

// ---------------------------------------------------------------------------------------
// Helpers

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A free TCP port on 127.0.0.1: bind port 0, read it, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Last lines of a log file, for error messages. */
function logTail(file: string, lines = 25): string {
  try {
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      const len = Math.min(size, 8192);
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, size - len);
      const text = buf.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
      return text ? `\n--- last lines of ${file} ---\n${text}` : `\n(${file} is empty)`;
    } finally {
      closeSync(fd);
    }
  } catch {
    return `\n(no log at ${file})`;
  }
}

/** Resolves true once a TCP connect to 127.0.0.1:port is refused, false on timeout. */
async function waitPortClosed(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.setTimeout(500);
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('timeout', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (!open) return true;
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
}

/** Serializes an instance's operations so concurrent calls cannot interleave. */
function serial() {
  let chain: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = chain.then(fn, fn);
    chain = run.catch(() => {});
    return run;
  };
}

interface RunResult { code: number | null; signal: NodeJS.Signals | null; output: string }

/** Runs a command to completion, capturing its output; kills it after timeoutMs. */
function run(cmd: string, args: string[], opts: { uid?: number; gid?: number; cwd?: string; timeoutMs: number }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      uid: opts.uid,
      gid: opts.gid,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
    });
    let output = '';
    child.stdout!.on('data', (d) => { output += d; });
    child.stderr!.on('data', (d) => { output += d; });
    const timer = setTimeout(() => {
      output += `\n[own-servers] ${cmd} timed out after ${opts.timeoutMs} ms, killed`;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, output: output.trim() }); });
  });
}

// ---------------------------------------------------------------------------------------
// Process-exit cleanup and guardians

interface Leftover {
  describe: string;
  /** Signals the server; synchronous, must not throw. */
  signal(): void;
  /** True once the server process is gone. */
  gone(): boolean;
  dir: string;
  guardian?: ChildProcess;
}
const live = new Set<Leftover>();
let handlersInstalled = false;

function sleepSync(ms: number) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function cleanupSync(reason: string) {
  if (live.size === 0) return;
  const items = [...live];
  live.clear();
  for (const l of items) {
    process.stderr.write(`[own-servers] ${reason}: killing ${l.describe} left running; removing ${l.dir}\n`);
    try { l.signal(); } catch { /* best effort */ }
  }
  const deadline = Date.now() + 3000;
  while (items.some((l) => !l.gone()) && Date.now() < deadline) sleepSync(20);
  for (const l of items) {
    let removed = false;
    if (l.gone()) {
      try { rmSync(l.dir, { recursive: true, force: true }); removed = true; } catch { /* guardian retries */ }
    }
    // Leave the guardian alive if something is left: it finishes the job.
    if (removed) try { l.guardian?.kill('SIGKILL'); } catch { /* ignore */ }
  }
}

function onSignal(sig: NodeJS.Signals) {
  cleanupSync(`received ${sig}`);
  // Restore the default action (terminate) unless someone else handles this signal.
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

function installHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => cleanupSync('process exit'));
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(sig, onSignal);
}

// Runs as root (or as us), detached in its own session: waits for this process to end,
// then kills the server whose pid is in the pid file (only if it really is that server)
// and removes the directory. Arguments: parent pid, directory, pid file, signal, name.
const GUARDIAN = `
p=$1; d=$2; f=$3; sig=$4; name=$5
while kill -0 "$p" 2>/dev/null; do sleep 0.5; done
if [ -f "$f" ]; then
  pid=$(head -n 1 "$f")
  if [ -n "$pid" ] && tr '\\0' ' ' < /proc/$pid/cmdline 2>/dev/null | grep -q "$name"; then
    kill -$sig "$pid" 2>/dev/null
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
    kill -KILL "$pid" 2>/dev/null
  fi
fi
rm -rf "$d"
`;

function startGuardian(dir: string, pidFile: string, signal: string, name: string): ChildProcess {
  const g = spawn('/bin/sh', ['-c', GUARDIAN, 'own-servers-guardian', String(process.pid), dir, pidFile, signal, name], {
    detached: true,
    stdio: 'ignore',
  });
  g.on('error', () => {});
  g.unref();
  return g;
}

/** True while pid is a live (not zombie) process whose command line contains name. */
function pidAlive(pid: number, name: string): boolean {
  try {
    // The state follows the parenthesized command name: "pid (comm) S ...".
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(name);
  } catch {
    return false;
  }
}

/** Resolves true when p settles within ms, false otherwise; never keeps the process alive. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => { timer = setTimeout(() => r(false), ms); });
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------
// Redis

function redisInfo(port: number, timeoutMs = 1000): Promise<string> {
  // One raw RESP round trip: INFO server. "-LOADING ..." while the AOF is being read.
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let data = '';
    s.setTimeout(timeoutMs);
    s.on('connect', () => s.write('INFO server\r\n'));
    s.on('data', (d) => {
      data += d;
      if (data.startsWith('-')) { s.destroy(); reject(new Error(data.trim())); return; }
      const m = /^\$(\d+)\r\n/.exec(data);
      if (m && Buffer.byteLength(data) >= m[0].length + Number(m[1])) { s.destroy(); resolve(data); }
    });
    s.on('timeout', () => { s.destroy(); reject(new Error('timeout')); });
    s.on('error', reject);
  });
}

export async function startOwnRedis(opts: { appendonly?: boolean; maxmemoryPolicy?: string; appendfsync?: 'always' | 'everysec' | 'no' } = {}): Promise<OwnRedis> {
  const appendonly = opts.appendonly ?? true;
  const appendfsync = opts.appendfsync ?? 'always';
  const policy = opts.maxmemoryPolicy ?? 'noeviction';
  const dir = mkdtempSync(join(tmpdir(), 'own-redis-'));
  const logFile = join(dir, 'redis.log');
  const pidFile = join(dir, 'redis.pid');
  installHandlers();
  const guardian = startGuardian(dir, pidFile, 'KILL', 'redis');
  let port = 0;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let state: 'running' | 'down' | 'gone' = 'down';

  const leftover: Leftover = {
    describe: '',
    dir,
    guardian,
    signal: () => { child?.kill('SIGKILL'); },
    // The event loop is blocked during exit cleanup, so ask /proc, not the ChildProcess.
    gone: () => !child?.pid || !pidAlive(child.pid, 'redis'),
  };

  const spawnOnce = async (): Promise<void> => {
    const out = openSync(logFile, 'a');
    appendFileSync(logFile, `--- [own-servers] starting redis-server on port ${port} at ${new Date().toISOString()}\n`);
    const c = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
      '--appendonly', appendonly ? 'yes' : 'no', '--appendfsync', appendfsync,
      '--save', '', '--maxmemory-policy', policy,
      '--daemonize', 'no', '--pidfile', pidFile, '--logfile', '',
    ], { cwd: dir, stdio: ['ignore', out, out] });
    closeSync(out);
    c.unref();
    child = c;
    let exitInfo: string | undefined;
    exited = new Promise((resolve) => {
      c.on('exit', (code, sig) => { exitInfo = `exited (code ${code}, signal ${sig})`; resolve(); });
      c.on('error', (err) => { exitInfo = `failed to spawn: ${err.message}`; resolve(); });
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    let last = '';
    for (;;) {
      if (exitInfo) throw new Error(`own redis on port ${port} ${exitInfo} while starting${logTail(logFile)}`);
      try {
        const info = await redisInfo(port);
        const pid = /process_id:(\d+)/.exec(info)?.[1];
        // Make sure it is our server answering, not something else on that port.
        if (Number(pid) === c.pid) return;
        last = `port ${port} answered with process_id ${pid}, not ours (${c.pid})`;
      } catch (err) {
        last = (err as Error).message;
      }
      if (Date.now() > deadline) {
        c.kill('SIGKILL');
        await exited;
        throw new Error(`own redis on port ${port} did not answer PING within ${START_TIMEOUT_MS} ms (last: ${last})${logTail(logFile)}`);
      }
      await sleep(25);
    }
  };

  const waitExit = async (what: string) => {
    const c = child!;
    if (!(await within(exited, STOP_TIMEOUT_MS))) {
      c.kill('SIGKILL');
      await exited;
      throw new Error(`own redis on port ${port} did not exit within ${STOP_TIMEOUT_MS} ms after ${what}${logTail(logFile)}`);
    }
  };

  const doStart = async () => {
    if (state === 'gone') throw new Error(`own redis on port ${port} was stopped for good; start a new one`);
    if (state === 'running') return;
    await spawnOnce();
    state = 'running';
  };
  const doShutdown = async () => {
    if (state !== 'running') return;
    child!.kill('SIGTERM'); // Redis treats SIGTERM as SHUTDOWN: flushes and fsyncs the AOF
    await waitExit('SIGTERM');
    state = 'down';
  };
  const doKill = async () => {
    if (state !== 'running') return;
    child!.kill('SIGKILL');
    await waitExit('SIGKILL');
    rmSync(pidFile, { force: true }); // stale after SIGKILL; the guardian must not trust it
    state = 'down';
  };

  // First start: retry on a fresh port if another process took the one we picked.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await spawnOnce();
      break;
    } catch (err) {
      const taken = /already in use|Could not create server TCP listening socket|not ours/i.test((err as Error).message);
      if (!taken || attempt >= PORT_ATTEMPTS) {
        rmSync(dir, { recursive: true, force: true });
        guardian.kill('SIGKILL');
        throw err;
      }
    }
  }
  state = 'running';
  leftover.describe = `redis-server on port ${port}`;
  live.add(leftover);

  const op = serial();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    start: () => op(doStart),
    kill: () => op(doKill),
    restart: () => op(async () => {
      if (state === 'gone') throw new Error(`own redis on port ${port} was stopped for good`);
      await doShutdown();
      await doStart();
    }),
    stop: () => op(async () => {
      if (state === 'gone') return;
      try {
        await doShutdown();
      } catch (err) {
        await doKill().catch(() => {});
        throw err;
      } finally {
        state = 'gone';
        live.delete(leftover);
        rmSync(dir, { recursive: true, force: true });
        guardian.kill('SIGKILL');
      }
    }),
  };
}

// ---------------------------------------------------------------------------------------
// Postgres

let pgBinDir: string | undefined;
function findPgBin(): string {
  if (pgBinDir) return pgBinDir;
  const fromEnv = process.env.PG_BIN_DIR;
  const candidates: string[] = fromEnv ? [fromEnv] : [];
  try {
    const versions = readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => `/usr/lib/postgresql/${v}/bin`));
  } catch { /* not a Debian layout */ }
  try {
    const cfg = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (cfg) candidates.push(cfg);
  } catch { /* no pg_config on PATH */ }
  for (const dir of candidates) {
    if (['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(join(dir, b)))) return (pgBinDir = dir);
  }
  throw new Error(`own-servers: no PostgreSQL binaries (initdb, pg_ctl, postgres) found in ${candidates.join(', ') || '/usr/lib/postgresql/*/bin'}; set PG_BIN_DIR`);
}

/** uid/gid to run Postgres as: the `postgres` user when we are root, otherwise ourselves. */
function pgUser(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  let line: string | undefined;
  try {
    line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  } catch { /* fall through */ }
  if (!line) throw new Error('own-servers: running as root but there is no `postgres` OS user to run PostgreSQL as');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

async function pgAnswers(port: number, dataDir: string): Promise<string | true> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query("SELECT current_setting('data_directory') AS d");
    return rows[0].d === dataDir ? true : `port ${port} is served by another cluster (${rows[0].d})`;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function startOwnPostgres(): Promise<OwnPostgres> {
  const bin = findPgBin();
  const user = pgUser();
  // /tmp rather than os.tmpdir(): the postgres user must be able to reach the directory.
  const dir = mkdtempSync(join(user.uid !== undefined ? '/tmp' : tmpdir(), 'own-pg-'));
  if (user.uid !== undefined) chownSync(dir, user.uid, user.gid!);
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  const pidFile = join(dataDir, 'postmaster.pid');
  installHandlers();
  const guardian = startGuardian(dir, pidFile, 'QUIT', 'postgres');
  const runPg = (tool: string, args: string[], timeoutMs: number) =>
    run(join(bin, tool), args, { ...user, cwd: dir, timeoutMs });

  let port = 0;
  let state: 'running' | 'down' | 'gone' = 'down';
  const postmasterPid = (): number | undefined => {
    try { return Number(readFileSync(pidFile, 'utf8').split('\n')[0]) || undefined; } catch { return undefined; }
  };
  const leftover: Leftover = {
    describe: '',
    dir,
    guardian,
    signal: () => { const pid = postmasterPid(); if (pid && pidAlive(pid, 'postgres')) process.kill(pid, 'SIGQUIT'); },
    gone: () => { const pid = postmasterPid(); return !pid || !pidAlive(pid, 'postgres'); },
  };
  const fail = (msg: string, output = '') =>
    new Error(`own postgres on port ${port}: ${msg}${output ? `\n${output}` : ''}${logTail(logFile)}`);

  const pgCtlStart = async () => {
    const secs = Math.ceil(START_TIMEOUT_MS / 1000);
    const r = await runPg('pg_ctl', ['start', '-D', dataDir, '-l', logFile, '-w', '-t', String(secs), '-o', `-p ${port}`], START_TIMEOUT_MS + 5000);
    if (r.code !== 0) throw fail(`pg_ctl start failed (code ${r.code}, signal ${r.signal})`, r.output);
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const ok = await pgAnswers(port, dataDir);
      if (ok === true) return;
      if (Date.now() > deadline) throw fail(`not accepting connections within ${START_TIMEOUT_MS} ms (last: ${ok})`);
      await sleep(25);
    }
  };
  const pgCtlStop = async (mode: 'fast' | 'immediate') => {
    const secs = Math.ceil(STOP_TIMEOUT_MS / 1000);
    const r = await runPg('pg_ctl', ['stop', '-D', dataDir, '-m', mode, '-w', '-t', String(secs)], STOP_TIMEOUT_MS + 5000);
    if (r.code !== 0) throw fail(`pg_ctl stop -m ${mode} failed (code ${r.code}, signal ${r.signal})`, r.output);
    if (!(await waitPortClosed(port, 5000))) throw fail(`port still accepts connections after pg_ctl stop -m ${mode}`);
  };

  const cleanupDir = () => {
    live.delete(leftover);
    rmSync(dir, { recursive: true, force: true });
    guardian.kill('SIGKILL');
  };

  try {
    const init = await runPg('initdb', [
      '-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--no-locale', '--no-instructions',
    ], 60_000);
    if (init.code !== 0) throw fail(`initdb failed (code ${init.code}, signal ${init.signal})`, init.output);
    // The port goes on pg_ctl's command line (-o -p) so a retry can pick another one.
    appendFileSync(join(dataDir, 'postgresql.conf'), [
      '', '# own-servers (test instance)',
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${dir}'`,
      // fsync off is safe for process kills (the OS keeps the written WAL); synchronous_commit
      // stays ON, or an immediate shutdown would lose commits still in the WAL buffers.
      'fsync = off', 'full_page_writes = off',
      'max_connections = 50', 'shared_buffers = 32MB',
      "logging_collector = off", "log_min_messages = warning", "log_line_prefix = '%m [%p] '",
      '',
    ].join('\n'));
    if (user.uid !== undefined) chownSync(join(dataDir, 'postgresql.conf'), user.uid, user.gid!);
    live.add(leftover);
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await pgCtlStart();
        break;
      } catch (err) {
        const taken = /Address already in use|could not bind|another cluster/i.test((err as Error).message);
        if (!taken || attempt >= PORT_ATTEMPTS) throw err;
        if (postmasterPid()) await pgCtlStop('immediate').catch(() => {});
      }
    }
  } catch (err) {
    if (postmasterPid()) await pgCtlStop('immediate').catch(() => {});
    cleanupDir();
    throw err;
  }
  state = 'running';
  leftover.describe = `postgres on port ${port}`;

  const doStart = async () => {
    if (state === 'gone') throw new Error(`own postgres on port ${port} was stopped for good; start a new one`);
    if (state === 'running') return;
    await pgCtlStart();
    state = 'running';
  };
  const doStop = async (mode: 'fast' | 'immediate') => {
    if (state !== 'running') return;
    await pgCtlStop(mode);
    state = 'down';
  };

  const op = serial();
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    start: () => op(doStart),
    kill: () => op(() => doStop('immediate')),
    restart: () => op(async () => {
      if (state === 'gone') throw new Error(`own postgres on port ${port} was stopped for good`);
      await doStop('fast');
      await doStart();
    }),
    stop: () => op(async () => {
      if (state === 'gone') return;
      try {
        await doStop('fast');
      } catch (err) {
        // Never leave a server running without its directory.
        await pgCtlStop('immediate').catch(() => {
          const pid = postmasterPid();
          if (pid && pidAlive(pid, 'postgres')) process.kill(pid, 'SIGKILL');
        });
        throw err;
      } finally {
        state = 'gone';
        cleanupDir();
      }
    }),
  };
}
