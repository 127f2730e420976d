"""A storm's sweep asks the worker pool for SWEEP_JOINERS more sweeps (helpdesk/tasks.py), so every process drains
it; a sweep that found less than a batch asks for none, and a joiner never asks. Celery's eager mode: the real
task, its joiners sent through apply_async and run at once in this process (after the first full claim's commit)."""

from __future__ import annotations

import logging

import pytest
from celery.signals import task_prerun
from django.utils import timezone

from helpdesk import workflows
from helpdesk.tasks import sweep_task
from helpdesk.tenancy import tenant_context
from tests.escalation.test_batch import _stormy
from tickets.models import Ticket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sweeps_run():
    """The helpdesk.sweep tasks that ran, in order: whether each was a joiner."""
    runs: list[bool] = []

    def record(sender=None, kwargs=None, **_):
        if sender is not None and sender.name == "helpdesk.sweep":
            runs.append(bool((kwargs or {}).get("joiner")))

    task_prerun.connect(record, weak=False)
    yield runs
    task_prerun.disconnect(record)


@pytest.fixture
def storm(monkeypatch):
    """Two tenants of three tickets each due for their time rules, claims of three: the first claim comes back full."""
    tenants = [_stormy(slug, 3, capacities=(2, 2, 2), quantum=False) for slug in ("north", "south")]
    for tenant, ids in tenants:
        with tenant_context(tenant):
            assert Ticket.objects.filter(pk__in=ids).update(rules_due_at=timezone.now()) == 3
    monkeypatch.setattr(workflows, "ESCALATION_BATCH", 3)
    return tenants


def _drained(tenants) -> bool:
    """Every ticket's time rules ran (the mark cleared)."""
    for tenant, ids in tenants:
        with tenant_context(tenant):
            if Ticket.objects.filter(pk__in=ids, rules_due_at__isnull=False).exists():
                return False
    return True


@pytest.mark.parametrize("joiners", [0, 1, 2])
def test_a_sweep_whose_claim_came_back_full_asks_for_sweep_joiners_joiners(
    celery_eager, settings, sweeps_run, storm, joiners
):
    tenants = storm
    settings.SWEEP_JOINERS = joiners
    report = sweep_task.apply_async().get()
    assert report["backlog"] is True
    assert sweeps_run == [False] + [True] * joiners  # the joiners ask for none themselves
    assert _drained(tenants)


def test_a_sweep_that_found_less_than_a_batch_asks_for_none(celery_eager, settings, sweeps_run, storm, monkeypatch):
    tenants = storm
    settings.SWEEP_JOINERS = 2
    monkeypatch.setattr(workflows, "ESCALATION_BATCH", 7)
    report = sweep_task.apply_async().get()
    assert report["backlog"] is False
    assert sweeps_run == [False]
    assert _drained(tenants)


def test_a_joiner_asks_for_none_even_when_its_claim_comes_back_full(celery_eager, settings, sweeps_run, storm):
    tenants = storm
    settings.SWEEP_JOINERS = 2
    report = sweep_task.apply_async(kwargs={"joiner": True}).get()
    assert report["backlog"] is True
    assert sweeps_run == [True]
    assert _drained(tenants)


def test_a_sweep_whose_call_for_help_fails_goes_on_with_its_own_work(storm, caplog):
    """The broker away when the joiners are sent: the sweep logs it and drains the storm alone."""
    tenants = storm

    def broker_away():
        raise ConnectionError("the broker is away")

    with caplog.at_level(logging.ERROR, logger="django.db.backends.base"):
        report = workflows.sweep(on_backlog=broker_away)
    assert report.backlog is True and report.failed_tenants == 0
    assert "the broker is away" in caplog.text
    assert _drained(tenants)
