"""Notifications: the tenant's templates rendered with the ticket's context, sent by e-mail (Django's
locmem backend) and to apprise channels (JSON to the local receiver), to the people the template
names; VIP and critical alerts at once, routine ones batched into a digest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from helpdesk import workflows
from helpdesk.models import Membership, Role
from helpdesk.notifications import crypto, dispatcher, services, validation
from helpdesk.notifications.models import DeliveryStatus, NotificationChannel, NotificationTemplate
from helpdesk.outbox import outbox_emit
from helpdesk.services import membership_create
from helpdesk.tenancy import tenant_context
from tests.notifications.conftest import email_channel, json_channel
from tests.notifications.helpers import deliveries, open_ticket
from tickets.models import Account, AuthorType, Customer


@pytest.fixture
def acme(db):
    """A tenant as create_tenant makes it (matrix, SLA policies, templates), with alice and bob."""
    tenant = workflows.tenant_bootstrap(slug="acme", name="Acme Corp")
    membership_create(tenant=tenant, username="alice", email="alice@acme.test", role=Role.AGENT, tier=1)
    membership_create(tenant=tenant, username="bob", email="bob@acme.test", role=Role.MANAGER, tier=2)
    return tenant


def vip_customer(tenant, email="dana@bigco.test", vip=True):
    with tenant_context(tenant):
        account = Account.objects.create(tenant=tenant, name="BigCo", plan="enterprise", vip=vip)
        return Customer.objects.create(tenant=tenant, email=email, name="Dana", account=account)


def lawyer_message(tenant, ticket):
    with tenant_context(tenant):
        ticket.refresh_from_db()
        workflows.message_receive(
            ticket=ticket,
            actor=None,
            body="This is unacceptable. I'm calling my lawyer.",
            author_type=AuthorType.CUSTOMER,
        )


def test_a_legal_threat_emails_the_manager_once_with_the_tickets_context(acme, mailoutbox):
    email_channel(acme)
    customer = vip_customer(acme, vip=False)
    ticket = open_ticket(acme, subject="Invoice doubled", requester_email=customer.email)
    lawyer_message(acme, ticket)
    dispatcher.dispatch()
    dispatcher.dispatch()  # a second run finds nothing new
    # A legal threat is the compliance family: the seeds' legal-review message (escalation/communication.py).
    # Every ticket-bound subject carries [#id] (the owner's update reminder too): the legal-review message by name.
    escalation_mails = [m for m in mailoutbox if m.subject.startswith("Immediate legal review required")]
    assert [m.to for m in escalation_mails] == [["bob@acme.test"]]
    mail = escalation_mails[0]
    assert mail.subject == f"Immediate legal review required - [#{ticket.pk}] Invoice doubled"
    assert "- Customer: Dana (BigCo)" in mail.body
    assert "Compliance trigger points:\n- legal-threat: " in mail.body
    assert f"http://localhost:8000/tickets/{ticket.pk}/" in mail.body
    assert "Detailed issue context:" in mail.body and "Respond by: " in mail.body and "UTC" in mail.body
    rows = deliveries(acme, event_type="escalation.created")
    assert [(d.destination.split(":", 2)[2], d.status) for d in rows] == [("bob@acme.test", DeliveryStatus.DELIVERED)]


def test_a_chat_channel_gets_the_rendered_message_once(acme, receiver):
    json_channel(acme, receiver.json_url + "/slack-like", events=["escalation.created"])
    customer = vip_customer(acme)
    ticket = open_ticket(acme, subject="Invoice doubled", requester_email=customer.email)
    lawyer_message(acme, ticket)
    dispatcher.dispatch()
    [request] = receiver.requests
    message = request.json()
    assert request.path == "/slack-like"
    # The VIP rule escalated the ticket when it arrived (the high-value family's message); the threat
    # reinforces that escalation.
    assert message["title"] == f"Immediate attention required - strategic account BigCo [#{ticket.pk}]"
    assert "Escalation rationale:\n- vip: " in message["message"]
    assert "- Company: BigCo (enterprise, VIP)" in message["message"]


def test_an_edited_template_is_used_and_stays_the_tenants_own(acme, mailoutbox):
    """The tenant's wording of a family's message wins over the shipped default, for that tenant only."""
    other = workflows.tenant_bootstrap(slug="globex", name="Globex")
    email_channel(acme)
    with tenant_context(acme):
        template = NotificationTemplate.objects.get(event_type="escalation.created.compliance")
        template.subject = "LEGAL {{ ticket.number }} for {{ customer.email }}"
        template.body = "{{ summary.problem }} <{{ ticket.subject }}>"  # plain text: nothing escaped
        services.template_save(template=template)
    customer = vip_customer(acme, vip=False)
    ticket = open_ticket(acme, subject="Tom & Jerry's <account>", requester_email=customer.email)
    lawyer_message(acme, ticket)
    dispatcher.dispatch()
    [mail] = [m for m in mailoutbox if m.subject.startswith("LEGAL")]
    assert mail.subject == f"LEGAL {ticket.pk} for dana@bigco.test"
    assert mail.body.endswith("<Tom & Jerry's <account>>")
    with tenant_context(other):
        kept = NotificationTemplate.objects.get(event_type="escalation.created.compliance")
        assert kept.subject.startswith("Immediate legal review required")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{% debug %}", "not available"),
        ('{% include "/etc/passwd" %}', "not available"),
        ("{% load static %}", "not a registered tag library"),
        ("{{ ticket.__class__ }}", "underscores"),
        ("{% if %}", "Unexpected end"),
    ],
)
def test_a_template_cannot_reach_outside_its_context(source, message):
    with pytest.raises(validation.NotificationInputError) as caught:
        validation.template_check(subject="ok", body=source)
    assert message in caught.value.fields["body"][0]


def _routine(tenant, key: str, subject: str, vip=False):
    """A functional escalation's acknowledgement: routine unless the account is VIP."""
    outbox_emit(
        tenant_id=tenant.pk,
        type="escalation.acknowledged",
        dedupe_key=key,
        payload={"ticket": 1, "kind": "functional", "ticket_context": {"subject": subject, "vip": vip}},
    )


def test_routine_messages_wait_for_the_digest_and_go_out_as_one(acme, receiver):
    json_channel(acme, receiver.json_url + "/", digest_minutes=15)
    with tenant_context(acme):
        _routine(acme, "a", "First routine")
        _routine(acme, "b", "Second routine")
    dispatcher.dispatch()
    assert receiver.requests == []
    rows = deliveries(acme)
    assert len(rows) == 2 and all(d.digest_until and d.status == DeliveryStatus.PENDING for d in rows)
    assert rows[0].digest_until == rows[1].digest_until <= timezone.now() + timedelta(minutes=15)
    dispatcher.dispatch(now=rows[0].digest_until)
    [request] = receiver.requests
    assert request.json()["title"] == "2 helpdesk notifications"
    assert "First routine" in request.json()["message"] and "Second routine" in request.json()["message"]
    assert {d.status for d in deliveries(acme)} == {DeliveryStatus.DELIVERED}


def test_a_vip_message_skips_the_digest(acme, receiver):
    json_channel(acme, receiver.json_url + "/", digest_minutes=15)
    with tenant_context(acme):
        _routine(acme, "routine", "Routine one")
        _routine(acme, "vip", "VIP one", vip=True)
    dispatcher.dispatch()
    [request] = receiver.requests
    assert "VIP one" in request.json()["title"]
    assert [d.status for d in deliveries(acme)] == [DeliveryStatus.PENDING, DeliveryStatus.DELIVERED]


def test_on_call_team_and_role_recipients(acme, mailoutbox):
    from helpdesk.models import Membership, Team, TeamMember

    with tenant_context(acme):
        alice, bob = Membership.objects.get(user__username="alice"), Membership.objects.get(user__username="bob")
        carol = membership_create(tenant=acme, username="carol", email="Carol@Acme.test", role=Role.AGENT)
        team = Team.objects.create(tenant=acme, name="Billing", on_call=carol)
        TeamMember.objects.create(tenant=acme, team=team, membership=alice)
        template = NotificationTemplate.objects.get(event_type="escalation.acknowledged")
        template.recipients = ["on_call", "role:manager", "team"]
        template.save()
    email_channel(acme)
    with tenant_context(acme):
        outbox_emit(
            tenant_id=acme.pk,
            type="escalation.acknowledged",
            dedupe_key="ack",
            payload={"ticket": 1, "team": team.pk, "ticket_context": {"subject": "S"}},
        )
    dispatcher.dispatch()
    # on-call carol, the team's member alice; no manager in the team, so the tenant's managers (bob).
    assert sorted(m.to[0] for m in mailoutbox) == ["alice@acme.test", "bob@acme.test", "carol@acme.test"]
    assert bob.role == Role.MANAGER


def test_channel_urls_are_stored_encrypted(acme, receiver):
    url = receiver.json_url + "/secret-token-path"
    channel = json_channel(acme, url)
    with tenant_context(acme):
        stored = NotificationChannel.objects.get(pk=channel.pk).url_encrypted
    assert "secret-token-path" not in stored and crypto.decrypt(stored) == url


def test_create_tenant_installs_templates_and_no_channels_or_webhooks(acme):
    from helpdesk.notifications.models import WebhookSubscription

    with tenant_context(acme):
        events = set(NotificationTemplate.objects.values_list("event_type", flat=True))
        assert {"escalation.created", "sla.breached", "sla.warning", "owner.reminder", "customer.update"} <= events
        assert not NotificationChannel.objects.exists() and not WebhookSubscription.objects.exists()


def test_times_are_shown_in_the_tenants_time_zone():
    from helpdesk.notifications import rendering

    payload = {"ticket": 9, "due_at": "2026-01-15T12:00:00Z", "metric": "resolution"}
    berlin = rendering.event_context(
        event_type="sla.warning", payload=payload, tenant_name="T", timezone="Europe/Berlin"
    )
    utc = rendering.event_context(event_type="sla.warning", payload=payload, tenant_name="T")
    assert (berlin["sla"]["due_at"], utc["sla"]["due_at"]) == ("2026-01-15 13:00 CET", "2026-01-15 12:00 UTC")
    assert berlin["ticket"]["link"].endswith("/tickets/9/")


def test_recipients_are_resolved_once_per_batch_for_events_naming_the_same_people(tenant_a):
    """Fan-out remembers recipients by what resolution reads, not by the whole ticket context: 10,000
    breaches of one team's tickets resolve the team's manager once, not 10,000 times."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from helpdesk.notifications.fanout import Destinations
    from helpdesk.tenancy import tenant_context

    def payload(number, subject):
        return {"ticket_context": {"number": number, "subject": subject, "team": None, "assignee": None}}

    with tenant_context(tenant_a):
        destinations = Destinations.load()
        first = destinations.email_addresses(["role:manager"], payload(1, "Printer"))
        with CaptureQueriesContext(connection) as later:
            again = destinations.email_addresses(["role:manager"], payload(2, "VPN down"))
        assert again == first and len(later) == 0
        with CaptureQueriesContext(connection) as other:
            destinations.email_addresses(["role:admin"], payload(3, "Invoice"))
        assert len(other) > 0  # a different recipient spec is resolved, not served from the memo


def test_the_link_a_notification_carries_opens_the_ticket_page_for_its_reader(acme, mailoutbox):
    """Every notification links to /tickets/<id>/ (UI.md): the link leads to the ticket page, not a 404."""
    import re
    from urllib.parse import urlsplit

    from django.test import Client

    email_channel(acme)
    customer = vip_customer(acme, vip=False)
    ticket = open_ticket(acme, subject="Invoice doubled", requester_email=customer.email)
    lawyer_message(acme, ticket)
    dispatcher.dispatch()
    [mail] = [m for m in mailoutbox if m.subject.startswith("Immediate legal review required")]
    link = re.search(r"https?://\S+/tickets/\d+/", mail.body).group(0)

    with tenant_context(acme):
        bob = Membership.objects.get(user__username="bob")
        bob.user.set_password("pw-bob-123!")
        bob.user.save(update_fields=["password"])
    reader = Client()
    assert reader.login(username="bob", password="pw-bob-123!")
    page = reader.get(urlsplit(link).path)
    assert page.status_code == 200
    assert "<h1>Invoice doubled</h1>" in page.content.decode()
