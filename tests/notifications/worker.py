"""A real Celery worker subprocess for the slow notification tests, killable with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from helpdesk.celery import app
from tests.integration.conftest import ROOT, celery_worker_argv
from tests.integration.test_worker import _database_url


class Worker:
    def __init__(self, log: Path, **env: str):
        self.log = log
        self.env = {**os.environ, "DATABASE_URL": _database_url(), **env}
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> Worker:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                celery_worker_argv(),
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: SIGKILL reaches the pool child too
            )
        self.wait_for_log(" ready.", timeout, offset=offset)
        return self

    def text(self, offset: int = 0) -> str:
        return self.log.read_bytes()[offset:].decode(errors="replace")

    def wait_for_log(self, needle: str, timeout: float, offset: int = 0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text(offset):
                return
            assert self.process.poll() is None, self.text()
            time.sleep(0.1)
        raise AssertionError(f"{needle!r} not in worker log:\n{self.text()}")

    def kill(self) -> None:
        """SIGKILL to the whole group, mid-task: no cleanup, no ack, no result recorded."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def broker(url: str):
    """Points this process's Celery producer at `url` (a private Redis), fresh connections included."""
    previous = app.conf.broker_url
    _reset_producer()
    app.conf.broker_url = url
    try:
        yield
    finally:
        _reset_producer()
        app.conf.broker_url = previous


def _reset_producer() -> None:
    # Celery caches its connection pool (and the producer pool on it) made for one URL; kombu keeps
    # one pool per URL, so dropping the cached ones is enough to switch (closing would break reuse).
    app._pool = None
    app.amqp._producer_pool = None


def wait_until(check, timeout: float = 60, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {check.__name__}")
