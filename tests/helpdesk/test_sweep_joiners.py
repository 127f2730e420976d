"""A storm's sweep asks the worker pool for SWEEP_JOINERS more sweeps (helpdesk/tasks.py), so every process drains
it; a sweep that found less than a batch asks for none, and a joiner never asks. Celery's eager mode: the real
task, its joiners sent through apply_async and run at once in this process (after the first full claim's commit)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from celery.signals import task_prerun
from django.utils import timezone

from helpdesk import tasks, workflows
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

    def broker_away(at):
        raise ConnectionError("the broker is away")

    with caplog.at_level(logging.ERROR, logger="django.db.backends.base"):
        report = workflows.sweep(on_backlog=broker_away)
    assert report.backlog is True and report.failed_tenants == 0
    assert "the broker is away" in caplog.text
    assert _drained(tenants)


def test_the_joiners_sweep_at_the_moment_of_the_sweep_they_join(celery_eager, settings, storm):
    """A joiner takes the sweep's moment: a ticket either of them marks for the escalation stage (its SLA batch's
    moment) is due for the other's claims too. With a moment of its own, a joiner's marks were later than the
    sweep's, invisible to its claims: they came back short and ended its stage (bench/SWEEP.md, fifth round)."""
    settings.SWEEP_JOINERS = 2
    sent = []

    def record(sender=None, kwargs=None, **_):
        if sender is not None and sender.name == "helpdesk.sweep":
            sent.append(dict(kwargs or {}))

    moments = []

    def found(at):  # the task's own hook (tasks._ask_for_joiners), its moment recorded
        moments.append(at)
        tasks._ask_for_joiners(at)

    task_prerun.connect(record, weak=False)
    try:
        workflows.sweep(on_backlog=found)
    finally:
        task_prerun.disconnect(record)
    assert len(moments) == 1
    assert [kwargs.get("at") for kwargs in sent] == [moments[0].isoformat()] * 2  # both joiners, at its moment
    assert _drained(storm)


def test_a_joiner_takes_what_was_due_at_the_moment_it_joins(storm):
    """`joining` is the stages' moment: tickets marked due a minute from now are not due for a sweep now, and are
    for one joining a sweep of that moment."""
    tenants = storm
    later = timezone.now() + timedelta(minutes=1)
    for tenant, ids in tenants:
        with tenant_context(tenant):
            Ticket.objects.filter(pk__in=ids).update(rules_due_at=later)
    assert workflows.sweep().tenants == 0 and not _drained(tenants)
    assert workflows.sweep(joining=later).tenants == 2 and _drained(tenants)  # claimed, their rules run
