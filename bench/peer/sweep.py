"""The peer pipelines' shared part: the same 2,000-run sweep as the service benchmark
(q x D grid, 40 x 50), with a numpy version of the curated retraining dynamics (a
distribution on a grid of atoms, two quadratic rewards, curation by the better reward,
mixing with fresh data at rate eps), and the storage of one result row per run in
Postgres (summary jsonb, packed float64 trajectory, duration), as the service stores it.

Run sizes are calibrated, not copied: with the service's number of atoms and trajectory
rows, `calibrate(target_ms, atoms, rows)` picks the number of generations that makes one
run take `target_ms` in this process, so a peer computes runs as long as the service's
core does on the same machine and stores rows of the same size.
"""
import json
import math
import time

import numpy as np

RECORD_EVERY = 10


def configs(n_q=40, n_d=50, shift=0.0):
    qs = np.linspace(0.02 + shift, 0.98 + shift, n_q)
    ds = np.linspace(0.5, 8, n_d)
    return [(i, float(q), float(d)) for i, (q, d) in enumerate((q, d) for q in qs for d in ds)]


def simulate(q, d, atoms, iterations, rows=61, eps=0.5):
    """One run: returns (summary dict, trajectory bytes); `rows` trajectory rows, evenly spaced."""
    x = np.linspace(-12, 12, atoms)
    r = np.stack([-(x + d / 2) ** 2, -(x - d / 2) ** 2])
    # curation: a share q of the data is judged by reward 0, the rest by reward 1
    w = q * np.exp(r[0] - r[0].max()) + (1 - q) * np.exp(r[1] - r[1].max())
    basin0 = r[0] >= r[1]
    # what a trajectory row records, as one matrix product: basin masses, mean and
    # second moment of each reward, mass outside |x| <= 10
    feats = np.stack([basin0, ~basin0, r[0], r[1], r[0] ** 2, r[1] ** 2, np.abs(x) > 10]).astype(float)
    p = np.exp(-x ** 2 / 8)
    p /= p.sum()
    record = set(np.linspace(0, iterations, rows).astype(int).tolist())
    out = []
    for t in range(iterations + 1):
        if t in record:
            m0, m1, e0, e1, s0, s1, outside = (feats @ p).tolist()
            ent = -float(p @ np.log(np.maximum(p, 1e-300)))
            out.append([t, ent, math.exp(ent), outside, 0.0, 0.0, m0, m1, e0, e1, s0 - e0 * e0, s1 - e1 * e1])
        if t == iterations:
            break
        # retrain on the curated data (p * w, normalised) mixed with the current model
        cur = p * w
        p = cur * ((1 - eps) / cur.sum()) + eps * p
    traj = np.asarray(out, dtype='<f8')
    header = np.array([2, traj.shape[0], 2], dtype='<f8')
    trajectory = header.tobytes() + traj.T.copy().tobytes()
    last = out[-1]
    summary = {
        'converged': True, 'convergedAt': len(out) // 2,
        'final': {'t': iterations, 'entropy': last[1], 'effectiveSupport': last[2], 'mass': last[6:8],
                  'outside': last[3], 'meanReward': last[8:10], 'varReward': last[10:12], 'step': 0.0, 'shareStep': 0.0},
        'basinShare': last[6:8], 'nashGap': abs(last[6] - q), 'collapsed': False, 'survivingBasins': 2,
        'outsideDecayRate': -0.5,
        'audit': {'disjoint': True, 'initMass': last[6:8], 'crossGap': [d, d], 'interval': [q - 0.01, q + 0.01],
                  'intervalB5': [q - 0.02, q + 0.02], 'intervalCorrected': [q - 0.1, q + 0.1], 'applies': False,
                  'inInterval': True, 'inIntervalB5': True, 'inIntervalCorrected': True,
                  'varianceBound': last[10:12], 'varianceSlack': last[10:12],
                  'nash': {'utilities': [[last[8], last[9]], [last[9], last[8]]], 'premise': True, 'gains': [d, q]}},
    }
    return summary, trajectory


def run_one(cfg, atoms, iterations, rows=61):
    i, q, d = cfg
    t0 = time.perf_counter()
    summary, trajectory = simulate(q, d, atoms, iterations, rows)
    return i, q, d, summary, trajectory, (time.perf_counter() - t0) * 1000


def calibrate(target_ms, atoms, rows):
    """The number of generations that makes one run of `atoms` atoms take about target_ms here (median of a few)."""
    def ms(iterations):
        xs = []
        for k in range(7):
            t0 = time.perf_counter()
            simulate(0.3 + k * 1e-3, 4.0, atoms, iterations, rows)
            xs.append((time.perf_counter() - t0) * 1000)
        return sorted(xs)[3]
    lo, hi = rows, rows
    while ms(hi) < target_ms and hi < 1 << 22:
        lo, hi = hi, hi * 2
    while hi - lo > max(1, lo // 100):
        mid = (lo + hi) // 2
        if ms(mid) < target_ms:
            lo = mid
        else:
            hi = mid
    return hi, ms(hi)


DDL = """CREATE TABLE IF NOT EXISTS peer_results (
  id bigserial PRIMARY KEY, sweep text NOT NULL, idx int NOT NULL, params jsonb NOT NULL,
  summary jsonb NOT NULL, trajectory bytea NOT NULL, duration_ms float8 NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(), UNIQUE (sweep, idx))"""


def store(conn, sweep, outs):
    """One INSERT for a chunk's results (one row per run), committed."""
    from psycopg2.extras import execute_values
    with conn.cursor() as cur:
        execute_values(cur, 'INSERT INTO peer_results (sweep, idx, params, summary, trajectory, duration_ms) VALUES %s'
                       ' ON CONFLICT (sweep, idx) DO NOTHING',
                       [(sweep, i, json.dumps({'q': q, 'D': d}), json.dumps(s), tr, ms) for i, q, d, s, tr, ms in outs],
                       page_size=1000)
    conn.commit()
