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
import threading
import time
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from django.db import connection, transaction
from django.db.models import Sum
from psycopg.conninfo import make_conninfo

from escalation import services as escalations
from escalation.models import Escalation
from helpdesk import bulk, workflows
from helpdesk.models import Tenant
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

clock_facts = importlib.import_module("escalation.migrations.0017_clock_facts")
ticket_days = importlib.import_module("metrics.migrations.0006_ticket_days")

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
# A key's counts are the sums of its rows (delta rows appended by the triggers, merged ones by compaction).
STORED_DAYS = """
SELECT day, channel, priority, category, team_id, sum(tickets)::int, sum(finished)::int FROM metrics_ticketday
GROUP BY 1, 2, 3, 4, 5 HAVING sum(tickets) <> 0 OR sum(finished) <> 0 ORDER BY 1, 2, 3, 4, 5
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


def _day_sums(**filters) -> tuple[int, int]:
    sums = TicketDay.objects.filter(**filters).aggregate(t=Sum("tickets", default=0), f=Sum("finished", default=0))
    return sums["t"], sums["f"]


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
        assert _day_sums(category="bare") == (1, 1)
        _assert_in_step(a.tenant)
        Ticket.objects.filter(pk=bare.pk).delete()
        assert _day_sums(category="bare") == (0, 0)
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


# --- insert-only daily rows: intake never waits on a counter; compaction conserves the sums ----------------------


def _open(tenant, subject: str, at: datetime) -> Ticket:
    return workflows.ticket_open(
        tenant=tenant, actor=None, subject=subject, description="Same key as the other.",
        requester_email=f"{subject.lower()}@x.test", priority="normal", channel="web", created_at=at,
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_two_transactions_opening_same_key_tickets_do_not_wait_for_each_other(tenant_a):
    """The first transaction opens a ticket and stays open; the second opens one with the same daily key (tenant,
    day, channel, priority, no category, no team) under a 2 s lock timeout, on its own connection. With an upsert
    the second waited on the first's daily row until it committed (here: a lock timeout)."""
    at = datetime(2026, 10, 24, 9, tzinfo=UTC)
    first_open, second_done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first():
        try:
            with tenant_context(tenant_a):
                _open(tenant_a, "First", at)
                first_open.set()
                assert second_done.wait(timeout=20), "the second transaction never finished"
        except BaseException as error:  # reported by the main thread
            errors.append(error)
            first_open.set()
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert first_open.wait(timeout=30)
        started = time.monotonic()
        with tenant_context(tenant_a), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '2s'")
            _open(tenant_a, "Second", at + timedelta(minutes=1))
        waited = time.monotonic() - started
    finally:
        second_done.set()
        thread.join(timeout=60)
    assert not errors
    assert waited < 2
    with tenant_context(tenant_a):
        assert Ticket.objects.count() == 2
        assert _day_sums(day=at.date(), channel="web", priority="normal") == (2, 0)
        assert TicketDay.objects.filter(day=at.date()).count() == 2  # one delta row each, nothing updated
        assert workflows.metrics_ticket_days_compact() == 2
        assert list(TicketDay.objects.values_list("tickets", "finished", "delta")) == [(2, 0, False)]


@contextmanager
def _as_owner():
    """The owner's view of every tenant's rows (the app role sees one tenant's), for one transaction."""
    app_role = connection.settings_dict.get("OPTIONS", {}).get("assume_role") or "helpdesk_app"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT proowner::regrole::text FROM pg_proc WHERE proname = 'metrics_ticket_days_compact'")
        cursor.execute(f"SET LOCAL ROLE {cursor.fetchone()[0]}")
        try:
            yield cursor
        finally:
            cursor.execute(f'SET LOCAL ROLE "{app_role}"')


def _all_sums() -> list[tuple]:
    with _as_owner():
        return _rows("""SELECT tenant_id, day, channel, priority, category, team_id, sum(tickets), sum(finished)
                        FROM metrics_ticketday GROUP BY 1, 2, 3, 4, 5, 6
                        HAVING sum(tickets) <> 0 OR sum(finished) <> 0 ORDER BY 1, 2, 3, 4, 5, 6""")  # fmt: skip


def _recomputed_sums() -> list[tuple]:
    with _as_owner():
        return _rows("""SELECT tenant_id, (created_at AT TIME ZONE 'UTC')::date, channel, priority, category,
                               COALESCE(team_id, 0), count(*),
                               count(*) FILTER (WHERE status IN ('solved', 'closed'))
                        FROM tickets_ticket GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6""")  # fmt: skip


def _table_shape() -> dict:
    with _as_owner():
        ((rows, deltas, empty),) = _rows(
            "SELECT count(*), count(*) FILTER (WHERE delta), "
            "count(*) FILTER (WHERE tickets = 0 AND finished = 0) FROM metrics_ticketday"
        )
        per_key = {
            n
            for (n,) in _rows(
                "SELECT count(*) FROM metrics_ticketday GROUP BY tenant_id, day, channel, priority, category, team_id"
            )
        }
    return {"rows": rows, "deltas": deltas, "empty": empty, "per_key": per_key}  # fmt: skip


def test_compaction_conserves_the_sums_and_leaves_one_row_per_key(two):
    a, b = two
    with tenant_context(a.tenant):  # more deltas: moves between keys, back and forth, some cancelling out
        for status in ("closed", "open", "solved"):
            Ticket.objects.update(status=status)
        Ticket.objects.filter(pk=a.tickets[6].pk).update(category="gone")
        Ticket.objects.filter(pk=a.tickets[6].pk).update(category="")
    before, shape = _all_sums(), _table_shape()
    assert before == _recomputed_sums()
    assert max(shape["per_key"]) > 1 and shape["deltas"] > 3
    # Small batches: a key's deltas are folded over several statements, into its merged row each time.
    assert workflows.metrics_ticket_days_compact(limit=3) == shape["deltas"]
    after = _table_shape()
    assert _all_sums() == before
    assert after["per_key"] == {1} and after["deltas"] == 0 and after["empty"] == 0
    assert after["rows"] == len(before) < shape["rows"]
    assert workflows.metrics_ticket_days_compact() == 0  # nothing left to fold
    assert _all_sums() == before
    _assert_in_step(a.tenant, b.tenant)


@pytest.mark.django_db(transaction=True)
def test_compaction_conserves_the_sums_while_tickets_are_written_and_other_compactions_run(tenant_a, tenant_b):
    """Two compactions loop (batches of 2) while tickets are opened and moved between keys in both tenants."""
    at = datetime(2026, 10, 24, 9, tzinfo=UTC)
    stop = threading.Event()
    folded: list[int] = []
    errors: list[BaseException] = []

    def compact():
        try:
            while not stop.is_set():
                folded.append(workflows.metrics_ticket_days_compact(limit=2, budget_s=0.5))
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=compact) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        for n in range(12):
            for tenant in (tenant_a, tenant_b):
                with tenant_context(tenant):
                    ticket = _open(tenant, f"T{n}", at + timedelta(hours=n * 5))
                    if n % 3 == 0:
                        Ticket.objects.filter(pk=ticket.pk).update(status="solved", priority="high")
                    if n % 4 == 1:
                        Ticket.objects.filter(priority="normal").update(channel="email")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert not errors
    assert sum(folded) > 0  # they did fold rows while the writes went on
    assert _all_sums() == _recomputed_sums()
    workflows.metrics_ticket_days_compact()
    assert _all_sums() == _recomputed_sums()
    shape = _table_shape()
    # Not one row per key: two compactions racing on a key may each leave a merged row (one skips the other's
    # locked row), and a key with no later delta keeps both until it changes again. The sums are what count.
    assert shape["deltas"] == 0 and shape["empty"] == 0


TENANT_TABLES = """
SELECT c.conrelid::regclass::text FROM pg_constraint c
WHERE c.confrelid = 'helpdesk_tenant'::regclass AND c.contype = 'f' ORDER BY 1
"""


APPEND_ONLY_GUARDS = """
SELECT t.tgrelid::regclass::text, t.tgname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
WHERE NOT t.tgisinternal AND p.proname LIKE '%append_only%'
"""


def _delete_tenant(tenant_id: int, first: list[str], last: list[str]) -> None:
    """The tenant and every row of it, as the owner in one transaction, tables in the order given (the foreign
    keys are deferred: any order is legal), then every deferred check at once."""
    with _as_owner() as cursor:
        # The history tables refuse deletes (the app never deletes a tenant): an operator deleting one lifts
        # those guards for the transaction; the daily counts' triggers stay on.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the fixture's pending checks, before ALTER TABLE
        cursor.execute(APPEND_ONLY_GUARDS)
        for table, trigger in cursor.fetchall():
            cursor.execute(f'ALTER TABLE {table} DISABLE TRIGGER "{trigger}"')
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        cursor.execute(TENANT_TABLES)
        tables = [table for (table,) in cursor.fetchall()]
        rest = [table for table in tables if table not in first + last]
        for table in first + rest + last:
            if table == "helpdesk_tenant":
                cursor.execute("DELETE FROM helpdesk_tenant WHERE id = %s", [tenant_id])
            else:
                cursor.execute(f"DELETE FROM {table} WHERE tenant_id = %s", [tenant_id])
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SELECT count(*) FROM metrics_ticketday WHERE tenant_id = %s", [tenant_id])
        assert cursor.fetchone() == (0,)


@pytest.mark.parametrize(
    "first, last",
    [
        # Django's order: the daily rows (a fast delete), the tickets (negative deltas: the tenant still exists),
        # the tenant last -- its delete takes the deltas.
        (["metrics_ticketday"], ["tickets_ticket", "helpdesk_tenant"]),
        # A cascade's order: the tenant first, its tickets after (no deltas for a tenant that is gone).
        (["helpdesk_tenant"], ["metrics_ticketday", "tickets_ticket"]),
    ],
)
def test_a_tenant_with_tickets_and_daily_rows_can_be_deleted(two, first, last):
    """The other tenant's rows stay as they were."""
    a, b = two
    with tenant_context(a.tenant):
        Ticket.objects.filter(pk=a.tickets[6].pk).update(status="closed")  # a delta row beside the backfilled ones
    others = [row for row in _all_sums() if row[0] == b.tenant.pk]
    _delete_tenant(a.tenant.pk, first, last)
    assert not Tenant.objects.filter(pk=a.tenant.pk).exists()
    assert _all_sums() == others == _recomputed_sums()
    _assert_in_step(b.tenant)


def test_the_compaction_the_app_role_may_call_caps_its_limit(two):
    # A review's find: like the claim functions, it is granted to the app role, so it folds a batch, never a table.
    with connection.cursor() as cursor:
        cursor.execute("SELECT metrics_ticket_days_compact(%s)", [-5])
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT pg_get_functiondef('metrics_ticket_days_compact(integer)'::regprocedure)")
        assert "LEAST(GREATEST(p_limit, 0), 10000)" in cursor.fetchone()[0]


def test_an_escalation_takes_its_facts_from_a_ticket_of_its_own_tenant_only(db):
    # A review's find: the owner-run trigger read the ticket by id alone.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_functiondef('escalation_take_ticket_facts()'::regprocedure)")
        assert "t.id = NEW.ticket_id AND t.tenant_id = NEW.tenant_id" in cursor.fetchone()[0]


# --- two transactions writing clocks of one ticket (migration escalation 0018) ------------------------------------


def _waiting_on_a_lock(pid: int, done: threading.Event, timeout: float = 20.0) -> None:
    """Returns once backend `pid` waits on a lock (seen from a connection of its own), or its transaction is
    `done` without having waited: what follows happens while the other transaction is blocked, not before it got
    there."""
    with psycopg.connect(_owner_url(), autocommit=True) as watcher:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not done.is_set():
            row = watcher.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
            if row and row[0] == "Lock":
                return
            time.sleep(0.02)
    if not done.is_set():
        raise AssertionError(f"backend {pid} neither waited on a lock nor finished")


def _owner_url() -> str:
    settings = connection.settings_dict
    return make_conninfo(
        dbname=settings["NAME"], user=settings["USER"], password=settings["PASSWORD"] or None,
        host=settings["HOST"] or "127.0.0.1", port=settings["PORT"] or 5432,
    )  # fmt: skip


def _racing(tenant, first_write, second_write) -> None:
    """`first_write` in a transaction of a thread that stays open until `second_write`, on this thread's
    connection, waits on a lock (the first's rows) or has committed; then the first commits."""
    first_done, second_done, errors, pids = threading.Event(), threading.Event(), [], []

    def first():
        try:
            with tenant_context(tenant):
                first_write()
                first_done.set()
                while not pids:
                    time.sleep(0.01)
                _waiting_on_a_lock(pids[0], second_done)
        except BaseException as error:  # reported by the main thread
            errors.append(error)
            first_done.set()
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert first_done.wait(timeout=30)
        with tenant_context(tenant), connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pids.append(cursor.fetchone()[0])
            cursor.execute("SET LOCAL lock_timeout = '20s'")
            second_write()
    finally:
        second_done.set()
        pids.append(0)
        thread.join(timeout=60)
    assert not errors, errors


def _met(timer_id: int, at: datetime) -> None:
    SlaTimer.objects.filter(pk=timer_id).update(status="met", met_at=at, next_check_at=None)


@pytest.fixture
def escalated(transactional_db):
    """A committed ticket with an open escalation and its own two clocks running (first response, resolution)."""
    tenant = workflows.tenant_bootstrap(slug="racing", name="Racing")
    with tenant_context(tenant):
        ticket = dataset._ticket(tenant, "Racing", dataset.at(24, 8))
        escalation = dataset._escalate(ticket, dataset.at(24, 8, 10))
        clocks = list(SlaTimer.objects.filter(ticket=ticket, escalation_id=0, status="running").order_by("pk"))
    assert len(clocks) == 2
    return tenant, ticket, escalation, clocks


def test_two_transactions_stopping_two_clocks_of_a_ticket_both_count(escalated):
    """Each transaction meets one of the ticket's own clocks. Before 0018 the second to commit counted the first's
    clock as it was before (1 met instead of 2): it waited on the escalation row, then kept its own count."""
    tenant, _, escalation, (first, second) = escalated
    _racing(
        tenant,
        lambda: _met(first.pk, dataset.at(24, 8, 30)),
        lambda: _met(second.pk, dataset.at(24, 8, 40)),
    )
    with tenant_context(tenant):
        stored = Escalation.objects.filter(pk=escalation.pk).values_list("pk", flat=True)
        assert list(stored) == [escalation.pk]
        assert _rows(STORED_CLOCKS) == _rows(RECOMPUTED_CLOCKS)
        assert _rows(STORED_CLOCKS)[0][1:3] == (2, 2)


def test_an_escalation_opened_while_a_clock_stops_counts_that_clock(escalated):
    """One transaction meets the ticket's first-response clock; another, meanwhile, opens a second escalation of
    the ticket. Without the ticket's lock in the escalation's own trigger, the new escalation took its counts
    without the met clock, and the clock's refresh could not see the escalation yet."""
    tenant, ticket, _, (first, _) = escalated
    _racing(
        tenant,
        lambda: _met(first.pk, dataset.at(24, 8, 30)),
        lambda: dataset._escalate(Ticket.objects.get(pk=ticket.pk), dataset.at(24, 8, 35), trigger="api"),
    )
    with tenant_context(tenant):
        assert _rows(STORED_CLOCKS) == _rows(RECOMPUTED_CLOCKS)
        assert [row[1:3] for row in _rows(STORED_CLOCKS)] == [(1, 1), (1, 1)]
