"""Writes of the calls app: call requests, scheduling (with routing and the invite), the call's life
(reschedule, cancel, start, no-show, complete), notes, action items and call-note templates. Each writes the
ticket's audit trail and its outbox rows in the caller's transaction; invites, reminders and webhooks leave
through the outbox after commit.

`actor` is the helpdesk.auth.Principal acting, or None for the system (rules, the sweep)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import DurationField, ExpressionWrapper, F, Value
from django.utils import timezone

from callnotes import brief, invites, knowledge, selectors, validation
from callnotes.defaults import DEFAULT_SECTIONS, DEFAULT_TEMPLATE_NAME
from callnotes.errors import CallError
from callnotes.models import (
    BOOKED_STATUSES,
    MAX_CALL_MINUTES,
    OPEN_STATUSES,
    SECTIONS,
    ActionItem,
    ActionItemStatus,
    Attachment,
    CalendarFeed,
    Call,
    CallNote,
    CallNoteTemplate,
    CallStatus,
    Required,
)
from escalation import routing
from escalation.batch import ShareRows
from escalation.models import Escalation
from helpdesk import bulk, share_reads
from helpdesk.audit import actor_label
from helpdesk.auth import Principal, hash_token_key
from helpdesk.models import Membership, Tenant
from helpdesk.outbox import outbox_emit
from helpdesk.validation import full_check
from tickets.models import AuthorType, Status, Ticket, TicketEvent
from tickets.selectors import ticket_context
from tickets.services import event_record

ERR_PAST = "The call must start in the future."
ERR_DURATION = f"A call lasts 1 to {MAX_CALL_MINUTES} minutes."
ERR_DOUBLE_BOOKED = "{agent} already has a call from {start:%Y-%m-%d %H:%M} UTC to {end:%H:%M} UTC."
ERR_NOBODY = "Nobody who could take this call is free then; choose an agent or another time."
ERR_STATE = "This call is {status}; it cannot be {action}."
ERR_REQUIRED = "Fill this field before the call is {moment}."
ERR_CLOSED_TICKET = "The ticket is closed; reopen it before scheduling a call."
ERR_NO_TEMPLATE = "No active call-note template: add one in the admin."
ERR_TEMPLATE_RETIRED = "This template is retired."
ERR_NAME_TAKEN = "A template with this name exists."
ERR_DUE_PAST = "The due date is in the past."
ERR_NO_SUMMARY = "The call has no customer-facing summary to send."
ERR_SUMMARY_SENT = "The customer-facing summary was sent already."
ERR_UNKNOWN_FIELD = "The template has no such field."
ERR_NOTE_CLOSED = "The call is over; its notes are final."
ERR_INACTIVE = "This member is deactivated."
ERR_ATTACHMENTS = "Attachments of this ticket only (upload them to the ticket or the call first)."


def _label(actor: Principal | None) -> str:
    return str(actor) if actor else "system"


def _zone_or_tenant(name: str, tenant: Tenant) -> str:
    return name or tenant.timezone or "UTC"


# --- templates ----------------------------------------------------------------------------------------


@transaction.atomic
def template_install(*, tenant: Tenant) -> CallNoteTemplate:
    """The seeds' template, the tenant's default."""
    template, _ = CallNoteTemplate.objects.get_or_create(
        tenant=tenant, name=DEFAULT_TEMPLATE_NAME, defaults={"sections": DEFAULT_SECTIONS, "is_default": True}
    )
    return template


def _template_store(template: CallNoteTemplate) -> CallNoteTemplate:
    full_check(template, validation.template_problems)
    try:
        with transaction.atomic():
            if template.is_default:
                # One default per tenant: making this one the default retires the flag elsewhere.
                CallNoteTemplate.objects.exclude(pk=template.pk).filter(is_default=True).update(is_default=False)
            template.save()
    except IntegrityError:
        raise CallError(ERR_NAME_TAKEN, code="conflict", status=409, fields={"name": ["Already used."]}) from None
    return template


@transaction.atomic
def template_create(*, tenant: Tenant, **fields) -> CallNoteTemplate:
    return _template_store(CallNoteTemplate(tenant=tenant, **fields))


@transaction.atomic
def template_update(*, template: CallNoteTemplate, **changes) -> CallNoteTemplate:
    """An edit; a change of the fields is a new version (notes already open keep theirs). The admin's form
    may have set the changes on the instance already: then the stored row tells whether the fields moved."""
    stored = CallNoteTemplate.objects.filter(pk=template.pk).values_list("sections", flat=True).first()
    for name, value in changes.items():
        setattr(template, name, value)
    if stored is not None and stored != template.sections:
        template.version += 1
    return _template_store(template)


@transaction.atomic
def template_delete(*, template: CallNoteTemplate) -> str:
    """Removes a template no call or note refers to; retires one in use (active: false, kept for history).
    Returns "deleted" or "retired"."""
    used = Call.objects.filter(template=template).exists() or CallNote.objects.filter(template=template).exists()
    if used:
        template.active, template.is_default = False, False
        template.save(update_fields=["active", "is_default", "updated_at"])
        return "retired"
    template.delete()
    return "deleted"


def _template_for(template: CallNoteTemplate | None, tenant: Tenant) -> CallNoteTemplate:
    if template is not None:
        if not template.active:
            raise CallError(ERR_TEMPLATE_RETIRED, fields={"template": [ERR_TEMPLATE_RETIRED]})
        return template
    found = selectors.template_for_new_call(tenant=tenant)
    if found is None:
        raise CallError(ERR_NO_TEMPLATE, code="no_template", status=409)
    return found


# --- call requests ------------------------------------------------------------------------------------


def call_request_open(*, escalation: Escalation, trigger: str, reason: str, at: datetime) -> Call | None:
    """An escalation asks for a call (a rule with to_call, or a person): one request per escalation, whoever
    asks first; the ticket's trail says why (the trigger and its facts). None when one is open already."""
    ticket = escalation.ticket
    call = Call(
        tenant_id=ticket.tenant_id,
        ticket=ticket,
        escalation=escalation,
        suggested_trigger=trigger[:60],
        suggested_reason=reason,
        created_at=at,
    )
    try:
        with transaction.atomic():  # the partial unique index decides, also between two writers at once
            call.save(force_insert=True)
    except IntegrityError:
        return None
    event_record(
        ticket=ticket,
        kind="call_suggested",
        actor=None,
        at=at,
        after={"call": call.pk, "escalation": escalation.pk, "trigger": trigger, "reason": reason},
    )
    return call


def call_requests_open(*, wanted: list[tuple[Escalation, str, str]], at: datetime) -> list[Call]:
    """The requests of escalations an evaluation opened or reinforced with to_call (TicketSnapshot.calls_wanted:
    escalation, the rule's slug, the facts that fired it)."""
    opened = [call_request_open(escalation=e, trigger=slug, reason=reason, at=at) for e, slug, reason in wanted]
    return [call for call in opened if call is not None]


WANTING_STATUSES = ("requested", "acknowledged")


def call_requests_for_tickets(*, ticket_ids: list[int], at: datetime) -> int:
    """The sweep's share: escalations of these tickets that want a call (a time rule with to_call opened them, or
    the ladder carried the wish up) and never had one, on tickets with no call open. One query when there is
    nothing to do, none in the sweep's pass (its claim's calls read at once: calls_across); an escalation whose
    call was held or cancelled is not asked again."""
    facts = share_reads.take("calls", lambda: None)
    wanting = facts.wanting(ticket_ids) if facts is not None else None
    if wanting is None:
        # In the sweep's pass the facts are gone only after the share opened escalations one at a time or climbed
        # the ladder (share_reads.drop("calls")): its escalations gathered before must be read with those.
        bulk.flush()
        wanting = list(
            Escalation.objects.filter(ticket_id__in=ticket_ids, to_call=True, status__in=WANTING_STATUSES)
            .filter(calls__isnull=True)
            .exclude(ticket__calls__status__in=OPEN_STATUSES)
            .select_related("ticket")
            .order_by("pk")
        )
    # One request per ticket from the sweep: several escalations of it may want the same call (the first asks).
    first: dict[int, Escalation] = {}
    for escalation in wanting:
        first.setdefault(escalation.ticket_id, escalation)
    return _call_requests_open_many(list(first.values()), at)


@dataclass
class CallFacts:
    """What call_requests_for_tickets asks, for one share of the sweep's pass: its escalations as the share's batch
    leaves them (escalation.batch.ShareRows: read for the claim, joined by the share's openings, changed by its
    reinforcements) and the calls its tickets had before the share (ticket id, escalation id, status)."""

    rows: ShareRows
    calls: list[tuple[int, int | None, str]]

    def wanting(self, ticket_ids: list[int]) -> list[Escalation] | None:
        """The query's answer, from memory; None when the facts were read for other tickets and the escalations
        must be read. When the share's batch decided nothing on these tickets (no time rules, none of them open:
        `by_ticket` never filled), the share opened and changed no escalation, so those read for the claim are
        still current: answered from them, without writing anything gathered by the shares before it."""
        if self.rows.ticket_ids != ticket_ids:
            return None
        had_call = {escalation_id for _, escalation_id, _ in self.calls if escalation_id is not None}
        call_open = {ticket_id for ticket_id, _, status in self.calls if status in OPEN_STATUSES}
        if self.rows.by_ticket is None:
            escalations = self.rows.escalations + self.rows.others
        else:
            escalations = [e for of_ticket in self.rows.by_ticket.values() for e in of_ticket] + self.rows.others
        return sorted(
            (
                e
                for e in escalations
                if e.to_call and e.status in WANTING_STATUSES and e.pk not in had_call and e.ticket_id not in call_open
            ),
            key=lambda e: e.pk,
        )


def calls_across(claimed: dict[int, list[int]], reads: dict[int, dict[str, object]]) -> None:
    """The calls of every claimed ticket in one statement (the sweep's pass, inside tenancy.tenant_batch, whose
    policy opens the claimed tenants' calls), handed to each share as CallFacts with its escalations (`reads`:
    escalation.claim_reads.claim_read's answer)."""
    ticket_ids = [pk for ids in claimed.values() for pk in ids]
    calls: dict[int, list[tuple[int, int | None, str]]] = {pk: [] for pk in claimed}
    rows = Call.unscoped.filter(tenant_id__in=list(claimed), ticket_id__in=ticket_ids)
    for tenant_id, ticket_id, escalation_id, status in rows.values_list(
        "tenant_id", "ticket_id", "escalation_id", "status"
    ):
        calls[tenant_id].append((ticket_id, escalation_id, status))
    for tenant_id, share in reads.items():
        share["calls"] = CallFacts(share["tickets"], calls[tenant_id])  # type: ignore[arg-type]


REQUEST_CONFLICT = "(tenant_id, escalation_id) WHERE status = 'requested' DO NOTHING"


def _call_requests_open_many(escalations: list[Escalation], at: datetime) -> int:
    """call_request_open for many escalations (the sweep's share), in two statements: the requests in one
    INSERT (the partial unique index decides, as for one: a request another writer just made is skipped), the
    `call_suggested` events of those stored in another. Inside bulk.gathered() (the sweep's pass), both for the
    whole claim on the way out (the batch policy opens the claimed tenants' calls: tenancy.CALL_BATCH_TABLES);
    nothing in a share reads its calls back. Returns how many requests were made; when gathered, how many were
    asked for (an upper bound: the write at the claim's end skips those another writer made meanwhile)."""
    if not escalations:
        return 0
    if bulk.defer(("callnotes.requests", at), escalations, lambda rows: _call_requests_write(rows, at)):
        return len(escalations)
    return len(_call_requests_write(escalations, at))


def _call_requests_write(escalations: list[Escalation], at: datetime) -> list[tuple[int, int]]:
    # bulk.new: the constructor's work per field, ~10,000 rows in the storm, is the same for every row.
    calls = [
        bulk.new(Call, tenant_id=e.tenant_id, ticket_id=e.ticket_id, escalation=e, suggested_trigger=e.trigger[:60],
                 suggested_reason=e.reason, created_at=at)
        for e in escalations
    ]  # fmt: skip
    made = bulk.insert_rows(Call, calls, on_conflict=REQUEST_CONFLICT, returning="id, escalation_id")
    by_id = {e.pk: e for e in escalations}
    bulk.insert_rows(
        TicketEvent,
        [
            bulk.new(TicketEvent, tenant_id=by_id[eid].tenant_id, ticket_id=by_id[eid].ticket_id,
                     kind="call_suggested", actor=None, actor_label=actor_label(None), before={},
                     after={"call": pk, "escalation": eid, "trigger": by_id[eid].trigger,
                            "reason": by_id[eid].reason}, created_at=at)
            for pk, eid in made
        ],
    )  # fmt: skip
    return made


# --- scheduling ---------------------------------------------------------------------------------------


def _window_problems(start: datetime, minutes: int, at: datetime) -> dict[str, list[str]]:
    problems = {}
    if start <= at:
        problems["scheduled_start"] = [ERR_PAST]
    if not 1 <= minutes <= MAX_CALL_MINUTES:
        problems["duration_minutes"] = [ERR_DURATION]
    return problems


def _booked(start: datetime, end: datetime, *, exclude_call: int | None = None):
    """Calls holding someone's time that overlap [start, end)."""
    ends = ExpressionWrapper(
        F("scheduled_start") + F("duration_minutes") * Value(timedelta(minutes=1)), output_field=DurationField()
    )
    calls = Call.objects.filter(status__in=BOOKED_STATUSES, scheduled_start__lt=end).alias(ends_at=ends)
    calls = calls.filter(ends_at__gt=start)
    return calls.exclude(pk=exclude_call) if exclude_call else calls


def _check_free(agent: Membership, start: datetime, end: datetime, call: Call | None) -> None:
    # The agent's row is locked first: two schedulings for one agent at once take turns, so both can't pass.
    Membership.objects.select_for_update().filter(pk=agent.pk).values_list("pk", flat=True).first()
    clash = _booked(start, end, exclude_call=call.pk if call and call.pk else None).filter(agent=agent).first()
    if clash is not None:
        message = ERR_DOUBLE_BOOKED.format(
            agent=agent.user.get_username(), start=clash.scheduled_start, end=clash.scheduled_end
        )
        raise CallError(message, code="double_booked", status=409, fields={"agent": [message]})


def _route(ticket: Ticket, escalation: Escalation | None, start: datetime, end: datetime) -> tuple[Membership, str]:
    """Like an escalation: the escalation's receiver when free, else by its team (skill), tier, availability
    and spare capacity, round robin on ties — leaving out whoever is booked in the window."""
    busy = set(_booked(start, end).exclude(agent=None).values_list("agent_id", flat=True))
    if escalation is not None and escalation.agent_id and escalation.agent_id not in busy:
        return escalation.agent, "the escalation's receiver"
    target_team = escalation.team if escalation is not None else ticket.team
    target_tier = escalation.to_tier if escalation is not None else ticket.tier
    route = routing.route(target_team=target_team, target_tier=target_tier, exclude_ids=sorted(busy))
    if route.agent is None:
        raise CallError(ERR_NOBODY, code="no_agent", status=409, fields={"agent": [ERR_NOBODY]})
    return route.agent, route.explanation


def _agent_for(call: Call, chosen: Membership | None, start: datetime, end: datetime) -> tuple[Membership, str]:
    """The scheduler's choice (active, free then) or the routed agent, and how they were chosen."""
    if chosen is not None and not chosen.active:
        raise CallError(ERR_INACTIVE, fields={"agent": [ERR_INACTIVE]})
    agent, explanation = (
        (chosen, "chosen by the scheduler") if chosen else _route(call.ticket, call.escalation, start, end)
    )
    _check_free(agent, start, end, call)
    return agent, explanation


def _missing(note: CallNote, moment: str) -> dict[str, list[str]]:
    """Each field the template requires at this moment ("scheduling", "completion") and still empty."""
    return {
        f"{section}.{field['key']}": [
            ERR_REQUIRED.format(moment="scheduled" if moment == "scheduling" else "completed")
        ]
        for section in SECTIONS
        for field in note.fields.get(section, [])
        if field.get("required") == moment and validation.is_empty(note.values.get(section, {}).get(field["key"]))
    }


def _note_open(call: Call, template: CallNoteTemplate, at: datetime) -> CallNote:
    """The call's notes, in the template as it is now, pre-filled from the ticket (the pre-call brief) so
    nobody asks the customer again what the thread already says."""
    drafted = brief.pre_call_brief(call.ticket, call.escalation)
    known = {section: {f["key"] for f in template.sections.get(section, [])} for section in SECTIONS}
    values = {
        section: {key: value for key, value in drafted["prefill"].get(section, {}).items() if key in known[section]}
        for section in SECTIONS
    }
    return CallNote.objects.create(
        tenant_id=call.tenant_id,
        call=call,
        template=template,
        template_version=template.version,
        fields=template.sections,
        values=values,
        brief=drafted["brief"],
        updated_at=at,
    )


def _apply_values(note: CallNote, changes: dict[str, dict]) -> None:
    """Sets note values section by section; unknown fields and bad values are a 400 naming each."""
    problems: dict[str, list[str]] = {}
    for section, values in changes.items():
        fields = {f["key"]: f for f in note.fields.get(section, [])}
        for key, value in values.items():
            field = fields.get(key)
            problem = ERR_UNKNOWN_FIELD if field is None else validation.value_problem(field, value)
            if not problem and field["type"] == "artifact" and value and not _attachments_of(note, value):
                problem = ERR_ATTACHMENTS
            if problem:
                problems[f"{section}.{key}"] = [problem]
            else:
                note.values.setdefault(section, {})[key] = value
    if problems:
        raise CallError("Some note fields are invalid.", fields=problems)


def _attachments_of(note: CallNote, ids: list[int]) -> bool:
    """Whether every id names an attachment of the note's ticket (an id from elsewhere is refused)."""
    ticket_id = Call.objects.filter(pk=note.call_id).values_list("ticket_id", flat=True)
    return Attachment.objects.filter(ticket_id__in=ticket_id, pk__in=ids).count() == len(set(ids))


def _open_request(ticket: Ticket, escalation: Escalation | None) -> Call | None:
    calls = Call.objects.filter(ticket=ticket, status=CallStatus.REQUESTED).select_for_update()
    if escalation is not None:
        calls = calls.filter(escalation=escalation)
    return calls.order_by("created_at", "pk").first()


def _active_escalation(ticket: Ticket) -> Escalation | None:
    return (
        Escalation.objects.filter(ticket=ticket, status__in=["requested", "acknowledged"])
        .select_related("agent__user", "team")
        .order_by("-to_call", "-created_at")
        .first()
    )


@transaction.atomic
def call_schedule(
    *,
    ticket: Ticket,
    actor: Principal | None,
    scheduled_start: datetime,
    duration_minutes: int,
    agent: Membership | None = None,
    attendees: list[str] = (),
    stakeholders: list[Membership] = (),
    template: CallNoteTemplate | None = None,
    timezone_name: str = "",
    pre_call: dict | None = None,
    at: datetime | None = None,
) -> Call:
    """Schedules a call on the ticket: its open request (a rule's or a person's) if it has one, else a new
    call on its active escalation. Refuses a window in the past, a duration outside 1..480 min, an agent
    booked then, and — the seeds' cure for bouncebacks — a note whose fields required for scheduling are
    empty (400 naming each)."""
    at = at or timezone.now()
    if ticket.status == Status.CLOSED:
        raise CallError(ERR_CLOSED_TICKET, code="ticket_closed", status=409)
    problems = _window_problems(scheduled_start, duration_minutes, at)
    if problems:
        raise CallError("The call's window is invalid.", fields=problems)
    end = scheduled_start + timedelta(minutes=duration_minutes)
    escalation = _active_escalation(ticket)
    call = _open_request(ticket, escalation) or Call(
        tenant_id=ticket.tenant_id, ticket=ticket, escalation=escalation, suggested_trigger="manual", created_at=at
    )
    template = _template_for(template or call.template, ticket.tenant)
    agent, explanation = _agent_for(call, agent, scheduled_start, end)
    call.template, call.agent, call.routing = template, agent, explanation[:300]
    call.scheduled_start, call.duration_minutes = scheduled_start, duration_minutes
    call.timezone = _zone_or_tenant(timezone_name, ticket.tenant)
    call.attendees = sorted({a.strip().lower() for a in attendees})
    call.stakeholders = [m.pk for m in stakeholders]
    call.status, call.scheduled_at = CallStatus.SCHEDULED, at
    call.reminder_due_at, call.reminded_at = _reminder_at(scheduled_start, at), None
    call.save()
    note = CallNote.objects.filter(call=call).first() or _note_open(call, template, at)
    _apply_values(note, {"pre_call": pre_call or {}})
    missing = _missing(note, Required.SCHEDULING)
    if missing:
        raise CallError("Fill the fields the template requires before scheduling.", fields=missing)
    note.updated_at, note.updated_by = at, _label(actor)
    note.save(update_fields=["values", "updated_at", "updated_by"])
    event_record(
        ticket=ticket,
        kind="call_scheduled",
        actor=actor,
        at=at,
        after={"call": call.pk, "start": scheduled_start.isoformat(), "minutes": duration_minutes, "agent": agent.pk},
    )
    _emit_invite(call, "call.scheduled", at)
    return call


def _reminder_at(start: datetime, at: datetime) -> datetime:
    return max(start - timedelta(minutes=settings.CALL_REMINDER_MINUTES), at)


# --- the call's life ------------------------------------------------------------------------------------


def _lock(call: Call) -> Call:
    """Re-read under a lock: two concurrent actions on one call take turns and the second sees the first."""
    calls = Call.objects.select_for_update(of=("self",)).select_related("ticket__tenant", "agent__user", "escalation")
    return calls.get(pk=call.pk)


def _require(call: Call, allowed: tuple, action: str) -> Call:
    call = _lock(call)
    if call.status not in allowed:
        raise CallError(ERR_STATE.format(status=call.status, action=action), code="invalid_state", status=409)
    return call


@transaction.atomic
def call_reschedule(
    *, call: Call, actor: Principal | None, scheduled_start: datetime, duration_minutes: int, at: datetime | None = None
) -> Call:
    """A new window for a scheduled call: the same invite (UID), SEQUENCE + 1, a new reminder."""
    at = at or timezone.now()
    call = _require(call, (CallStatus.SCHEDULED,), "rescheduled")
    problems = _window_problems(scheduled_start, duration_minutes, at)
    if problems:
        raise CallError("The call's window is invalid.", fields=problems)
    _check_free(call.agent, scheduled_start, scheduled_start + timedelta(minutes=duration_minutes), call)
    before = call.scheduled_start
    call.scheduled_start, call.duration_minutes = scheduled_start, duration_minutes
    call.sequence += 1
    call.reminder_due_at, call.reminded_at = _reminder_at(scheduled_start, at), None
    call.save(update_fields=["scheduled_start", "duration_minutes", "sequence", "reminder_due_at", "reminded_at"])
    event_record(
        ticket=call.ticket,
        kind="call_rescheduled",
        actor=actor,
        at=at,
        before={"start": before.isoformat()},
        after={"call": call.pk, "start": scheduled_start.isoformat(), "minutes": duration_minutes},
    )
    _emit_invite(call, "call.rescheduled", at)
    return call


@transaction.atomic
def call_cancel(*, call: Call, actor: Principal | None, reason: str, at: datetime | None = None) -> Call:
    """A request or a scheduled call is called off; a scheduled one sends METHOD:CANCEL (SEQUENCE + 1)."""
    at = at or timezone.now()
    call = _require(call, (CallStatus.REQUESTED, CallStatus.SCHEDULED), "cancelled")
    was_scheduled = call.status == CallStatus.SCHEDULED
    call.status, call.cancelled_at, call.cancel_reason, call.reminder_due_at = CallStatus.CANCELLED, at, reason, None
    call.sequence += was_scheduled
    call.save(update_fields=["status", "cancelled_at", "cancel_reason", "reminder_due_at", "sequence"])
    event_record(
        ticket=call.ticket, kind="call_cancelled", actor=actor, at=at, after={"call": call.pk, "reason": reason}
    )
    if was_scheduled:
        _emit_invite(call, "call.cancelled", at, reason=reason)
    return call


@transaction.atomic
def call_start(*, call: Call, actor: Principal | None, at: datetime | None = None) -> Call:
    """The call begins: the handoff delay (escalation created -> call started) is recorded for the metrics."""
    at = at or timezone.now()
    call = _require(call, (CallStatus.SCHEDULED,), "started")
    _begin(call, at)
    call.save(update_fields=["status", "started_at", "handoff_seconds", "reminder_due_at"])
    event_record(ticket=call.ticket, kind="call_started", actor=actor, at=at, after={"call": call.pk})
    return call


def _begin(call: Call, at: datetime) -> None:
    call.status, call.started_at, call.reminder_due_at = CallStatus.IN_PROGRESS, at, None
    if call.escalation_id:
        call.handoff_seconds = max(int((at - call.escalation.created_at).total_seconds()), 0)


@transaction.atomic
def call_no_show(*, call: Call, actor: Principal | None, at: datetime | None = None) -> Call:
    at = at or timezone.now()
    call = _require(call, (CallStatus.SCHEDULED, CallStatus.IN_PROGRESS), "marked a no-show")
    call.status, call.ended_at, call.reminder_due_at = CallStatus.NO_SHOW, at, None
    call.save(update_fields=["status", "ended_at", "reminder_due_at"])
    event_record(ticket=call.ticket, kind="call_no_show", actor=actor, at=at, after={"call": call.pk})
    return call


def _reminder_for(due: date, tenant: Tenant, at: datetime) -> datetime:
    """09:00 on the due date in the tenant's zone (the start of their working day), or now if that is past."""
    local = datetime.combine(due, time(9, 0), tzinfo=ZoneInfo(tenant.timezone or "UTC"))
    return max(local.astimezone(ZoneInfo("UTC")), at)


def _action_items(call: Call, items: list[dict], at: datetime) -> list[ActionItem]:
    today = at.astimezone(ZoneInfo(call.ticket.tenant.timezone or "UTC")).date()
    late = {f"action_items[{i}].due": [ERR_DUE_PAST] for i, item in enumerate(items) if item["due"] < today}
    if late:
        raise CallError(ERR_DUE_PAST, fields=late)
    return ActionItem.objects.bulk_create(
        ActionItem(
            tenant_id=call.tenant_id,
            call=call,
            ticket_id=call.ticket_id,
            description=item["description"],
            owner=item["owner"],
            due=item["due"],
            reminder_due_at=_reminder_for(item["due"], call.ticket.tenant, at),
            created_at=at,
        )
        for item in items
    )


# The completion's body, as the post-call section's fields of the same keys.
COMPLETION_FIELDS = ("root_cause", "resolution", "customer_summary")


@transaction.atomic
def call_complete(
    *,
    call: Call,
    actor: Principal | None,
    root_cause: str,
    resolution: str,
    customer_summary: str,
    action_items: list[dict] = (),
    tags: list[str] = (),
    at: datetime | None = None,
) -> Call:
    """Closes the call: every field the template requires for completion filled (400 naming each empty one),
    the root cause in one sentence, action items tracked with owner, due date and reminder. The customer
    summary waits for a person's approval (call_summary_approve); the case becomes searchable knowledge."""
    at = at or timezone.now()
    call = _require(call, (CallStatus.SCHEDULED, CallStatus.IN_PROGRESS), "completed")
    note = CallNote.objects.select_for_update().get(call=call)
    given = {"root_cause": root_cause.strip(), "resolution": resolution.strip(), "customer_summary": customer_summary}
    post = {k: v for k, v in given.items() if k in {f["key"] for f in note.fields.get("post_call", [])}}
    note.values.setdefault("post_call", {}).update(post)
    if action_items:
        note.values["post_call"]["action_items"] = [
            {"description": i["description"], "owner": i["owner"].pk, "due": i["due"].isoformat()} for i in action_items
        ]
    if tags:
        note.values["post_call"]["tags"] = list(tags)
    missing = {
        (path.split(".", 1)[1] if path.split(".", 1)[1] in given else path): messages
        for path, messages in _missing(note, Required.COMPLETION).items()
    }
    # The root cause and the resolution are what the next person acts on: required whatever the template says.
    missing.update({name: ["This field is required."] for name in ("root_cause", "resolution") if not given[name]})
    if missing:
        raise CallError("Fill the fields the template requires before completing the call.", fields=missing)
    if not validation.is_one_sentence(given["root_cause"]):
        raise CallError(validation.ERR_ONE_SENTENCE, fields={"root_cause": [validation.ERR_ONE_SENTENCE]})
    if call.status == CallStatus.SCHEDULED:
        _begin(call, min(call.scheduled_start, at))  # held as planned, never started in the app
    created = _action_items(call, list(action_items), at)
    call.status, call.ended_at, call.reminder_due_at = CallStatus.COMPLETED, at, None
    call.root_cause, call.resolution, call.customer_summary = given["root_cause"], given["resolution"], customer_summary
    call.save()
    note.updated_at, note.updated_by = at, _label(actor)
    note.save(update_fields=["values", "updated_at", "updated_by"])
    event_record(
        ticket=call.ticket,
        kind="call_completed",
        actor=actor,
        at=at,
        after={"call": call.pk, "root_cause": call.root_cause, "action_items": [i.pk for i in created]},
    )
    knowledge.index_call(call=call, tags=list(tags))
    _emit(
        call,
        "call.completed",
        at,
        root_cause=call.root_cause,
        resolution=call.resolution,
        action_items=[{"id": i.pk, "description": i.description, "owner": i.owner_id, "due": i.due} for i in created],
        handoff_seconds=call.handoff_seconds,
    )
    return call


@transaction.atomic
def call_summary_approve(*, call: Call, actor: Principal | None, body: str = "", at: datetime | None = None):
    """A person approves the customer-facing summary (edited or as written): it goes to the customer as a
    public message on the ticket, once. Returns (call, the message fields) for the workflow to post."""
    at = at or timezone.now()
    call = _require(call, (CallStatus.COMPLETED,), "summarised")
    if call.summary_sent_at is not None:
        raise CallError(ERR_SUMMARY_SENT, code="invalid_state", status=409)
    text = (body or call.customer_summary).strip()
    if not text:
        raise CallError(ERR_NO_SUMMARY, fields={"body": [ERR_NO_SUMMARY]})
    call.customer_summary, call.summary_sent_at, call.summary_approved_by = text, at, _label(actor)
    call.save(update_fields=["customer_summary", "summary_sent_at", "summary_approved_by"])
    return call, {"body": text, "author_type": AuthorType.AGENT, "internal": False, "created_at": at}


# --- notes ----------------------------------------------------------------------------------------------


@transaction.atomic
def note_update(
    *, call: Call, actor: Principal | None, changes: dict[str, dict], at: datetime | None = None
) -> CallNote:
    """PATCH of the notes, section by section, in the note's own template version."""
    at = at or timezone.now()
    call = _lock(call)
    if call.status in (CallStatus.COMPLETED, CallStatus.CANCELLED, CallStatus.NO_SHOW):
        raise CallError(ERR_NOTE_CLOSED, code="invalid_state", status=409)
    note = CallNote.objects.select_for_update().filter(call=call).first()
    if note is None:
        note = _note_open(call, _template_for(call.template, call.ticket.tenant), at)
    _apply_values(note, changes)
    note.updated_at, note.updated_by = at, _label(actor)
    note.save(update_fields=["values", "updated_at", "updated_by"])
    return note


@transaction.atomic
def note_draft_store(*, call: Call, actor: Principal | None, draft: dict, at: datetime | None = None) -> CallNote:
    """A transcript's draft of the live notes, kept beside them for a person to review; nothing is sent."""
    at = at or timezone.now()
    call = _lock(call)
    note = CallNote.objects.select_for_update().filter(call=call).first() or _note_open(
        call, _template_for(call.template, call.ticket.tenant), at
    )
    note.live_draft = {**draft, "drafted_at": at.isoformat(), "drafted_by": _label(actor)}
    note.save(update_fields=["live_draft"])
    return note


def note_attach(*, call: Call, field_key: str, attachment_id: int) -> None:
    """An artifact uploaded for a note's artifact field fills that field (the id joins its list)."""
    note = CallNote.objects.select_for_update().filter(call=call).first()
    if note is None:
        note = _note_open(call, _template_for(call.template, call.ticket.tenant), timezone.now())
    for section in SECTIONS:
        for field in note.fields.get(section, []):
            if field["key"] == field_key and field["type"] == "artifact":
                values = note.values.setdefault(section, {})
                values[field_key] = [*values.get(field_key, []), attachment_id]
                note.save(update_fields=["values"])
                return
    raise CallError(ERR_UNKNOWN_FIELD, fields={"field": [f"No artifact field {field_key!r} in this call's template."]})


# --- action items ---------------------------------------------------------------------------------------


@transaction.atomic
def action_item_done(*, item: ActionItem, actor: Principal | None, at: datetime | None = None) -> ActionItem:
    at = at or timezone.now()
    item = ActionItem.objects.select_for_update().get(pk=item.pk)
    if item.status == ActionItemStatus.DONE:
        return item
    item.status, item.done_at, item.reminder_due_at = ActionItemStatus.DONE, at, None
    item.save(update_fields=["status", "done_at", "reminder_due_at"])
    event_record(
        ticket=item.ticket,
        kind="action_item_done",
        actor=actor,
        at=at,
        after={"action_item": item.pk, "call": item.call_id},
    )
    return item


# --- the outbox -----------------------------------------------------------------------------------------


def _when_text(call: Call) -> str:
    """The window in the tenant's zone and, when it differs, in the customer's."""
    tenant_zone = call.ticket.tenant.timezone or "UTC"
    fmt = "%a %d %b %Y %H:%M %Z"
    text = f"{call.scheduled_start.astimezone(ZoneInfo(tenant_zone)):{fmt}} ({call.duration_minutes} min)"
    if call.timezone and call.timezone != tenant_zone:
        text += f"; for the customer {call.scheduled_start.astimezone(ZoneInfo(call.timezone)):{fmt}}"
    return text


def _payload(call: Call, **extra) -> dict:
    return {
        "call": call.pk,
        "ticket": call.ticket_id,
        "escalation": call.escalation_id,
        "status": call.status,
        "agent": call.agent_id,
        "attendees": selectors.invitees(call),
        "scheduled_start": call.scheduled_start,
        "duration_minutes": call.duration_minutes,
        "timezone": call.timezone,
        "sequence": call.sequence,
        "text": _when_text(call) if call.scheduled_start else "",
        "ticket_context": ticket_context(call.ticket),
        **extra,
    }


def _emit(call: Call, event: str, at: datetime, *, key: str = "", **extra) -> None:
    outbox_emit(
        tenant_id=call.tenant_id,
        type=event,
        dedupe_key=f"{event}:{call.pk}:{key or call.sequence}",
        payload=_payload(call, **extra),
        at=at,
    )


def _emit_invite(call: Call, event: str, at: datetime, **extra) -> None:
    """The invite (or its update, or its cancel) to the agent and the attendees, the .ics attached."""
    _emit(call, event, at, ics=invites.invite(selectors.call_event(call)), immediate=True, **extra)


def call_remind(*, call: Call, at: datetime) -> bool:
    """The reminder before the start, once per window (the dedupe key names the invite's sequence)."""
    updated = Call.objects.filter(pk=call.pk, reminder_due_at__isnull=False, status=CallStatus.SCHEDULED).update(
        reminder_due_at=None, reminded_at=at
    )
    if updated != 1:
        return False
    _emit(call, "call.reminder", at, immediate=True)
    return True


def action_item_remind(*, item: ActionItem, at: datetime) -> bool:
    updated = ActionItem.objects.filter(pk=item.pk, reminder_due_at__isnull=False, status=ActionItemStatus.OPEN).update(
        reminder_due_at=None, reminded_at=at
    )
    if updated != 1:
        return False
    outbox_emit(
        tenant_id=item.tenant_id,
        type="action_item.reminder",
        dedupe_key=f"action_item.reminder:{item.pk}",
        payload={
            "action_item": item.pk,
            "call": item.call_id,
            "ticket": item.ticket_id,
            "recipient": item.owner_id,
            "text": f"Due {item.due:%Y-%m-%d}: {item.description}",
            "ticket_context": ticket_context(item.ticket),
        },
        at=at,
    )
    return True


# --- calendar feeds -------------------------------------------------------------------------------------

FEED_PREFIX = "cf_"


@transaction.atomic
def feed_create(*, member: Membership, at: datetime | None = None) -> tuple[CalendarFeed, str]:
    """A member's private calendar URL key, shown once; an earlier feed of theirs is revoked (one live URL)."""
    at = at or timezone.now()
    CalendarFeed.objects.filter(member=member, revoked_at=None).update(revoked_at=at)
    key = FEED_PREFIX + secrets.token_urlsafe(32)
    feed = CalendarFeed.objects.create(
        tenant_id=member.tenant_id, member=member, prefix=key[:8], key_hash=hash_token_key(key), created_at=at
    )
    return feed, key


@transaction.atomic
def feed_revoke(*, member: Membership, at: datetime | None = None) -> int:
    return CalendarFeed.objects.filter(member=member, revoked_at=None).update(revoked_at=at or timezone.now())
