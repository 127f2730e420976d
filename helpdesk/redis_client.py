"""The process's one Redis client for the web path (rate limits, presence), shared by gunicorn's threads.

Built once, under a lock, not with `functools.cache`: that holds no lock while the function runs (its documentation
says so) and keeps the last of the results that threads racing on a fresh worker computed. A client from
`redis.Redis.from_url()` owns its pool (`auto_close_connection_pool`), and redis-py's `Redis.__del__` closes that
pool, disconnecting the connections other threads are using too (`ConnectionPool.close()`, redis-py 8.1.0). A
pipeline holds the pool, not the client, so a dropped client went at once and shut down sockets mid-command in
other threads: `OSError: [Errno 9] Bad file descriptor`, `I/O operation on closed file`, a parser without its
buffer; the request answered 500, or 503 when a `redis.ConnectionError` was in the chain (helpdesk/unavailable.py).
Seen as 2 of 40 creates failing in tests/faults/test_pgbouncer.py. The pool is made apart from the client as well,
so no client's garbage collection can close it.
"""

from __future__ import annotations

import threading

import redis
from django.conf import settings

# Rate limits and presence must not hold a request up: a Redis that does not answer within a second is down.
TIMEOUT_S = 1

_lock = threading.Lock()
_client: redis.Redis | None = None


def shared_client() -> redis.Redis:
    """The process's client (and connection pool) for REDIS_URL; redis-py's pool is safe across threads."""
    global _client
    client = _client
    if client is None:
        with _lock:
            if _client is None:
                pool = redis.ConnectionPool.from_url(
                    settings.REDIS_URL, socket_connect_timeout=TIMEOUT_S, socket_timeout=TIMEOUT_S
                )
                _client = redis.Redis(connection_pool=pool)
            client = _client
    return client
