"""The Celery app of the peer benchmark: Redis broker, no result backend (completion is
read from Postgres, where every result row lands), one task per chunk of runs."""
import os

from celery import Celery

import tasks

app = Celery('peer', broker=os.environ.get('PEER_REDIS', 'redis://127.0.0.1:6379/0'))
app.conf.update(task_ignore_result=True, worker_prefetch_multiplier=1, task_acks_late=False,
                broker_connection_retry_on_startup=True, worker_hijack_root_logger=False)


@app.task(name='peer.chunk')
def chunk(sweep, cfgs, atoms, iterations, rows):
    return tasks.compute_and_store(sweep, cfgs, atoms, iterations, rows)
