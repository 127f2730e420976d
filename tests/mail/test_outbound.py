"""Mail out, caught by a real SMTP server (aiosmtpd on 127.0.0.1): agents' replies and milestone updates in the
ticket's thread, and the round trip customer mail -> ticket -> agent reply mail -> customer reply -> same ticket."""

from __future__ import annotations

import email
import threading
from email import policy

import pytest
from aiosmtpd.controller import Controller

from escalation.models import RuleFiring
from helpdesk import workflows
from helpdesk.models import OutboxEvent, Role
from helpdesk.notifications import dispatcher
from helpdesk.notifications.models import NotificationChannel
from helpdesk.tenancy import tenant_context
from mail import services as mail_services
from tests.mail import corpus
from tests.mail.conftest import client_for, post_mail
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db
SMTP_PORT = 8872


class Sink:
    """Keeps every message the SMTP server accepts, parsed."""

    def __init__(self):
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content, policy=policy.default)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"


@pytest.fixture
def smtp(settings):
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", SMTP_PORT, False
    try:
        yield sink
    finally:
        controller.stop()


def _reply_as_agent(tenant, ticket_id: int, body: str) -> dict:
    agent = client_for(tenant, Role.AGENT)
    response = agent.post(f"/api/v1/tickets/{ticket_id}/messages/", {"body": body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_the_round_trip_stays_in_one_ticket_and_fires_the_rules_on_mailed_words(inbound_a, tenant_a, smtp):
    first = post_mail(inbound_a, corpus.plain("My printer is broken.", message_id="<rt-1@customer.test>"))
    ticket_id = first.json()["ticket"]
    reply = _reply_as_agent(tenant_a, ticket_id, "Hello Jane,\n\nplease switch it off and on.")
    dispatcher.dispatch()

    assert len(smtp.messages) == 1
    recipients, sent = smtp.messages[0]
    assert recipients == ["jane@customer.test"]
    sender = sent["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == ("Acme Support", "support@acme.test")
    assert sent["Subject"] == f"Re: Invoice question [#{ticket_id}]"
    assert sent["Message-ID"] == f"<helpdesk.{tenant_a.pk}.{ticket_id}.{reply['id']}@acme.test>"
    assert sent["In-Reply-To"] == "<rt-1@customer.test>"
    assert sent["References"] == "<rt-1@customer.test>"
    tag = mail_services.reply_tag(tenant_id=tenant_a.pk, ticket_id=ticket_id)
    assert sent["Reply-To"] == f"support+{tag}@acme.test"
    assert sent["Auto-Submitted"] is None  # a person wrote it
    assert sent.get_content_type() == "multipart/alternative"
    text = sent.get_body(("plain",)).get_content().replace("\r\n", "\n").strip()
    assert text == "Hello Jane,\n\nplease switch it off and on."
    assert "<p>Hello Jane,</p>" in sent.get_body(("html",)).get_content()

    # The customer answers from their client: Outlook-style, quoting our mail under a header block.
    answer = corpus.outlook_reply(
        "That did not help. I want a refund.",
        "Hello Jane, please switch it off and on.",
        subject=sent["Subject"],
        In_Reply_To=sent["Message-ID"],
        References=f"{sent['References']} {sent['Message-ID']}",
    )
    body = post_mail(inbound_a, answer).json()
    assert (body["outcome"], body["ticket"]) == ("appended", ticket_id)
    with tenant_context(tenant_a):
        assert Message.objects.get(pk=body["message"]).body == "That did not help. I want a refund."
        assert RuleFiring.objects.filter(ticket_id=ticket_id, rule__slug="billing").exists()
        assert Ticket.objects.count() == 1

    # A second agent reply threads under the customer's answer.
    _reply_as_agent(tenant_a, ticket_id, "A refund is on its way.")
    dispatcher.dispatch()
    second = smtp.messages[1][1]
    with tenant_context(tenant_a):
        answer_id = Message.objects.get(pk=body["message"]).pk
    assert second["In-Reply-To"] != sent["In-Reply-To"]
    assert sent["Message-ID"] in second["References"] and "<rt-1@customer.test>" in second["References"]
    assert answer_id


def test_a_reply_that_lost_its_headers_threads_by_its_reply_to(inbound_a, tenant_a, smtp):
    ticket_id = post_mail(inbound_a, corpus.plain("Hello")).json()["ticket"]
    _reply_as_agent(tenant_a, ticket_id, "Which model?")
    dispatcher.dispatch()
    sent = smtp.messages[0][1]
    answer = corpus.plain("Model X100", subject="model", to=sent["Reply-To"])
    assert post_mail(inbound_a, answer).json()["ticket"] == ticket_id


def test_internal_notes_and_api_tickets_send_no_mail(inbound_a, tenant_a, smtp):
    ticket_id = post_mail(inbound_a, corpus.plain("Hello")).json()["ticket"]
    agent = client_for(tenant_a, Role.AGENT)
    agent.post(f"/api/v1/tickets/{ticket_id}/messages/", {"body": "note", "internal": True}, format="json")
    created = agent.post(
        "/api/v1/tickets/",
        {"subject": "By API", "description": "x", "requester": {"email": "api@customer.test"}},
        format="json",
    ).json()
    agent.post(f"/api/v1/tickets/{created['id']}/messages/", {"body": "answer"}, format="json")
    dispatcher.dispatch()
    assert smtp.messages == []
    with tenant_context(tenant_a):
        assert not OutboxEvent.objects.filter(type="mail.thread").exists()


def test_a_milestone_update_goes_out_in_the_thread_marked_automatic_and_only_once(inbound_a, tenant_a, smtp):
    with tenant_context(tenant_a):
        channel = NotificationChannel(tenant=tenant_a, name="Mail", kind="email", events=["customer.update"])
        workflows.channel_save(channel=channel, actor=None, url=None)
    raw = corpus.plain("Production down, urgent!", message_id="<ms-1@customer.test>", subject="Outage")
    ticket_id = post_mail(inbound_a, raw).json()["ticket"]
    with tenant_context(tenant_a):
        update = OutboxEvent.objects.get(type="customer.update")
        assert update.payload["mailed"] is True and update.payload["ticket"] == ticket_id
    dispatcher.dispatch()
    to_customer = [m for rcpts, m in smtp.messages if rcpts == ["jane@customer.test"]]
    assert len(to_customer) == 1  # the thread's mail, not a second copy through the e-mail channel
    sent = to_customer[0]
    assert sent["Auto-Submitted"] == "auto-replied"
    assert sent["In-Reply-To"] == "<ms-1@customer.test>"
    assert sent["Subject"] == f"Re: Outage [#{ticket_id}]"
    assert "specialists" in sent.get_body(("plain",)).get_content()
    # An out-of-office answer to it is noise: no follow-up, no reply.
    auto = corpus.auto_reply(Auto_Submitted="auto-replied", In_Reply_To=sent["Message-ID"])
    assert post_mail(inbound_a, auto).json()["outcome"] == "ignored"


def test_the_provider_gets_the_same_mail_through_anymail(inbound_a, tenant_a, settings):
    """django-anymail's test backend stands for a provider's API: the same headers reach it."""
    from django.core import mail as django_mail

    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    ticket_id = post_mail(inbound_a, corpus.plain("Hello", message_id="<p-1@customer.test>")).json()["ticket"]
    _reply_as_agent(tenant_a, ticket_id, "On it.")
    dispatcher.dispatch()
    sent = django_mail.outbox[-1]
    assert sent.to == ["jane@customer.test"]
    assert sent.extra_headers["In-Reply-To"] == "<p-1@customer.test>"
    assert sent.alternatives and sent.alternatives[0][1] == "text/html"


def test_the_sweeps_milestone_goes_out_in_the_thread_as_one_by_one(inbound_a, tenant_a):
    """The sweep's batch mails the routine escalations' milestones of e-mail tickets (mail.outbound.messages_mail_many)
    exactly as the one-at-a-time path does: in the thread, marked automatic, recorded for the reply to thread back."""
    from datetime import timedelta

    from mail.models import Direction, MailRecord
    from slas.models import SlaTimer

    raw = corpus.plain("How do I add the office printer?", message_id="<sweep-1@customer.test>", subject="Printer")
    ticket_id = post_mail(inbound_a, raw).json()["ticket"]
    with tenant_context(tenant_a):
        warn_at = SlaTimer.objects.get(ticket_id=ticket_id, metric="first_response", escalation_id=0).warn_at
    report = workflows.sweep(now=warn_at + timedelta(seconds=1))
    assert report.escalated >= 1
    with tenant_context(tenant_a):
        update = OutboxEvent.objects.get(type="customer.update", payload__ticket=ticket_id)
        assert update.payload["mailed"] is True and update.payload["milestone"] == "escalated"
        message = Message.objects.get(ticket_id=ticket_id, author_type="system", body=update.payload["text"])
        mail = OutboxEvent.objects.get(type="mail.thread", payload__message=message.pk)
        record = MailRecord.objects.get(message=message, direction=Direction.OUT)
    headers = mail.payload["headers"]
    assert headers["Auto-Submitted"] == "auto-replied"
    assert headers["In-Reply-To"] == "<sweep-1@customer.test>"
    assert headers["Message-ID"] == f"<{record.mail_id}>"
    assert mail.payload["to"] == record.to_address == "jane@customer.test"
    assert mail.payload["subject"] == f"Re: Printer [#{ticket_id}]"
    assert mail.payload["text"] == message.body and record.auto
