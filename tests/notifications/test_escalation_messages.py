"""The seeds' three escalation e-mails (seed 004) as the escalation.created message of their trigger family:
technical complexity, high-value customer, compliance and legal — each rendered from a real escalation opened
through the API, filled from its attempts, summary, account and documentation; a tenant's own wording wins;
every family's subject carries the ticket's [#id]."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from escalation.models import Escalation
from helpdesk import workflows
from helpdesk.models import OutboxEvent, Role
from helpdesk.notifications import dispatcher
from helpdesk.notifications.models import NotificationTemplate
from helpdesk.services import api_token_create, membership_create
from helpdesk.tenancy import tenant_context
from tests.api.helpers import create_ticket
from tests.notifications.conftest import email_channel

ADMIN = "/admin/helpdesk/"


@pytest.fixture
def acme(db):
    """A tenant as create_tenant makes it (matrix, SLA policies, templates), with an e-mail channel."""
    tenant = workflows.tenant_bootstrap(slug="acme", name="Acme Corp")
    membership_create(tenant=tenant, username="alice", email="alice@acme.test", role=Role.AGENT, tier=1)
    membership_create(
        tenant=tenant, username="bob", email="bob@acme.test", password="pw-bob-123!", role=Role.MANAGER, tier=2
    )
    membership_create(tenant=tenant, username="eli", email="eli@acme.test", role=Role.AGENT, tier=2)
    email_channel(tenant)
    return tenant


@pytest.fixture
def api(acme):
    _, key = api_token_create(tenant=acme, role=Role.MANAGER, label="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _member(tenant, username):
    from helpdesk.models import Membership

    with tenant_context(tenant):
        return Membership.objects.select_related("user").get(user__username=username)


def _mail_of(mailoutbox, ticket_id: int):
    """The escalation.created mail of the ticket (every family's subject carries its [#id])."""
    dispatcher.dispatch()
    mails = [m for m in mailoutbox if f"[#{ticket_id}]" in m.subject]
    assert mails, [m.subject for m in mailoutbox]
    return mails[0]


def _created(tenant, ticket_id: int) -> OutboxEvent:
    with tenant_context(tenant):
        found = list(OutboxEvent.objects.filter(type="escalation.created", payload__ticket=ticket_id))
    assert len(found) == 1, [e.payload["trigger"] for e in found]
    return found[0]


def test_two_failed_attempts_send_the_technical_message_with_the_steps_already_taken(acme, api, mailoutbox):
    ticket = create_ticket(
        api, subject="Export returns HTTP 500", description="The nightly export has no file since Monday."
    )
    url = f"/api/v1/tickets/{ticket['id']}/attempts/"
    for note in ("Restarted the export job", "Cleared the export cache"):
        assert api.post(url, {"outcome": "failed", "tier": 1, "note": note}, format="json").status_code == 201
    event = _created(acme, ticket["id"])
    assert event.payload["variant"] == "technical" and event.payload["trigger"] == "failed-attempts"
    mail = _mail_of(mailoutbox, ticket["id"])
    assert mail.subject == f"Urgent support needed - escalating [#{ticket['id']}] Export returns HTTP 500"
    assert "due to technical complexity" in mail.body
    assert "- Customer name: Pat\n- Contact e-mail: pat@example.com\n- Initially reported: " in mail.body
    steps = mail.body.split("Steps already taken:\n", 1)[1].split("In short:", 1)[0]
    lines = steps.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith(", tier 1, failed: Restarted the export job") and " UTC" in lines[0]
    assert lines[1].endswith(", tier 1, failed: Cleared the export cache")
    assert "Specific areas requiring specialised attention:\n- Why it escalated: failed-attempts: " in mail.body
    assert f"/tickets/{ticket['id']}/" in mail.body


def test_a_vip_account_sends_the_high_value_message_with_its_contract_and_account_manager(acme, api, mailoutbox):
    alice = _member(acme, "alice")
    account = api.post(
        "/api/v1/accounts/",
        {
            "name": "Initech",
            "plan": "enterprise",
            "vip": True,
            "annual_contract_value": "120000.00",
            "customer_since": "2019-03-01",
            "account_manager": alice.pk,
        },
        format="json",
    ).json()
    assert account["account_manager"] == alice.pk
    api.post(
        "/api/v1/customers/", {"email": "dana@initech.test", "name": "Dana", "account": account["id"]}, format="json"
    )
    ticket = create_ticket(
        api, subject="Invoices missing", description="Our invoices page is empty.",
        requester={"email": "dana@initech.test", "name": "Dana"},
    )  # fmt: skip
    assert _created(acme, ticket["id"]).payload["variant"] == "high_value"
    mail = _mail_of(mailoutbox, ticket["id"])
    assert mail.subject == f"Immediate attention required - strategic account Initech [#{ticket['id']}]"
    assert "- Company: Initech (enterprise, VIP)\n- Annual contract value: 120000.00\n" in mail.body
    assert "- Customer since: 2019-03-01\n- Account manager: alice <alice@acme.test>\n" in mail.body
    assert "Escalation rationale:\n- vip: " in mail.body
    assert "Recommended immediate actions:\n- Deliver what the customer needs: " in mail.body
    assert "- Engage the customer directly, with alice" in mail.body


def test_a_legal_threat_sends_the_compliance_message_with_its_supporting_documentation(
    acme, api, mailoutbox, tmp_path, settings
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = str(tmp_path / "media")
    ticket = create_ticket(api, subject="Data export request", description="Please send me all my data.")
    upload = {"file": SimpleUploadedFile("export.log", b"ERROR row 42 dropped\n")}
    assert api.post(f"/api/v1/tickets/{ticket['id']}/attachments/", upload, format="multipart").status_code == 201
    messages = f"/api/v1/tickets/{ticket['id']}/messages/"
    note = {"body": "Checked the export log: two records missing.", "author_type": "agent", "internal": True}
    assert api.post(messages, note, format="json").status_code == 201
    threat = {"body": "If this is not fixed we will file a lawsuit.", "author_type": "customer"}
    assert api.post(messages, threat, format="json").status_code == 201
    assert _created(acme, ticket["id"]).payload["variant"] == "compliance"
    mail = _mail_of(mailoutbox, ticket["id"])
    assert mail.subject == f"Immediate legal review required - [#{ticket['id']}] Data export request"
    assert "Compliance trigger points:\n- legal-threat: " in mail.body and "lawsuit" in mail.body
    assert "- Date of initial complaint: " in mail.body and "UTC" in mail.body
    documentation = mail.body.split("Supporting documentation:\n", 1)[1].split("\n\n", 1)[0]
    assert documentation.splitlines() == [
        "- Customer correspondence: 1 message(s) in the ticket's thread",
        "- Internal investigation notes: 1",
        "- Attachment: export.log (text/plain)",
        "- Resolution attempts on record: 0",
    ]


def test_a_routine_escalation_keeps_the_generic_message(acme, api, mailoutbox):
    ticket = create_ticket(api, subject="Printer", description="How do I add the office printer?")
    summary = {f: f"{f} text" for f in ("problem", "tried", "emotional_state", "desired_outcome", "account_context")}
    body = {"kind": "functional", "reason": "needs a senior", "target_tier": 2, "summary": summary}
    assert api.post(f"/api/v1/tickets/{ticket['id']}/escalate/", body, format="json").status_code == 201
    assert _created(acme, ticket["id"]).payload["variant"] == ""
    dispatcher.dispatch()
    [mail] = [m for m in mailoutbox if m.subject.startswith("[Escalation]")]
    assert mail.subject == f"[Escalation] [#{ticket['id']}] Printer"


def test_a_managers_wording_in_the_admin_wins_over_the_shipped_message(acme, api, mailoutbox):
    manager = Client()
    assert manager.login(username="bob", password="pw-bob-123!")
    with tenant_context(acme):
        template = NotificationTemplate.objects.get(event_type="escalation.created.technical")
    form = {
        "event_type": "escalation.created.technical",
        "subject": "[#{{ ticket.number }}] Engineering needed: {{ ticket.subject }}",
        "body": "Tried so far:{% for attempt in attempts %} {{ attempt.note }};{% endfor %}",
        "recipients": json.dumps(template.recipients),
        "active": "on",
    }
    response = manager.post(f"{ADMIN}notificationtemplate/{template.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    ticket = create_ticket(api, subject="Sync stuck", description="The calendar sync is stuck.")
    for note in ("Re-linked the calendar", "Reset the token"):
        api.post(
            f"/api/v1/tickets/{ticket['id']}/attempts/", {"outcome": "failed", "tier": 1, "note": note}, format="json"
        )
    mail = _mail_of(mailoutbox, ticket["id"])
    assert mail.subject == f"[#{ticket['id']}] Engineering needed: Sync stuck"
    assert mail.body == "Tried so far: Re-linked the calendar; Reset the token;"


def test_a_switched_off_family_message_falls_back_to_the_generic_one(acme, api, mailoutbox):
    with tenant_context(acme):
        NotificationTemplate.objects.filter(event_type="escalation.created.compliance").update(active=False)
    ticket = create_ticket(api, subject="GDPR", description="Delete my data.", category="legal")
    with tenant_context(acme):
        assert Escalation.objects.filter(ticket_id=ticket["id"]).exists()
    dispatcher.dispatch()
    [mail] = [m for m in mailoutbox if m.subject.startswith("[Escalation]")]
    assert mail.subject == f"[Escalation] [#{ticket['id']}] GDPR"


def test_a_new_tenant_gets_the_three_family_messages_and_the_ladder_notice(acme):
    with tenant_context(acme):
        events = set(NotificationTemplate.objects.values_list("event_type", flat=True))
    assert {
        "escalation.created.technical",
        "escalation.created.high_value",
        "escalation.created.compliance",
        "escalation.climbed",
    } <= events


def test_the_facts_of_many_escalations_cost_a_statement_per_kind(acme, api, django_assert_max_num_queries):
    """The sweep's batch fills its escalations' messages at once: the attempts, the message counts, the calls and
    the attachments — four statements for three compliance escalations as for one; none for a generic one."""
    from escalation import communication

    for n in range(3):
        create_ticket(api, subject=f"GDPR request {n}", description="Delete my data.", category="legal")
    with tenant_context(acme):
        escalations = list(Escalation.objects.select_related("ticket__account", "rule").order_by("pk"))
        accounts = {e.pk: e.ticket.account for e in escalations}
        with django_assert_max_num_queries(4):
            facts = communication.created_facts_many(escalations, accounts)
        generic = Escalation(pk=0, ticket=escalations[0].ticket, kind="functional", trigger="manual")
        generic.ticket.category = "billing"
        with django_assert_max_num_queries(0):
            assert communication.created_facts_many([generic], {0: None})[0]["variant"] == ""
    assert [facts[e.pk]["variant"] for e in escalations] == ["compliance"] * 3
    assert all(set(facts[e.pk]) == {"variant", "reported_at", "attempts", "account", "documents"} for e in escalations)


def test_a_dispute_without_an_account_is_not_sent_as_a_strategic_account(acme, api, mailoutbox):
    # A tester's dispute from a customer with no account came out as "strategic account <their name>" with an
    # empty company and contract value: the high-value message needs an account on file.
    ticket = create_ticket(api, subject="My order", description="Please look at my order.")
    body = {"amount": "1500.00", "currency": "USD", "reason": "not what I ordered"}
    assert api.post(f"/api/v1/tickets/{ticket['id']}/disputes/", body, format="json").status_code == 201
    created = _created(acme, ticket["id"])
    assert created.payload["trigger"] == "dispute-large" and created.payload["variant"] != "high_value"
    dispatcher.dispatch()
    subjects = [m.subject for m in mailoutbox if f"[#{ticket['id']}]" in m.subject]
    assert subjects and not any("strategic account" in subject for subject in subjects)
