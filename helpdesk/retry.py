"""Celery tasks ride through a database outage: a task that finds PostgreSQL away (restart, failover,
connection slots full, a statement cancelled by its timeout) is retried with exponential backoff and
jitter instead of failing, and the worker process never dies of it (no crash loop). The retry is only a
nudge: the work itself is in PostgreSQL (due columns, pending outbox rows), claimed with SKIP LOCKED, so
a sweep or dispatch that failed is also picked up by the next one beat sends."""

from django.db import InterfaceError, OperationalError

# 1, 2, 4 … 60 s (jittered), about 25 minutes in all: past that a one-shot task (a recalculation, a
# rule's arming) is logged as failed, the outage having outlasted any restart or failover.
RIDE_THROUGH = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 1,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 30,
}
# The sweep is sent again by beat every interval anyway: a few retries, not a queue of sleeping sweeps.
SWEEP_RIDE_THROUGH = {**RIDE_THROUGH, "max_retries": 3}


def connection_lost(exc: BaseException) -> bool:
    """True when `exc` came from the database connection itself going away (not from one tenant's data):
    code that contains per-tenant failures re-raises these, so the whole task is retried rather than every
    remaining tenant being tried, and reported failed, on a dead connection."""
    from django.db import connection

    return isinstance(exc, OperationalError | InterfaceError) and not connection.is_usable()
