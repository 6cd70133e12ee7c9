"""Peer pipelines for the service benchmark (issue 17): the same 2,000-run sweep through
a chunked Celery pipeline (Redis broker, prefork, 2 processes, 50 runs per task) and a
chunked Dask distributed pipeline (LocalCluster, 2 worker processes, 50 runs per task),
one result row per run stored in Postgres, each against a multiprocessing baseline
(2 processes, no database) measured right before it; median of the repeats.

Usage: python3 peer.py --dsn postgresql://... --redis redis://... --sizes 2.7:1601:61,7.5:4001:101
  (--sizes: per-run milliseconds to calibrate to, atoms, trajectory rows). Prints one JSON line
  per measurement prefixed `PEER ` and a table. bench/peer/run.ts drives it.
"""
import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

MISSING = []
try:
    import numpy  # noqa: F401
except ImportError:
    MISSING.append('python3-numpy')
try:
    import psycopg2  # noqa: F401
except ImportError:
    MISSING.append('python3-psycopg2')

CHUNK = 50


def chunks(cfgs):
    return [cfgs[k:k + CHUNK] for k in range(0, len(cfgs), CHUNK)]


def baseline(cfgs, atoms, iterations, rows):
    """2 processes computing the chunks, nothing stored: the best one machine does."""
    import tasks
    with mp.get_context('fork').Pool(2) as pool:
        pool.starmap(tasks.compute_only, [(c, atoms, iterations, rows) for c in chunks(cfgs[:200])])  # warm
        t0 = time.perf_counter()
        pool.starmap(tasks.compute_only, [(c, atoms, iterations, rows) for c in chunks(cfgs)])
        return time.perf_counter() - t0


def wait_rows(conn, sweep, n, timeout=600):
    """Seconds since the epoch of the last row's commit once all n rows of `sweep` are stored."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with conn.cursor() as cur:
            cur.execute('SELECT count(*), extract(epoch FROM max(created_at)) FROM peer_results WHERE sweep = %s', (sweep,))
            count, last = cur.fetchone()
        conn.commit()
        if count >= n:
            return float(last)
        time.sleep(0.1)
    raise RuntimeError(f'{sweep}: only {count} of {n} rows after {timeout} s')


class CeleryPeer:
    name = 'celery'

    def __init__(self, dsn, redis_url):
        queue = f'peer-{uuid.uuid4().hex[:8]}'
        self.queue = queue
        env = {**os.environ, 'PEER_DSN': dsn, 'PEER_REDIS': redis_url, 'PYTHONPATH': HERE}
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'celery', '-A', 'celery_app', 'worker', '--pool=prefork', '--concurrency=2',
             '-Q', queue, '--without-gossip', '--without-mingle', '--without-heartbeat', '-l', 'warning'],
            cwd=HERE, env=env, stdout=subprocess.DEVNULL)
        os.environ['PEER_REDIS'] = redis_url
        import celery_app
        self.app = celery_app
        self.app.app.connection_for_write().ensure_connection(max_retries=3)

    def submit(self, sweep, cfgs, atoms, iterations, rows):
        for c in chunks(cfgs):
            self.app.chunk.apply_async((sweep, c, atoms, iterations, rows), queue=self.queue)

    def close(self):
        self.proc.terminate()
        self.proc.wait(30)


class DaskPeer:
    name = 'dask'

    def __init__(self, dsn, redis_url):
        from distributed import Client, LocalCluster
        os.environ['PEER_DSN'] = dsn
        self.cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        self.client = Client(self.cluster)
        self.client.run(lambda: sys.path.insert(0, HERE))
        self.futures = []

    def submit(self, sweep, cfgs, atoms, iterations, rows):
        import tasks
        cs = chunks(cfgs)
        self.futures = self.client.map(tasks.compute_and_store, [sweep] * len(cs), cs, [atoms] * len(cs),
                                       [iterations] * len(cs), [rows] * len(cs), pure=False)

    def close(self):
        self.client.close()
        self.cluster.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dsn', required=True)
    ap.add_argument('--redis', default='redis://127.0.0.1:6379/0')
    ap.add_argument('--sizes', default='2.7:1601:61,7.5:4001:101',
                    help='per-run ms to calibrate to : atoms : trajectory rows, comma-separated')
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--tools', default='celery,dask')
    a = ap.parse_args()
    tools = [t for t in a.tools.split(',') if t]
    missing = list(MISSING)
    if 'celery' in tools:
        try:
            import celery  # noqa: F401
            import redis  # noqa: F401
        except ImportError:
            missing.append('python3-celery python3-redis')
    if 'dask' in tools:
        try:
            import distributed  # noqa: F401
        except ImportError:
            missing.append('python3-distributed')
    if missing:
        print(f'PEER_MISSING {" ".join(missing)}', flush=True)
        print(f'peer benchmark: Python packages missing for {sys.executable}: {" ".join(missing)}\n'
              f'  install them with: apt-get install -y {" ".join(missing)}', file=sys.stderr)
        sys.exit(3)

    import psycopg2
    from sweep import DDL, calibrate, configs
    import tasks
    conn = psycopg2.connect(a.dsn)
    with conn.cursor() as cur:
        cur.execute(DDL)
    conn.commit()

    sizes = [(float(s.split(':')[0]), int(s.split(':')[1]), int(s.split(':')[2])) for s in a.sizes.split(',')]
    # Calibrated once per size, before any pipeline's processes start (their start-up
    # would slow the measurement), and shared by every tool.
    generations = {size: calibrate(size[0], size[1], size[2]) for size in sizes}
    for tool in tools:
        peer = (CeleryPeer if tool == 'celery' else DaskPeer)(a.dsn, a.redis)
        try:
            for target_ms, atoms, rows in sizes:
                iterations, ms = generations[(target_ms, atoms, rows)]
                # warm the pipeline's processes (imports, connections) on other configurations
                warm = f'warm-{uuid.uuid4().hex[:8]}'
                peer.submit(warm, configs(10, 20, shift=0.5), atoms, iterations, rows)
                wait_rows(conn, warm, 200)
                ratios = []
                for rep in range(a.repeats):
                    cfgs = configs(shift=rep * 1e-6)
                    base_s = baseline(cfgs, atoms, iterations, rows)
                    sweep = f'{tool}-{target_ms}-{rep}-{uuid.uuid4().hex[:8]}'
                    t0 = time.time()
                    peer.submit(sweep, cfgs, atoms, iterations, rows)
                    last = wait_rows(conn, sweep, len(cfgs))
                    with conn.cursor() as cur:
                        cur.execute('SELECT avg(duration_ms) FROM peer_results WHERE sweep = %s', (sweep,))
                        run_ms = float(cur.fetchone()[0])
                    conn.commit()
                    peer_s = last - t0
                    ratios.append(peer_s / base_s)
                    print('PEER ' + json.dumps({'tool': tool, 'targetMs': target_ms, 'iterations': iterations, 'atoms': atoms, 'generations': iterations,
                                                'calibratedMs': ms, 'runMs': run_ms, 'rep': rep, 'baselineS': base_s,
                                                'peerS': peer_s, 'ratio': peer_s / base_s}), flush=True)
                print('PEER_MEDIAN ' + json.dumps({'tool': tool, 'targetMs': target_ms, 'ratio': statistics.median(ratios)}), flush=True)
        finally:
            peer.close()
    with conn.cursor() as cur:
        cur.execute('DROP TABLE IF EXISTS peer_results')
    conn.commit()
    conn.close()


if __name__ == '__main__':
    main()
