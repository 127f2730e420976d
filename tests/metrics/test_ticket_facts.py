"""The ticket facts copied onto escalation rows (migration escalation/0010) that the metrics read instead of
joining tickets: taken when an escalation is written, passed on whenever the ticket changes -- through the use
cases, a bulk update, or a batch outside any tenant -- and restored by the migration's backfill. Also the
owner-run ticket count (metrics/0004) stays inside the tenant of the transaction."""

from __future__ import annotations

import importlib
from datetime import UTC, date, datetime

import pytest
from django.db import connection, transaction

from escalation import services as escalations
from helpdesk import workflows
from helpdesk.models import Team
from helpdesk.services import tenant_create
from helpdesk.tenancy import tenant_batch, tenant_context
from metrics import queries
from metrics.period import Query
from tests.metrics.dataset import SUMMARY
from tickets.models import Account, Customer, Ticket

pytestmark = pytest.mark.django_db

FACTS = ("created_at", "status", "priority", "channel", "category", "team_id", "account_id")
NOW = datetime(2026, 10, 28, 12, 0, tzinfo=UTC)
backfill = importlib.import_module("escalation.migrations.0010_ticket_facts")


def _copies(escalation_id: int) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(f'ticket_{name}' for name in FACTS)} FROM escalation_escalation WHERE id = %s",
            [escalation_id],
        )
        return dict(zip(FACTS, cursor.fetchone(), strict=True))


def _facts(ticket: Ticket) -> dict:
    ticket.refresh_from_db()
    return {name: getattr(ticket, name) for name in FACTS}


@pytest.fixture
def escalated(db):
    tenant = tenant_create(slug="facts", name="Facts", timezone="Europe/Berlin")
    with tenant_context(tenant):
        account = Account.objects.create(tenant=tenant, name="Acme")
        Customer.objects.create(tenant=tenant, email="a@x.test", account=account)
        ticket = workflows.ticket_open(
            tenant=tenant,
            actor=None,
            subject="Card declined",
            description="My card is declined at checkout.",
            requester_email="a@x.test",
            priority="high",
            category="billing",
            created_at=datetime(2026, 10, 24, 8, tzinfo=UTC),
        )
        escalation = escalations.escalation_create(
            ticket=ticket,
            actor=None,
            kind="functional",
            trigger="manual",
            summary_fields=SUMMARY,
            target_tier=2,
            at=datetime(2026, 10, 24, 8, 30, tzinfo=UTC),
        )
    return tenant, ticket, escalation, account


def test_an_escalation_takes_its_tickets_facts_when_written(escalated):
    tenant, ticket, escalation, account = escalated
    with tenant_context(tenant):
        copies = _copies(escalation.pk)
        assert copies == _facts(ticket)
    assert (copies["priority"], copies["category"], copies["account_id"]) == ("high", "billing", account.pk)


def test_a_ticket_change_through_the_use_case_reaches_its_escalations(escalated):
    tenant, ticket, escalation, _ = escalated
    with tenant_context(tenant):
        team = Team.objects.create(tenant=tenant, name="Payments")
        workflows.ticket_update(ticket=ticket, actor=None, category="refund", priority="urgent", team=team)
        workflows.ticket_change_status(ticket=ticket, actor=None, status="solved")
        copies = _copies(escalation.pk)
        assert copies == _facts(ticket)
    assert (copies["category"], copies["priority"], copies["team_id"], copies["status"]) == (
        "refund",
        "urgent",
        team.pk,
        "solved",
    )


def test_a_bulk_update_and_a_batch_outside_the_tenant_reach_them_too(escalated):
    tenant, ticket, escalation, _ = escalated
    with tenant_context(tenant):
        Ticket.objects.filter(pk=ticket.pk).update(channel="phone", account=None)
        assert _copies(escalation.pk) == _facts(ticket)
    # The sweep's batches see tickets through their own policy, not the escalations: the copy is still made.
    with transaction.atomic(), tenant_batch([tenant.pk]):
        Ticket.unscoped.filter(pk=ticket.pk).update(category="login")
    with tenant_context(tenant):
        assert _copies(escalation.pk)["category"] == "login"


def test_the_metrics_filter_by_the_tickets_current_category(escalated):
    tenant, ticket, _, _ = escalated
    period = Query(start_day=date(2026, 10, 24), end_day=date(2026, 10, 25), timezone="Europe/Berlin")
    with tenant_context(tenant):
        workflows.ticket_update(ticket=ticket, actor=None, category="refund")
        refund = queries.escalation_metrics(
            Query(period.start_day, period.end_day, period.timezone, {"category": "refund"}),
            tenant_id=tenant.pk,
            now=NOW,
        )
        billing = queries.escalation_metrics(
            Query(period.start_day, period.end_day, period.timezone, {"category": "billing"}),
            tenant_id=tenant.pk,
            now=NOW,
        )
        rules = queries.rule_rows(Query(period.start_day, period.end_day, period.timezone, {"category": "refund"}),
                                  tenant_id=tenant.pk)  # fmt: skip
    assert (refund["tickets"], refund["escalated_tickets"], refund["escalations"]) == (1, 1, 1)
    assert (billing["tickets"], billing["escalated_tickets"], billing["escalations"]) == (0, 0, 0)
    assert all(row["escalations"] == 0 for row in rules)  # the only escalation is manual, no rule's


def test_the_migrations_backfill_restores_the_copies(escalated):
    tenant, ticket, escalation, _ = escalated
    with tenant_context(tenant):
        with connection.cursor() as cursor:  # as if written before the migration: wrong copies
            cursor.execute(
                "UPDATE escalation_escalation SET ticket_category = 'stale', ticket_priority = 'low', "
                "ticket_account_id = NULL WHERE id = %s",
                [escalation.pk],
            )
        assert _copies(escalation.pk)["category"] == "stale"
        with connection.cursor() as cursor:
            cursor.execute(backfill.BACKFILL.split(";")[0])
        assert _copies(escalation.pk) == _facts(ticket)


def test_the_owner_run_ticket_count_stays_in_the_transactions_tenant(escalated, tenant_b):
    tenant, _, _, _ = escalated
    params = {"start": datetime(2026, 10, 1, tzinfo=UTC), "end": datetime(2026, 11, 1, tzinfo=UTC)}
    sql = "SELECT COALESCE(sum(tickets), 0) FROM " + queries._ticket_counts(
        Query(date(2026, 10, 1), date(2026, 11, 1), "UTC"), params, bounds=None
    )

    def count() -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()[0]

    with tenant_context(tenant):
        assert count() == 1
    with tenant_context(tenant_b):
        assert count() == 0
    with transaction.atomic():  # no tenant at all: nothing
        assert count() == 0
