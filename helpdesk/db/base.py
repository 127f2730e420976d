"""Django's PostgreSQL backend, with one switch: owner mode.

Normally every connection runs `SET ROLE <APP_DB_ROLE>` (Django's `assume_role` option), so requests
and tasks are subject to row-level security. Schema changes (migrate, flush, test database setup)
must run as the table owner instead; `owner_mode()` closes the connection and reopens it without the
role switch for the duration of the block.
"""

from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connections
from django.db.backends.postgresql import base
from django.utils.asyncio import async_unsafe

_owner_mode: ContextVar[bool] = ContextVar("helpdesk_db_owner_mode", default=False)


class DatabaseWrapper(base.DatabaseWrapper):
    def _configure_role(self, connection):
        if _owner_mode.get():
            return False
        return super()._configure_role(connection)

    @async_unsafe
    def bound_cursor(self):
        """A cursor whose parameters PostgreSQL binds (the extended protocol) rather than psycopg quoting
        them into the SQL text, as Django's cursors do. For statements with big array parameters (the
        sweep's batches: 10,000 ids, JSON texts), where quoting every element, strings through a regex,
        cost ~1 s of the SLA stage. Wrapped like Django's own cursors: query logging, execute wrappers and
        query counts see it. For writes: unlike create_cursor(), it registers no per-cursor time zone
        loader, so timestamps it returns follow the connection's (UTC) loader."""
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            return self._prepare_cursor(base.ServerBindingCursor(self.connection))

    @contextmanager
    def _nodb_cursor(self):
        # CREATE/DROP DATABASE (test database setup) is the owner's business, not the app role's.
        token = _owner_mode.set(True)
        try:
            with super()._nodb_cursor() as cursor:
                yield cursor
        finally:
            _owner_mode.reset(token)


@contextmanager
def owner_mode(alias: str = "default"):
    """Run the block on a connection logged in as the owner, without the app role."""
    connection = connections[alias]
    connection.close()
    token = _owner_mode.set(True)
    try:
        yield connection
    finally:
        connection.close()
        _owner_mode.reset(token)
