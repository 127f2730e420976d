"""A real Celery worker consumes the sweep through Redis and runs it against the database."""

import os
import subprocess
import time
import uuid
from datetime import UTC, datetime

import pytest
from django.db import connection

from helpdesk import workflows
from helpdesk.celery import app
from helpdesk.services import tenant_create
from helpdesk.tenancy import tenant_context
from metrics.models import TicketDay
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


def _run_on_a_worker(task: str) -> str:
    """Sends `task` through the broker to a real worker on a queue of its own; returns the worker's log once the
    task succeeded (or after 60 s)."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": _database_url()}
    worker = subprocess.Popen(
        celery_worker_argv("-Q", queue), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        app.send_task(task, queue=queue)
        deadline, seen = time.monotonic() + 60, ""
        while time.monotonic() < deadline and "succeeded" not in seen:
            line = worker.stdout.readline()
            assert line or worker.poll() is None, seen
            seen += line
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    return seen


@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_the_sweep_sent_through_the_broker():
    tenant_create(slug="acme", name="Acme")
    seen = _run_on_a_worker("helpdesk.sweep")
    assert "sweep done: {'claimed': 0" in seen
    assert "Task helpdesk.sweep" in seen and "succeeded" in seen


@pytest.mark.django_db(transaction=True)
def test_beat_schedules_and_a_worker_runs_the_daily_counts_compaction():
    """The delta rows the triggers append are folded by the task beat sends every few minutes."""
    app.finalize()
    entry = app.conf.beat_schedule["metrics-ticket-days-compact"]
    assert entry["task"] == "metrics.compact_ticket_days"
    tenant = tenant_create(slug="acme", name="Acme")
    with tenant_context(tenant):
        for n in range(3):
            at = datetime(2026, 10, 24, 9, tzinfo=UTC)
            workflows.ticket_open(
                tenant=tenant,
                actor=None,
                subject=f"T{n}",
                description="x",
                requester_email=f"c{n}@x.test",
                created_at=at,
            )
        assert list(TicketDay.objects.values_list("tickets", "delta")) == [(1, True)] * 3
    seen = _run_on_a_worker("metrics.compact_ticket_days")
    assert "Task metrics.compact_ticket_days" in seen and "succeeded in" in seen and ": 3" in seen
    with tenant_context(tenant):
        assert list(TicketDay.objects.values_list("tickets", "finished", "delta")) == [(3, 0, False)]
