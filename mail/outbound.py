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

from helpdesk import share_reads
from helpdesk.notifications.senders import THREAD_MAIL
from helpdesk.outbox import Emission, outbox_emit, outbox_emit_across
from helpdesk.redaction import is_erased_address
from mail import parsing
from mail.models import Direction, MailRecord, MailSetup, Outcome
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


def _threads(tickets: list[Ticket]) -> dict[int, tuple[str, list[str]]]:
    """_thread of many tickets in one query (the sweep's batch; no mail is being opened there)."""
    ids: dict[int, list[str]] = {t.pk: [] for t in tickets}
    for ticket_id, mail_id in (
        MailRecord.objects.filter(ticket_id__in=list(ids), forged=False)
        .exclude(outcome__in=[Outcome.IGNORED, Outcome.DUPLICATE])
        .order_by("created_at", "pk")
        .values_list("ticket_id", "mail_id")
    ):
        ids[ticket_id].append(mail_id)
    out = {}
    for ticket_id, found in ids.items():
        kept = [i for i in found if not i.startswith("sha256:")][-REFERENCES_KEPT:]
        out[ticket_id] = ((kept[-1] if kept else ""), kept)
    return out


def _mail_of(ticket: Ticket, message: Message, setup, thread: tuple[str, list[str]], *, auto: bool) -> tuple:
    """(the outbox row's payload, the MailRecord) of one message mailed in its ticket's thread."""
    to = ticket.requester.email
    local, _, domain = setup.from_address.partition("@")
    mail_id = message_id_of(ticket=ticket, message=message, domain=domain)
    in_reply_to, references = thread
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
    payload = {
        "ticket": ticket.pk,
        "message": message.pk,
        "to": to,
        "from": parsing.display_address(setup.from_name, setup.from_address),
        "subject": _subject(ticket),
        "text": message.body,
        "html": _html(message.body),
        "headers": headers,
        "auto": auto,
    }
    record = MailRecord(
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
    return payload, record


def messages_mail_many(*, posts: list[tuple[Ticket, Message]], auto: bool) -> list[bool]:
    """message_mail for many messages of one tenant (the sweep's escalation batch): its sender read once, the
    threads in one query, the outbox rows and the records in one statement each, instead of ~5 statements per
    mailed message. Returns, per post, whether it was mailed."""
    mailable = [
        ticket.channel == Channel.EMAIL and not message.internal and ticket.requester.email
        and not is_erased_address(ticket.requester.email)
        for ticket, message in posts
    ]  # fmt: skip
    if not any(mailable):
        return [False] * len(posts)
    tenant_id = posts[0][0].tenant_id
    # The sweep's pass reads the senders of its whole claim at once (escalation/claim_reads.py).
    setup = share_reads.take("mail_setup", lambda: MailSetup.objects.filter(tenant_id=tenant_id).first())
    if setup is None:
        return [False] * len(posts)
    chosen = [post for post, ok in zip(posts, mailable, strict=True) if ok]
    threads = _threads([ticket for ticket, _ in chosen])
    emissions, records = [], []
    for ticket, message in chosen:
        payload, record = _mail_of(ticket, message, setup, threads[ticket.pk], auto=auto)
        emissions.append((ticket.tenant_id, Emission(THREAD_MAIL, f"{THREAD_MAIL}:{message.pk}", payload)))
        records.append(record)
    outbox_emit_across(emissions=emissions, at=chosen[0][1].created_at)
    MailRecord.objects.bulk_create(records)
    return [bool(ok) for ok in mailable]


def message_mail(*, ticket: Ticket, message: Message, auto: bool) -> bool:
    """Emits the message as mail to the ticket's customer; False when the ticket is not mailed (not an e-mail
    ticket, no sender set up, an erased customer)."""
    if ticket.channel != Channel.EMAIL or message.internal:
        return False
    setup = setup_of(ticket.tenant)
    to = ticket.requester.email
    if setup is None or not to or is_erased_address(to):
        return False
    payload, record = _mail_of(ticket, message, setup, _thread(ticket), auto=auto)
    outbox_emit(
        tenant_id=ticket.tenant_id,
        type=THREAD_MAIL,
        dedupe_key=f"{THREAD_MAIL}:{message.pk}",
        at=message.created_at,
        payload=payload,
    )
    record.save()
    return True
