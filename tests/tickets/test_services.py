"""Ticket services: transitions, conversation state, authority, the append-only audit trail."""

import pytest
from django.db import connection, transaction
from django.db.utils import InternalError, ProgrammingError

from helpdesk.auth import Principal
from helpdesk.models import Role
from tickets import services
from tickets.errors import AuthorityError, TicketError
from tickets.models import AuthorType, Status, Ticket, TicketEvent


@pytest.fixture
def ticket(in_a):
    return services.ticket_open(
        tenant=in_a, actor=None, subject="Broken", description="It broke", requester_email="Pat@Example.com"
    )


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        (["open", "pending", "open", "solved", "closed"], True),
        (["on_hold", "open"], True),
        (["solved", "open"], True),
        (["closed", "open"], False),
        (["solved", "pending"], False),
        (["open", "new"], False),
    ],
)
def test_it_validates_status_transitions(ticket, path, allowed):
    def walk():
        for status in path:
            services.ticket_change_status(ticket=ticket, actor=None, status=status)

    if allowed:
        walk()
        assert Ticket.objects.get(pk=ticket.pk).status == path[-1]
    else:
        with pytest.raises(TicketError):
            walk()


def test_it_stamps_solved_and_closed_times(ticket):
    services.ticket_change_status(ticket=ticket, actor=None, status=Status.SOLVED)
    solved = Ticket.objects.get(pk=ticket.pk)
    assert solved.solved_at is not None and solved.closed_at is None
    services.ticket_reopen(ticket=ticket, actor=None, reason="not fixed")
    reopened = Ticket.objects.get(pk=ticket.pk)
    assert reopened.status == Status.OPEN and reopened.solved_at is None


def test_it_counts_exchanges_between_customer_and_agent(ticket):
    for author in ["agent", "customer", "agent", "customer", "customer", "agent"]:
        services.message_post(ticket=ticket, actor=None, body="…", author_type=author)
    fresh = Ticket.objects.get(pk=ticket.pk)
    # customer(opening) -> agent -> customer -> agent -> customer(x2) -> agent = 5 alternations
    assert fresh.exchange_count == 5
    assert fresh.follow_up_count == 0
    assert fresh.first_response_at is not None


def test_it_moves_a_pending_ticket_back_to_open_when_the_customer_replies(ticket):
    services.ticket_change_status(ticket=ticket, actor=None, status=Status.PENDING)
    services.message_post(ticket=ticket, actor=None, body="here is the info", author_type=AuthorType.CUSTOMER)
    assert Ticket.objects.get(pk=ticket.pk).status == Status.OPEN


def test_it_follows_the_customers_mood(ticket):
    services.message_post(
        ticket=ticket, actor=None, body="This is a disgrace, I am furious!", author_type=AuthorType.CUSTOMER
    )
    assert Ticket.objects.get(pk=ticket.pk).sentiment < -0.3


def test_an_agent_cannot_close_a_vip_ticket_but_a_manager_can(in_a, alice, bob):
    account = services.account_create(tenant=in_a, name="Initech", vip=True)
    services.customer_create(tenant=in_a, actor=None, email="ceo@initech.test", account=account)
    ticket = services.ticket_open(
        tenant=in_a, actor=None, subject="s", description="d", requester_email="ceo@initech.test"
    )
    agent = Principal(tenant=in_a, role=Role.AGENT, membership=alice)
    manager = Principal(tenant=in_a, role=Role.MANAGER, membership=bob)
    with pytest.raises(AuthorityError, match="manager"):
        services.ticket_change_status(ticket=ticket, actor=agent, status=Status.CLOSED)
    services.ticket_change_status(ticket=ticket, actor=manager, status=Status.CLOSED)
    event = TicketEvent.objects.get(ticket=ticket, kind="status_changed")
    assert event.actor == bob and "bob" in event.actor_label


def test_the_audit_trail_refuses_updates_and_deletes(ticket):
    event = TicketEvent.objects.get(ticket=ticket)
    with pytest.raises((InternalError, ProgrammingError), match="append-only"), transaction.atomic():
        TicketEvent.objects.filter(pk=event.pk).update(kind="tampered")
    with pytest.raises((InternalError, ProgrammingError), match="append-only"), transaction.atomic():
        TicketEvent.objects.filter(pk=event.pk).delete()
    assert TicketEvent.objects.get(pk=event.pk).kind == "created"


def test_the_app_role_cannot_truncate_the_audit_trail(ticket):
    with (
        pytest.raises(ProgrammingError, match="permission denied"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("TRUNCATE tickets_ticketevent")


def test_a_new_tickets_search_document_is_written_with_it_weighted_subject_first(in_a):
    ticket = services.ticket_open(
        tenant=in_a,
        actor=None,
        subject="Printer offline",
        description="The office printer drops off the network every morning.",
        requester_email="alice@example.test",
    )
    services.message_post(
        ticket=ticket, actor=None, body="Still offline after the firmware update.", author_type=AuthorType.CUSTOMER
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT search_vector = setweight(to_tsvector('english', %s), 'A')
                                   || setweight(to_tsvector('english', %s), 'B')
                                   || setweight(to_tsvector('english', %s), 'C'),
                      search_vector::text
               FROM tickets_ticket WHERE id = %s""",
            [ticket.subject, ticket.description, "Still offline after the firmware update.", ticket.pk],
        )
        same, document = cursor.fetchone()
    assert same, document
    assert "'printer':1A" in document and "'firmwar':" in document
