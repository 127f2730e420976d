"""A dependency that is down for a moment — PostgreSQL restarting or failing over, its connection slots
full, a statement cancelled by `statement_timeout`, Redis gone — is a 503 with `Retry-After`, not a 500.

The request's transaction has rolled back by then (helpdesk.middleware and Django's atomic blocks), so
nothing of it was saved, and its Idempotency-Key row went with it: the client's retry with the same key
runs as if for the first time. Only transient classes count: a constraint or a bad statement is a bug
or bad input, never "try again later".
"""

from __future__ import annotations

import redis
from django.db import InterfaceError, OperationalError
from django.shortcuts import render

from helpdesk.errors import error_json

RETRY_AFTER_S = 5
DATABASE = "database"
REDIS = "redis"

# Django wraps psycopg's errors in its own DB-API classes: connection refused, too many clients, the
# server closing the connection, a restart's "terminating connection", and QueryCanceled
# (statement_timeout) and serialization failures, all OperationalError; a connection already closed,
# InterfaceError.
_DATABASE_ERRORS = (OperationalError, InterfaceError)
_REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

MESSAGES = {
    DATABASE: "The database is unavailable for a moment; nothing was saved. Retry after {s} s.",
    REDIS: "A service this request needs is unavailable for a moment; nothing was saved. Retry after {s} s.",
}


def unavailable_part(exc: BaseException | None) -> str | None:
    """ "database" or "redis" when `exc` (or what it was raised from) says that part is down, else None."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, _DATABASE_ERRORS):
            return DATABASE
        if isinstance(exc, _REDIS_ERRORS):
            return REDIS
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def is_database_unavailable(exc: BaseException) -> bool:
    return unavailable_part(exc) == DATABASE


def unavailable_response(request, part: str, *, api: bool):
    """The API's error shape, or the styled "back in a moment" page; both with Retry-After."""
    if api:
        response = error_json(503, "service_unavailable", MESSAGES[part].format(s=RETRY_AFTER_S))
    else:
        # Rendered without a request context: the context processors would ask the database again.
        response = render(None, "503.html", {"retry_after": RETRY_AFTER_S, "part": part}, status=503)
    response["Retry-After"] = str(RETRY_AFTER_S)
    # Never cached by a proxy: the next request may well succeed.
    response["Cache-Control"] = "no-store"
    return response
