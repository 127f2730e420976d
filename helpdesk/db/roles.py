"""The application's database role: created and granted by `migrate`, running as the owner.

The role can log in to nothing (NOLOGIN); the owner's connections switch to it with SET ROLE. It is
not a superuser, has no BYPASSRLS and owns no table, so row-level security applies to it.
"""

from django.conf import settings
from psycopg import sql

# Tables whose rows are history: the app role may insert and read, never change or delete.
APPEND_ONLY_TABLES: list[str] = []


def ensure_app_role(cursor) -> None:
    role = settings.APP_DB_ROLE
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
    if cursor.fetchone() is None:
        cursor.execute(sql.SQL("CREATE ROLE {} NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT").format(sql.Identifier(role)))
    cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    if not cursor.fetchone()[0]:
        # A non-superuser owner must be a member of the role to SET ROLE to it.
        cursor.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(role)))


def grant_app_role(cursor) -> None:
    role = sql.Identifier(settings.APP_DB_ROLE)
    statements = [
        "GRANT USAGE ON SCHEMA public TO {role}",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}",
        "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {role}",
    ]
    for statement in statements:
        cursor.execute(sql.SQL(statement).format(role=role))
    for table in APPEND_ONLY_TABLES:
        cursor.execute(sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE ON {} FROM {}").format(sql.Identifier(table), role))
