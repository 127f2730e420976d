"""A fresh gunicorn worker's threads, counting their first rate limits at the same moment, share one Redis client
and pool (helpdesk/redis_client.py). Two clients built by racing threads were the cause of 2 of 40 API creates
failing in tests/faults/test_pgbouncer.py: the one dropped closed its pool, in-use sockets and all.

In a process of its own, since this one has built its client long ago. The race is made certain rather than
likely: the first pool built waits (at most 2 s) for a second one to be started, which only code that lets two
threads build at once does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

from django.conf import settings

from tests.integration.conftest import ROOT

THREADS = 8

RACE = """
import json, sys, threading
import django
django.setup()
import redis
from helpdesk import throttling

pools = []
overlap = threading.Barrier(2, timeout=2)
build = redis.ConnectionPool.__init__

def build_overlapping(pool, *args, **kwargs):
    pools.append(pool)
    try:
        overlap.wait()
    except threading.BrokenBarrierError:  # no second pool was started: the code did not let it
        pass
    build(pool, *args, **kwargs)

redis.ConnectionPool.__init__ = build_overlapping
name, threads = sys.argv[1], int(sys.argv[2])
start = threading.Barrier(threads)
counts = []

def first_request():
    start.wait()
    window = throttling.hit(name, window_s=60)
    counts.append(window.count if window else None)

workers = [threading.Thread(target=first_request) for _ in range(threads)]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
print(json.dumps({"pools": len(pools), "counts": sorted(counts, key=str)}))
"""


def test_threads_of_a_fresh_process_count_their_first_rate_limits_through_one_client():
    name = f"race-{uuid.uuid4().hex}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "helpdesk.settings"}
    done = subprocess.run(
        [sys.executable, "-c", RACE, name, str(THREADS)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # One pool for the process, and every thread's event counted in it, once: no count lost to a closed socket.
    assert result == {"pools": 1, "counts": list(range(1, THREADS + 1))}, done.stderr
    import redis

    from helpdesk.throttling import PREFIX

    with redis.Redis.from_url(settings.REDIS_URL) as client:
        assert int(client.get(PREFIX + name)) == THREADS
        client.delete(PREFIX + name)
