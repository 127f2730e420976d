"""Helpers for tests that start real processes (embedded servers, make run, a Celery worker)."""

import os
import shutil
import socket
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def celery_worker_argv(*extra: str) -> list[str]:
    """A real Celery worker of the app, one process, quiet towards other workers: the tests that need one."""
    return [
        sys.executable, "-m", "celery", "-A", "helpdesk", "worker", "--concurrency", "1", "--loglevel", "INFO",
        "--without-gossip", "--without-mingle", "--without-heartbeat", *extra,
    ]  # fmt: skip


@pytest.fixture
def data_dir():
    # Under the repository, not /tmp/pytest-of-root: the embedded PostgreSQL runs as an unprivileged
    # user (PostgreSQL refuses root), which cannot enter root's 0700 pytest directories.
    path = ROOT / ".data" / f"test-{uuid.uuid4().hex[:8]}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def embedded_env(data_dir):
    """The environment of a fresh clone: no service URLs, no secret, none of the test suite's switches
    (its private-network webhooks), data under data_dir."""
    unset = {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "WEBHOOK_ALLOW_PRIVATE_NETWORKS"}
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env["HELPDESK_DATA_DIR"] = str(data_dir)
    return env


@pytest.fixture
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
