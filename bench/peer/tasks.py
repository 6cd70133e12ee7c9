"""Work units of the peer pipelines: a chunk of runs computed and stored with one INSERT.
Each worker process keeps one Postgres connection (PEER_DSN)."""
import os

import psycopg2

from sweep import run_one, store

_conn = None


def _db():
    global _conn
    if _conn is None or _conn.closed:
        _conn = psycopg2.connect(os.environ['PEER_DSN'])
    return _conn


def compute_and_store(sweep, cfgs, atoms, iterations, rows):
    outs = [run_one(tuple(c), atoms, iterations, rows) for c in cfgs]
    store(_db(), sweep, outs)
    return len(outs)


def compute_only(cfgs, atoms, iterations, rows):
    for c in cfgs:
        run_one(tuple(c), atoms, iterations, rows)
    return len(cfgs)
