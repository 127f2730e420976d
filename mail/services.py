"""Writes and decisions of the e-mail app: configuration, and what an inbound mail is (a duplicate, noise, a
new thread, or a reply to which ticket, trusted or not). The use case that acts on the decision — opening
the ticket or adding the message through the same workflows as the API — is helpdesk.workflows.email_receive.

Imports `tickets` and `helpdesk` only: escalation/communication.py sends its milestone mail through
mail.outbound, so this app sits below the SLA and escalation apps.
"""

from __future__ import annotations

import hashlib
import hmac
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from helpdesk import redaction, throttling
from helpdesk.erasure import mask_rows
from helpdesk.models import Team, Tenant
from helpdesk.notifications import crypto
from helpdesk.validation import full_check
from mail import parsing, validation
from mail.models import ClosedReply, Direction, InboundAddress, Mailbox, MailRecord, MailSetup, Outcome
from mail.secrets import secret_hash
from tickets.models import Status, Ticket
from tickets.services import event_record

RATE_WINDOW_S = 3600
REASON_OWN = "sent from one of this helpdesk's own addresses"
REASON_NO_SENDER = "no sender address"
REASON_RATE = "too many mails from this sender in the last hour"
REASON_FORGED = "the sender is not a party of the thread it answers"


# --- configuration -----------------------------------------------------------------------------------


@transaction.atomic
def setup_save(*, setup: MailSetup, webhook_secret: str | None = None) -> MailSetup:
    """The tenant's sender identity and inbound rules. `webhook_secret` ("user:password" of the providers'
    inbound webhooks) is stored as its hash; None keeps the stored one."""
    setup.from_address = (setup.from_address or "").strip().lower()
    if webhook_secret is not None:
        setup.webhook_secret_hash = secret_hash(webhook_secret) if webhook_secret else ""
    full_check(setup, validation.setup_problems)
    setup.save()
    return setup


@transaction.atomic
def address_save(*, address: InboundAddress) -> InboundAddress:
    address.address = (address.address or "").strip().lower()
    full_check(address, validation.address_problems)
    try:
        with transaction.atomic():
            address.save()
    except IntegrityError:  # another tenant's, invisible to the check under RLS: the unique index said so
        raise ValidationError({"address": [validation.ERR_ADDRESS_TAKEN]}) from None
    return address


@transaction.atomic
def mailbox_save(*, mailbox: Mailbox, password: str | None = None) -> Mailbox:
    """An IMAP mailbox; `password` None keeps the stored one. A changed host, user or folder reads the new
    mailbox from its start (what it holds there is new to us)."""
    if password is not None:
        mailbox.password_encrypted = crypto.encrypt(password)
    if mailbox.pk:
        before = Mailbox.objects.filter(pk=mailbox.pk).values("host", "username", "folder").first() or {}
        if before and any(before[k] != getattr(mailbox, k) for k in before):
            mailbox.uidvalidity, mailbox.last_uid = None, 0
    full_check(mailbox, validation.mailbox_problems)
    mailbox.save()
    return mailbox


def setup_of(tenant: Tenant) -> MailSetup | None:
    return MailSetup.objects.filter(tenant=tenant).first()


# --- inbound: the decision ---------------------------------------------------------------------------


@dataclass
class Intake:
    """What an inbound mail is. `ticket` is the thread it answers (None: a new ticket); `follows` the closed
    ticket a new one follows up; `forged` a reply whose sender is not the thread's customer."""

    record: MailRecord | None
    outcome: str
    reason: str = ""
    ticket: Ticket | None = None
    follows: Ticket | None = None
    forged: bool = False
    team: Team | None = None
    category: str = ""


def record_claim(*, tenant: Tenant, parsed: parsing.ParsedMail, raw: bytes, source: str) -> MailRecord | None:
    """The mail's record, inserted first: it claims the Message-ID. None when the same Message-ID was received
    before — also when a concurrent delivery of it committed first (our INSERT waited for it, then failed)."""
    mail_id = parsed.message_id or parsing.synthetic_message_id(raw)
    record = MailRecord(
        tenant=tenant,
        direction=Direction.IN,
        mail_id=mail_id,
        from_address=parsed.from_address[:254],
        to_address=(parsed.recipients[0] if parsed.recipients else "")[:254],
        subject=parsed.subject[:500],
        outcome=Outcome.IGNORED,
        auto=bool(parsed.auto_reason),
        source=source[:40],
        raw=raw,
        created_at=timezone.now(),
    )
    try:
        with transaction.atomic():
            record.save(force_insert=True)
    except IntegrityError:
        return None
    return record


def duplicate_of(*, tenant: Tenant, parsed: parsing.ParsedMail, raw: bytes) -> MailRecord | None:
    mail_id = parsed.message_id or parsing.synthetic_message_id(raw)
    return MailRecord.objects.filter(tenant=tenant, mail_id=mail_id).first()


def own_addresses(tenant: Tenant, setup: MailSetup | None) -> set[str]:
    own = set(InboundAddress.objects.filter(tenant=tenant).values_list("address", flat=True))
    if setup is not None:
        own.add(setup.from_address)
    return own


def intake(
    *, tenant: Tenant, record: MailRecord, parsed: parsing.ParsedMail, default_address: InboundAddress | None = None
) -> Intake:
    """Decides what the mail is; writes nothing but the rate-limit count."""
    setup = setup_of(tenant)
    own = own_addresses(tenant, setup)
    if not parsed.from_address:
        return Intake(record, Outcome.IGNORED, REASON_NO_SENDER)
    if parsing.plus_tag(parsed.from_address)[0] in own:
        return Intake(record, Outcome.IGNORED, REASON_OWN)
    if parsed.auto_reason:
        return Intake(record, Outcome.IGNORED, parsed.auto_reason[:200])
    limit = setup.sender_limit_per_hour if setup else MailSetup._meta.get_field("sender_limit_per_hour").default
    sender = hashlib.sha256(parsed.from_address.encode()).hexdigest()
    window = throttling.hit(f"mail:{tenant.pk}:{sender}", window_s=RATE_WINDOW_S)
    if window is not None and window.count > limit:
        return Intake(record, Outcome.IGNORED, REASON_RATE)
    address = _address_of(tenant, parsed, own) or default_address
    found = Intake(record, Outcome.APPENDED)
    if address is not None:
        found.team, found.category = address.team, address.category
    ticket, proof = thread_of(tenant=tenant, parsed=parsed)
    if ticket is None:
        found.outcome = Outcome.CREATED
        return found
    found.ticket, found.reason = ticket, f"threaded by {proof}"
    found.forged = parsed.from_address != ticket.requester.email
    if found.forged:
        found.reason = REASON_FORGED
    elif ticket.status == Status.CLOSED and (setup is None or setup.closed_reply == ClosedReply.FOLLOW_UP):
        found.outcome, found.ticket, found.follows = Outcome.CREATED, None, ticket
    return found


def _address_of(tenant: Tenant, parsed: parsing.ParsedMail, own: set[str]) -> InboundAddress | None:
    """The first of our active addresses the mail was sent to (a plus tag does not change the address)."""
    wanted = [parsing.plus_tag(r)[0] for r in parsed.recipients]
    wanted = [w for w in wanted if w in own]
    if not wanted:
        return None
    rows = InboundAddress.objects.filter(address__in=wanted, active=True).select_related("team")
    by_address = {a.address: a for a in rows}
    return next((by_address[w] for w in wanted if w in by_address), None)


def thread_of(*, tenant: Tenant, parsed: parsing.ParsedMail) -> tuple[Ticket | None, str]:
    """The ticket the mail answers and how we know: by the Message-IDs it answers (mail we sent or received on
    the ticket), by a valid plus-addressed Reply-To tag, or by the `[#id]` subject token — the token only from
    the ticket's own customer, since anybody can type one: a stranger's token opens a new ticket, so the answer
    never tells whether a ticket exists."""
    ids = parsed.thread_ids
    if ids:
        records = MailRecord.objects.filter(tenant=tenant, mail_id__in=ids, ticket__isnull=False)
        by_id = {r.mail_id: r.ticket_id for r in records.only("mail_id", "ticket_id")}
        for mail_id in ids:
            if mail_id in by_id:
                ticket = _ticket(by_id[mail_id])
                if ticket is not None:
                    return ticket, "headers"
    for recipient in parsed.recipients:
        ticket_id = reply_tag_ticket(parsing.plus_tag(recipient)[1], tenant_id=tenant.pk)
        if ticket_id is not None and (ticket := _ticket(ticket_id)) is not None:
            return ticket, "reply_to"
    token = parsed.ticket_token
    if token is not None:
        ticket = _ticket(token)
        if ticket is not None and ticket.requester.email == parsed.from_address:
            return ticket, "subject"
    return None, ""


def _ticket(ticket_id: int) -> Ticket | None:
    return Ticket.objects.select_related("requester").filter(pk=ticket_id).first()


# --- the plus-addressed Reply-To -----------------------------------------------------------------------


def _tag_key() -> bytes:
    return (settings.MAIL_REPLY_TOKEN_KEY or f"mail-reply:{settings.SECRET_KEY}").encode()


def reply_tag(*, tenant_id: int, ticket_id: int) -> str:
    """`t<ticket>.<mac>`: the tag of a ticket's Reply-To (support+t12.3f9a…@). The MAC covers the tenant too."""
    mac = hmac.new(_tag_key(), f"{tenant_id}:{ticket_id}".encode(), hashlib.sha256).hexdigest()[:16]
    return f"t{ticket_id}.{mac}"


def reply_tag_ticket(tag: str, *, tenant_id: int) -> int | None:
    number = tag.partition(".")[0]
    if not number.startswith("t") or not number[1:].isdigit() or len(number) > 13:
        return None
    ticket_id = int(number[1:])
    expected = reply_tag(tenant_id=tenant_id, ticket_id=ticket_id)
    return ticket_id if hmac.compare_digest(expected, tag) else None


# --- inbound: the record --------------------------------------------------------------------------------

# The mail whose ticket is being opened right now: the rules run inside ticket_open, before the record can
# name its ticket, and a milestone they send must still answer that mail (mail.outbound reads it).
_opening: ContextVar[MailRecord | None] = ContextVar("mail_opening", default=None)


@contextmanager
def opening(record: MailRecord):
    token = _opening.set(record)
    try:
        yield
    finally:
        _opening.reset(token)


def mail_being_opened() -> MailRecord | None:
    return _opening.get()


def record_finish(*, found: Intake, ticket: Ticket | None, message=None, skipped: list | None = None) -> MailRecord:
    record = found.record
    record.outcome = found.outcome
    record.reason = found.reason[:200]
    record.forged = found.forged
    record.ticket = ticket
    record.message = message
    record.skipped_attachments = skipped or []
    record.save(update_fields=["outcome", "reason", "forged", "ticket", "message", "skipped_attachments"])
    return record


def follow_up_link(*, ticket: Ticket, follows: Ticket) -> None:
    """A reply to a closed ticket opened this one: each ticket's trail names the other."""
    event_record(ticket=ticket, kind="follow_up_of", actor=None, after={"ticket": follows.pk})
    event_record(ticket=follows, kind="followed_up", actor=None, after={"ticket": ticket.pk})


FORGED_NOTE = "Unverified e-mail from {sender} (not this ticket's customer); not counted as theirs.\n\n{body}"


def forged_note(*, parsed: parsing.ParsedMail, body: str) -> str:
    return FORGED_NOTE.format(sender=parsed.from_address, body=body)


def mailbox_mark(*, mailbox_id: int, uidvalidity: int, uid: int) -> None:
    """What the poller has read: only forward, so a slow poller can't move it back."""
    Mailbox.objects.filter(pk=mailbox_id, uidvalidity=uidvalidity, last_uid__lt=uid).update(last_uid=uid)


def mailbox_reset(*, mailbox: Mailbox, uidvalidity: int) -> None:
    """The server renumbered the folder (a new UIDVALIDITY): read it again from the start; what was received
    before is a duplicate by Message-ID, so nothing is doubled."""
    Mailbox.objects.filter(pk=mailbox.pk).update(uidvalidity=uidvalidity, last_uid=0)
    mailbox.uidvalidity, mailbox.last_uid = uidvalidity, 0


def mailbox_polled(*, mailbox: Mailbox, error: str = "") -> None:
    Mailbox.objects.filter(pk=mailbox.pk).update(last_polled_at=timezone.now(), last_error=error[:2000])


def records_erase(*, ticket_ids: list[int], address: str, redactor: redaction.Redactor) -> int:
    """A customer's erasure (workflows.customer_erase): the originals of their mail are dropped — a raw message
    holds everything the erasure removes — and the addresses and subjects kept beside them are masked."""
    rows = MailRecord.objects.filter(Q(ticket_id__in=ticket_ids) | Q(from_address=address) | Q(to_address=address))
    count = rows.exclude(raw=b"").update(raw=b"", skipped_attachments=[])
    mask_rows(rows, ("from_address", "to_address", "subject"), redactor)
    return count
