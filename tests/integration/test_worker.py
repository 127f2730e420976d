"""A real Celery worker consumes the sweep through Redis and runs it against the database."""

import os
import subprocess
import time
import uuid

import pytest
from django.db import connection

from helpdesk.celery import app
from helpdesk.services import tenant_create
from tests.integration.conftest import ROOT, celery_worker_argv

pytestmark = pytest.mark.slow


def _database_url() -> str:
    settings = connection.settings_dict
    host = settings["HOST"] or "localhost"
    if host.startswith("/"):
        from urllib.parse import quote

        host = quote(host, safe="")
    port = f":{settings['PORT']}" if settings["PORT"] else ""
    return f"postgres://{settings['USER']}@{host}{port}/{settings['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_the_sweep_sent_through_the_broker():
    tenant_create(slug="acme", name="Acme")
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": _database_url()}
    worker = subprocess.Popen(
        celery_worker_argv("-Q", queue),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        app.send_task("helpdesk.sweep", queue=queue)
        deadline, seen = time.monotonic() + 60, ""
        while time.monotonic() < deadline and "succeeded" not in seen:
            line = worker.stdout.readline()
            assert line or worker.poll() is None, seen
            seen += line
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert "sweep done: {'claimed': 0" in seen
    assert "Task helpdesk.sweep" in seen and "succeeded" in seen
