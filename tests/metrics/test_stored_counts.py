"""The facts the metrics read instead of the clocks and the million tickets (bench/METRICS.md, issue 16's last
target), kept by the database in every write path:

- the clock outcomes on each escalation row (migration escalation/0015): its ticket's own clocks met / stopped,
  and the status (first-response stop, customer-update counts) of its own clocks;
- the daily ticket counts per filter combination (metrics_ticketday, migration metrics/0006), and
  metrics_ticket_counts, which sums them with the bounds' partial days counted from the tickets.

Each test writes through one path (the use cases, a bulk update, the importer, the sweep's cross-tenant batch, a
delete) and compares the stored facts with the same facts recomputed from the source rows, in both tenants: the
facts may never drift, and a tenant's writes never reach another tenant's rows."""

from __future__ import annotations

import importlib
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection, transaction

from escalation import services as escalations
from helpdesk import bulk, workflows
from helpdesk.tenancy import tenant_batch, tenant_context
from metrics import queries
from metrics.models import TicketDay
from metrics.period import Query
from slas import clock
from slas.models import SlaTimer
from tests.metrics import dataset
from tickets.importer import tickets_import
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

clock_facts = importlib.import_module("escalation.migrations.0015_clock_facts_metrics17")
ticket_days = importlib.import_module("metrics.migrations.0006_ticket_days_metrics17")

STORED_CLOCKS = """
SELECT e.id, e.ticket_clocks_met, e.ticket_clocks_stopped, e.clock_acknowledge, e.clock_first_response,
       e.clock_first_response_met_at, e.clock_manager_response, e.clock_update_met_periods, e.clock_update_misses
FROM escalation_escalation e ORDER BY e.id
"""
# The same facts from the clocks themselves (what the metrics joined before).
RECOMPUTED_CLOCKS = """
SELECT e.id,
       (SELECT count(*) FROM slas_slatimer s WHERE s.ticket_id = e.ticket_id AND s.escalation_id = 0
            AND s.status = 'met')::int,
       (SELECT count(*) FROM slas_slatimer s WHERE s.ticket_id = e.ticket_id AND s.escalation_id = 0
            AND s.status IN ('met', 'breached'))::int,
       (SELECT s.status FROM slas_slatimer s WHERE s.escalation_id = e.id AND s.ticket_id = e.ticket_id
            AND s.metric = 'escalation_acknowledge'),
       (SELECT s.status FROM slas_slatimer s WHERE s.escalation_id = e.id AND s.ticket_id = e.ticket_id
            AND s.metric = 'escalation_first_response'),
       (SELECT s.met_at FROM slas_slatimer s WHERE s.escalation_id = e.id AND s.ticket_id = e.ticket_id
            AND s.metric = 'escalation_first_response'),
       (SELECT s.status FROM slas_slatimer s WHERE s.escalation_id = e.id AND s.ticket_id = e.ticket_id
            AND s.metric = 'manager_response'),
       (SELECT s.met_periods FROM slas_slatimer s WHERE s.escalation_id = e.id AND s.ticket_id = e.ticket_id
            AND s.metric = 'customer_update'),
       (SELECT s.misses FROM slas_slatimer s WHERE s.escalation_id = e.id AND s.ticket_id = e.ticket_id
            AND s.metric = 'customer_update')
FROM escalation_escalation e ORDER BY e.id
"""
STORED_DAYS = """
SELECT day, channel, priority, category, team_id, tickets, finished FROM metrics_ticketday
WHERE tickets <> 0 OR finished <> 0 ORDER BY 1, 2, 3, 4, 5
"""
RECOMPUTED_DAYS = """
SELECT (created_at AT TIME ZONE 'UTC')::date, channel, priority, category, COALESCE(team_id, 0), count(*)::int,
       count(*) FILTER (WHERE status IN ('solved', 'closed'))::int
FROM tickets_ticket GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
"""


def _rows(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def _assert_in_step(*tenants) -> None:
    """In each tenant (RLS shows its rows only), the stored facts equal the ones recomputed from the sources."""
    for tenant in tenants:
        with tenant_context(tenant):
            assert _rows(STORED_CLOCKS) == _rows(RECOMPUTED_CLOCKS)
            assert _rows(STORED_DAYS) == _rows(RECOMPUTED_DAYS)
            assert _rows(RECOMPUTED_DAYS)  # not vacuous


@pytest.fixture
def two():
    return dataset.build("metrix"), dataset.build("other")


def test_the_use_cases_keep_them_in_step(two):
    """The known dataset is written through the use cases: tickets opened, replied to (first responses met or
    breached), escalated, acknowledged, resolved, solved, re-prioritised. Then one more escalation."""
    a, b = two
    _assert_in_step(a.tenant, b.tenant)
    with tenant_context(a.tenant):
        e1 = next(row for row in _rows(STORED_CLOCKS) if row[0] == a.escalations[1].pk)
        assert e1[1:3] == (2, 2)  # T1's first response (20 of 60 min) and resolution (210 of 600): both met
        t6 = a.tickets[6]  # low, open, never escalated
        e7 = dataset._escalate(t6, dataset.at(26, 10, 5))
        assert _rows(STORED_CLOCKS)[-1][0] == e7.pk
        assert _rows(STORED_CLOCKS)[-1][3:5] == ("running", "running")
        escalations.escalation_acknowledge(escalation=e7, actor=None, at=dataset.at(26, 10, 15))
        assert _rows(STORED_CLOCKS)[-1][3] == "met"  # acknowledged after 10 of 30 minutes
        workflows.ticket_change_status(ticket=Ticket.objects.get(pk=t6.pk), actor=None, status="solved")
    _assert_in_step(a.tenant, b.tenant)


def test_bulk_updates_and_deletes_keep_them_in_step(two):
    a, b = two
    with tenant_context(a.tenant):
        tickets = list(Ticket.objects.order_by("id"))
        for ticket in tickets:
            ticket.status, ticket.priority, ticket.channel = "closed", "low", "phone"
        bulk.update_rows(Ticket, tickets, ["status", "priority", "channel"])
        Ticket.objects.filter(pk=a.tickets[6].pk).update(created_at=datetime(2026, 9, 1, 23, 59, tzinfo=UTC))
        timers = list(SlaTimer.objects.order_by("id"))
        for timer in timers:
            timer.status = "breached"
        bulk.update_rows(SlaTimer, timers, ["status"])
        SlaTimer.objects.filter(ticket=a.tickets[1], escalation_id=0, metric="resolution").delete()
    _assert_in_step(a.tenant, b.tenant)
    with tenant_context(a.tenant):  # tickets are never deleted in the app (the audit trail refers to them), but
        # the trigger would keep the counts right: one written with the ORM, with nothing that refers to it.
        bare = Ticket.objects.create(tenant=a.tenant, subject="Bare", description="x", status="solved",
                                     requester=a.tickets[1].requester, channel="api", category="bare",
                                     created_at=dataset.at(25, 12), updated_at=dataset.at(25, 12))  # fmt: skip
        assert TicketDay.objects.get(category="bare").tickets == 1
        _assert_in_step(a.tenant)
        Ticket.objects.filter(pk=bare.pk).delete()
        assert TicketDay.objects.get(category="bare").tickets == 0
    _assert_in_step(a.tenant, b.tenant)


def test_the_sweeps_cross_tenant_batch_keeps_them_in_step(two):
    """Outside any tenant, as the sweep's fast path writes: clocks and tickets of both tenants in one statement."""
    a, b = two
    ids = [a.tenant.pk, b.tenant.pk]
    with transaction.atomic(), tenant_batch(ids):
        SlaTimer.unscoped.filter(tenant_id__in=ids, status="running").update(status="breached")
        Ticket.unscoped.filter(tenant_id__in=ids, status="open").update(status="solved", category="refund")
    _assert_in_step(a.tenant, b.tenant)
    # And the real sweep, a week later: the running clocks left breach and it opens what the rules say.
    workflows.sweep(now=dataset.NOW + timedelta(days=7))
    _assert_in_step(a.tenant, b.tenant)


def test_an_import_batch_keeps_the_daily_counts_in_step(two):
    a, b = two
    lines = [
        json.dumps({"external_id": f"IMP-{n}", "subject": "Imported", "description": "Imported ticket.",
                    "requester": {"email": f"i{n}@x.test"}, "priority": "high", "channel": "chat",
                    "category": "billing", "status": "solved" if n % 2 else "open",
                    "created_at": f"2026-10-2{n % 7}T2{n % 4}:30:00+05:45"})
        for n in range(20)
    ]  # fmt: skip
    report = tickets_import(tenant=a.tenant, lines=lines)
    assert report.imported == 20
    _assert_in_step(a.tenant, b.tenant)


def test_the_migrations_backfills_restore_them(two):
    a, _ = two
    with tenant_context(a.tenant), connection.cursor() as cursor:
        cursor.execute("UPDATE escalation_escalation SET ticket_clocks_met = 9, clock_acknowledge = 'stale', "
                       "clock_update_misses = 7")  # fmt: skip
        cursor.execute("DELETE FROM metrics_ticketday")
        assert _rows(STORED_CLOCKS) != _rows(RECOMPUTED_CLOCKS)
        for statement in clock_facts.BACKFILL.split(";"):
            if statement.strip():
                cursor.execute(statement)
        cursor.execute(ticket_days.BACKFILL)
    _assert_in_step(a.tenant)


def _direct_counts(start: datetime, end: datetime, bounds: list[datetime] | None, filters: dict) -> dict:
    """What metrics_ticket_counts answered before the daily counts: the tickets themselves, bucketed."""
    tickets = Ticket.objects.filter(created_at__gte=start, created_at__lt=end, **filters)
    out: dict = {}
    for created_at, status in tickets.values_list("created_at", "status"):
        bucket = None if bounds is None else sum(1 for b in bounds if b <= created_at)
        tickets_, finished = out.get(bucket, (0, 0))
        out[bucket] = (tickets_ + 1, finished + (status in ("solved", "closed")))
    return out


def _counts(query: Query, bounds: list[datetime] | None) -> dict:
    params = {"start": query.start, "end": query.end}
    sql = "SELECT bucket, tickets, finished FROM " + queries._ticket_counts(query, params, bounds=bounds)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {bucket: (tickets, finished) for bucket, tickets, finished in cursor.fetchall()}


@pytest.mark.parametrize(
    "zone", ["Europe/Berlin", "Asia/Kathmandu", "America/St_Johns", "Pacific/Chatham", "UTC", "Pacific/Kiritimati"]
)
def test_the_ticket_counts_equal_counting_the_tickets_in_any_time_zone(two, zone):
    """The period's bounds are local midnights (any offset, DST changes included): the whole UTC days come from
    the daily counts, the partial ones from the tickets; the result is what counting the tickets gave."""
    a, _ = two
    with tenant_context(a.tenant):
        tickets = list(Ticket.objects.order_by("id"))
        for n, ticket in enumerate(tickets):  # tickets spread around every hour of the days of the period
            ticket.created_at = datetime(2026, 10, 22, tzinfo=UTC) + timedelta(minutes=97 * n + 7)
        bulk.update_rows(Ticket, tickets, ["created_at"])
        for start, end in ((date(2026, 10, 23), date(2026, 10, 27)), (date(2026, 10, 25), date(2026, 10, 26)),
                           (date(2026, 10, 20), date(2026, 11, 2))):  # fmt: skip
            for filters in ({}, {"priority": "normal"}, {"category": "billing", "channel": "web"}):
                query = Query(start, end, zone, filters)
                for interval in (None, "day", "week"):
                    bounds = None if interval is None else query.bucket_starts(interval)
                    assert _counts(query, bounds) == _direct_counts(query.start, query.end, bounds, filters), (
                        start,
                        end,
                        filters,
                        interval,
                    )


def test_the_ticket_counts_and_the_daily_rows_stay_in_their_tenant(two):
    a, b = two
    query = Query(date(2026, 10, 1), date(2026, 11, 1), "UTC")
    with tenant_context(a.tenant):
        mine = TicketDay.objects.count()
        assert mine and set(TicketDay.unscoped.values_list("tenant_id", flat=True)) == {a.tenant.pk}
        assert sum(t for t, _ in _counts(query, None).values()) == Ticket.objects.count() == 8
        workflows.ticket_change_status(ticket=a.tickets[6], actor=None, status="solved")
    with tenant_context(b.tenant):
        assert set(TicketDay.unscoped.values_list("tenant_id", flat=True)) == {b.tenant.pk}
        assert _counts(query, None) == {None: (8, 2)}  # b's own: its tickets, its two solved (T1 and T5)
    with transaction.atomic():  # no tenant: no rows, no counts
        assert TicketDay.unscoped.count() == 0
        assert _counts(query, None) == {}
    with tenant_context(a.tenant):
        assert _counts(query, None) == {None: (8, 3)}


def test_the_metrics_answer_the_same_from_the_stored_facts_as_from_the_sources(two):
    """The known dataset's metrics (tests/metrics/test_known_data.py checks each by hand) do not move when the
    stored facts are rebuilt from the sources: they are read from the same numbers."""
    a, _ = two
    period = Query(*dataset.PERIOD, "Europe/Berlin")
    with tenant_context(a.tenant):
        before = queries.escalation_metrics(period, tenant_id=a.tenant.pk, now=dataset.NOW)
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM metrics_ticketday")
            cursor.execute(ticket_days.BACKFILL)
            for statement in clock_facts.BACKFILL.split(";"):
                if statement.strip():
                    cursor.execute(statement)
        assert queries.escalation_metrics(period, tenant_id=a.tenant.pk, now=dataset.NOW) == before
    assert clock.local_today(dataset.NOW, "Europe/Berlin") == date(2026, 10, 28)
