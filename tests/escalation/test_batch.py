"""The sweep opens escalations set-based (escalation/batch.py); the decisions must be exactly those of the
one-at-a-time path (engine.evaluate_time_rules, which opens them through services.rules_fire and
routing.route's SQL) on the same data: who receives each escalation, its team, tier, fallback and fired rules,
with capacity and round robin consumed escalation after escalation."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.db import ProgrammingError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from callnotes import services as calls
from escalation import batch, claim_reads, engine, triggers
from escalation import selectors as escalation_selectors
from escalation.models import Escalation, EscalationRule, RuleFiring
from helpdesk import config_cache, share_reads, workflows
from helpdesk.models import Membership, OutboxEvent, Role, Team
from helpdesk.services import membership_create
from helpdesk.tenancy import tenant_batch, tenant_context, tenant_reads, tenant_shares
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
    tenant, tickets = _stormy("storm", TICKETS)
    later = timezone.now() + timedelta(hours=2)
    assert workflows._sweep_timers(later, workflows.SweepReport()) == TICKETS
    return tenant, tickets, later


def _stormy(slug: str, count: int, *, capacities=(3, 4, 5), quantum: bool = True):
    """The storm fixture's tenant: its managers (of these capacities), one away, tier-2 agents, the quantum rule
    (optional), `count` urgent tickets, every fourth held by the first manager. Returns (tenant, ticket ids)."""
    tenant = workflows.tenant_bootstrap(slug=slug, name=slug.title())
    managers = [
        membership_create(tenant=tenant, username=f"{slug}-boss{i}", role=Role.MANAGER, tier=3, capacity=cap)
        for i, cap in enumerate(capacities)
    ]
    away = membership_create(tenant=tenant, username=f"{slug}-away", role=Role.MANAGER, tier=3, capacity=9)
    for i in range(3):
        membership_create(tenant=tenant, username=f"{slug}-senior{i}", role=Role.AGENT, tier=2, capacity=2 + i)
    with tenant_context(tenant):
        Membership.objects.filter(pk=away.pk).update(available=False)
        if quantum:
            workflows.rule_create(
                tenant=tenant, actor=None, name="Quantum", slug="quantum", trigger="sla_risk",
                conditions={"breached": True}, kind="functional", target_skill="quantum", response_minutes=60,
                position=61,
            )  # fmt: skip
        tickets = [_urgent(tenant, i) for i in range(count)]
        Ticket.objects.filter(pk__in=[t.pk for t in tickets[::4]]).update(assignee=managers[0])
    return tenant, [t.pk for t in tickets]


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
    for escalation_id, slug, fallback in RuleFiring.objects.filter(ticket_id__in=ticket_ids).values_list(
        "escalation_id", "rule__slug", "fallback_reason"
    ):
        firings.setdefault(escalation_id, []).append((slug, fallback))
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
    # What the database's triggers copy onto an escalation from its ticket and clocks (escalation 0017): the pass
    # writes the escalations at the claim's end, after its own writes were recorded, in another order.
    with connection.cursor() as cursor:  # columns of the database alone (the metrics read them)
        cursor.execute(
            "SELECT ticket_id, kind, ticket_status, ticket_priority, ticket_team_id, ticket_clocks_met,"
            " ticket_clocks_stopped, clock_acknowledge, clock_first_response, clock_update_misses"
            " FROM escalation_escalation WHERE ticket_id = ANY(%s)",
            [list(ticket_ids)],
        )
        facts = cursor.fetchall()
    return {name: sorted(map(repr, rows)) for name, rows in [("tickets", tickets), ("events", events),
            ("clocks", clocks), ("outbox", outbox), ("messages", messages), ("event kinds", kinds),
            ("escalation facts", facts), *_rows(ticket_ids)]}  # fmt: skip


# Ids that differ between the two paths (the reference run's rows were rolled back, their ids spent).
_IDS = {"id", "escalation", "escalation_id", "message", "rule", "rule_id", "call"}


def _without_ids(value):
    if isinstance(value, dict):
        return {key: _without_ids(item) for key, item in value.items() if key not in _IDS}
    return value


def _rows(ticket_ids):
    """Every column of the rows the opening wrote, ids aside (the escalations' rule by slug): both paths build
    the same instances (helpdesk.bulk.new), so the batch's rows must equal the ORM's save of them."""
    escalations = Escalation.objects.filter(ticket_id__in=ticket_ids).values()
    clocks = SlaTimer.objects.filter(ticket_id__in=ticket_ids, escalation_id__gt=0).values()
    events = TicketEvent.objects.filter(ticket_id__in=ticket_ids).values("ticket_id", "kind", "actor_id",
                                                                         "actor_label", "before", "after")  # fmt: skip
    outbox = OutboxEvent.objects.filter(payload__ticket__in=ticket_ids).values("type", "payload")
    stamped = {"created_at", "updated_at"}  # the clocks' auto_now columns: when each path ran
    return [
        ("escalation rows", [_without_ids(row) for row in escalations]),
        ("clock rows", [_without_ids({k: v for k, v in row.items() if k not in stamped}) for row in clocks]),
        ("event rows", [_without_ids(row) for row in events]),
        ("outbox payloads", [_without_ids(row) for row in outbox]),
    ]


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


# --- a claim over several tenants: one pass (workflows._rules_all) -----------------------------------------


@pytest.fixture
def claim(db):
    """Three tenants due at once, configured differently (capacities, the quantum rule in two of them only), so a
    share decided with another tenant's board or matrix would decide differently."""
    tenants = [
        _stormy("north", 6, capacities=(3, 4, 5)),
        _stormy("south", 5, capacities=(1, 1, 2), quantum=False),
        _stormy("east", 7, capacities=(2, 6, 1)),
    ]
    later = timezone.now() + timedelta(hours=2)
    assert workflows._sweep_timers(later, workflows.SweepReport()) == 18
    return tenants, later


def _reference(tenants, at) -> dict:
    """The one-at-a-time path with the stage's call requests, tenant by tenant, rolled back: decisions and
    effects by tenant."""
    expected = {}
    for tenant, ids in tenants:
        with tenant_context(tenant):
            try:
                with transaction.atomic():
                    engine.evaluate_time_rules(ticket_ids=set(ids), at=at)
                    calls.call_requests_for_tickets(ticket_ids=ids, at=at)
                    expected[tenant.slug] = (_decisions(ids), _effects(ids))
                    raise _Undo
            except _Undo:
                pass
    return expected


def test_one_pass_over_a_claim_of_three_tenants_decides_as_one_at_a_time(claim, caplog):
    tenants, later = claim
    expected = _reference(tenants, later)
    report = workflows.SweepReport()
    config_cache._entries.clear()  # a cold worker: the pass reads the three matrices and policies in one go
    with caplog.at_level(logging.WARNING, logger="helpdesk.workflows"):
        assert workflows._sweep_rules(later, report) == 18
    assert "tenant by tenant" not in caplog.text  # the one pass, not the fallback
    assert report.escalated == sum(len(decisions) for decisions, _ in expected.values()) > 0
    for tenant, ids in tenants:
        with tenant_context(tenant):
            got = _decisions(ids)
            assert got == expected[tenant.slug][0], tenant.slug
            assert _effects(ids) == expected[tenant.slug][1], tenant.slug
            assert not Ticket.objects.filter(pk__in=ids, rules_due_at__isnull=False).exists()
            own = set(Membership.objects.values_list("pk", flat=True))
            assert {row[3] for row in got} - {None} <= own  # every receiver is one of the tenant's members
    # Routing outcomes differ by tenant configuration: the quantum rule's fallback only where it exists.
    assert any(row[7] for row in expected["north"][0]) and not any(row[7] for row in expected["south"][0])
    # The call requests are decided too (from the claim's reads and the shares' escalations in memory).
    assert all(any("call_suggested" in kind for kind in effects["event kinds"]) for _, effects in expected.values())


def test_a_failing_share_sends_the_claim_tenant_by_tenant(claim, monkeypatch, caplog):
    """One tenant's share fails inside the pass: the whole pass rolls back and the claim runs tenant by tenant, the
    failing tenant rolled back alone (its tickets stay due), the others escalated as one at a time."""
    tenants, later = claim
    expected = _reference(tenants, later)
    broken = tenants[1][0]
    real = engine.rules_run_due

    def failing(*, ticket_ids, at):
        from helpdesk.tenancy import current_tenant

        if current_tenant().pk == broken.pk:
            raise RuntimeError("a broken share")
        return real(ticket_ids=ticket_ids, at=at)

    monkeypatch.setattr(engine, "rules_run_due", failing)
    report = workflows.SweepReport()
    with caplog.at_level(logging.WARNING, logger="helpdesk.workflows"):
        workflows._sweep_rules(later, report)
    assert "tenant by tenant" in caplog.text and report.failed_tenants == 1
    for tenant, ids in tenants:
        with tenant_context(tenant):
            if tenant.pk == broken.pk:
                assert Escalation.objects.count() == 0
                assert Ticket.objects.filter(pk__in=ids, rules_due_at__isnull=False).count() == len(ids)
            else:
                assert _decisions(ids) == expected[tenant.slug][0], tenant.slug


def test_inside_the_pass_a_share_sees_its_own_configuration_only(claim):
    """tenant_shares: a share's reads of anything outside the batch tables (members, call templates) see its tenant
    alone, it cannot write another tenant's rows; the batch tables show the claim's tenants (rows are named by id),
    the matrices and policies read-only (the pass reads them once for all; each share is handed its own)."""
    (north, _), (south, _), _ = claim[0]

    def tenants_of(table):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT DISTINCT tenant_id FROM {table} ORDER BY 1")
            return [row[0] for row in cursor.fetchall()]

    with transaction.atomic():
        with tenant_batch([north.pk, south.pk]), tenant_shares() as share:
            for tenant in (north, south):
                with share(tenant):
                    for table in ("helpdesk_membership", "callnotes_callnotetemplate"):
                        assert tenants_of(table) == [tenant.pk], table
                    for table in ("tickets_ticket", "escalation_escalationrule", "slas_slapolicy"):
                        assert tenants_of(table) == [north.pk, south.pk], table
                    other = south if tenant == north else north
                    with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
                        Team.unscoped.create(tenant=other, name="smuggled", tier=1)
                    assert EscalationRule.unscoped.filter(tenant=other).update(name="smuggled") == 0  # read-only
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('app.tenant_id', true)")
            assert not cursor.fetchone()[0]  # restored on the way out: no tenant
    assert tenants_of("tickets_ticket") == []


def test_the_claims_reads_see_the_claimed_tenants_only_and_each_share_is_handed_its_own(claim):
    """claim_reads: under tenant_reads the pass reads the claimed tenants' members and teams (read only) and no other
    tenant's; each share is handed rows of its own tenant only; once the reads are done, and so inside every share,
    those tables show no other tenant again."""
    (north, north_ids), (south, south_ids), (east, _) = claim[0]
    later = claim[1]
    for tenant in (north, south, east):
        with tenant_context(tenant):
            Team.objects.create(tenant=tenant, name="desk", tier=1)

    def tenants_of(table):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT DISTINCT tenant_id FROM {table} ORDER BY 1")
            return [row[0] for row in cursor.fetchall()]

    claimed = sorted([north.pk, south.pk])
    with transaction.atomic(), tenant_batch(claimed):
        with tenant_reads(claimed):
            for table in ("helpdesk_membership", "helpdesk_team"):
                assert tenants_of(table) == claimed, table  # east, not claimed, stays closed
            assert Membership.unscoped.filter(tenant=north).update(capacity=99) == 0  # read only
        for table in ("helpdesk_membership", "helpdesk_team", "tickets_resolutionattempt"):
            assert tenants_of(table) == [], table  # closed again before any share runs
        with tenant_reads(claimed):
            reads = claim_reads.claim_read({north.pk: north_ids, south.pk: south_ids}, later)
    assert set(reads) == {north.pk, south.pk}
    for tenant, ids in ((north, north_ids), (south, south_ids)):
        rows = reads[tenant.pk]["tickets"]
        assert rows.ticket_ids == ids and sorted(t.pk for t in rows.tickets) == sorted(ids)
        assert {t.tenant_id for t in rows.tickets} == {tenant.pk} and set(rows.parts) == set(ids)
        members, _, _, teams = reads[tenant.pk]["board"]
        assert members and {m["tenant_id"] for m in members} | {t["tenant_id"] for t in teams} == {tenant.pk}
        with tenant_context(tenant):
            own = set(Membership.objects.values_list("pk", flat=True))
        assert reads[tenant.pk]["manager_rows"] and {pk for pk, _ in reads[tenant.pk]["manager_rows"]} <= own


def test_the_call_requests_from_memory_answer_as_their_query(claim):
    """The pass decides the call requests from the claim's reads and the shares' escalations in memory
    (callnotes CallFacts): the same escalations, in the same order, as call_requests_for_tickets' query, over
    escalations that want a call with and without an earlier call, on tickets with a call open and with one
    cancelled, and on a ticket solved since."""
    from callnotes.models import Call, CallStatus

    tenants, later = claim
    workflows._sweep_rules(later, workflows.SweepReport())
    wanted = []
    for tenant, ids in tenants:
        with tenant_context(tenant):
            made = list(Call.objects.filter(ticket_id__in=ids).order_by("pk"))
            assert len(made) >= 2
            Call.objects.filter(pk=made[0].pk).update(status=CallStatus.CANCELLED)
            Escalation.objects.filter(ticket_id__in=ids).update(to_call=True)  # every one wants a call now
            Ticket.objects.filter(pk=ids[-1]).update(status="solved")
            rows = batch._rows(ids)
            rows.by_ticket = {}
            for escalation in rows.escalations:
                rows.by_ticket.setdefault(escalation.ticket_id, []).append(escalation)
            rows.others = list(
                batch.escalations_with_ladder(Escalation.objects.filter(ticket_id__in=set(ids) - set(rows.by_ticket)))
            )
            known = list(Call.objects.filter(ticket_id__in=ids).values_list("ticket_id", "escalation_id", "status"))
            queried = Escalation.objects.filter(
                ticket_id__in=ids, to_call=True, status__in=calls.WANTING_STATUSES, calls__isnull=True
            ).exclude(ticket__calls__status__in=calls.OPEN_STATUSES)
            expected = list(queried.order_by("pk").values_list("pk", flat=True))
            got = [e.pk for e in calls.CallFacts(rows, known).wanting(ids)]
            assert got == expected, tenant.slug
            # A share that decided nothing (no time rules): answered from the rows as read, with no query.
            undecided = batch.ShareRows(ids, rows.tickets, rows.escalations, others=rows.others)
            assert [e.pk for e in calls.CallFacts(undecided, known).wanting(ids)] == expected, tenant.slug
            assert rows.others and any(e.ticket_id == ids[-1] for e in rows.others)
            wanted += got
    assert wanted  # not an empty comparison


def test_inside_the_pass_a_share_sees_and_writes_the_escalations_and_calls_of_the_claim_only(claim):
    """The pass reads and writes the escalations, calls and time watches of its whole claim (CLAIM_BATCH_TABLES,
    CALL_BATCH_TABLES): a tenant outside the claim stays closed, for reading and writing; the scoped managers still
    show a share its own rows."""
    from callnotes.models import Call

    tenants, later = claim
    workflows._sweep_rules(later, workflows.SweepReport())  # every tenant escalated, calls requested
    (north, _), (south, _), (east, _) = tenants
    own = {}
    for tenant in (north, south, east):
        with tenant_context(tenant):
            own[tenant.pk] = (Escalation.objects.count(), Call.objects.count())
            assert own[tenant.pk][0] > 0 and own[tenant.pk][1] > 0, tenant.slug
            east_call = Call.objects.first() if tenant == east else None

    def tenants_of(table):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT DISTINCT tenant_id FROM {table} ORDER BY 1")
            return [row[0] for row in cursor.fetchall()]

    claimed = sorted([north.pk, south.pk])
    with transaction.atomic(), tenant_batch(claimed), tenant_shares() as share, share(north):
        for table in ("escalation_escalation", "callnotes_call"):
            assert tenants_of(table) == claimed, table  # east, not claimed, stays closed
        assert (Escalation.objects.count(), Call.objects.count()) == own[north.pk]
        assert Escalation.unscoped.filter(tenant=east).update(reason="smuggled") == 0
        assert Call.unscoped.filter(tenant=east).update(suggested_reason="smuggled") == 0
        with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
            Call.unscoped.create(tenant=east, ticket_id=east_call.ticket_id, created_at=timezone.now())


def test_a_share_enters_its_tenant_on_its_first_statement_that_needs_it(claim):
    """tenant_shares: entering a share costs nothing; its first statement not run `across()` enters its tenant
    first, so that statement and the next see that tenant alone, whichever share ran before. An `across()`
    statement enters nothing while the database has no tenant, but never runs as the tenant a share before left
    in the database: it enters the current share's first (one statement)."""
    from helpdesk.tenancy import across

    (north, _), (south, _), _ = claim[0]

    def members_tenants():
        with connection.cursor() as cursor:
            cursor.execute("SELECT DISTINCT tenant_id FROM helpdesk_membership ORDER BY 1")
            return [row[0] for row in cursor.fetchall()]

    def setting():
        with across(), connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('app.tenant_id', true)")
            return cursor.fetchone()[0]

    with transaction.atomic(), tenant_batch([north.pk, south.pk]), tenant_shares() as share:
        with CaptureQueriesContext(connection) as entering, share(north):
            pass
        assert len(entering.captured_queries) == 0
        with share(north), CaptureQueriesContext(connection) as free:
            assert setting() == ""  # an `across()` statement does not enter it
        assert len(free.captured_queries) == 1  # the statement alone: a share costs none
        with share(north):
            assert setting() == ""
            assert members_tenants() == [north.pk]
            assert setting() == str(north.pk)
        with share(south), CaptureQueriesContext(connection) as entered:
            assert setting() == str(south.pk)  # the share before left north: entered first, not run as north
            assert members_tenants() == [south.pk]
        assert len(entered.captured_queries) == 3  # entering south once, then the two statements
        with share(north):
            assert members_tenants() == [north.pk]
    assert members_tenants() == []


def test_the_ladder_from_the_claims_rows_answers_as_its_query(claim):
    """The pass's ladder (batch.ladder_of over the claim's rows, for every claimed ticket, open or solved since)
    finds the same escalations due to climb as engine._ladder_due's query."""
    tenants, later = claim
    workflows._sweep_rules(later, workflows.SweepReport())
    claimed = {tenant.pk: ids for tenant, ids in tenants}
    for tenant, ids in tenants:
        with tenant_context(tenant):
            clocks = SlaTimer.objects.filter(ticket_id__in=ids, escalation_id__gt=0, metric__in=engine.LADDER_METRICS)
            assert clocks.filter(ticket_id__in=ids[1:]).update(breached_at=later) > 0
            Ticket.objects.filter(pk=ids[-1]).update(status="solved")
    with transaction.atomic(), config_cache.pinned(), tenant_batch(list(claimed)), tenant_reads(list(claimed)):
        config_cache.pin_many(list(claimed))
        escalation_selectors.matrices_preload(list(claimed))
        reads = claim_reads.claim_read(claimed, later)
    for tenant, ids in tenants:
        ladder: dict = {}
        batch.ladder_of(reads[tenant.pk]["tickets"], ladder)
        with tenant_context(tenant):
            expected = engine._ladder_due(ids)
            solved = set(Escalation.objects.filter(ticket_id=ids[-1]).values_list("pk", flat=True))
        assert expected and sorted(ladder["due"]) == expected and ladder["read"] == set(ids), tenant.slug
        assert solved & set(expected), tenant.slug  # the ticket solved since is covered too


def test_the_claim_reads_open_only_inside_the_batch(claim):
    """tenant_reads opens other tenants' rows of its tables only inside tenant_batch (whose policy bounds them)."""
    (north, _), _, _ = claim[0]
    with pytest.raises(RuntimeError, match="needs tenant_batch"), transaction.atomic(), tenant_reads([north.pk]):
        pass


def _due_again(tenants, at):
    for tenant, ids in tenants:
        with tenant_context(tenant):
            Ticket.objects.filter(pk__in=ids).update(rules_due_at=at)


def _written(tenants):
    counts = {}
    for tenant, ids in tenants:
        with tenant_context(tenant):
            counts[tenant.slug] = (
                Escalation.objects.count(), RuleFiring.objects.count(),
                TicketEvent.objects.filter(ticket_id__in=ids, kind__startswith="escalat").count(),
            )  # fmt: skip
    return counts


def test_the_pass_claims_in_memory_what_was_not_claimed_before(claim, caplog):
    """The pass claims its firings from the claim's read of those already claimed (written at its end): a second
    pass over the same tickets in the same cycle fires nothing again, without falling back."""
    tenants, later = claim
    workflows._sweep_rules(later, workflows.SweepReport())
    before = _written(tenants)
    assert all(escalations > 0 for escalations, _, _ in before.values())
    _due_again(tenants, later)
    with caplog.at_level(logging.WARNING, logger="helpdesk.workflows"):
        assert workflows._sweep_rules(later, workflows.SweepReport()) == 18
    assert "tenant by tenant" not in caplog.text
    assert _written(tenants) == before


def test_a_firing_claimed_meanwhile_sends_the_claim_tenant_by_tenant(claim, monkeypatch, caplog):
    """Another transaction claimed a share's firing after the claim's read: the pass's write of its firings finds
    the unique index taken and raises, the pass rolls back and the claim goes tenant by tenant, which claims in
    the database: nothing fires twice."""
    tenants, later = claim
    workflows._sweep_rules(later, workflows.SweepReport())
    before = _written(tenants)
    _due_again(tenants, later)
    real = claim_reads.claim_read

    def stale(claimed, at):
        reads = real(claimed, at)
        reads[tenants[0][0].pk]["firings"] = set()  # as read before another transaction claimed them
        return reads

    monkeypatch.setattr(claim_reads, "claim_read", stale)
    report = workflows.SweepReport()
    with caplog.at_level(logging.WARNING, logger="helpdesk.workflows"):
        workflows._sweep_rules(later, report)
    assert "tenant by tenant" in caplog.text and report.failed_tenants == 0
    assert "another transaction claimed some meanwhile" in caplog.text  # the pass's check, not another failure
    assert _written(tenants) == before


def test_a_value_handed_to_a_share_goes_to_its_tenant_once(claim):
    (north, _), (south, _), _ = claim[0]
    with share_reads.handed(north.pk, {"board": "handed"}):
        with tenant_context(south):
            assert share_reads.take("board", lambda: "read") == "read"  # another tenant reads its own
        with tenant_context(north):
            assert share_reads.take("board", lambda: "read") == "handed"
            assert share_reads.take("board", lambda: "read") == "read"  # once: the share may have written since
    with tenant_context(north):
        assert share_reads.take("board", lambda: "read") == "read"  # outside the pass


def test_a_claim_writes_each_table_once_whatever_its_tenants(db, monkeypatch):
    """The pass's reads and writes are one statement per table for the whole claim (2 tenants or 6): a share costs
    no statement of its own."""
    for i in range(6):
        _stormy(f"t{i}", 3, capacities=(2, 2, 2), quantum=False)
    later = timezone.now() + timedelta(hours=2)
    assert workflows._sweep_timers(later, workflows.SweepReport()) == 18
    _statement_list(lambda: workflows._sweep_rules(later, workflows.SweepReport()))  # configuration cached
    lists = {}
    for shares in (2, 6):
        monkeypatch.setattr(workflows, "ESCALATION_BATCH", 3 * shares)  # whole tenant shares: 3 tickets each
        lists[shares] = _statement_list(lambda: workflows._sweep_rules(later, workflows.SweepReport()))
    for sql in lists.values():
        for table in WRITTEN_ONCE:
            assert sum(q.lstrip().startswith(table) for q in sql) == 1, table
        for table in WRITTEN_NEVER:
            assert not any(q.lstrip().startswith(table) for q in sql), table
        # The audit events twice: the calls' events after the calls' INSERT (its RETURNING names the requests made).
        assert sum(q.lstrip().startswith("INSERT INTO tickets_ticketevent") for q in sql) == 2
        assert sum(q.startswith("SELECT nextval") for q in sql) == 2  # ids in chunks: the escalations', the firings'
    per_share = (len(lists[6]) - len(lists[2])) / 4

    assert per_share == int(per_share) and per_share <= PER_SHARE, (len(lists[2]), len(lists[6]))
    assert len(lists[2]) - 2 * per_share <= PER_CLAIM, (len(lists[2]), len(lists[6]))
    for sql in lists.values():  # the shares' reads: once for the claim, whatever its tenants
        for read in CLAIM_READS:
            assert sum(read in q for q in sql) == 1, read


def test_a_tenant_without_time_rules_writes_nothing_mid_claim(db):
    """A claim's middle tenant with its time rules off decides nothing: its call requests are answered from the
    claim's rows (no statement), so the shares gathered before it are not written early — each table is still
    written once for the claim, and its deciding reads (tickets, counts, parts, boards, firings) are not read for it."""
    tenants = [_stormy(slug, 3, capacities=(2, 2, 2), quantum=False) for slug in ("north", "south", "east")]
    (_, _), (south, south_ids), (_, _) = tenants
    with tenant_context(south):
        assert EscalationRule.objects.filter(trigger__in=triggers.TIME_TRIGGERS).update(active=False) > 0
    later = timezone.now() + timedelta(hours=2)
    assert workflows._sweep_timers(later, workflows.SweepReport()) == 9
    _statement_list(lambda: workflows._sweep_rules(later, workflows.SweepReport()))  # configuration cached
    sql = _statement_list(lambda: workflows._sweep_rules(later, workflows.SweepReport()))
    for table in WRITTEN_ONCE:
        assert sum(q.lstrip().startswith(table) for q in sql) == 1, table
    assert sum(q.lstrip().startswith("INSERT INTO tickets_ticketevent") for q in sql) == 2
    assert len(sql) == PER_CLAIM + 1  # the claim's, and the marks of the tickets not read cleared (one statement)
    workflows._sweep_rules(later, workflows.SweepReport())
    with tenant_context(south):  # nothing decided, the mark cleared all the same
        assert not Escalation.objects.exists()
        assert not Ticket.objects.filter(pk__in=south_ids, rules_due_at__isnull=False).exists()
    for tenant, ids in (tenants[0], tenants[2]):
        with tenant_context(tenant):
            assert Escalation.objects.filter(ticket_id__in=ids).exists(), tenant.slug
    claimed = {tenant.pk: ids for tenant, ids in tenants}
    with transaction.atomic(), config_cache.pinned(), tenant_batch(list(claimed)), tenant_reads(list(claimed)):
        config_cache.pin_many(list(claimed))
        escalation_selectors.matrices_preload(list(claimed))
        reads = claim_reads.claim_read(claimed, later)
    rows = reads[south.pk]["tickets"]
    assert (rows.tickets, rows.tickets_read, rows.escalations, rows.parts) == ([], False, [], {})
    assert "board" not in reads[south.pk] and "firings" not in reads[south.pk]
    north_rows = reads[tenants[0][0].pk]["tickets"]
    assert north_rows.tickets_read and [t.pk for t in north_rows.tickets] == tenants[0][1]
    assert "board" in reads[tenants[0][0].pk]


def test_a_tenant_without_time_rules_still_asks_for_the_calls_its_escalations_want(db):
    """The call requests of a share that decided nothing are answered from the escalations read for the claim: an
    escalation of a tenant whose time rules are now off, that wants a call and has none, is asked for one."""
    from callnotes.models import Call

    tenants = [_stormy(slug, 3, capacities=(2, 2, 2), quantum=False) for slug in ("north", "south", "east")]
    (_, _), (south, _), (_, _) = tenants
    later = timezone.now() + timedelta(hours=2)
    workflows._sweep_timers(later, workflows.SweepReport())
    workflows._sweep_rules(later, workflows.SweepReport())
    with tenant_context(south):
        wanted = sorted(Call.objects.values_list("escalation_id", flat=True))
        assert wanted
        Call.objects.all().delete()
        EscalationRule.objects.filter(trigger__in=triggers.TIME_TRIGGERS).update(active=False)
    _due_again(tenants, later)
    workflows._sweep_rules(later, workflows.SweepReport())
    with tenant_context(south):
        assert sorted(Call.objects.values_list("escalation_id", flat=True)) == wanted


CLAIM_READS = ('FROM "escalation_rulefiring"', '"tickets_customer"', 'COUNT(*) AS "n"',
               '"ladder_breached"', "AS t(id, tenant_id)", "AS x(tenant)", 'FROM "mail_mailsetup"',
               '"slas_slatimer"."warned_percent" IS NOT NULL', '"helpdesk_teammember"."team_id" AS "teams__id"',
               'FROM "callnotes_call"')  # fmt: skip


# Measured: a share 0 (it enters its tenant in the database only for a statement of its own that needs it: none
# here); the claim 28 (the claim, tenants, the batch in and out, the versions, the ids of the escalations and of the
# firings; the shares' reads in and out of tenant_reads: the reminders' clocks, tickets, escalations with their
# ladder, requesters' counts, the facts' parts, the boards, the managers, the mail senders, the firings claimed
# before, the calls; the escalations, tickets, events, clocks, outbox rows, firings (linked), stale watches and calls
# written, then the calls' events, which name the calls made). Before the claim's reads: 13 a share and 12 the
# claim; before the pass: 33 a share (28 in it, 4 to enter its tenant, 1 for its configuration version).
PER_SHARE, PER_CLAIM = 0, 28
WRITTEN_ONCE = ("UPDATE tickets_ticket", "INSERT INTO slas_slatimer", "INSERT INTO escalation_escalation",
                "INSERT INTO helpdesk_outboxevent", "INSERT INTO escalation_rulefiring",
                "DELETE FROM escalation_timewatch", "INSERT INTO callnotes_call")  # fmt: skip
# The firings claimed in the pass are written linked: never updated after (they were, 20,000 rows in a storm).
WRITTEN_NEVER = ("UPDATE escalation_rulefiring",)


def _statement_list(work) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        try:
            with transaction.atomic():
                work()
                raise _Undo
        except _Undo:
            pass
    return [
        q["sql"] for q in captured.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))
    ]


def test_a_gathered_update_of_a_row_rls_hides_fails_loudly(claim):
    """RLS skips a hidden row of an UPDATE without an error: a gathered write that misses rows raises instead (the
    pass then goes tenant by tenant), rather than dropping another tenant's changes silently."""
    from helpdesk import bulk

    (north, _), (south, south_ids), _ = claim[0]
    with tenant_context(south):
        ticket = Ticket.objects.get(pk=south_ids[0])
    ticket.triage = "human_first"
    raised = pytest.raises(RuntimeError, match="0 of 1 tickets_ticket rows updated")
    with tenant_context(north), raised, transaction.atomic(), bulk.gathered():
        bulk.update_rows(Ticket, [ticket], ["triage"])
