"""Threaded mail to the customer: an agent's public reply, an approved call summary, a milestone update.

Written as an outbox row (`mail.thread`) in the transaction of the message, carrying the whole mail as it
will be sent — the notifications dispatcher delivers it after commit through Django's mail connection (SMTP
by default, any provider through django-anymail). The mail's Message-ID is made from the message's id, so a
retried delivery sends the same id and the customer's client keeps one conversation; it is recorded
(MailRecord, direction out) so the customer's reply threads back by In-Reply-To.

Sent only for e-mail tickets of a tenant that has set up its sender (MailSetup); the subject carries the
ticket token `[#id]`, the Reply-To a plus-addressed tag that threads a reply even when its headers are lost.
"""

from __future__ import annotations

import html

from django.utils import timezone

from helpdesk.notifications.senders import THREAD_MAIL
from helpdesk.outbox import outbox_emit
from helpdesk.redaction import is_erased_address
from mail import parsing
from mail.models import Direction, MailRecord, Outcome
from mail.services import mail_being_opened, reply_tag, setup_of
from tickets.models import Channel, Message, Ticket

REFERENCES_KEPT = 20


def message_id_of(*, ticket: Ticket, message: Message, domain: str) -> str:
    return f"helpdesk.{ticket.tenant_id}.{ticket.pk}.{message.pk}@{domain}"


def _thread(ticket: Ticket) -> tuple[str, list[str]]:
    """(In-Reply-To, References) of the ticket's thread: the last mail of it, and the ids before it."""
    ids = list(
        MailRecord.objects.filter(ticket=ticket, forged=False)
        .exclude(outcome__in=[Outcome.IGNORED, Outcome.DUPLICATE])
        .order_by("created_at", "pk")
        .values_list("mail_id", flat=True)
    )
    opening = mail_being_opened()
    if not ids and opening is not None:
        ids = [opening.mail_id]  # the ticket this mail is opening: its rules answer it
    ids = [i for i in ids if not i.startswith("sha256:")][-REFERENCES_KEPT:]
    return (ids[-1] if ids else ""), ids


def _subject(ticket: Ticket) -> str:
    subject = parsing.TOKEN.sub("", ticket.subject).strip() or "Your request"
    return f"Re: {subject} [#{ticket.pk}]"


def _html(text: str) -> str:
    paragraphs = [html.escape(p).replace("\n", "<br>\n") for p in text.split("\n\n")]
    return "<html><body>" + "".join(f"<p>{p}</p>\n" for p in paragraphs) + "</body></html>"


def message_mail(*, ticket: Ticket, message: Message, auto: bool) -> bool:
    """Emits the message as mail to the ticket's customer; False when the ticket is not mailed (not an e-mail
    ticket, no sender set up, an erased customer)."""
    if ticket.channel != Channel.EMAIL or message.internal:
        return False
    setup = setup_of(ticket.tenant)
    to = ticket.requester.email
    if setup is None or not to or is_erased_address(to):
        return False
    local, _, domain = setup.from_address.partition("@")
    mail_id = message_id_of(ticket=ticket, message=message, domain=domain)
    in_reply_to, references = _thread(ticket)
    headers = {
        "Message-ID": f"<{mail_id}>",
        "Reply-To": f"{local}+{reply_tag(tenant_id=ticket.tenant_id, ticket_id=ticket.pk)}@{domain}",
        "X-Helpdesk-Ticket": str(ticket.pk),
    }
    if in_reply_to:
        headers["In-Reply-To"] = f"<{in_reply_to}>"
        headers["References"] = " ".join(f"<{i}>" for i in references)
    if auto:
        # RFC 3834: an automatic answer; well-behaved auto-responders do not answer it (no loop).
        headers["Auto-Submitted"] = "auto-replied"
    outbox_emit(
        tenant_id=ticket.tenant_id,
        type=THREAD_MAIL,
        dedupe_key=f"{THREAD_MAIL}:{message.pk}",
        at=message.created_at,
        payload={
            "ticket": ticket.pk,
            "message": message.pk,
            "to": to,
            "from": parsing.display_address(setup.from_name, setup.from_address),
            "subject": _subject(ticket),
            "text": message.body,
            "html": _html(message.body),
            "headers": headers,
            "auto": auto,
        },
    )
    MailRecord.objects.create(
        tenant_id=ticket.tenant_id,
        direction=Direction.OUT,
        mail_id=mail_id,
        ticket=ticket,
        message=message,
        from_address=setup.from_address,
        to_address=to,
        subject=_subject(ticket)[:500],
        outcome=Outcome.SENT,
        auto=auto,
        source="outbox",
        raw=b"",
        created_at=timezone.now(),
    )
    return True
