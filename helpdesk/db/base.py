"""Django's PostgreSQL backend, with one switch: owner mode.

Normally every connection runs `SET ROLE <APP_DB_ROLE>` (Django's `assume_role` option), so requests
and tasks are subject to row-level security. Schema changes (migrate, flush, test database setup)
must run as the table owner instead; `owner_mode()` closes the connection and reopens it without the
role switch for the duration of the block.

With `DATABASE_APP_URL` set (a pooler in transaction mode, docs/SCALING.md), requests and tasks log in as
that URL's non-owner user instead of switching roles, and only owner mode uses `DATABASE_URL`'s owner.
"""

from contextlib import contextmanager
from contextvars import ContextVar

from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.backends.postgresql import base
from django.utils.asyncio import async_unsafe

_owner_mode: ContextVar[bool] = ContextVar("helpdesk_db_owner_mode", default=False)


class DatabaseWrapper(base.DatabaseWrapper):
    def _app_login(self) -> dict | None:
        """The non-owner login's credentials, unless the owner is wanted."""
        if _owner_mode.get():
            return None
        return self.settings_dict.get("APP_LOGIN")

    def get_connection_params(self):
        params = super().get_connection_params()
        if login := self._app_login():
            # The database name stays the settings' own, so the test database (test_…) is used as well.
            for key, param in (("USER", "user"), ("PASSWORD", "password"), ("HOST", "host"), ("PORT", "port")):
                params.pop(param, None)
                if login[key]:
                    params[param] = login[key]
        return params

    def _configure_role(self, connection):
        if _owner_mode.get():
            return False
        if self._app_login():
            refuse_privileged_login(connection)
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


def refuse_privileged_login(connection) -> None:
    """The app login must be subject to row-level security: not a superuser, no BYPASSRLS, not the owner
    of the tables. Checked once per new connection (a catalog read, not counted as a query)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT r.rolsuper OR r.rolbypassrls OR EXISTS ("
            " SELECT 1 FROM pg_tables t WHERE t.schemaname = 'public' AND t.tableowner = current_user)"
            " FROM pg_roles r WHERE r.rolname = current_user"
        )
        privileged = cursor.fetchone()[0]
    if privileged:
        raise ImproperlyConfigured(
            "DATABASE_APP_URL logs in as a superuser, a BYPASSRLS role or the tables' owner: row-level "
            "security would not apply. Use a LOGIN role that is a member of APP_DB_ROLE (docs/SCALING.md)."
        )
