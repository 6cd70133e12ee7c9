// `npm run bench -- peer` (issue 17): the service against the pipelines a researcher
// would write instead, on the same machine and the same 2,000-run sweep. First the
// service benchmark at two run sizes (BENCH_PEER_SIZES, default 1601x600 and 4001x1000,
// about 2-3 and 6-8 ms per run), then bench/peer/peer.py runs the same sweep through a
// chunked Celery pipeline and a chunked Dask distributed pipeline (50 runs per task, two
// worker processes, one result row per run in Postgres), with the numpy dynamics
// calibrated to the per-run time the service's core measured, each against a
// multiprocessing baseline taken right before it. Median of BENCH_REPEATS (3).
// Python: PEER_PYTHON, else /usr/bin/python3 (Debian's, where apt installs the packages).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, createTestRedis } from '../../test/support/services.ts';

const here = dirname(fileURLToPath(import.meta.url));

interface PeerLine { tool: string; targetMs: number; atoms: number; generations: number; runMs: number; rep: number; baselineS: number; peerS: number; ratio: number }

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function runPython(python: string, args: string[]): Promise<{ code: number; lines: PeerLine[]; missing?: string }> {
  const child = spawn(python, [join(here, 'peer.py'), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }, // no __pycache__ in the tree
  });
  const lines: PeerLine[] = [];
  let missing: string | undefined;
  let buf = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buf += chunk.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.startsWith('PEER ')) {
        const l = JSON.parse(line.slice(5)) as PeerLine;
        lines.push(l);
        console.log(`    ${l.tool} ${l.targetMs.toFixed(2)} ms/run (${l.atoms} atoms, ${l.generations} generations, ${l.runMs.toFixed(2)} ms measured in the pipeline): baseline ${l.baselineS.toFixed(2)} s, pipeline ${l.peerS.toFixed(2)} s, ${l.ratio.toFixed(3)}x`);
      } else if (line.startsWith('PEER_MISSING ')) missing = line.slice('PEER_MISSING '.length);
    }
  });
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  return { code, lines, missing };
}

export async function runPeerBench(): Promise<void> {
  const python = process.env.PEER_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
  const sizes = (process.env.BENCH_PEER_SIZES ?? '1601x600,4001x1000');
  // The service first, at the peer's sizes, without the 100k submission and tiny runs.
  process.env.BENCH_RUN_SIZES ??= sizes;
  process.env.BENCH_SKIP_SUBMISSION ??= '1';
  process.env.BENCH_TINY_GENERATIONS ??= '0';
  const { runServiceBench } = await import('../service-bench.ts');
  const ours = await runServiceBench();
  const wanted = sizes.split(',').map((s) => s.split('x').map(Number) as [number, number]);

  const db = await createTestDatabase();
  const redis = await createTestRedis();
  let result: Awaited<ReturnType<typeof runPython>>;
  try {
    // Celery's keys go to their own Redis database, next to nothing of ours.
    const celeryRedis = `${redis.url.replace(/\/\d*$/, '')}/9`;
    const args = ['--dsn', db.url, '--redis', celeryRedis, '--repeats', String(Number(process.env.BENCH_REPEATS ?? 3)),
      // The service's atoms and trajectory rows (recordEvery 10), its core's ms per run.
      '--sizes', wanted.map(([n, T]) => `${(ours[`coreMsPerRun_n${n}`] ?? 3).toFixed(3)}:${n}:${Math.floor(T / 10) + 1}`).join(','),
      '--tools', process.env.BENCH_PEER_TOOLS ?? 'celery,dask'];
    console.log(`  peers (${python} ${join('bench/peer/peer.py')}), calibrated to the service's core ms per run:`);
    result = await runPython(python, args);
  } finally {
    await db.drop();
  }
  if (result.missing) {
    console.log(`  peer comparison NOT RUN: Python packages missing for ${python}: ${result.missing}`);
    console.log(`  install them (Debian): apt-get install -y ${result.missing}   (or set PEER_PYTHON to a python3 that has them)`);
    return;
  }
  if (result.code !== 0) throw new Error(`bench/peer/peer.py exited with ${result.code}`);
  console.log('  same 2,000-run sweep, 2 worker processes, one result row per run in Postgres; ratio = wall time / one-process baseline, median');
  console.log('    run size        core ms/run   this service   Celery, 50 runs/task   Dask, 50 runs/task');
  for (const [n, T] of wanted) {
    const target = Number((ours[`coreMsPerRun_n${n}`] ?? 3).toFixed(3));
    const of = (tool: string) => {
      const xs = result.lines.filter((l) => l.tool === tool && Math.abs(l.targetMs - target) < 1e-6).map((l) => l.ratio);
      return xs.length ? `${median(xs).toFixed(3)}x` : '-';
    };
    console.log(`    ${`${n}x${T}`.padEnd(14)} ${target.toFixed(2).padStart(11)}   ${`${ours[`serviceOverBaseline_n${n}`].toFixed(3)}x`.padStart(12)}   ${of('celery').padStart(20)}   ${of('dask').padStart(18)}`);
  }
}
