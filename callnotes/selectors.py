"""Reads of the calls app, shared by the API, the agent pages and tasks.

For the pages /calls/ and /calls/<id>/: `call_list` (filter by agent/status/ticket, newest first),
`calls_upcoming(member=…)` (my scheduled calls), `call_get`, `note_of(call)` (sections with their fields and
values, the pre-call brief and the transcript draft), `action_items_of_call`, `ticket_action_items` (open
ones are listed on the ticket until done), `attachments_of_call`, `call_times(call)` (the window in the
tenant's and the customer's zone)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from callnotes import invites, knowledge
from callnotes.models import (
    BOOKED_STATUSES,
    ActionItem,
    ActionItemStatus,
    Attachment,
    CalendarFeed,
    Call,
    CallNote,
    CallNoteTemplate,
    CallStatus,
    KnowledgeEntry,
)
from helpdesk.models import Membership, Tenant
from tickets.models import Ticket

FEED_PAST_DAYS = 30


def call_list(*, tenant: Tenant) -> QuerySet[Call]:
    return Call.objects.filter(tenant=tenant).select_related("agent__user", "template")


def call_get(*, tenant: Tenant, call_id: int) -> Call:
    """Raises Call.DoesNotExist for a missing call and for another tenant's alike."""
    return call_list(tenant=tenant).select_related("ticket__tenant", "ticket__requester", "escalation").get(pk=call_id)


def calls_upcoming(*, member: Membership, now: datetime | None = None) -> QuerySet[Call]:
    """A member's scheduled and running calls, soonest first (the /calls/ page's "my calls")."""
    now = now or timezone.now()
    return (
        Call.objects.filter(agent=member, status__in=BOOKED_STATUSES, scheduled_start__gte=now - timedelta(hours=8))
        .select_related("ticket")
        .order_by("scheduled_start", "pk")
    )


def calls_of_ticket(*, ticket: Ticket) -> QuerySet[Call]:
    return (
        Call.objects.filter(ticket=ticket).select_related("agent__user", "ticket__tenant").order_by("created_at", "pk")
    )


def note_of(call: Call) -> CallNote | None:
    return CallNote.objects.filter(call=call).first()


@dataclass(frozen=True)
class CallTimes:
    start_tenant: str
    start_customer: str
    tenant_zone: str
    customer_zone: str


def call_times(call: Call) -> CallTimes | None:
    """The window as people read it: in the tenant's zone and in the customer's."""
    if call.scheduled_start is None:
        return None
    tenant_zone = call.ticket.tenant.timezone or "UTC"
    customer_zone = call.timezone or tenant_zone
    return CallTimes(
        start_tenant=call.scheduled_start.astimezone(ZoneInfo(tenant_zone)).isoformat(),
        start_customer=call.scheduled_start.astimezone(ZoneInfo(customer_zone)).isoformat(),
        tenant_zone=tenant_zone,
        customer_zone=customer_zone,
    )


def template_list(*, tenant: Tenant) -> QuerySet[CallNoteTemplate]:
    return CallNoteTemplate.objects.filter(tenant=tenant)


def template_for_new_call(*, tenant: Tenant) -> CallNoteTemplate | None:
    """The template a call gets when it names none: the tenant's default, else its oldest active one."""
    return template_list(tenant=tenant).filter(active=True).order_by("-is_default", "id").first()


def action_item_list(*, tenant: Tenant) -> QuerySet[ActionItem]:
    return ActionItem.objects.filter(tenant=tenant).select_related("owner__user")


def action_items_of_call(*, call: Call) -> QuerySet[ActionItem]:
    return ActionItem.objects.filter(call=call).select_related("owner__user").order_by("due", "pk")


def ticket_action_items(*, ticket: Ticket, open_only: bool = True) -> QuerySet[ActionItem]:
    items = ActionItem.objects.filter(ticket=ticket).select_related("owner__user").order_by("due", "pk")
    return items.filter(status=ActionItemStatus.OPEN) if open_only else items


def attachment_list(*, tenant: Tenant) -> QuerySet[Attachment]:
    return Attachment.objects.filter(tenant=tenant)


def attachments_of_call(*, call: Call) -> QuerySet[Attachment]:
    return Attachment.objects.filter(call=call).order_by("created_at", "pk")


def knowledge_list(*, tenant: Tenant) -> QuerySet[KnowledgeEntry]:
    return KnowledgeEntry.objects.filter(tenant=tenant)


def knowledge_search(*, tenant: Tenant, text: str) -> QuerySet[KnowledgeEntry]:
    """Resolved tickets and call summaries matching `text`, the most relevant first."""
    return knowledge.search(knowledge_list(tenant=tenant), text)


# --- calendar feeds -----------------------------------------------------------------------------------

FEED_LOOKUP = "SELECT feed_id, tenant_id, member_id FROM callnotes_feed_owner(%s)"


def feed_owner(key_hash: str) -> tuple[int, int, int] | None:
    """(feed, tenant, member) of an unrevoked feed key, found before any tenant is known: through the narrow
    SECURITY DEFINER function of migration callnotes 0002 (an exact hash in, three ids out)."""
    with connection.cursor() as cursor:
        cursor.execute(FEED_LOOKUP, [key_hash])
        return cursor.fetchone()


def feed_of(*, member: Membership) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(member=member, revoked_at=None).first()


def feed_calls(*, member: Membership, now: datetime | None = None) -> QuerySet[Call]:
    """What a member's calendar shows: their calls from a month ago on, cancelled ones included (so the
    calendar app removes them)."""
    now = now or timezone.now()
    return (
        Call.objects.filter(agent=member, scheduled_start__gte=now - timedelta(days=FEED_PAST_DAYS))
        .exclude(status=CallStatus.REQUESTED)
        .select_related("ticket", "agent__user")
        .order_by("scheduled_start", "pk")
    )


def call_event(call: Call) -> invites.Event:
    """The call as an iCalendar event (its invite, and its line in its agent's feed)."""
    ticket = call.ticket
    link = f"{settings.PUBLIC_URL}/calls/{call.pk}/"
    note = CallNote.objects.filter(call=call).values_list("values", flat=True).first() or {}
    meeting = str(note.get("pre_call", {}).get("phone_or_link") or "")
    agent = call.agent
    return invites.Event(
        uid=f"call-{call.uid}@helpdesk",
        sequence=call.sequence,
        start=call.scheduled_start,
        minutes=call.duration_minutes,
        timezone=call.timezone,
        summary=f"Call about #{ticket.pk}: {ticket.subject}"[:200],
        description=f"Ticket #{ticket.pk}: {ticket.subject}\nCall notes: {link}\nJoin: {meeting or 'by phone'}",
        stamp=timezone.now(),
        organizer=agent.user.email if agent else "",
        organizer_name=agent.user.get_full_name() or agent.user.get_username() if agent else "",
        attendees=tuple(invitees(call)),
        location=meeting,
        url=link,
        cancelled=call.status == CallStatus.CANCELLED,
    )


def upload_limit(tenant: Tenant) -> int:
    """The tenant's limit (Tenant.settings["max_upload_bytes"]), never above the deployment's."""
    own = tenant.settings.get("max_upload_bytes") if isinstance(tenant.settings, dict) else None
    ceiling = settings.MAX_UPLOAD_BYTES
    return min(int(own), ceiling) if isinstance(own, int) and own > 0 else ceiling


def invitees(call: Call) -> list[str]:
    """Who the invite names besides the agent: the customer's contacts, then the internal stakeholders (legal,
    engineering, product: the seeds' multi-stakeholder call), by their e-mail."""
    inside = Membership.objects.filter(pk__in=call.stakeholders, active=True).exclude(user__email="")
    emails = [e.strip().lower() for e in inside.order_by("pk").values_list("user__email", flat=True)]
    return list(dict.fromkeys([*call.attendees, *emails]))


def ticket_documents(ticket_ids: list[int]) -> dict[int, list[str]]:
    """The calls and artifacts on record for these tickets, as lines of an escalation message's supporting
    documentation (escalation.communication.DOCUMENT_SOURCES, registered in CallnotesConfig.ready). Two reads
    for any number of tickets; the calls that were only suggested and never held say nothing yet."""
    lines: dict[int, list[str]] = {}
    calls = (
        Call.objects.filter(ticket_id__in=ticket_ids)
        .exclude(status__in=[CallStatus.REQUESTED, CallStatus.CANCELLED])
        .order_by("created_at", "id")
        .values_list("ticket_id", "pk", "status", "scheduled_start", "root_cause")
    )
    for ticket_id, call_id, status, start, root_cause in calls:
        when = f" on {start:%Y-%m-%d}" if start else ""
        found = f": root cause {root_cause}" if root_cause else ""
        lines.setdefault(ticket_id, []).append(f"Call #{call_id}{when} ({status}){found}")
    attachments = (
        Attachment.objects.filter(ticket_id__in=ticket_ids)
        .order_by("created_at", "id")
        .values_list("ticket_id", "name", "content_type")
    )
    for ticket_id, name, content_type in attachments:
        lines.setdefault(ticket_id, []).append(f"Attachment: {name} ({content_type})")
    return lines
