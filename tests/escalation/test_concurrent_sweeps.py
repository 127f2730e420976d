"""Sweeps running at the same time (a storm's sweep and the joiners it asked the pool for, helpdesk/tasks.py) decide
every escalation as one sweep after the other would: the escalation stage's claim holds whole tenants
(escalation/0021; the watch stage's, escalation/0022), so routing — which reads the members' load and round-robin
order without row locks — never decides one tenant in two transactions at once. Real threads, each with its own
connection."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from escalation import engine
from escalation.models import ACTIVE_STATUSES, Escalation, EscalationRule, TimeWatch
from escalation.watches import watches_claim_due
from helpdesk import workflows
from helpdesk.models import Membership
from helpdesk.tenancy import tenant_context
from tests.escalation.test_batch import _decisions, _stormy
from tickets.models import Ticket

pytestmark = pytest.mark.django_db(transaction=True)


class _Undo(Exception):
    pass


def _marked(tenants) -> datetime:
    """Every tenant's urgent tickets past their first-response deadline, the SLA stage drained: the escalation
    stage alone is left, every ticket due for its time rules at the same moment."""
    later = timezone.now() + timedelta(hours=2)
    while workflows._sweep_timers(later, workflows.SweepReport()):
        pass
    for tenant, ids in tenants:
        with tenant_context(tenant):
            assert set(Ticket.objects.filter(rules_due_at=later).values_list("pk", flat=True)) == set(ids)
    return later


def _outcome(tenants) -> dict:
    """Each tenant's decisions, ticket by ticket, and each member's open escalations next to their capacity."""
    outcome = {}
    for tenant, ids in tenants:
        with tenant_context(tenant):
            load = {
                m.pk: (Escalation.objects.filter(agent_id=m.pk, status__in=ACTIVE_STATUSES).count(), m.capacity)
                for m in Membership.objects.all()
            }
            outcome[tenant.slug] = {"decisions": sorted(_decisions(ids)), "load": load}
    return outcome


def _in_sequence(tenants, later) -> dict:
    """One sweep alone, rolled back: the reference."""
    try:
        with transaction.atomic():
            workflows.sweep(now=later)
            expected = _outcome(tenants)
            raise _Undo
    except _Undo:
        pass
    return expected


@contextmanager
def _held_by_another_claim(later, *, limit: int):
    """Another sweep's escalation claim (`limit` tickets), made on a thread's connection and held open while the block
    runs; yields what it claimed. Committed on the way out (its tickets stay due: it ran no rules)."""
    claimed, release, held, failures = threading.Event(), threading.Event(), [], []

    def hold():
        try:
            with transaction.atomic():
                held.append(engine.rules_claim_due(now=later, limit=limit))
                claimed.set()
                release.wait(timeout=60)
        except Exception as exc:  # reported by the test, not lost in the thread
            failures.append(exc)
            claimed.set()
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert claimed.wait(timeout=60) and not failures, failures
        yield held[0]
    finally:
        release.set()
        holder.join(timeout=60)


def _at_once(count: int, work) -> list:
    """`work()` in `count` threads released at the same moment, each on its own connection; their results."""
    barrier = threading.Barrier(count)
    results: list = []
    failures: list = []

    def run():
        try:
            barrier.wait(timeout=30)
            results.append(work())
        except Exception as exc:  # reported by the test, not lost in the thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not failures, failures
    return results


def test_two_sweeps_at_once_route_every_tenant_as_one_sweep_after_the_other(monkeypatch):
    """Four tenants whose managers run out of capacity mid-storm, claims of three tickets (a tenant's share spans
    claims, so both sweeps want the same tenant): every due escalation opened once, with the decisions of the
    sequential run, and nobody past their capacity."""
    tenants = [_stormy(f"storm{i}", 9, capacities=(1, 2, 2)) for i in range(4)]
    later = _marked(tenants)
    monkeypatch.setattr(workflows, "ESCALATION_BATCH", 3)
    expected = _in_sequence(tenants, later)
    for slug, seen in expected.items():  # the reference respects every capacity, and some ran out
        assert all(load <= capacity for load, capacity in seen["load"].values()), slug
        assert any(load == capacity > 0 for load, capacity in seen["load"].values()), slug
    assert sum(len(seen["decisions"]) for seen in expected.values()) > 0

    reports = _at_once(2, lambda: workflows.sweep(now=later))

    assert _outcome(tenants) == expected
    opened = sum(len(seen["decisions"]) for seen in expected.values())
    assert sum(report.escalated for report in reports) == opened
    assert all(report.failed_tenants == 0 for report in reports)
    assert all(report.escalated for report in reports), [r.escalated for r in reports]  # both did some of it


def test_a_tenant_another_claim_holds_is_skipped_not_waited_on_and_the_next_claim_takes_it():
    (north, north_ids), (south, south_ids) = tenants = [_stormy(s, 4, capacities=(2, 2, 2)) for s in ("north", "south")]
    later = _marked(tenants)
    with _held_by_another_claim(later, limit=2) as held:
        assert held == {north.pk: sorted(north_ids)[:2]}
        started = time.monotonic()
        with transaction.atomic():
            # Not north's other two: their routing would read north's board while the holder decides on it.
            assert engine.rules_claim_due(now=later, limit=100) == {south.pk: sorted(south_ids)}
        assert time.monotonic() - started < 5  # skipped, not waited on
    with transaction.atomic():  # the holder committed (its tickets still due: it ran no rules): north is free again
        assert engine.rules_claim_due(now=later, limit=100) == {
            north.pk: sorted(north_ids),
            south.pk: sorted(south_ids),
        }


def test_a_claim_takes_the_oldest_tenants_only_until_its_limit_and_leaves_the_others_to_another_claim():
    """The tenant locks are taken only as far as the limit needs: a second claim at the same moment finds the
    tenants the first one left, rather than tenants locked for rows its LIMIT dropped."""
    tenants = [_stormy(s, 3, capacities=(2, 2, 2), quantum=False) for s in ("one", "two", "three")]
    later = _marked(tenants)
    ids = {tenant.pk: sorted(tickets) for tenant, tickets in tenants}
    first, second, third = sorted(ids)
    with transaction.atomic():
        assert engine.rules_claim_due(now=later, limit=4) == {first: ids[first], second: ids[second][:1]}
        other = _at_once(1, lambda: _claim(later, 100))
    assert other == [{third: ids[third]}]


def _claim(later, limit):
    with transaction.atomic():
        return engine.rules_claim_due(now=later, limit=limit)


def test_the_watch_stage_skips_a_tenant_another_sweeps_escalation_claim_holds():
    """The watch stage routes too (a time_open rule opens escalations): a tenant whose routing another sweep's
    escalation claim is deciding is skipped by the watch claim, not decided alongside it (escalation/0022; the
    review of the joiner merge), and taken once that claim commits."""
    (north, _), (south, _) = tenants = [_stormy(s, 2, capacities=(2, 2, 2)) for s in ("north", "south")]
    later = _marked(tenants)
    watches = {}
    for tenant, ids in tenants:
        with tenant_context(tenant):
            rule = EscalationRule.objects.order_by("pk").first()
            watches[tenant.pk] = sorted(
                TimeWatch.objects.create(tenant=tenant, ticket_id=pk, rule=rule, due_at=later - timedelta(minutes=1)).pk
                for pk in ids
            )
    with _held_by_another_claim(later, limit=2) as held:  # another sweep's escalation claim on north
        assert set(held) == {north.pk}
        started = time.monotonic()
        with transaction.atomic():
            assert watches_claim_due(now=later, limit=100) == {south.pk: watches[south.pk]}
        assert time.monotonic() - started < 5  # skipped, not waited on
    with transaction.atomic():
        assert watches_claim_due(now=later, limit=100) == watches
