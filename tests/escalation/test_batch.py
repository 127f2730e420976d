"""The sweep opens escalations set-based (escalation/batch.py); the decisions must be exactly those of the
one-at-a-time path (engine.evaluate_time_rules, which opens them through services.rules_fire and
routing.route's SQL) on the same data: who receives each escalation, its team, tier, fallback and fired rules,
with capacity and round robin consumed escalation after escalation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from callnotes import services as calls
from escalation import batch, engine
from escalation.models import Escalation, RuleFiring
from helpdesk import config_cache, workflows
from helpdesk.models import Membership, OutboxEvent, Role
from helpdesk.services import membership_create
from helpdesk.tenancy import tenant_context
from slas.models import SlaTimer
from tickets.models import Message, Ticket, TicketEvent

TICKETS = 12


class _Undo(Exception):
    pass


@pytest.fixture
def storm(db):
    """A tenant with managers of small capacity (they run out mid-batch), one away, tier-2 agents; a rule whose
    skill nobody has (the managers' queue takes it); twelve urgent tickets, some held by a manager (excluded
    from receiving their own), all past their first-response deadline, the SLA stage run."""
    tenant = workflows.tenant_bootstrap(slug="storm", name="Storm")
    managers = [
        membership_create(tenant=tenant, username=f"boss{i}", role=Role.MANAGER, tier=3, capacity=cap)
        for i, cap in enumerate((3, 4, 5))
    ]
    away = membership_create(tenant=tenant, username="away", role=Role.MANAGER, tier=3, capacity=9)
    for i in range(3):
        membership_create(tenant=tenant, username=f"senior{i}", role=Role.AGENT, tier=2, capacity=2 + i)
    with tenant_context(tenant):
        Membership.objects.filter(pk=away.pk).update(available=False)
        workflows.rule_create(
            tenant=tenant, actor=None, name="Quantum", slug="quantum", trigger="sla_risk",
            conditions={"breached": True}, kind="functional", target_skill="quantum", response_minutes=60,
            position=61,
        )  # fmt: skip
        tickets = [_urgent(tenant, i) for i in range(TICKETS)]
        Ticket.objects.filter(pk__in=[t.pk for t in tickets[::4]]).update(assignee=managers[0])
    later = timezone.now() + timedelta(hours=2)
    assert workflows._sweep_timers(later, workflows.SweepReport()) == TICKETS
    return tenant, [t.pk for t in tickets], later


def _urgent(tenant, i: int):
    return workflows.ticket_open(
        tenant=tenant,
        actor=None,
        subject=f"Printer {i}",
        description="How do I add a printer?",
        priority="urgent",
        requester_email=f"c{i % 5}@example.test",
    )


def _decisions(ticket_ids):
    firings = {}
    for escalation_id, slug in RuleFiring.objects.filter(ticket_id__in=ticket_ids).values_list(
        "escalation_id", "rule__slug"
    ):
        firings.setdefault(escalation_id, []).append(slug)
    return [
        (e.ticket_id, e.trigger, e.kind, e.agent_id, e.team_id, e.from_tier, e.to_tier, e.fallback_reason,
         e.to_call, e.reason, sorted(firings.get(e.pk, [])))
        for e in Escalation.objects.filter(ticket_id__in=ticket_ids).order_by("pk")
    ]  # fmt: skip


def _effects(ticket_ids):
    """What else the opening wrote, comparable across the two paths (ids aside)."""
    tickets = Ticket.objects.filter(pk__in=ticket_ids).values_list(
        "pk", "tier", "assignee_id", "team_id", "priority", "escalated", "escalation_count"
    )
    events = TicketEvent.objects.filter(ticket_id__in=ticket_ids, kind="escalated").values_list("ticket_id", "before")
    clocks = SlaTimer.objects.filter(ticket_id__in=ticket_ids, escalation_id__gt=0).values_list(
        "ticket_id", "metric", "status", "target_minutes", "due_at", "warn_percents", "pauses"
    )
    outbox = OutboxEvent.objects.filter(payload__ticket__in=ticket_ids).values_list(
        "type", "payload__ticket", "payload__text", "payload__milestone"
    )
    messages = Message.objects.filter(ticket_id__in=ticket_ids).values_list(
        "ticket_id", "author_type", "body", "internal"
    )
    kinds = TicketEvent.objects.filter(ticket_id__in=ticket_ids).values_list("ticket_id", "kind")
    return {name: sorted(map(repr, rows)) for name, rows in [("tickets", tickets), ("events", events),
            ("clocks", clocks), ("outbox", outbox), ("messages", messages), ("event kinds", kinds)]}  # fmt: skip


def test_the_batch_decides_every_escalation_as_one_at_a_time_does(storm):
    tenant, ticket_ids, later = storm
    with tenant_context(tenant):
        try:
            with transaction.atomic():
                one_by_one = engine.evaluate_time_rules(ticket_ids=set(ticket_ids), at=later)
                expected, expected_effects = _decisions(ticket_ids), _effects(ticket_ids)
                raise _Undo
        except _Undo:
            pass
        assert Escalation.objects.count() == 0  # the reference run left nothing behind
        opened = batch.open_due(ticket_ids=ticket_ids, at=later)
        got = _decisions(ticket_ids)
        assert opened == one_by_one == len(expected)
        # Both kinds, every routing outcome: a manager, the queue once capacity ran out, the fallback.
        assert {row[2] for row in got} == {"hierarchical", "functional"}
        assert any(row[3] is None for row in got) and any(row[3] is not None for row in got)
        assert any(row[7] for row in got)
        for index, (want, have) in enumerate(zip(expected, got, strict=True)):
            assert have == want, f"decision {index} differs"
        assert _effects(ticket_ids) == expected_effects


def test_a_reinforcement_that_wants_a_call_marks_the_escalation_it_reinforces(storm):
    """A second functional rule with to_call fires with the at-risk rule: it reinforces the escalation the batch is
    opening for the same ticket (not stored yet), which then wants a call, as one at a time."""
    tenant, ticket_ids, later = storm
    with tenant_context(tenant):
        workflows.rule_create(
            tenant=tenant, actor=None, name="Long at tier 1, call", slug="tier1-call", trigger="time_open",
            conditions={"business_hours": 1, "tier": 1}, kind="functional", target_tier=2, response_minutes=60,
            to_call=True, position=131,
        )  # fmt: skip
        try:
            with transaction.atomic():
                engine.evaluate_time_rules(ticket_ids=set(ticket_ids), at=later)
                expected, expected_effects = _decisions(ticket_ids), _effects(ticket_ids)
                raise _Undo
        except _Undo:
            pass
        batch.open_due(ticket_ids=ticket_ids, at=later)
        got = _decisions(ticket_ids)
        reinforced = TicketEvent.objects.filter(ticket_id__in=ticket_ids, kind="escalation_reinforced")
        assert any(e.after["rule"] == "tier1-call" and e.after["to_call"] for e in reinforced)
        assert all(e.after["escalation"] is not None for e in reinforced)
        assert got == expected
        assert _effects(ticket_ids) == expected_effects


def test_the_batch_claims_exactly_once(storm):
    tenant, ticket_ids, later = storm
    with tenant_context(tenant):
        first = batch.open_due(ticket_ids=ticket_ids, at=later)
        assert first > 0
        assert batch.open_due(ticket_ids=ticket_ids, at=later) == 0
        assert engine.evaluate_time_rules(ticket_ids=set(ticket_ids), at=later) == 0
        assert Escalation.objects.count() == first


def _statements(work) -> int:
    """The statements `work` runs, rolled back afterwards (the next measurement starts from the same data)."""
    with CaptureQueriesContext(connection) as captured:
        try:
            with transaction.atomic():
                work()
                raise _Undo
        except _Undo:
            pass
    return len([q for q in captured.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))])


def test_a_tenant_batch_costs_the_same_statements_for_6_or_12_due_tickets(storm):
    """The escalation stage's share of one tenant: a constant number of statements whatever its size (each
    input read once, each table written once), so a storm's cost grows with its tenants, not its tickets."""
    tenant, ticket_ids, later = storm
    with tenant_context(tenant):
        _statements(lambda: _run(ticket_ids, later))  # the matrix and policies cached, as in a running worker
        # The last six: routing's every outcome is among them too (a manager, the queue, the fallback).
        counts = {n: _statements(lambda n=n: _run(ticket_ids[-n:], later)) for n in (6, 12)}
        opened = {n: _opened(lambda n=n: _run(ticket_ids[-n:], later)) for n in (6, 12)}
    assert opened[12] > opened[6] > 0
    assert counts[6] == counts[12], counts
    assert counts[12] <= 28, counts  # 33 before the facts and the board were one read each


def _run(ids, at):
    """The sweep's escalation stage for one tenant's share (workflows._sweep_rules)."""
    with config_cache.pinned():
        engine.rules_run_due(ticket_ids=ids, at=at)
        calls.call_requests_for_tickets(ticket_ids=ids, at=at)


def _opened(work) -> int:
    try:
        with transaction.atomic():
            work()
            count = Escalation.objects.count()
            raise _Undo
    except _Undo:
        return count


def test_the_stage_claims_whole_tenant_shares_oldest_tenant_first(db):
    """A storm spread over many tenants: a claim takes the tenants of the oldest due tickets with all their due
    tickets, tenant by tenant, rather than the oldest tickets one or two per tenant (each share has a fixed cost)."""
    now = timezone.now()
    due = {}
    for slug, minutes in (("first", (50, 30, 10)), ("second", (40, 20, 5))):
        tenant = workflows.tenant_bootstrap(slug=slug, name=slug.title())
        with tenant_context(tenant):
            for i, ago in enumerate(minutes):
                ticket = workflows.ticket_open(
                    tenant=tenant, actor=None, subject=f"T{i}", description="d", requester_email=f"r{i}@example.test"
                )
                Ticket.objects.filter(pk=ticket.pk).update(rules_due_at=now - timedelta(minutes=ago))
                due.setdefault(tenant.pk, []).append(ticket.pk)
    first, second = list(due)
    with transaction.atomic():
        claimed = engine.rules_claim_due(now=now, limit=4)
    # The old claim took the four oldest: two of each tenant. Now: all of the oldest tenant's, then the next's.
    assert claimed == {first: due[first], second: due[second][:1]}
    with transaction.atomic():
        assert engine.rules_claim_due(now=now, limit=10) == due
