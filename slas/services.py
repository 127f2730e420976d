"""SLA timers: start, meet, pause, resume, recalculate, and fire when due.

Every function takes `at`, the moment the change happened (a back-dated import's created_at, a
message's time), so deadlines are computed from when things really happened, not from when the code
ran. The deadline maths lives in slas/clock.py; this module keeps the rows in step with it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from helpdesk import bulk, config_cache
from helpdesk.audit import actor_label
from helpdesk.config_cache import tenant_config
from helpdesk.outbox import Emission, outbox_emit_across
from helpdesk.retirement import retire_or_remove
from helpdesk.tenancy import claim_by_tenant
from helpdesk.validation import full_check
from slas import clock, validation
from slas.models import (
    RECURRING_METRICS,
    BusinessCalendar,
    ClockSource,
    Metric,
    SLAPolicy,
    SlaTimer,
    TimerStatus,
    calendar_to_clock,
)
from slas.schedule import Miss, catch_up, clear_schedule, is_recurring, next_threshold, restart, schedule, timer_pauses
from tickets.models import Account, Status, Ticket, TicketEvent
from tickets.selectors import ticket_contexts
from tickets.services import event_record

DEFAULT_ON_HOLD_PAUSES = (Metric.RESOLUTION,)
OPEN_STATUSES = (TimerStatus.RUNNING, TimerStatus.PAUSED)


# --- calendars and policies ---------------------------------------------------------------------


def policy_matches(policy: SLAPolicy, *, ticket: Ticket, account: Account | None) -> bool:
    """Every condition the policy names must hold; a condition it leaves out matches anything."""
    rules = policy.applies_to or {}
    checks = [
        ("priorities", ticket.priority),
        ("categories", ticket.category),
        ("channels", ticket.channel),
        ("plans", account.plan if account else None),
    ]
    if any(rules.get(key) and value not in rules[key] for key, value in checks):
        return False
    return rules.get("vip") is None or bool(account and account.vip) == rules["vip"]


def active_policies() -> tuple[SLAPolicy, ...]:
    """The tenant's active policies in order, with their calendars; cached per process until a policy
    or calendar changes (helpdesk/config_cache.py). Shared between requests: read-only."""

    def load() -> tuple[SLAPolicy, ...]:
        return tuple(SLAPolicy.objects.filter(active=True).select_related("calendar").order_by("position", "id"))

    return tenant_config("sla_policies", load)


def policies_preload(tenant_ids: list[int]) -> None:
    """active_policies() of these tenants cached in one statement (the sweep's escalation pass, inside
    tenancy.tenant_batch and config_cache.pinned(): the batch policy opens them read-only); each its own."""

    def load_many(ids: list[int]) -> dict[int, tuple[SLAPolicy, ...]]:
        rows: dict[int, list[SLAPolicy]] = {}
        found = SLAPolicy.unscoped.filter(tenant_id__in=ids, active=True).select_related("calendar")
        for policy in found.order_by("tenant_id", "position", "id"):
            rows.setdefault(policy.tenant_id, []).append(policy)
        return {pk: tuple(policies) for pk, policies in rows.items()}

    config_cache.preload("sla_policies", tenant_ids, load_many, ())


_UNREAD = object()


def policy_for(*, ticket: Ticket, account: Account | object | None = _UNREAD) -> SLAPolicy | None:
    """The first active policy that matches; pass the ticket's account if you have it read already."""
    if account is _UNREAD:
        account = Account.objects.filter(pk=ticket.account_id).first() if ticket.account_id else None
    policies = active_policies()
    return next((p for p in policies if policy_matches(p, ticket=ticket, account=account)), None)


def _calendar_owner(policy: SLAPolicy, ticket: Ticket) -> tuple[str, int] | None:
    """Whose calendar the policy's clock source asks for, as (owner column, id); None for the policy's own."""
    if policy.clock_source == ClockSource.ACCOUNT and ticket.account_id:
        return ("account_id", ticket.account_id)
    if policy.clock_source == ClockSource.TEAM and ticket.team_id:
        return ("team_id", ticket.team_id)
    return None


def calendar_for(*, policy: SLAPolicy, ticket: Ticket) -> BusinessCalendar:
    """The clock the policy says runs: its own calendar, or the customer's or the team's if they have one
    (their first active one by id: a retired calendar of the account's or team's is not picked for a new clock;
    the policy's own calendar is what the policy says, retired or not — retire or edit the policy to change it)."""
    owner = _calendar_owner(policy, ticket)
    owned = (
        BusinessCalendar.objects.filter(**{owner[0]: owner[1]}, active=True).order_by("id").first() if owner else None
    )
    return owned or policy.calendar


def ticket_clock(*, ticket: Ticket, account: Account | object | None = _UNREAD) -> clock.Calendar:
    """The business clock the ticket's policy runs on (24/7 when no policy applies)."""
    policy = policy_for(ticket=ticket, account=account)
    return calendar_to_clock(calendar_for(policy=policy, ticket=ticket)) if policy else clock.ALWAYS_OPEN


def ticket_clocks(tickets: Iterable[Ticket]) -> dict[int, clock.Calendar]:
    """ticket_clock of many tickets (each loaded with its account) by ticket id: the accounts' and teams'
    calendars the policies ask for are read in one query per kind of owner, not one per ticket."""
    policies = {t.pk: (t, policy_for(ticket=t, account=t.account if t.account_id else None)) for t in tickets}
    owners = {pk: _calendar_owner(policy, t) for pk, (t, policy) in policies.items() if policy is not None}
    owned: dict[tuple[str, int], BusinessCalendar] = {}
    for column in ("account_id", "team_id"):
        ids = {owner[1] for owner in owners.values() if owner and owner[0] == column}
        for calendar in (
            BusinessCalendar.objects.filter(**{f"{column}__in": ids}, active=True).order_by("-id") if ids else ()
        ):
            owned[(column, getattr(calendar, column))] = calendar  # descending: the first by id is kept last
    return {
        pk: calendar_to_clock(owned.get(owners[pk], policy.calendar)) if policy else clock.ALWAYS_OPEN
        for pk, (_, policy) in policies.items()
    }


def _new_timer(
    *, ticket, policy, calendar, metric, started_at, escalation_id=0, target=None, business_clock=None
) -> SlaTimer:
    timer = bulk.new(
        SlaTimer,
        tenant_id=ticket.tenant_id,
        ticket=ticket,
        escalation_id=escalation_id,
        policy=policy,
        calendar=calendar,
        metric=metric,
        target_minutes=int(policy.targets[metric] if target is None else target),
        started_at=started_at,
        warn_percents=sorted(policy.warn_percent),
        status=TimerStatus.RUNNING,
    )
    schedule(timer, business_clock or calendar_to_clock(calendar))
    return timer


# --- lifecycle ----------------------------------------------------------------------------------


# No savepoint: only the ticket_open use case calls it, inside its own transaction.
@transaction.atomic(savepoint=False)
def timers_start(*, ticket: Ticket) -> list[SlaTimer]:
    """The ticket's first-response and resolution clocks, from its created_at (so a back-dated import
    carries the deadlines it really had)."""
    policy = policy_for(ticket=ticket)
    if policy is None:
        return []
    calendar = calendar_for(policy=policy, ticket=ticket)
    timers = [
        _new_timer(ticket=ticket, policy=policy, calendar=calendar, metric=metric, started_at=ticket.created_at)
        for metric in (Metric.FIRST_RESPONSE, Metric.RESOLUTION)
        if metric in policy.targets
    ]
    return SlaTimer.objects.bulk_create(timers)


def _ticket_timers(ticket: Ticket, metrics: Iterable[str], statuses=OPEN_STATUSES) -> list[SlaTimer]:
    return list(
        SlaTimer.objects.filter(
            ticket=ticket, escalation_id=0, metric__in=list(metrics), status__in=statuses
        ).select_related("calendar")
    )


def _meet(timer: SlaTimer, at: datetime) -> list[TicketEvent]:
    """Stops the clock at `at`: met, or breached if its deadline had passed. A recurring clock first counts
    the deadlines the sweep has not reached yet (their audit events are returned for the caller's save);
    the period in course then ends, counted neither way (slas/schedule.py)."""
    events = []
    if is_recurring(timer) and timer.status == TimerStatus.RUNNING:
        events = [_miss_event(timer, miss, at) for miss in catch_up(timer, at, calendar_to_clock(timer.calendar))]
    if timer.status == TimerStatus.PAUSED and timer.paused_at is not None:
        # Close the open pause first: a reopen later must not count the waiting time against the clock.
        timer.pauses = [*timer.pauses, [timer.paused_at.isoformat(), at.isoformat()]]
    timer.met_at = at
    _stop_watch(timer, at)
    if timer.status != TimerStatus.BREACHED:
        # Met late but before the sweep noticed: still a breach, stamped at the deadline itself. A recurring
        # clock keeps the stamp of its latest miss.
        late = timer.due_at is not None and timer.due_at < at
        timer.status = TimerStatus.BREACHED if late else TimerStatus.MET
        if late:
            timer.breached_at = timer.due_at
    timer.paused_at = None
    clear_schedule(timer)
    return events


def _stop_watch(timer: SlaTimer, at: datetime) -> None:
    """The business minutes the clock ran and its margin to target, stored as it stops (metrics read them)."""
    ran = clock.business_minutes_between(timer.started_at, at, calendar_to_clock(timer.calendar), timer_pauses(timer))
    timer.business_minutes = round(ran, 3)
    timer.margin_minutes = round(timer.target_minutes - ran, 3)


def _meet_all(timers: list[SlaTimer], at: datetime) -> list[TicketEvent]:
    return [event for timer in timers for event in _meet(timer, at)]


# The columns a save may write, with their SQL types. `pauses` travels as JSON text.
SAVE_COLUMNS = {
    "status": "text",
    "met_at": "timestamptz",
    "breached_at": "timestamptz",
    "paused_at": "timestamptz",
    "pauses": "text",
    "warn_at": "timestamptz",
    "due_at": "timestamptz",
    "next_check_at": "timestamptz",
    "started_at": "timestamptz",
    "warned_percent": "integer",
    "warned_at": "timestamptz",
    "target_minutes": "integer",
    "misses": "integer",
    "met_periods": "integer",
    "business_minutes": "double precision",
    "margin_minutes": "double precision",
    "policy_id": "bigint",
    "calendar_id": "bigint",
}
ALL_COLUMNS = tuple(SAVE_COLUMNS)
# What firing (a warning, a breach, a recurring clock's miss and next period) changes: a narrower statement, a
# tenth of the sweep's SLA stage.
FIRED_COLUMNS = (
    "status", "breached_at", "warn_at", "due_at", "next_check_at", "warned_percent", "warned_at", "started_at",
    "misses",
)  # fmt: skip
# The ticket flags read these from the batch.
FLAG_COLUMNS = ("status", "breached_at", "warned_percent")

# One statement writes a batch of timers, the SLA flags of their tickets and (optionally) audit events.
# The flags are computed from the other clocks as stored and the batch's clocks as they are about to be
# (one statement sees one snapshot), so they agree with the clocks when it commits. `mark` (the sweep's)
# sets the ticket's rules_due_at: its clocks moved, so the time-based escalation rules must look at it.
# Parameters go in binary (%b, connection.bound_cursor only): text arrays would escape every quote of
# every JSON text element. The timers are also named by their ids' array (s.id = ANY): joined to `n` alone, the
# planner hashed all 1,000,000 clocks for the storm's 10,000 (0.5 s, spilling to disk).
SAVE_TEMPLATE = """
WITH n AS (
    SELECT * FROM unnest(%(id)b::bigint[], %(ticket_id)b::bigint[], {arrays}) AS n(id, ticket_id, {names})
), saved AS (
    UPDATE slas_slatimer s SET {assignments}, updated_at = %(now)b
    FROM n WHERE s.id = n.id AND s.id = ANY(%(id)b::bigint[])
    RETURNING s.id
), audited AS (
    INSERT INTO tickets_ticketevent (tenant_id, ticket_id, kind, actor_label, before, after, created_at)
    SELECT e.tenant_id, e.ticket_id, e.kind, 'system', '{{}}'::jsonb, e.after::jsonb, e.created_at
    FROM unnest(%(ev_tenant)b::bigint[], %(ev_ticket)b::bigint[], %(ev_kind)b::text[], %(ev_after)b::text[],
                %(ev_at)b::timestamptz[]) AS e(tenant_id, ticket_id, kind, after, created_at)
)
UPDATE tickets_ticket t SET
    sla_breached = EXISTS (SELECT 1 FROM n WHERE n.ticket_id = t.id AND n.breached_at IS NOT NULL)
        OR EXISTS (SELECT 1 FROM slas_slatimer s WHERE s.ticket_id = t.id AND s.breached_at IS NOT NULL
                   AND s.id NOT IN (SELECT id FROM n)),
    sla_at_risk = EXISTS (SELECT 1 FROM n WHERE n.ticket_id = t.id AND n.status = 'running'
                          AND n.warned_percent IS NOT NULL)
        OR EXISTS (SELECT 1 FROM slas_slatimer s WHERE s.ticket_id = t.id AND s.status = 'running'
                   AND s.warned_percent IS NOT NULL AND s.id NOT IN (SELECT id FROM n)),
    rules_due_at = CASE WHEN %(mark)b::timestamptz IS NULL THEN t.rules_due_at
                        ELSE LEAST(t.rules_due_at, %(mark)b::timestamptz) END
WHERE t.id IN (SELECT DISTINCT ticket_id FROM n)
"""


@functools.cache
def _save_sql(columns: tuple[str, ...]) -> str:
    """The save statement for these columns (names from SAVE_COLUMNS only: nothing from outside is spliced)."""
    assert set(FLAG_COLUMNS) <= set(columns) <= set(SAVE_COLUMNS), columns
    return SAVE_TEMPLATE.format(
        arrays=", ".join(f"%({name})b::{SAVE_COLUMNS[name]}[]" for name in columns),
        names=", ".join(columns),
        assignments=", ".join(f"{name} = n.{name}" + ("::jsonb" if name == "pauses" else "") for name in columns),
    )


def _save(
    timers: list[SlaTimer],
    *,
    mark_rules_due: datetime | None = None,
    events: list[TicketEvent] = (),
    columns: tuple[str, ...] = ALL_COLUMNS,
) -> None:
    """Writes the timers' state (`columns` of it), their tickets' SLA flags and the given (system) audit
    events in one statement. Tenant-agnostic: rows are named by id, and RLS decides which are visible."""
    if not timers:
        return
    params = {name: [getattr(t, name) for t in timers] for name in ("id", "ticket_id", *columns)}
    if "pauses" in columns:
        params["pauses"] = [json.dumps(t.pauses) for t in timers]
    params["now"], params["mark"] = timezone.now(), mark_rules_due
    params["ev_tenant"] = [e.tenant_id for e in events]
    params["ev_ticket"] = [e.ticket_id for e in events]
    params["ev_kind"] = [e.kind for e in events]
    params["ev_after"] = [json.dumps(e.after, cls=DjangoJSONEncoder) for e in events]
    params["ev_at"] = [e.created_at for e in events]
    with connection.bound_cursor() as cursor:
        cursor.execute(_save_sql(columns), params)


@transaction.atomic
def timers_on_agent_reply(*, ticket: Ticket, at: datetime) -> None:
    """A public agent reply answers the customer: first and next response are met."""
    timers = _ticket_timers(ticket, [Metric.FIRST_RESPONSE, Metric.NEXT_RESPONSE])
    for timer in timers:
        _meet(timer, at)
    _save(timers)


@transaction.atomic
def timers_on_customer_message(*, ticket: Ticket, at: datetime) -> None:
    """A customer message after an agent's reply starts the next-response clock (once: a second
    unanswered message does not restart it, the customer has been waiting since the first)."""
    if ticket.first_response_at is None:
        return
    policy = policy_for(ticket=ticket)
    if policy is None or Metric.NEXT_RESPONSE not in policy.targets:
        return
    existing = SlaTimer.objects.filter(ticket=ticket, escalation_id=0, metric=Metric.NEXT_RESPONSE).first()
    if existing is not None and existing.status in OPEN_STATUSES:
        return
    calendar = calendar_for(policy=policy, ticket=ticket)
    fresh = _new_timer(ticket=ticket, policy=policy, calendar=calendar, metric=Metric.NEXT_RESPONSE, started_at=at)
    if existing is None:
        fresh.save()
        return
    for name in (
        "policy",
        "calendar",
        "target_minutes",
        "started_at",
        "warn_percents",
        "warn_at",
        "due_at",
        "next_check_at",
        "status",
    ):
        setattr(existing, name, getattr(fresh, name))
    existing.pauses, existing.paused_at, existing.met_at, existing.breached_at = [], None, None, None
    existing.business_minutes = existing.margin_minutes = None
    existing.warned_percent = existing.warned_at = None
    _save([existing])


def _pause(timers: list[SlaTimer], at: datetime) -> list[SlaTimer]:
    paused = [t for t in timers if t.status == TimerStatus.RUNNING]
    for timer in paused:
        timer.status, timer.paused_at = TimerStatus.PAUSED, at
        clear_schedule(timer)
    return paused


def _resume(timers: list[SlaTimer], at: datetime) -> list[SlaTimer]:
    resumed = [t for t in timers if t.status == TimerStatus.PAUSED]
    for timer in resumed:
        timer.pauses = [*timer.pauses, [timer.paused_at.isoformat(), at.isoformat()]]
        timer.status, timer.paused_at = TimerStatus.RUNNING, None
        schedule(timer, calendar_to_clock(timer.calendar))
    return resumed


def _reopen(timers: list[SlaTimer], at: datetime) -> list[SlaTimer]:
    """A solved ticket comes back: its resolution clock runs again, without counting the solved time."""
    reopened = [t for t in timers if t.met_at is not None]
    for timer in reopened:
        timer.pauses = [*timer.pauses, [timer.met_at.isoformat(), at.isoformat()]]
        timer.met_at = None
        timer.business_minutes = timer.margin_minutes = None
        if timer.status == TimerStatus.MET:
            timer.status = TimerStatus.RUNNING
            schedule(timer, calendar_to_clock(timer.calendar))
    return reopened


def _paused_metrics(ticket: Ticket, status: str) -> list[str]:
    if status == Status.PENDING:
        # Waiting on the customer: the resolution clock is theirs to stop, not ours.
        return [Metric.RESOLUTION]
    if status == Status.ON_HOLD:
        timer = (
            SlaTimer.objects.filter(ticket=ticket, escalation_id=0, policy__isnull=False)
            .select_related("policy")
            .first()
        )
        return (
            list(timer.policy.on_hold_pauses) if timer and timer.policy.on_hold_pauses else list(DEFAULT_ON_HOLD_PAUSES)
        )
    return []


def _audit(ticket: Ticket, kind: str, timers: list[SlaTimer], at: datetime, actor, reason: str) -> None:
    if timers:
        event_record(
            ticket=ticket,
            kind=kind,
            actor=actor,
            at=at,
            after={"metrics": sorted(t.metric for t in timers), "reason": reason},
        )


@transaction.atomic
def timers_on_status(*, ticket: Ticket, before: str, after: str, at: datetime, actor=None) -> None:
    """Moves the clocks with the ticket's status. Every pause and resume is audited, so waiting
    statuses can't quietly be used to flatter the numbers."""
    if before == after:
        return
    if after in (Status.SOLVED, Status.CLOSED):
        # Every clock of the ticket, its escalations' included: nothing keeps running on a solved ticket.
        timers = list(SlaTimer.objects.filter(ticket=ticket, status__in=OPEN_STATUSES).select_related("calendar"))
        _save(timers, events=_meet_all(timers, at))
        return
    if before in (Status.SOLVED, Status.CLOSED):
        timers = _ticket_timers(ticket, [Metric.RESOLUTION], statuses=[TimerStatus.MET, TimerStatus.BREACHED])
        _save(_reopen(timers, at))
        _audit(ticket, "sla_resumed", timers, at, actor, f"reopened from {before}")
    to_resume = set(_paused_metrics(ticket, before)) - set(_paused_metrics(ticket, after))
    to_pause = set(_paused_metrics(ticket, after)) - set(_paused_metrics(ticket, before))
    resumed = _resume(_ticket_timers(ticket, to_resume), at) if to_resume else []
    paused = _pause(_ticket_timers(ticket, to_pause), at) if to_pause else []
    _save(resumed + paused)
    _audit(ticket, "sla_resumed", resumed, at, actor, f"{before} -> {after}")
    _audit(ticket, "sla_paused", paused, at, actor, f"{before} -> {after}")


@transaction.atomic
def timers_reapply_policy(*, ticket: Ticket, at: datetime, actor=None) -> None:
    """Priority, category or channel changed: the ticket may now fall under another policy. Running
    clocks keep their start and pauses and take the new targets."""
    policy = policy_for(ticket=ticket)
    timers = list(SlaTimer.objects.filter(ticket=ticket, escalation_id=0, status__in=OPEN_STATUSES))
    if policy is None or not timers or all(t.policy_id == policy.pk for t in timers):
        return
    calendar = calendar_for(policy=policy, ticket=ticket)
    changed = _retarget(timers, policy, calendar)
    _save(changed)
    event_record(
        ticket=ticket,
        kind="sla_policy_changed",
        actor=actor,
        at=at,
        after={"policy": policy.name, "metrics": sorted(t.metric for t in changed)},
    )


def _retarget(timers: list[SlaTimer], policy: SLAPolicy, calendar: BusinessCalendar) -> list[SlaTimer]:
    changed = []
    for timer in timers:
        if timer.metric not in policy.targets:
            continue
        timer.policy, timer.calendar = policy, calendar
        timer.target_minutes, timer.warn_percents = int(policy.targets[timer.metric]), sorted(policy.warn_percent)
        if timer.status == TimerStatus.RUNNING:
            schedule(timer, calendar_to_clock(calendar))
        changed.append(timer)
    return changed


def timers_recalculate(*, calendar_id: int | None = None, policy_id: int | None = None, actor=None) -> int:
    """A calendar or policy was edited: every open clock that runs on it is recomputed now, not when its
    ticket is next touched. Returns the number of timers moved."""
    timers = SlaTimer.objects.filter(status__in=OPEN_STATUSES).select_related("policy", "calendar")
    timers = timers.filter(calendar_id=calendar_id) if calendar_id else timers.filter(policy_id=policy_id)
    # Locked (waiting, in id order) so a sweep firing one of them can't be overwritten by this recompute;
    # the sweep itself never waits (SKIP LOCKED), so the two can't deadlock. The lock re-reads each row,
    # and one the sweep closed meanwhile drops out of the status filter.
    timers = timers.select_for_update(of=("self",)).order_by("id")
    moved, events = [], []
    at = timezone.now()
    for timer in timers:
        before = timer.due_at
        # An escalation's clocks keep their targets: they may come from the rule that opened it
        # (response_minutes), which a policy edit must not undo. They still follow a calendar edit.
        if policy_id and not timer.escalation_id and timer.metric in timer.policy.targets:
            timer.target_minutes = int(timer.policy.targets[timer.metric])
            timer.warn_percents = sorted(timer.policy.warn_percent)
        if timer.status == TimerStatus.RUNNING:
            schedule(timer, calendar_to_clock(timer.calendar))
        moved.append(timer)
        events.append(_recalc_event(timer, before, at, actor))
    _save(moved)
    TicketEvent.objects.bulk_create(events)
    return len(moved)


def _recalc_event(timer: SlaTimer, before: datetime | None, at: datetime, actor) -> TicketEvent:
    return TicketEvent(
        tenant_id=timer.tenant_id,
        ticket_id=timer.ticket_id,
        kind="sla_recalculated",
        actor=None,
        actor_label=actor_label(actor),
        created_at=at,
        before={"metric": timer.metric, "due_at": before.isoformat() if before else None},
        after={
            "metric": timer.metric,
            "due_at": timer.due_at.isoformat() if timer.due_at else None,
            "target_minutes": timer.target_minutes,
        },
    )


# --- the sweep ----------------------------------------------------------------------------------


def timers_claim_due(*, now: datetime, limit: int) -> dict[int, list[int]]:
    """Locks up to `limit` due timers of all tenants (FOR UPDATE SKIP LOCKED, in the caller's
    transaction) and groups their ids by tenant. Another sweep running at the same moment skips them."""
    return claim_by_tenant("SELECT timer_id, tenant_id FROM slas_claim_due_timers(%s, %s)", [now, limit])


@dataclass
class FireReport:
    warned: int = 0
    breached: int = 0
    ticket_ids: set[int] = field(default_factory=set)


def _breach(timer: SlaTimer) -> tuple[str, dict]:
    # Stamped at the deadline, not at the sweep: the breach happened then, whenever we noticed.
    timer.status, timer.breached_at = TimerStatus.BREACHED, timer.due_at
    clear_schedule(timer)
    return "sla.breached", {"breached_at": timer.breached_at}


def _warn(timer: SlaTimer, calendar: clock.Calendar) -> tuple[str, dict]:
    percent = next_threshold(timer)
    timer.warned_percent, timer.warned_at = percent, timer.warn_at
    due_at = timer.due_at
    schedule(timer, calendar)
    return "sla.warning", {"percent": percent, "warned_at": timer.warned_at, "due_at": due_at}


# The tickets of the claimed timers, locked, skipping any another sweep (or a request) holds. Two sweeps
# may have claimed different clocks of one ticket; what they then do to the ticket must not interleave,
# and never waiting is what rules out a deadlock. Clocks of a skipped ticket stay due for the next sweep.
# The tickets are named by an array (ARRAY(...)), not a semi-join: under the batch policy's OR the planner guessed
# half the table and read all 1,000,000 tickets for the storm's 10,000 (0.8 s; bench/SWEEP.md, fifth round).
HELD_TICKETS = """
SELECT t.id FROM tickets_ticket t
WHERE t.id = ANY(ARRAY(SELECT s.ticket_id FROM slas_slatimer s WHERE s.id = ANY(%s)))
ORDER BY t.id FOR UPDATE OF t SKIP LOCKED
"""


def _fireable(timers, timer_ids: list[int], now: datetime) -> list[SlaTimer]:
    """The claimed timers still running and due, whose tickets we could lock: one query. Read after the
    claim's lock, so a recurring clock another sweep has just moved to its next period is not fired again."""
    return list(
        timers.filter(
            id__in=timer_ids,
            status=TimerStatus.RUNNING,
            next_check_at__lte=now,
            ticket_id__in=RawSQL(HELD_TICKETS, [timer_ids]),
        ).order_by("ticket_id", "id")
    )


def _warning_clocks(timers: list[SlaTimer], now: datetime) -> dict[int, clock.Calendar]:
    """The calendars that warning (and recurring) timers reschedule on, each read and converted once: a
    batch of 10,000 clocks uses a few thousand calendars at most (a join copied one per timer). Named by id:
    the claimed timers' own calendars, bounded by RLS like the timers."""
    ids = {timer.calendar_id for timer in timers if timer.due_at > now or is_recurring(timer)}
    return {cal.pk: calendar_to_clock(cal) for cal in BusinessCalendar.unscoped.filter(pk__in=ids)} if ids else {}


def timers_fire(*, tenant_id: int, timer_ids: list[int], now: datetime) -> FireReport:
    """One tenant's claimed timers, in its tenant_context (the sweep's fallback path)."""
    return _fire(SlaTimer.objects, timer_ids, now)


def timers_fire_batch(*, timer_ids: list[int], now: datetime) -> FireReport:
    """Claimed timers of many tenants at once, inside tenancy.tenant_batch (the sweep's fast path): the
    same statements as for one tenant, whatever the number of tenants. No tenant is current there, so the
    timers are named by their claimed ids and RLS's batch policy bounds what is visible."""
    return _fire(SlaTimer.unscoped, timer_ids, now)


def _fire(manager, timer_ids: list[int], now: datetime) -> FireReport:
    """Marks the claimed timers warned or breached, exactly once, with their audit events and outbox
    events in the same transaction, and marks their tickets for the time-based rules (rules_due_at)."""
    report = FireReport()
    timers = _fireable(manager, timer_ids, now)
    emissions, events = [], []
    facts = ticket_contexts(ticket_ids={timer.ticket_id for timer in timers})
    clocks = _warning_clocks(timers, now)
    for timer in timers:
        fire = _fire_recurring if is_recurring(timer) else _fire_once
        for kind, period, payload in fire(timer, now, clocks.get(timer.calendar_id)):
            report.breached += kind == "sla.breached"
            report.warned += kind == "sla.warning"
            # One row per clock, period and threshold, however many sweeps see it.
            key = f"{kind}:{timer.pk}:{period}:{payload.get('percent', '')}"
            # The notification shows the ticket (the audit event does not need a copy of it).
            facts_of = {**payload, "ticket_context": facts.get(timer.ticket_id, {})}
            emissions.append((timer.tenant_id, Emission(kind, key, facts_of)))
            events.append(_fire_event(timer, kind, payload, now))
        report.ticket_ids.add(timer.ticket_id)
    _save(timers, mark_rules_due=now, events=events, columns=FIRED_COLUMNS)
    outbox_emit_across(emissions=emissions, at=now)
    return report


Fired = tuple[str, str, dict]  # kind, the start of the period it concerns (ISO 8601), payload


def _payload(timer: SlaTimer, due_at: datetime | None, extra: dict) -> dict:
    return {
        "ticket": timer.ticket_id,
        "metric": timer.metric,
        "escalation": timer.escalation_id or None,
        "target_minutes": timer.target_minutes,
        "due_at": due_at,
        **extra,
    }


def _fire_once(timer: SlaTimer, now: datetime, calendar: clock.Calendar | None) -> list[Fired]:
    """A one-shot clock: breached at its deadline, and stopped; else warned at its next threshold."""
    started, due_at = timer.started_at.isoformat(), timer.due_at  # firing clears the schedule
    kind, extra = _breach(timer) if timer.due_at <= now else _warn(timer, calendar)
    return [(kind, started, _payload(timer, due_at, extra))]


def _fire_recurring(timer: SlaTimer, now: datetime, calendar: clock.Calendar) -> list[Fired]:
    """A recurring clock: a breach for each deadline reached (a miss; the next period starts at it), then a
    warning if the period in course has crossed its next threshold. It keeps running."""
    fired = [
        ("sla.breached", miss.started_at.isoformat(), _miss_payload(timer, miss))
        for miss in catch_up(timer, now, calendar, reached=True)
    ]
    if timer.warn_at is not None and timer.warn_at <= now:
        started, due_at = timer.started_at, timer.due_at
        kind, extra = _warn(timer, calendar)
        fired.append((kind, started.isoformat(), _payload(timer, due_at, {"period_started_at": started, **extra})))
    return fired


def _miss_payload(timer: SlaTimer, miss: Miss) -> dict:
    extra = {"breached_at": miss.due_at, "period_started_at": miss.started_at, "misses": miss.count}
    return _payload(timer, miss.due_at, extra)


def _miss_event(timer: SlaTimer, miss: Miss, at: datetime) -> TicketEvent:
    """The audit row of a miss counted outside the sweep (an update or the end came after an unseen deadline):
    the same kind and payload as the sweep's own."""
    return _fire_event(timer, "sla.breached", _miss_payload(timer, miss), at)


def _fire_event(timer: SlaTimer, kind: str, payload: dict, now: datetime) -> TicketEvent:
    jsonable = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in payload.items()}
    return bulk.new(
        TicketEvent,
        tenant_id=timer.tenant_id,
        ticket_id=timer.ticket_id,
        kind=kind.replace(".", "_"),
        actor=None,
        actor_label="system",
        after=jsonable,
        created_at=now,
    )


# --- calendars and policies: writes -------------------------------------------------------------


@transaction.atomic
def calendar_create(*, tenant, **fields) -> BusinessCalendar:
    return _store(BusinessCalendar(tenant=tenant, **fields), validation.calendar_problems)


@transaction.atomic
def calendar_update(*, calendar: BusinessCalendar, **changes) -> BusinessCalendar:
    for name, value in changes.items():
        setattr(calendar, name, value)
    return _store(calendar, validation.calendar_problems)


@transaction.atomic
def policy_create(*, tenant, **fields) -> SLAPolicy:
    return _store(SLAPolicy(tenant=tenant, **fields), validation.policy_problems)


@transaction.atomic
def policy_update(*, policy: SLAPolicy, **changes) -> SLAPolicy:
    for name, value in changes.items():
        setattr(policy, name, value)
    return _store(policy, validation.policy_problems)


def _store(instance, problems_of):
    """Validated as every door validates it (slas/validation.py), then saved; a taken name is the unique
    constraint's IntegrityError, for the caller to report."""
    full_check(instance, problems_of)
    instance.save()
    return instance


@transaction.atomic
def calendar_delete(*, calendar: BusinessCalendar, actor=None) -> str:
    """In use: a policy (active or retired) names it, or a clock (of any status) ran on it. Such a calendar
    is retired: the clocks and policies that have it keep it, but no new policy is given it and no new clock
    takes it as an account's or team's own calendar (calendar_for). One nothing refers to is removed."""
    calendar = BusinessCalendar.objects.select_for_update().get(pk=calendar.pk)
    in_use = SLAPolicy.objects.filter(calendar=calendar).exists() or SlaTimer.objects.filter(calendar=calendar).exists()
    return retire_or_remove(calendar, in_use=in_use, actor=actor, object_type="calendar", facts={"name": calendar.name})


@transaction.atomic
def policy_delete(*, policy: SLAPolicy, actor=None) -> str:
    """In use: a clock (of any status) was started under it. Retired, it is never chosen for new clocks
    (active_policies), while the running ones keep it, their targets and their deadlines; met and breached
    clocks keep naming it for the reports. One no clock ever used is removed."""
    policy = SLAPolicy.objects.select_for_update().get(pk=policy.pk)
    in_use = SlaTimer.objects.filter(policy=policy).exists()
    return retire_or_remove(policy, in_use=in_use, actor=actor, object_type="sla_policy", facts={"name": policy.name})


# --- escalation clocks --------------------------------------------------------------------------


def escalation_timers_plan(
    *,
    ticket: Ticket,
    metrics: Iterable[str],
    at: datetime,
    overrides: dict[str, int] | None = None,
    met: Iterable[str] = (),
    account: Account | object | None = _UNREAD,
) -> list[SlaTimer]:
    """The clocks of one escalation (acknowledge, first response, customer update, manager response),
    from the ticket's policy, scheduled but not stored: the escalation's record takes its deadlines into
    its own INSERT, then escalation_timers_save stores them under its id. `overrides` (a rule's
    response_minutes) replace a policy target. The `met` ones are met at once (the customer was updated
    as the escalation opened): the same rows as meeting them right after the start, without writing
    them twice. A recurring one (customer update) named there starts its first period with that update,
    which is what a fresh clock does anyway."""
    policy = policy_for(ticket=ticket, account=account)
    if policy is None:
        return []
    calendar = calendar_for(policy=policy, ticket=ticket)
    business_clock = calendar_to_clock(calendar)
    targets = {**policy.targets, **(overrides or {})}
    timers = [
        _new_timer(
            ticket=ticket,
            policy=policy,
            calendar=calendar,
            metric=metric,
            started_at=at,
            target=targets[metric],
            business_clock=business_clock,
        )
        for metric in metrics
        if metric in targets
    ]
    for timer in timers:
        if timer.metric in met and not is_recurring(timer):
            _meet(timer, at)
    return timers


def escalation_timers_save(*, timers: list[SlaTimer], escalation_id: int) -> list[SlaTimer]:
    """Stores the clocks of escalation_timers_plan under the escalation's id, once its record exists."""
    for timer in timers:
        timer.escalation_id = escalation_id
    return SlaTimer.objects.bulk_create(timers)


@transaction.atomic
def escalation_timers_meet(*, ticket: Ticket, escalation_id: int, metrics: Iterable[str], at: datetime) -> None:
    """Stops these clocks of the escalation. A recurring one stops for good (the escalation ended); an update
    given while it goes on is escalation_customer_updated."""
    timers = list(
        SlaTimer.objects.filter(
            ticket=ticket, escalation_id=escalation_id, metric__in=list(metrics), status__in=OPEN_STATUSES
        ).select_related("calendar")
    )
    _save(timers, events=_meet_all(timers, at))


@transaction.atomic
def escalation_customer_updated(*, ticket: Ticket, escalation_ids: Iterable[int], at: datetime) -> None:
    """The customer was updated during these escalations (a public agent reply, a milestone message): the
    current period of each one's customer-update clock is met and the next starts now. Deadlines that passed
    before the update count as misses first, whether or not the sweep has reached them (slas/schedule.py)."""
    timers = list(
        SlaTimer.objects.filter(
            ticket=ticket,
            escalation_id__in=list(escalation_ids),
            metric__in=RECURRING_METRICS,
            status=TimerStatus.RUNNING,
            # A back-dated update older than the period it would end has nothing to meet.
            started_at__lte=at,
        ).select_related("calendar")
    )
    events = []
    for timer in timers:
        calendar = calendar_to_clock(timer.calendar)
        events += [_miss_event(timer, miss, at) for miss in catch_up(timer, at, calendar)]
        timer.met_periods += 1
        restart(timer, at, calendar)
    _save(timers, events=events)


# --- bulk start for imports ---------------------------------------------------------------------

IMPORT_SKIPPED_STATUSES = (Status.SOLVED, Status.CLOSED)


def timers_start_many(*, ticket_ids: list[int]) -> int:
    """Clocks for a batch of imported tickets, from their real created_at, with the policies read once.
    Solved and closed tickets are history and get none; a first response already given is met (or
    breached, if it came late)."""
    tickets = list(Ticket.objects.filter(pk__in=ticket_ids).exclude(status__in=IMPORT_SKIPPED_STATUSES))
    policies = active_policies()
    accounts = Account.objects.in_bulk({t.account_id for t in tickets if t.account_id})
    clocks: dict[int, clock.Calendar] = {}  # one business clock per calendar, not one per timer
    timers = []
    for ticket in tickets:
        account = accounts.get(ticket.account_id)
        policy = next((p for p in policies if policy_matches(p, ticket=ticket, account=account)), None)
        if policy is None:
            continue
        calendar = calendar_for(policy=policy, ticket=ticket)
        if calendar.pk not in clocks:
            clocks[calendar.pk] = calendar_to_clock(calendar)
        for metric in (Metric.FIRST_RESPONSE, Metric.RESOLUTION):
            if metric not in policy.targets:
                continue
            timer = _new_timer(
                ticket=ticket,
                policy=policy,
                calendar=calendar,
                metric=metric,
                started_at=ticket.created_at,
                business_clock=clocks[calendar.pk],
            )
            if metric == Metric.FIRST_RESPONSE and ticket.first_response_at is not None:
                _meet(timer, ticket.first_response_at)
            timers.append(timer)
    _insert(timers)
    # A late first response breached on import: the ticket's flags follow, by the one flag statement.
    _save([t for t in timers if t.breached_at is not None], columns=FLAG_COLUMNS)
    return len(timers)


# The columns of a new clock, with their SQL types: what identifies it, then every column a save may write.
# `pauses` and `warn_percents` travel as text (unnest would flatten an array of arrays).
INSERT_COLUMNS = {
    "tenant_id": "bigint",
    "ticket_id": "bigint",
    "escalation_id": "bigint",
    "metric": "text",
    "warn_percents": "text",
    **SAVE_COLUMNS,
}
INSERT_CASTS = {"pauses": "::jsonb", "warn_percents": "::smallint[]"}
INSERT_SQL = """
INSERT INTO slas_slatimer ({names}, created_at, updated_at)
SELECT {values}, %(now)b, %(now)b
FROM unnest({arrays}) WITH ORDINALITY AS n({names}, position)
ORDER BY n.position
RETURNING id
""".format(
    names=", ".join(INSERT_COLUMNS),
    values=", ".join(f"n.{name}{INSERT_CASTS.get(name, '')}" for name in INSERT_COLUMNS),
    arrays=", ".join(f"%({name})b::{kind}[]" for name, kind in INSERT_COLUMNS.items()),
)


def _insert(timers: list[SlaTimer]) -> None:
    """Stores new clocks in one statement with binary-bound arrays: bulk_create of an import batch's
    ~8,000 clocks cost ~0.3 s of Python per batch, most of a 100,000-ticket import's clock start. The ids
    come back in the order of the rows: the SELECT is ordered by the input's position, and PostgreSQL
    returns inserted rows in insertion order (Django's bulk_create relies on the same for its ids)."""
    if not timers:
        return
    params = {name: [getattr(t, name) for t in timers] for name in INSERT_COLUMNS}
    params["pauses"] = [json.dumps(t.pauses) for t in timers]
    params["warn_percents"] = ["{" + ",".join(map(str, t.warn_percents)) + "}" for t in timers]
    params["now"] = timezone.now()
    with connection.bound_cursor() as cursor:
        cursor.execute(INSERT_SQL, params)
        ids = [row[0] for row in cursor.fetchall()]
    for timer, pk in zip(timers, ids, strict=True):
        timer.pk = pk
        timer._state.adding, timer._state.db = False, connection.alias
