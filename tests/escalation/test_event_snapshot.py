"""An event's facts come from one query (escalation.snapshot.event_snapshot, issue 17's message path): the same
facts as reading each part on its own (TicketSnapshot), for a ticket with a thread, attempts, clocks (one
breached), a requester with other tickets (those about the same issue counted)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from escalation import engine, triggers
from escalation.snapshot import TicketSnapshot, event_snapshot
from helpdesk import workflows
from helpdesk.models import Role
from helpdesk.services import membership_create
from helpdesk.tenancy import tenant_context
from tickets.models import Account, AuthorType, Outcome, Ticket


@pytest.fixture
def busy_ticket(db):
    tenant = workflows.tenant_bootstrap(slug="facts", name="Facts")
    membership_create(tenant=tenant, username="agent", role=Role.AGENT, tier=1)
    with tenant_context(tenant):
        # Three earlier tickets about the same issue (repeat_contact counts them) and one about another.
        for subject in ("Export broken 1", "Export broken 2", "Export broken 3", "Password reset"):
            workflows.ticket_open(
                tenant=tenant, actor=None, subject=subject, description="Earlier.", requester_email="r@example.test"
            )
        ticket = workflows.ticket_open(
            tenant=tenant, actor=None, subject="Export broken", description="The export fails.", priority="urgent",
            requester_email="r@example.test",
        )  # fmt: skip
        for body, author in (("Still broken, this is awful.", AuthorType.CUSTOMER), ("Looking.", AuthorType.AGENT),
                             ("Any news? I want a refund.", AuthorType.CUSTOMER)):  # fmt: skip
            workflows.message_receive(ticket=ticket, actor=None, body=body, author_type=author)
        workflows.attempt_record(ticket=ticket, actor=None, outcome=Outcome.FAILED, tier=1, note="restart")
    later = timezone.now() + timedelta(hours=2)
    workflows._sweep_timers(later, workflows.SweepReport())  # a clock breached: percent and breached facts
    return tenant, ticket.pk, later


def test_one_query_reads_the_same_facts_as_each_part_on_its_own(busy_ticket, django_assert_num_queries):
    tenant, ticket_id, at = busy_ticket
    with tenant_context(tenant):
        ticket = Ticket.objects.select_related("requester", "account").get(pk=ticket_id)
        reads = triggers.triggers_evaluated(engine.active_rules(), time_based=False)
        one_by_one = engine.ticket_facts(ticket, text="refund", now=at, snapshot=TicketSnapshot(ticket))
        with django_assert_num_queries(1):
            snapshot = event_snapshot(ticket, at=at)
            at_once = engine.ticket_facts(ticket, text="refund", now=at, snapshot=snapshot, for_triggers=reads)
        assert at_once == engine.ticket_facts(
            ticket, text="refund", now=at, snapshot=TicketSnapshot(ticket), for_triggers=reads
        )
        assert at_once.requester_ticket_times == one_by_one.requester_ticket_times
        assert len(at_once.requester_ticket_times) == 4 and len(at_once.customer_sentiments) >= 2
        assert any(t.breached for t in at_once.timers) and at_once.failed_attempts_low_tier == 1
        assert snapshot.public_messages == TicketSnapshot(ticket).public_messages


def test_the_account_comes_in_the_same_query_when_the_ticket_was_loaded_without_it(db, django_assert_num_queries):
    """The API and the pages load a ticket without its account; the facts read it on every customer message.
    It comes with the one query (a round trip of its own before), equal to the row the ORM reads."""
    tenant = workflows.tenant_bootstrap(slug="acct", name="Acct")
    with tenant_context(tenant):
        account = workflows.account_create(
            tenant=tenant, actor=None, name="Initech", vip=True, plan="enterprise",
            annual_contract_value="12000.50", lifetime_value="0.10", customer_since="2019-03-01",
        )  # fmt: skip
        workflows.customer_create(tenant=tenant, actor=None, email="r@x.test", account=account)
        opened = workflows.ticket_open(
            tenant=tenant, actor=None, subject="Export broken", description="It fails.", requester_email="r@x.test"
        )
        assert opened.account_id == account.pk
        ticket = Ticket.objects.get(pk=opened.pk)  # as ticket_get loads it: no account
        now = timezone.now()
        reads = triggers.triggers_evaluated(engine.active_rules(), time_based=False)
        with django_assert_num_queries(1):
            snapshot = event_snapshot(ticket, at=now)
            facts = engine.ticket_facts(ticket, text="hello", now=now, snapshot=snapshot, for_triggers=reads)
        stored = Account.objects.get(pk=account.pk)
        assert facts.vip and facts.plan == "enterprise" and facts.annual_contract_value == 12000.5
        assert facts.customer_since == stored.customer_since
        assert ticket.account.annual_contract_value == stored.annual_contract_value
        assert str(ticket.account.annual_contract_value) == "12000.50" and str(ticket.account.lifetime_value) == "0.10"
        assert [(f.attname, getattr(ticket.account, f.attname)) for f in Account._meta.concrete_fields] == [
            (f.attname, getattr(stored, f.attname)) for f in Account._meta.concrete_fields
        ]
        # A ticket that holds its account already is not read twice; one without an account reads none.
        loaded = Ticket.objects.select_related("account").get(pk=opened.pk)
        with django_assert_num_queries(1):
            snapshot = event_snapshot(loaded, at=now)
            assert engine.ticket_facts(loaded, text="", now=now, snapshot=snapshot, for_triggers=reads).vip


def _row_values(obj):
    return [
        (f.attname, getattr(obj, f.attname), type(getattr(obj, f.attname))) for f in type(obj)._meta.concrete_fields
    ]


def test_a_row_read_as_json_is_the_instance_the_orm_loads(busy_ticket):
    """snapshot._from_json keeps JSON's own strings, integers and booleans as they are and converts the rest (dates,
    floats written as integers, decimals): every column equal to the ORM's, of the same type, in the same state."""
    from django.db import connection

    from escalation.snapshot import _from_json
    from helpdesk.models import Membership, Team
    from slas.models import BusinessCalendar, SlaTimer

    tenant, ticket_id, _ = busy_ticket
    with tenant_context(tenant):
        SlaTimer.objects.filter(ticket_id=ticket_id).update(business_minutes=0, margin_minutes=2.5)
        workflows.team_create(tenant=tenant, actor=None, name="Billing", skills=("billing", "refunds"), tier=2)
        workflows.account_create(
            tenant=tenant, actor=None, name="Initech", vip=True, plan="enterprise", annual_contract_value="12000.50",
            lifetime_value="0.10", customer_since="2019-03-01",
        )  # fmt: skip
        for model in (SlaTimer, BusinessCalendar, Membership, Team, Account):
            table = model._meta.db_table
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT row_to_json(t) FROM {table} t WHERE t.tenant_id = %s ORDER BY t.id", [tenant.pk]
                )
                rows = [row[0] for row in cursor.fetchall()]
            stored = list(model.objects.order_by("pk"))
            assert rows and len(rows) == len(stored), table
            for row, orm in zip(rows, stored, strict=True):
                built = _from_json(model, row)
                assert _row_values(built) == _row_values(orm), table
                assert (built._state.adding, built._state.db) == (orm._state.adding, orm._state.db)
