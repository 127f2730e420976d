"""Running the matrix: gather a ticket's facts, ask the pure evaluator (escalation/triggers.py) which
rules fire, and fire them (exactly once per rule and cycle, see services.rule_fire).

Event-driven evaluation runs inside the transaction of the message or ticket that caused it, so an
angry VIP's "lawyer" ticket is escalated before the API call returns. Time triggers run in the sweep,
for the tickets whose clocks just crossed a threshold (work grows with what is due, not with what is open)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from escalation import communication, selectors, services, triggers
from escalation.models import ACTIVE_STATUSES, Escalation, EscalationRule
from escalation.snapshot import TicketSnapshot
from helpdesk import bulk, share_reads
from helpdesk.tenancy import claim_by_tenant
from slas import clock
from slas import services as slas
from slas.models import Metric, SlaTimer, TimerStatus
from slas.schedule import timer_pauses
from tickets.models import Status, Ticket
from tickets.services import ticket_set_triage as set_triage


def _percent_used(timer: SlaTimer, now: datetime) -> float:
    if timer.status == TimerStatus.BREACHED:
        return 100.0
    if timer.status != TimerStatus.RUNNING or not timer.target_minutes:
        return 0.0
    calendar = slas.calendar_to_clock(timer.calendar)
    used = clock.business_minutes_between(timer.started_at, now, calendar, timer_pauses(timer))
    return 100.0 * used / timer.target_minutes


def customer_thread(ticket: Ticket) -> list[tuple[str, float | None]]:
    """(body, sentiment) of the customer's messages in order."""
    return TicketSnapshot(ticket).customer_thread


def ticket_facts(
    ticket: Ticket,
    *,
    text: str,
    now: datetime,
    snapshot: TicketSnapshot | None = None,
    for_triggers: frozenset[str] | None = None,
    added_tags: tuple[str, ...] = (),
    dispute: tuple[Decimal, str] | None = None,
) -> triggers.TicketFacts:
    """The ticket's facts. With `for_triggers`, what only triggers outside it read is not gathered: the
    requester's recent tickets (repeat_contact) stay empty, and the time at this tier and its calendar
    (time_open) stay at created_at and 24/7. Triage reads none of them."""
    snapshot = snapshot or TicketSnapshot(ticket)
    account = snapshot.account
    reads = for_triggers if for_triggers is not None else triggers.TRIGGERS
    timed = "time_open" in reads
    sentiments = tuple(sentiment for _, sentiment in snapshot.customer_thread if sentiment is not None)
    return triggers.TicketFacts(
        ticket_id=ticket.pk,
        status=ticket.status,
        priority=ticket.priority,
        tier=ticket.tier,
        category=ticket.category,
        channel=ticket.channel,
        sentiment=ticket.sentiment,
        customer_sentiments=sentiments,
        follow_up_count=ticket.follow_up_count,
        exchange_count=ticket.exchange_count,
        failed_attempts_low_tier=snapshot.failed_attempts_low_tier,
        vip=bool(account and account.vip),
        plan=account.plan if account else None,
        annual_contract_value=float(account.annual_contract_value) if account else 0.0,
        lifetime_value=float(account.lifetime_value) if account else 0.0,
        requester_ticket_times=snapshot.requester_ticket_times(now) if "repeat_contact" in reads else (),
        text=text,
        tier_since=snapshot.tier_since if timed else ticket.created_at,
        calendar=snapshot.business_clock if timed else clock.ALWAYS_OPEN,
        timers=tuple(
            triggers.TimerFact(
                metric=t.metric, status=t.status, percent_used=_percent_used(t, now), breached=t.breached_at is not None
            )
            for t in snapshot.timers
        ),
        solved=ticket.status in (Status.SOLVED, Status.CLOSED),
        customer_since=account.customer_since if account else None,
        added_tags=tuple(added_tags),
        dispute_amount=dispute[0] if dispute else None,
        dispute_currency=dispute[1] if dispute else "",
    )


def refresh_triage(
    ticket: Ticket, facts: triggers.TicketFacts, at: datetime, thread: list[tuple[str, float | None]] | None = None
) -> None:
    """Triage reads the whole customer thread, not only the message that caused this evaluation: a
    manager request three messages ago still makes the ticket human-first."""
    result = triage_of(ticket, facts, thread)
    set_triage(ticket=ticket, level=result.level, reasons=list(result.reasons), at=at)


def triage_opening(ticket: Ticket) -> tuple[str, list[str]]:
    """The triage class (level, reasons) of a ticket being opened, before its row is written: tickets.ticket_open
    stores it with the INSERT. It reads what the evaluation right after reads for a ticket just opened (its
    fields, its requester's account, no thread, no attempts; its clocks have just started, so none is breached),
    so that evaluation's refresh_triage finds the class stored and writes nothing."""
    snapshot = TicketSnapshot(ticket, new=True, timers=[])
    facts = ticket_facts(ticket, text="", now=ticket.created_at, snapshot=snapshot, for_triggers=frozenset())
    result = triage_of(ticket, facts, snapshot.customer_thread)
    return result.level, list(result.reasons)


def triage_of(
    ticket: Ticket, facts: triggers.TicketFacts, thread: list[tuple[str, float | None]] | None = None
) -> triggers.Triage:
    """The triage class of the ticket on its whole customer thread (refresh_triage stores it)."""
    bodies = [body for body, _ in (customer_thread(ticket) if thread is None else thread)]
    text = "\n".join([ticket.subject, ticket.description, *bodies])
    return triggers.triage(dataclasses.replace(facts, text=text))


def active_rules() -> list[triggers.Rule]:
    return list(selectors.rule_matrix())


def evaluate(
    ticket: Ticket,
    *,
    text: str,
    time_based: bool,
    at: datetime | None = None,
    rules: list[triggers.Rule] | None = None,
    snapshot: TicketSnapshot | None = None,
    only: frozenset[str] | None = None,
    added_tags: tuple[str, ...] = (),
    dispute: tuple[Decimal, str] | None = None,
) -> list[Escalation]:
    """Fires the rules that hold for the ticket now and applies their actions; returns the escalations this
    created. Pass a snapshot when you know the ticket already (one just opened); the ticket instance is kept
    current by the services that write it, so nothing is read again after a rule fires. `only` limits the
    evaluation to these triggers (a person's new tags run the tag_added rules, a dispute the dispute rules);
    `added_tags` and `dispute` are what the causing event brought (triggers.TicketFacts)."""
    at = at or timezone.now()
    matrix = selectors.matrix()
    rules = list(matrix.rules) if rules is None else rules
    if only is not None:
        rules = [rule for rule in rules if rule.trigger in only]
    snapshot = snapshot or TicketSnapshot(ticket)
    for_triggers = triggers.triggers_evaluated(rules, time_based=time_based)
    facts = ticket_facts(
        ticket, text=text, now=at, snapshot=snapshot, for_triggers=for_triggers, added_tags=added_tags, dispute=dispute
    )
    refresh_triage(ticket, facts, at, snapshot.customer_thread)
    if not rules:
        return []
    decisions = triggers.evaluate(facts, rules, at, time_based=time_based)
    if not decisions:
        return []
    created = _fire(ticket, matrix, decisions, at, snapshot)
    return created + _tags_follow(ticket, matrix, facts, at, snapshot)


# A tag rule's tags may fire tag_added rules, whose tags may fire more: at most this many rounds. Validation
# refuses a tag rule fired by its own tag, a tag already on the ticket is no news, and a rule fires once per
# cycle, so a chain ends by itself; the cap is the guard should two rules ever feed each other across edits.
MAX_TAG_ROUNDS = 3


def _fire(ticket: Ticket, matrix: selectors.Matrix, decisions, at: datetime, snapshot: TicketSnapshot) -> list:
    by_id = _rule_rows(matrix, [d.rule_id for d in decisions])
    fired = [(by_id[d.rule_id], d.reason) for d in decisions]
    return services.rules_fire(ticket=ticket, fired=fired, at=at, snapshot=snapshot)


def _tags_follow(
    ticket: Ticket, matrix: selectors.Matrix, facts: triggers.TicketFacts, at: datetime, snapshot: TicketSnapshot
) -> list[Escalation]:
    """Tags added by this evaluation's tag rules are news for the tag_added rules (a person's tag or a rule's
    count alike). Reads nothing: the facts are the evaluation's, with only the added tags as the event."""
    tag_rules = [rule for rule in matrix.rules if rule.trigger == "tag_added"]
    created: list[Escalation] = []
    for _ in range(MAX_TAG_ROUNDS):
        added, snapshot.tags_added = tuple(snapshot.tags_added), []
        if not added or not tag_rules:
            break
        round_facts = dataclasses.replace(facts, text="", added_tags=added, dispute_amount=None)
        decisions = triggers.evaluate(round_facts, tag_rules, at, time_based=False)
        if not decisions:
            break
        created += _fire(ticket, matrix, decisions, at, snapshot)
    snapshot.tags_added = []
    return created


def _rule_rows(matrix: selectors.Matrix, rule_ids: list[int]) -> dict[int, EscalationRule]:
    """The rows of the rules that fired: from the cached matrix, or read when a caller passed rules of its own."""
    rows = {pk: matrix.by_id[pk] for pk in rule_ids if pk in matrix.by_id}
    missing = [pk for pk in rule_ids if pk not in rows]
    if missing:
        rows.update(EscalationRule.objects.in_bulk(missing))
    return rows


def evaluate_time_rules(*, ticket_ids: set[int], at: datetime) -> int:
    """Time triggers for the given tickets (open ones only), one ticket and one escalation at a time; returns
    the escalations created. The sweep uses the set-based escalation.batch.open_due, whose decisions this
    path is the reference for (tests/escalation/test_batch.py)."""
    rules = [r for r in active_rules() if r.trigger in triggers.TIME_TRIGGERS]
    if not rules or not ticket_ids:
        return 0
    fired = 0
    # With requester and account: the facts, the drafted summaries and the notifications all read them.
    tickets = Ticket.objects.filter(pk__in=ticket_ids).exclude(status__in=[Status.SOLVED, Status.CLOSED])
    for ticket in tickets.select_related("requester", "account").order_by("pk"):
        fired += len(evaluate(ticket, text="", time_based=True, at=at, rules=rules))
    return fired


# --- the sweep's escalation stage ---------------------------------------------------------------

# An escalation whose acknowledge (or manager-response) clock breached climbs the ladder.
LADDER_METRICS = (Metric.ESCALATION_ACKNOWLEDGE, Metric.MANAGER_RESPONSE)


def rules_claim_due(*, now: datetime, limit: int) -> dict[int, list[int]]:
    """Locks tickets whose clocks moved (rules_due_at, set by the SLA sweep), across tenants, SKIP
    LOCKED, through the narrow SECURITY DEFINER function; returns their ids by tenant."""
    return claim_by_tenant("SELECT ticket_id, tenant_id FROM escalation_claim_due_tickets(%s, %s)", [now, limit])


def _ladder_due(ticket_ids: list[int]) -> list[int]:
    """Active escalations of these tickets whose ladder clock breached and that have not climbed yet."""
    breached = SlaTimer.objects.filter(
        ticket_id__in=ticket_ids, escalation_id__gt=0, metric__in=LADDER_METRICS, breached_at__isnull=False
    ).values("escalation_id")
    # By ticket as well: the escalation index then bounds the scan, whatever the planner thinks of the timers.
    return list(
        Escalation.objects.filter(
            ticket_id__in=ticket_ids, pk__in=breached, climbed_at__isnull=True, status__in=ACTIVE_STATUSES
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def rules_run_due(*, ticket_ids: list[int], at: datetime) -> int:
    """One tenant's claimed tickets: clear the mark, run the time triggers, climb the ladder where an
    escalation's clock ran out, remind the owners of high-stakes escalations whose customer update is due
    soon. Runs in the claim's transaction, so a failure leaves the mark set and the next sweep tries
    again. Returns the escalations created."""
    from escalation import batch  # batch builds on this module's facts

    communication.reminders_send(ticket_ids=ticket_ids, at=at)
    ladder: dict = {}  # the batch reads the ladder of the open tickets with their escalations
    created = batch.open_due(ticket_ids=ticket_ids, at=at, hand_over=True, ladder=ladder)  # clears the mark too
    # Solved or closed since, or no time rules; none in the sweep's pass (the claim read every claimed ticket's
    # escalations with the ladder's flag: batch.ladder_of).
    rest = sorted(set(ticket_ids) - ladder.get("read", set()))
    climbing = sorted(ladder.get("due", []) + (_ladder_due(rest) if rest else []))
    if climbing:
        bulk.flush()  # a climb reads its ticket: the sweep's pass may still hold this share's ticket writes
        share_reads.drop("calls")  # a climb opens and closes escalations: the call requests read them again
    for escalation_id in climbing:
        created += services.escalation_climb(escalation_id=escalation_id, at=at) is not None
    return created
