"""POST /api/v1/inbound/email/: a raw mail into the tenant's helpdesk, with the same analysis, clocks and rules
as an API message; threading, duplicates, noise, forged senders, closed tickets, attachments, tenancy."""

from __future__ import annotations

import pytest

from escalation.models import RuleFiring
from helpdesk import workflows
from helpdesk.models import Role, Team
from helpdesk.tenancy import tenant_context
from mail import services as mail_services
from mail.models import InboundAddress, MailRecord, MailSetup
from slas.models import SlaTimer
from tests.mail import corpus
from tests.mail.conftest import client_for, post_mail
from tickets.models import Message, Ticket, TicketEvent

pytestmark = pytest.mark.django_db


def _in(tenant):
    return tenant_context(tenant)


def test_a_new_mail_opens_an_email_ticket_with_its_clocks_and_rules(inbound_a, tenant_a):
    raw = corpus.alternative(
        "My lawyer will hear about this double charge.\n\n-- \nJane Doe\nCustomer Inc.",
        "<p>My lawyer will hear about this double charge.</p>",
        subject="Charged twice",
        message_id="<first-1@customer.test>",
    )
    response = post_mail(inbound_a, raw)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["outcome"] == "created" and body["message"] is None and body["reason"] == ""
    with _in(tenant_a):
        ticket = Ticket.objects.select_related("requester").get(pk=body["ticket"])
        assert ticket.channel == "email"
        assert ticket.subject == "Charged twice"
        assert ticket.description == "My lawyer will hear about this double charge."  # the signature trimmed
        assert (ticket.requester.email, ticket.requester.name) == ("jane@customer.test", "Jane Doe")
        assert ticket.sentiment < 0
        assert SlaTimer.objects.filter(ticket=ticket).exists()
        fired = set(RuleFiring.objects.filter(ticket=ticket).values_list("rule__slug", flat=True))
        assert "legal-threat" in fired, fired  # the keyword rule, on the mailed words
        record = MailRecord.objects.get(mail_id="first-1@customer.test")
        assert (record.outcome, record.ticket_id, record.source) == ("created", ticket.pk, "raw")
        assert record.direction == "in"
        assert bytes(record.raw) == raw  # the original, whole


def test_the_address_it_was_sent_to_picks_team_and_category(inbound_a, tenant_a):
    response = post_mail(inbound_a, corpus.plain("Where is my invoice?", to="Billing <billing@acme.test>"))
    with _in(tenant_a):
        ticket = Ticket.objects.get(pk=response.json()["ticket"])
        assert ticket.category == "billing"
        assert ticket.team == Team.objects.get(name="Billing")


def test_a_reply_threads_by_in_reply_to_and_runs_the_rules(inbound_a, tenant_a):
    first = post_mail(inbound_a, corpus.plain("Hello", message_id="<a-1@customer.test>", subject="Login"))
    ticket_id = first.json()["ticket"]
    reply = corpus.gmail_reply(
        "I want to talk to your manager.", "Hello", in_reply_to="a-1@customer.test", subject="Re: Login"
    )
    response = post_mail(inbound_a, reply)
    body = response.json()
    assert (body["outcome"], body["ticket"], body["reason"]) == ("appended", ticket_id, "threaded by headers")
    with _in(tenant_a):
        message = Message.objects.get(pk=body["message"])
        assert (message.author_type, message.internal) == ("customer", False)
        assert message.body == "I want to talk to your manager."
        ticket = Ticket.objects.get(pk=ticket_id)
        assert ticket.follow_up_count == 1
        assert RuleFiring.objects.filter(ticket=ticket, rule__trigger="manager_request").exists()


def test_the_same_message_id_twice_is_one_message(inbound_a, tenant_a):
    raw = corpus.plain("Hello", message_id="<dup-1@customer.test>")
    first = post_mail(inbound_a, raw).json()
    second = post_mail(inbound_a, raw).json()
    assert second == {"ticket": first["ticket"], "message": None, "outcome": "duplicate", "reason": ""}
    with _in(tenant_a):
        assert Ticket.objects.count() == 1
        assert MailRecord.objects.count() == 1


def test_a_mail_without_message_id_delivered_twice_is_one_message(inbound_a, tenant_a):
    raw = b"From: jane@customer.test\r\nTo: support@acme.test\r\nSubject: no id\r\n\r\nHello\r\n"
    assert post_mail(inbound_a, raw).json()["outcome"] == "created"
    assert post_mail(inbound_a, raw).json()["outcome"] == "duplicate"
    with _in(tenant_a):
        assert Ticket.objects.count() == 1


@pytest.mark.parametrize(
    "raw",
    [
        corpus.auto_reply(Auto_Submitted="auto-replied"),
        corpus.auto_reply(X_Autoreply="yes"),
        corpus.auto_reply(Precedence="bulk"),
        corpus.bounce(corpus.plain("original")),
        corpus.plain("loop", sender="Acme Support <support@acme.test>"),
        corpus.plain("loop", sender="support+t1.abc@acme.test"),
        b"To: support@acme.test\r\nSubject: nobody\r\n\r\nno sender",
    ],
    ids=["auto-submitted", "x-autoreply", "precedence", "bounce", "own-address", "own-plus-address", "no-from"],
)
def test_noise_creates_nothing_and_is_never_answered(inbound_a, tenant_a, raw):
    body = post_mail(inbound_a, raw).json()
    assert body["outcome"] == "ignored" and body["ticket"] is None and body["reason"]
    with _in(tenant_a):
        assert Ticket.objects.count() == 0
        assert MailRecord.objects.get().outcome == "ignored"
        from helpdesk.models import OutboxEvent

        assert not OutboxEvent.objects.filter(type="mail.thread").exists()


def test_an_auto_reply_on_a_thread_adds_no_follow_up(inbound_a, tenant_a):
    ticket_id = post_mail(inbound_a, corpus.plain("Hello", message_id="<t-1@customer.test>")).json()["ticket"]
    auto = corpus.auto_reply(Auto_Submitted="auto-replied", In_Reply_To="<t-1@customer.test>")
    assert post_mail(inbound_a, auto).json()["outcome"] == "ignored"
    with _in(tenant_a):
        assert Ticket.objects.get(pk=ticket_id).follow_up_count == 0
        assert not Message.objects.filter(ticket_id=ticket_id).exists()


def test_a_mail_storm_from_one_sender_is_cut_off(inbound_a, tenant_a):
    with _in(tenant_a):
        setup = MailSetup.objects.get()
        setup.sender_limit_per_hour = 3
        workflows.mail_setup_save(setup=setup, actor=None)
    outcomes = [post_mail(inbound_a, corpus.plain(f"storm {i}")).json()["outcome"] for i in range(5)]
    assert outcomes == ["created", "created", "created", "ignored", "ignored"]
    assert post_mail(inbound_a, corpus.plain("calm", sender="other@customer.test")).json()["outcome"] == "created"


def test_the_subject_token_threads_the_customers_own_mail(inbound_a, tenant_a):
    ticket_id = post_mail(inbound_a, corpus.plain("Hello")).json()["ticket"]
    raw = corpus.outlook_reply("Any news?", "Hello", subject=f"Invoice question [#{ticket_id}]")
    body = post_mail(inbound_a, raw).json()
    assert (body["outcome"], body["ticket"], body["reason"]) == ("appended", ticket_id, "threaded by subject")
    with _in(tenant_a):
        assert Message.objects.get(pk=body["message"]).body == "Any news?"


def test_a_strangers_subject_token_opens_a_new_ticket_and_tells_nothing(inbound_a, tenant_a):
    ticket_id = post_mail(inbound_a, corpus.plain("Hello")).json()["ticket"]
    existing = post_mail(inbound_a, corpus.plain("x", sender="eve@evil.test", subject=f"[#{ticket_id}] hi")).json()
    missing = post_mail(inbound_a, corpus.plain("x", sender="eve@evil.test", subject="[#999999] hi")).json()
    assert existing["outcome"] == missing["outcome"] == "created"
    assert existing["reason"] == missing["reason"] == ""
    with _in(tenant_a):
        assert not Message.objects.filter(ticket_id=ticket_id).exists()
        assert Ticket.objects.get(pk=existing["ticket"]).requester.email == "eve@evil.test"


def test_a_forged_from_on_a_known_thread_is_kept_flagged_and_not_the_customers(inbound_a, tenant_a):
    ticket_id = post_mail(inbound_a, corpus.plain("Hello", message_id="<f-1@customer.test>")).json()["ticket"]
    forged = corpus.plain("I am your lawyer, refund now", sender="eve@evil.test", In_Reply_To="<f-1@customer.test>")
    body = post_mail(inbound_a, forged).json()
    assert body["outcome"] == "appended" and body["ticket"] == ticket_id
    with _in(tenant_a):
        message = Message.objects.get(pk=body["message"])
        assert (message.author_type, message.internal) == ("system", True)
        assert message.body.startswith("Unverified e-mail from eve@evil.test")
        ticket = Ticket.objects.get(pk=ticket_id)
        assert ticket.follow_up_count == 0 and ticket.last_author_type == "customer"
        assert not RuleFiring.objects.filter(ticket=ticket, rule__slug="legal-threat").exists()
        record = MailRecord.objects.get(message_id=message.pk)
        assert record.forged and record.reason == mail_services.REASON_FORGED


def test_a_reply_to_a_solved_ticket_reopens_it(inbound_a, tenant_a):
    ticket_id = post_mail(inbound_a, corpus.plain("Hello", message_id="<s-1@customer.test>")).json()["ticket"]
    with _in(tenant_a):
        workflows.ticket_update(ticket=Ticket.objects.get(pk=ticket_id), actor=None, status="solved")
    reply = corpus.gmail_reply("Still broken", "x", in_reply_to="s-1@customer.test", subject="Re: Invoice")
    assert post_mail(inbound_a, reply).json()["ticket"] == ticket_id
    with _in(tenant_a):
        assert Ticket.objects.get(pk=ticket_id).status == "open"
        assert TicketEvent.objects.filter(ticket_id=ticket_id, kind="reopened").exists()


def _close(tenant, ticket_id):
    with _in(tenant):
        workflows.ticket_update(ticket=Ticket.objects.get(pk=ticket_id), actor=None, status="closed")


def test_a_reply_to_a_closed_ticket_opens_a_linked_follow_up(inbound_a, tenant_a):
    ticket_id = post_mail(inbound_a, corpus.plain("Hello", message_id="<c-1@customer.test>")).json()["ticket"]
    _close(tenant_a, ticket_id)
    reply = corpus.gmail_reply("It broke again", "x", in_reply_to="c-1@customer.test", subject="Re: Invoice question")
    body = post_mail(inbound_a, reply).json()
    assert body["outcome"] == "created" and body["ticket"] != ticket_id
    with _in(tenant_a):
        assert Ticket.objects.get(pk=ticket_id).status == "closed"
        follow_up = Ticket.objects.get(pk=body["ticket"])
        assert (follow_up.subject, follow_up.description) == ("Re: Invoice question", "It broke again")
        assert TicketEvent.objects.get(ticket=follow_up, kind="follow_up_of").after == {"ticket": ticket_id}
        assert TicketEvent.objects.get(ticket_id=ticket_id, kind="followed_up").after == {"ticket": follow_up.pk}


def test_a_tenant_may_reopen_closed_tickets_instead(inbound_a, tenant_a):
    with _in(tenant_a):
        setup = MailSetup.objects.get()
        setup.closed_reply = "reopen"
        workflows.mail_setup_save(setup=setup, actor=None)
    ticket_id = post_mail(inbound_a, corpus.plain("Hello", message_id="<r-1@customer.test>")).json()["ticket"]
    _close(tenant_a, ticket_id)
    reply = corpus.gmail_reply("Again", "x", in_reply_to="r-1@customer.test", subject="Re: x")
    assert post_mail(inbound_a, reply).json() | {"message": None} == {
        "ticket": ticket_id,
        "message": None,
        "outcome": "appended",
        "reason": "threaded by headers",
    }
    with _in(tenant_a):
        assert Ticket.objects.get(pk=ticket_id).status == "open"


def test_attachments_are_stored_and_the_refused_ones_named(inbound_a, tenant_a, settings):
    from callnotes.models import Attachment

    invoice = corpus.with_attachment("See the invoice", "invoice.pdf", corpus.PDF, "application", "pdf")
    program = corpus.with_attachment("Run this", "setup.exe", b"MZ\x90\x00", "application", "x-msdownload")
    pdf, exe = post_mail(inbound_a, invoice), post_mail(inbound_a, program)
    with _in(tenant_a):
        stored = Attachment.objects.get(ticket_id=pdf.json()["ticket"])
        assert (stored.name, stored.content_type, stored.size) == ("invoice.pdf", "application/pdf", len(corpus.PDF))
        assert not Attachment.objects.filter(ticket_id=exe.json()["ticket"]).exists()
        record = MailRecord.objects.get(ticket_id=exe.json()["ticket"])
        assert [s["name"] for s in record.skipped_attachments] == ["setup.exe"]
        assert Ticket.objects.filter(pk=exe.json()["ticket"]).exists()  # the mail itself is taken


def test_an_attachment_over_the_tenants_limit_is_left_out_and_the_mail_kept(inbound_a, tenant_a):
    from callnotes.models import Attachment
    from callnotes.selectors import upload_limit

    with _in(tenant_a):
        limit = upload_limit(tenant_a)
    big = b"x" * (limit + 1)
    response = post_mail(inbound_a, corpus.with_attachment("Big log", "big.log", big, "text", "plain"))
    assert response.status_code == 202
    with _in(tenant_a):
        assert not Attachment.objects.exists()
        skipped = MailRecord.objects.get().skipped_attachments
        assert skipped[0]["name"] == "big.log" and skipped[0]["size"] == limit + 1 and "limit" in skipped[0]["reason"]


def test_a_message_over_the_size_limit_is_refused_unread(inbound_a, tenant_a, settings):
    settings.MAIL_MAX_BYTES = 10_000
    response = post_mail(inbound_a, corpus.plain("x" * 20_000))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    with _in(tenant_a):
        assert not MailRecord.objects.exists()


@pytest.mark.parametrize(
    "raw",
    [
        corpus.malformed_mime(),
        corpus.latin1("Rückerstattung bitte"),
        corpus.unknown_charset("Café"),
        b"From: jane@customer.test\r\nSubject: " + b"y" * 1_000_000 + b"\r\n\r\nbig subject",
        b"From: jane@customer.test\r\nSubject: nul\x00\r\nMessage-ID: <nul\x00@x>\r\n\r\nbo\x00dy",
        corpus.plain("many", to=", ".join(f"u{i}@customer.test" for i in range(10_000))),
    ],
    ids=["malformed", "latin1", "unknown-charset", "1mb-subject", "nul", "10k-recipients"],
)
def test_bad_input_makes_a_ticket_without_a_crash(inbound_a, tenant_a, raw):
    response = post_mail(inbound_a, raw)
    assert response.status_code == 202, response.content
    assert response.json()["outcome"] == "created"
    with _in(tenant_a):
        ticket = Ticket.objects.get()
        assert "\x00" not in ticket.subject + ticket.description and len(ticket.subject) <= 500


def test_an_empty_body_or_the_wrong_type_is_a_clear_4xx(inbound_a):
    assert post_mail(inbound_a, b"").status_code == 400
    response = inbound_a.post("/api/v1/inbound/email/", data={"x": 1}, format="json")
    assert response.status_code == 415


def test_only_admins_may_post_mail_and_a_token_is_needed(tenant_a):
    agent = client_for(tenant_a, Role.AGENT)
    assert post_mail(agent, corpus.plain("x")).status_code == 403
    from rest_framework.test import APIClient

    assert post_mail(APIClient(), corpus.plain("x")).status_code == 401
    with _in(tenant_a):
        assert not MailRecord.objects.exists()


def test_a_tenants_token_cannot_reach_another_tenants_ticket(inbound_a, inbound_b, tenant_a, tenant_b):
    ticket_a = post_mail(inbound_a, corpus.plain("Hello", message_id="<x-1@customer.test>")).json()["ticket"]
    # B's token, a reply naming A's Message-ID and A's ticket token: a new ticket in B, nothing in A.
    reply = corpus.plain(
        "inject", subject=f"[#{ticket_a}] hi", In_Reply_To="<x-1@customer.test>", to="help@globex.test"
    )
    body = post_mail(inbound_b, reply).json()
    assert body["outcome"] == "created" and body["ticket"] != ticket_a
    # The same Message-ID in another tenant is that tenant's own first delivery, not a duplicate.
    assert post_mail(inbound_b, corpus.plain("Hello", message_id="<x-1@customer.test>")).json()["outcome"] == "created"
    with _in(tenant_a):
        assert not Message.objects.filter(ticket_id=ticket_a).exists()
        assert Ticket.objects.count() == 1
    with _in(tenant_b):
        assert Ticket.objects.count() == 2


def test_a_plus_tag_threads_only_in_its_own_tenant(inbound_a, inbound_b, tenant_a, tenant_b):
    ticket_a = post_mail(inbound_a, corpus.plain("Hello")).json()["ticket"]
    tag = mail_services.reply_tag(tenant_id=tenant_a.pk, ticket_id=ticket_a)
    mine = post_mail(inbound_a, corpus.plain("via tag", subject="no token", to=f"support+{tag}@acme.test")).json()
    assert (mine["ticket"], mine["reason"]) == (ticket_a, "threaded by reply_to")
    forged_tag = f"support+t{ticket_a}.0000000000000000@acme.test"
    assert post_mail(inbound_a, corpus.plain("guess", to=forged_tag)).json()["outcome"] == "created"
    theirs = post_mail(inbound_b, corpus.plain("via tag", to=f"help+{tag}@globex.test")).json()
    assert theirs["outcome"] == "created"
    with _in(tenant_a):
        assert Message.objects.filter(ticket_id=ticket_a).count() == 1


def test_an_address_belongs_to_one_tenant(tenant_a, tenant_b):
    from django.core.exceptions import ValidationError

    with _in(tenant_b), pytest.raises(ValidationError) as caught:
        workflows.inbound_address_save(address=InboundAddress(tenant=tenant_b, address="Support@Acme.test"), actor=None)
    assert caught.value.message_dict == {"address": ["This address already belongs to a helpdesk."]}


def test_the_models_validation_refuses_plus_addresses_and_bad_hosts(tenant_a):
    from django.core.exceptions import ValidationError

    from mail.models import Mailbox

    with _in(tenant_a):
        with pytest.raises(ValidationError) as caught:
            workflows.inbound_address_save(address=InboundAddress(tenant=tenant_a, address="a+b@acme.test"), actor=None)
        assert "address" in caught.value.message_dict
        box = Mailbox(tenant=tenant_a, name="x", host="imap://evil/", port=0, username="u")
        with pytest.raises(ValidationError) as caught:
            workflows.mailbox_save(mailbox=box, actor=None, password="pw")
        assert set(caught.value.message_dict) == {"host", "port"}


def test_erasing_the_customer_drops_their_mail_originals(inbound_a, tenant_a):
    ticket_id = post_mail(inbound_a, corpus.plain("My card 4111 is leaked", message_id="<e-1@customer.test>")).json()[
        "ticket"
    ]
    with _in(tenant_a):
        customer_id = Ticket.objects.get(pk=ticket_id).requester_id
    assert inbound_a.delete(f"/api/v1/customers/{customer_id}/").status_code == 204
    with _in(tenant_a):
        record = MailRecord.objects.get(mail_id="e-1@customer.test")
        assert bytes(record.raw) == b""
        assert "jane@customer.test" not in record.from_address


def test_a_25_mb_attachment_and_a_zip_bomb_are_left_out_and_the_mail_taken(inbound_a, tenant_a):
    import io
    import zipfile

    from callnotes.models import Attachment

    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\0" * 50_000_000)  # 50 MB of zeros in ~50 KB: never unpacked here
    huge = corpus.with_attachment("The full dump", "dump.log", b"a" * 25 * 1024 * 1024, "text", "plain")
    zipped = corpus.with_attachment("Our logs", "logs.zip", bomb.getvalue(), "application", "zip")
    for raw in (huge, zipped):
        response = post_mail(inbound_a, raw)
        assert (response.status_code, response.json()["outcome"]) == (202, "created")
    with _in(tenant_a):
        assert not Attachment.objects.exists()
        skipped = {s["name"] for r in MailRecord.objects.all() for s in r.skipped_attachments}
        assert skipped == {"dump.log", "logs.zip"}
        assert Ticket.objects.count() == 2


@pytest.mark.parametrize("event_type", ["customer.update", "csat.request", "escalation.created", "sla.breached"])
def test_a_reply_to_a_notifications_subject_threads_by_its_token(inbound_a, tenant_a, event_type):
    # A new user replied to "Update on your request #307: …" without In-Reply-To and got a new ticket: every
    # ticket-bound subject now carries [#id], the token inbound mail threads by.
    from django.template import Context, Template

    from helpdesk.notifications.models import NotificationTemplate

    ticket_id = post_mail(inbound_a, corpus.plain("Hello")).json()["ticket"]
    with _in(tenant_a):
        stored = NotificationTemplate.objects.get(event_type=event_type).subject
    context = {"ticket": {"number": ticket_id, "subject": "Invoice question"}, "sla": {"percent": 80}}
    subject = Template(stored).render(Context(context))
    assert f"[#{ticket_id}]" in subject
    body = post_mail(inbound_a, corpus.plain("Still waiting.", subject=f"Re: {subject}")).json()
    assert (body["outcome"], body["ticket"], body["reason"]) == ("appended", ticket_id, "threaded by subject")


def test_the_migration_gives_unedited_stored_subjects_their_token_and_leaves_edited_ones(tenant_a):
    import importlib

    from django.apps import apps

    from helpdesk.notifications.models import NotificationTemplate

    migration = importlib.import_module("helpdesk.migrations.0014_subject_tokens")
    with _in(tenant_a):
        NotificationTemplate.objects.filter(event_type="customer.update").update(
            subject="Update on your request #{{ ticket.number }}: {{ ticket.subject }}"
        )
        NotificationTemplate.objects.filter(event_type="sla.breached").update(subject="Late: #{{ ticket.number }}")
        migration.add_tokens(apps, None)
        subjects = dict(NotificationTemplate.objects.values_list("event_type", "subject"))
    assert subjects["customer.update"] == "Update on your request [#{{ ticket.number }}]: {{ ticket.subject }}"
    assert subjects["sla.breached"] == "Late: #{{ ticket.number }}"  # a manager's own wording stays theirs
