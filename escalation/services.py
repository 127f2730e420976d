"""Escalations: create (manual or by a rule, exactly once per rule and cycle), acknowledge, resolve,
return (bounceback), de-escalate. Each writes the ticket's audit trail and its outbox event in the same
transaction, and moves the escalation's SLA clocks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from escalation import communication, reviews, rights, roles, routing, selectors, triggers, validation, watches
from escalation.errors import EscalationError
from escalation.models import (
    ACTIVE_STATUSES,
    ENDED_WITH_TICKET,
    SUMMARY_FIELDS,
    Escalation,
    EscalationRule,
    EscalationStatus,
    Kind,
    RuleFiring,
)
from escalation.snapshot import TicketSnapshot
from escalation.validation import missing_summary_fields
from helpdesk import bulk, redaction
from helpdesk.audit import actor_label as _label
from helpdesk.audit import actor_membership as _membership
from helpdesk.auth import Principal
from helpdesk.erasure import BATCH, mask_rows
from helpdesk.models import MAX_TIER, ROLE_RANK, Membership, Role, Team
from helpdesk.outbox import Emission, outbox_emit, outbox_emit_across
from helpdesk.retirement import retire_or_remove
from helpdesk.validation import full_check
from slas import services as slas
from slas.models import Metric
from tickets.models import AuthorType, Status, Ticket, raises_priority
from tickets.selectors import ticket_context
from tickets.services import (
    event_record,
    message_post,
    ticket_escalation_move,
    ticket_flag_for_review,
    ticket_record_escalation,
    ticket_record_escalation_end,
    ticket_tags_add,
    ticket_update,
)

ERR_CLOSED = "A closed ticket cannot be escalated; reopen it first."
ERR_STATE = "This escalation is {status}; it cannot be {action}."
ERR_SUMMARY = "All five summary fields are required."
# An admin alert: a rule's target could not be served (stale configuration), so it used the managers' queue.
STALE_EVENT = "rule.fallback"

METRICS = {
    Kind.FUNCTIONAL: (Metric.ESCALATION_ACKNOWLEDGE, Metric.ESCALATION_FIRST_RESPONSE, Metric.CUSTOMER_UPDATE),
    Kind.HIERARCHICAL: (Metric.ESCALATION_ACKNOWLEDGE, Metric.MANAGER_RESPONSE, Metric.CUSTOMER_UPDATE),
}
RESPONSE_METRICS = (Metric.ESCALATION_FIRST_RESPONSE, Metric.MANAGER_RESPONSE)


# --- create -------------------------------------------------------------------------------------


def _target_tier(ticket: Ticket, target_tier, agent, team) -> int:
    # An escalation never moves a ticket down the ladder (that is de-escalation, with its own audit): a
    # functional rule aiming at tier 2 for a ticket a manager already holds at tier 3 leaves it at 3.
    if target_tier is not None:
        return max(target_tier, ticket.tier)
    if agent is not None:
        return max(agent.tier, ticket.tier)
    if team is not None:
        return max(team.tier, ticket.tier)
    return min(ticket.tier + 1, MAX_TIER)


@dataclass(frozen=True)
class Handoff:
    """What an escalation asks for: its kind, why, where it goes and how urgently."""

    kind: str
    trigger: str
    summary_fields: dict[str, str]
    summary_drafted: bool = False
    rule: EscalationRule | None = None
    reason: str = ""
    target_team: Team | None = None
    target_tier: int | None = None
    target_agent: Membership | None = None
    target_role: str = ""
    target_skill: str = ""
    to_call: bool = False
    priority_override: str = ""
    response_minutes: int | None = None
    level: int = 1
    # The roles a climbing escalation keeps (escalation/roles.py): set from its first INSERT, so the opening's
    # reminder already goes to the customer updater.
    customer_updater_id: int | None = None
    overseer_id: int | None = None


@transaction.atomic
def escalation_create(
    *,
    ticket: Ticket,
    actor: Principal | None,
    kind: str,
    trigger: str,
    summary_fields: dict[str, str],
    summary_drafted: bool = False,
    rule: EscalationRule | None = None,
    reason: str = "",
    target_team: Team | None = None,
    target_tier: int | None = None,
    target_agent: Membership | None = None,
    target_role: str = "",
    target_skill: str = "",
    to_call: bool = False,
    priority_override: str = "",
    response_minutes: int | None = None,
    level: int = 1,
    customer_updater_id: int | None = None,
    overseer_id: int | None = None,
    at: datetime | None = None,
) -> Escalation:
    at = at or timezone.now()
    if ticket.status == Status.CLOSED:
        raise EscalationError(ERR_CLOSED, code="ticket_closed")
    missing = missing_summary_fields(summary_fields)
    if missing:
        raise EscalationError(
            ERR_SUMMARY,
            code="invalid",
            status=400,
            fields={f"summary.{name}": ["This field is required."] for name in missing},
        )
    if trigger == "manual" and kind == Kind.HIERARCHICAL:
        problems = validation.hierarchical_target_problems(
            ticket_tier=ticket.tier, target_tier=target_tier, target_team=target_team, target_agent=target_agent
        )
        if problems:
            raise EscalationError(next(iter(problems.values()))[0], code="invalid", status=400, fields=problems)
    handoff = Handoff(
        kind=kind,
        trigger=trigger,
        summary_fields=summary_fields,
        summary_drafted=summary_drafted,
        rule=rule,
        reason=reason,
        target_team=target_team,
        target_tier=target_tier,
        target_agent=target_agent,
        target_role=target_role,
        target_skill=target_skill,
        to_call=to_call,
        priority_override=priority_override,
        response_minutes=response_minutes,
        level=level,
        customer_updater_id=customer_updater_id,
        overseer_id=overseer_id,
    )
    snapshot = TicketSnapshot(ticket)
    return _open(ticket=ticket, actor=actor, handoff=handoff, cycle=snapshot.cycle, snapshot=snapshot, at=at)


def _route(ticket: Ticket, handoff: Handoff, actor: Principal | None = None) -> routing.Route:
    if handoff.target_agent is not None:
        return routing.Route(
            team=handoff.target_team, agent=handoff.target_agent, explanation="chosen by the requester"
        )
    return routing.route(
        target_team=handoff.target_team,
        target_tier=handoff.target_tier,
        target_role=handoff.target_role,
        target_skill=handoff.target_skill,
        exclude_ids=routing.handed_over_by(ticket, actor),
    )


def _open(
    *, ticket: Ticket, actor: Principal | None, handoff: Handoff, cycle: int, snapshot: TicketSnapshot, at: datetime
) -> Escalation:
    """Opens a valid escalation inside the caller's transaction: the record, the ticket's move (with its audit
    event), its watches, its clocks, and the outbox rows of the escalation and of its first milestone."""
    route = _route(ticket, handoff, actor)
    to_tier = _target_tier(ticket, handoff.target_tier, route.agent, route.team)
    escalation = _record(ticket=ticket, actor=actor, handoff=handoff, route=route, to_tier=to_tier, cycle=cycle, at=at)
    high_stakes = communication.is_high_stakes(escalation, account=snapshot.account)
    before = ticket_escalation_move(
        ticket=ticket,
        to_tier=to_tier,
        team=route.team,
        assignee=route.agent,
        priority=handoff.priority_override or None,
    )
    # The clocks are planned on the moved ticket and before the record is stored, so it carries its
    # acknowledge deadline from its INSERT instead of an UPDATE right after.
    timers = _clocks_plan(ticket, handoff, high_stakes, snapshot, at)
    escalation.response_due_at = _due(timers, Metric.ESCALATION_ACKNOWLEDGE)
    escalation.save(force_insert=True)
    if handoff.to_call:
        snapshot.calls_wanted.append((escalation, handoff.trigger, handoff.reason))
    ticket_record_escalation(
        ticket=ticket, actor=actor, escalation_id=escalation.pk, kind=handoff.kind, before=before, at=at
    )
    watches.watches_arm(ticket=ticket, since=at)
    slas.escalation_timers_save(timers=timers, escalation_id=escalation.pk)
    context = ticket_context(ticket)
    emissions = [
        _emission(
            escalation,
            "escalation.created",
            context,
            routing=route.explanation,
            **communication.created_facts(escalation, account=snapshot.account),
        ),
        communication.opened(
            escalation=escalation,
            at=at,
            high_stakes=high_stakes,
            update_due_at=_due(timers, Metric.CUSTOMER_UPDATE),
            context=context,
        ),
    ]
    outbox_emit_across(emissions=[(ticket.tenant_id, emission) for emission in emissions], at=at)
    return escalation


def _record(
    *, ticket: Ticket, actor: Principal | None, handoff: Handoff, route: routing.Route, to_tier: int, cycle: int, at
) -> Escalation:
    """The escalation's record, not stored yet: from the ticket as it stands before its move."""
    return bulk.new(
        Escalation,
        tenant_id=ticket.tenant_id,
        ticket=ticket,
        kind=handoff.kind,
        trigger=handoff.trigger,
        rule=handoff.rule,
        reason=handoff.reason,
        cycle=cycle,
        level=handoff.level,
        from_tier=ticket.tier,
        to_tier=to_tier,
        from_agent_id=ticket.assignee_id,
        team=route.team,
        agent=route.agent,
        requested_by=_membership(actor),
        requested_by_label=_label(actor),
        summary={name: str(handoff.summary_fields[name]).strip() for name in SUMMARY_FIELDS},
        summary_drafted=handoff.summary_drafted,
        to_call=handoff.to_call,
        fallback_reason=route.fallback,
        customer_updater_id=handoff.customer_updater_id,
        overseer_id=handoff.overseer_id,
        created_at=at,
    )


def _clocks_plan(ticket: Ticket, handoff: Handoff, high_stakes: bool, snapshot: TicketSnapshot, at) -> list:
    """The escalation's clocks. A routine escalation tells the customer as it opens (communication.opened), and
    that message is their update: the customer-update clock's first period starts with it."""
    overrides = {Metric.ESCALATION_ACKNOWLEDGE: handoff.response_minutes} if handoff.response_minutes else None
    return slas.escalation_timers_plan(
        ticket=ticket,
        metrics=METRICS[handoff.kind],
        at=at,
        overrides=overrides,
        met=() if high_stakes else (Metric.CUSTOMER_UPDATE,),
        account=snapshot.account,
    )


def _due(timers: list, metric: str) -> datetime | None:
    timer = next((t for t in timers if t.metric == metric), None)
    return timer.due_at if timer else None


def _emission(escalation: Escalation, event: str, context: dict, **extra) -> Emission:
    return Emission(
        type=event,
        dedupe_key=f"{event}:{escalation.pk}",
        payload={
            "escalation": escalation.pk,
            "ticket": escalation.ticket_id,
            "kind": escalation.kind,
            "trigger": escalation.trigger,
            "status": escalation.status,
            "to_tier": escalation.to_tier,
            "team": escalation.team_id,
            "agent": escalation.agent_id,
            "to_call": escalation.to_call,
            "summary": escalation.summary,
            "reason": escalation.reason,
            "response_due_at": escalation.response_due_at,
            # Who the matrix says to tell (role names or channel ids), and what the message shows.
            "notify": escalation.rule.notify if escalation.rule_id else [],
            # The seeds' roles (escalation/roles.py): the "overseer" recipient spec reads it.
            "overseer": escalation.overseer_id,
            "ticket_context": context,
            **extra,
        },
    )


def _emit(escalation: Escalation, event: str, at: datetime, **extra) -> None:
    emission = _emission(escalation, event, ticket_context(escalation.ticket), **extra)
    outbox_emit_across(emissions=[(escalation.tenant_id, emission)], at=at)


# --- firing rules -------------------------------------------------------------------------------

# The claim: one row per rule that fired, unless the rule already fired in this cycle. The unique
# (tenant, ticket, rule, cycle) decides — not a read before the write — also when two transactions race:
# the second waits for the first, then inserts nothing.
CLAIM_FIRINGS = """
INSERT INTO escalation_rulefiring (tenant_id, ticket_id, rule_id, cycle, reason, created_at)
SELECT %s, %s, f.rule_id, %s, f.reason, %s FROM unnest(%s::bigint[], %s::text[]) AS f(rule_id, reason)
ON CONFLICT (tenant_id, ticket_id, rule_id, cycle) DO NOTHING
RETURNING rule_id, id
"""
LINK_FIRINGS = """
UPDATE escalation_rulefiring f SET escalation_id = l.escalation_id, fallback_reason = l.fallback_reason
FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::bigint[]) AS l(id, escalation_id, fallback_reason, tenant_id)
WHERE f.tenant_id = l.tenant_id AND f.id = l.id
"""


def _claim(ticket: Ticket, fired: list[tuple[EscalationRule, str]], cycle: int, at: datetime) -> dict[int, int]:
    """Claims the rules for this cycle in one statement; returns the firing id by rule id of those claimed."""
    with connection.cursor() as cursor:
        cursor.execute(
            CLAIM_FIRINGS,
            [ticket.tenant_id, ticket.pk, cycle, at, [rule.pk for rule, _ in fired], [reason for _, reason in fired]],
        )
        return dict(cursor.fetchall())


def _link_many(links: list[tuple[int, Escalation, bool]], *, gather: bool = False) -> None:
    """Each firing names the escalation it opened or reinforced, and why its target was not served when the
    escalation it opened went to the fallback. One statement, whatever the number of tickets (with `gather`,
    inside bulk.gathered(): for the whole block, the sweep's claim across tenants; a firing claimed in the block
    and not written yet is linked in its row, UNWRITTEN_FIRINGS)."""
    if gather:
        links = _link_unwritten(links)
        if not links or bulk.defer("escalation.links", links, _link_many):
            return
    firings = [firing for firing, _, _ in links]
    escalations = [escalation.pk for _, escalation, _ in links]
    reasons = [escalation.fallback_reason if opened else "" for _, escalation, opened in links]
    tenants = [escalation.tenant_id for _, escalation, _ in links]
    with connection.cursor() as cursor:
        cursor.execute(LINK_FIRINGS, [firings, escalations, reasons, tenants])
        if cursor.rowcount != len(set(firings)):  # RLS skips hidden rows silently: a claim's firing must be linked
            raise RuntimeError(f"{cursor.rowcount} of {len(set(firings))} firings linked (row-level security?)")


# The firings the sweep's pass claimed in a gathered block and not written yet, by id (batch._claim_gathered): their
# links complete them in place, so each is written once, linked, instead of inserted and then updated (20,000 rows
# in a storm).
UNWRITTEN_FIRINGS = "escalation.firings"


def _link_unwritten(links: list[tuple[int, Escalation, bool]]) -> list[tuple[int, Escalation, bool]]:
    """Links the firings of a gathered block that are not written yet in their rows; returns the other links."""
    unwritten = bulk.deferred_rows(UNWRITTEN_FIRINGS) or {}
    rest = []
    for firing, escalation, opened in links:
        row = unwritten.get(firing)
        if row is None:
            rest.append((firing, escalation, opened))
        else:
            row[-2:] = [escalation.pk, escalation.fallback_reason if opened else ""]
    return rest


def stale_emission(rule: EscalationRule, escalation: Escalation) -> Emission:
    """Tells the tenant's admins that a rule's target could not be served, once per rule and reason — not once
    per ticket: a breach storm on a stale rule must not become a storm of alerts."""
    return Emission(
        type=STALE_EVENT,
        dedupe_key=f"{STALE_EVENT}:{rule.pk}:{escalation.fallback_reason}"[:200],
        payload={
            "rule": rule.pk,
            "rule_slug": rule.slug,
            "rule_name": rule.name,
            "reason": escalation.fallback_reason,
            "escalation": escalation.pk,
            "ticket": escalation.ticket_id,
            "agent": escalation.agent_id,
        },
    )


def _alert_stale(rule: EscalationRule, escalation: Escalation, at: datetime) -> None:
    outbox_emit_across(emissions=[(escalation.tenant_id, stale_emission(rule, escalation))], at=at)


Fired = tuple[EscalationRule, str]  # a rule that fired, and why


_READ = object()


def handoff_by_rule(
    ticket: Ticket,
    rule: EscalationRule,
    reason: str,
    snapshot: TicketSnapshot,
    joined: list[Fired],
    target_team: Team | object | None = _READ,
) -> Handoff:
    """The handoff a rule asks for, with the urgency of the rules it superseded (`joined`: they fired for the same
    cause and open no escalation of their own): a call if any wants one, the highest priority, the shortest
    response target; and their reasons after its own."""
    rules = [rule, *(r for r, _ in joined)]
    priority = rule.priority_override
    for other, _ in joined:
        if raises_priority(other.priority_override, priority or ticket.priority):
            priority = other.priority_override
    minutes = [r.response_minutes for r in rules if r.response_minutes]
    return Handoff(
        kind=rule.kind,
        trigger=rule.slug,
        rule=rule,
        reason="; ".join([reason, *(f"also {r.slug}: {why}" for r, why in joined)]),
        summary_fields=selectors.draft_summary(ticket, snapshot),
        summary_drafted=True,
        # By id: the rule row is shared through the configuration cache and must not cache its team.
        target_team=(Team.objects.get(pk=rule.target_team_id) if rule.target_team_id else None)
        if target_team is _READ
        else target_team,
        target_tier=rule.target_tier,
        target_role=rule.target_role,
        target_skill=rule.target_skill,
        to_call=any(r.to_call for r in rules),
        priority_override=priority,
        response_minutes=min(minutes) if minutes else None,
    )


def causes(fired: list[Fired]) -> list[tuple[Fired, list[Fired]]]:
    """The rules that fired together, one entry per cause (triggers.merge): the leading rule with its reason,
    and the (rule, reason) pairs it supersedes."""
    rows = {rule.pk: (rule, reason) for rule, reason in fired}
    decisions = [triggers.Decision(rule.pk, rule.slug, rule.trigger, reason) for rule, reason in fired]
    merges = triggers.merge(decisions, [selectors.rule_shape(rule) for rule, _ in fired])
    return [(rows[m.lead.rule_id], [rows[d.rule_id] for d in m.superseded]) for m in merges]


# No savepoint: it runs in the transaction of the event that fired the rules, whose own block rolls back.
@transaction.atomic(savepoint=False)
def rules_fire(
    *,
    ticket: Ticket,
    fired: list[tuple[EscalationRule, str]],
    at: datetime | None = None,
    snapshot: TicketSnapshot | None = None,
) -> list[Escalation]:
    """Fires rules for a ticket, each at most once per escalation cycle (the claim). The claimed rules are
    grouped by cause (one supersedes another: `causes`); each cause opens one escalation, or reinforces the open
    one of its kind, and every rule of it points to that escalation (its `fired_rules`). Returns the
    escalations opened."""
    at = at or timezone.now()
    snapshot = snapshot or TicketSnapshot(ticket)
    cycle = snapshot.cycle
    claimed = _claim(ticket, fired, cycle, at) if fired else {}
    acting = [(rule, reason) for rule, reason in fired if rule.pk in claimed]
    snapshot.tags_added.extend(rules_act(ticket=ticket, fired=acting, at=at))
    escalating = [(rule, reason) for rule, reason in acting if rule.action == "escalate"]
    created, links = [], []
    for (rule, reason), joined in causes(escalating):
        active = next((e for e in snapshot.escalations if e.status in ACTIVE_STATUSES and e.kind == rule.kind), None)
        if active is not None:
            for member, why in [(rule, reason), *joined]:
                _reinforce(active, member, why, at, snapshot)
                links.append((claimed[member.pk], active, False))
            continue
        handoff = handoff_by_rule(ticket, rule, reason, snapshot, joined)
        escalation = _open(ticket=ticket, actor=None, handoff=handoff, cycle=cycle, snapshot=snapshot, at=at)
        if escalation.fallback_reason:
            _alert_stale(rule, escalation, at)
        snapshot.escalations.append(escalation)
        created.append(escalation)
        links.extend((claimed[member.pk], escalation, True) for member in [rule, *(r for r, _ in joined)])
    if links:
        _link_many(links)
    return created


def rules_act(*, ticket: Ticket, fired: list[Fired], at: datetime) -> list[str]:
    """The claimed rules whose action is not an escalation: a tag rule's tags join the ticket at once, a flag
    rule puts it in the "Needs review" queue. Returns the tags that were new (a tag_added rule may fire for
    them: the caller evaluates those next)."""
    for rule, reason in fired:
        if rule.action == "flag":
            ticket_flag_for_review(ticket=ticket, rule=rule.slug, reason=reason, at=at)
    taggings = [(rule.slug, reason, list(rule.tags)) for rule, reason in fired if rule.action == "tag"]
    return ticket_tags_add(ticket=ticket, taggings=taggings, at=at) if taggings else []


def rule_fire(*, ticket: Ticket, rule: EscalationRule, reason: str, at: datetime | None = None) -> Escalation | None:
    """One rule (see rules_fire); None when it had fired already or reinforced the open escalation."""
    created = rules_fire(ticket=ticket, fired=[(rule, reason)], at=at)
    return created[0] if created else None


def _reinforce(
    escalation: Escalation, rule: EscalationRule, reason: str, at: datetime, snapshot: TicketSnapshot
) -> None:
    """Another rule of the same kind fired while the escalation is open: no second handoff, but its
    urgency (priority, a call) is not lost and the reason joins the record."""
    ticket = escalation.ticket
    if rule.to_call and not escalation.to_call:
        escalation.to_call = True
        escalation.save(update_fields=["to_call"])
        snapshot.calls_wanted.append((escalation, rule.slug, reason))
    if raises_priority(rule.priority_override, ticket.priority):
        ticket_update(ticket=ticket, actor=None, priority=rule.priority_override)
    event_record(
        ticket=ticket,
        kind="escalation_reinforced",
        actor=None,
        at=at,
        after={
            "escalation": escalation.pk,
            "rule": rule.slug,
            "reason": reason,
            "priority": ticket.priority,
            "to_call": escalation.to_call,
        },
    )


# --- lifecycle ----------------------------------------------------------------------------------


def _lock(escalation: Escalation) -> None:
    """Lock the ticket, then re-read the escalation: the sweep takes tickets first too (SKIP LOCKED), so the
    two never wait on each other in a cycle, and a concurrent second acknowledge sees the first."""
    Ticket.objects.select_for_update().filter(pk=escalation.ticket_id).values_list("pk", flat=True).first()
    escalation.refresh_from_db()


def _authorize(escalation: Escalation, actor: Principal | None, action: str) -> None:
    """Who may move an escalation (escalation/rights.py); refused: a 403."""
    if not rights.may(escalation, actor, action):
        raise EscalationError(rights.refusal(escalation, action), code="permission_denied", status=403)


def _require(escalation: Escalation, allowed, action: str, actor: Principal | None = None) -> None:
    _lock(escalation)
    _authorize(escalation, actor, action)
    if escalation.status not in allowed:
        raise EscalationError(ERR_STATE.format(status=escalation.status, action=action))


def _still_escalated(escalation: Escalation) -> bool:
    return (
        Escalation.objects.filter(ticket_id=escalation.ticket_id, status__in=ACTIVE_STATUSES)
        .exclude(pk=escalation.pk)
        .exists()
    )


@transaction.atomic
def escalation_acknowledge(
    *, escalation: Escalation, actor: Principal | None, at: datetime | None = None
) -> Escalation:
    at = at or timezone.now()
    _require(escalation, (EscalationStatus.REQUESTED,), "acknowledged", actor)
    escalation.status, escalation.acknowledged_at = EscalationStatus.ACKNOWLEDGED, at
    if escalation.agent_id is None and actor is not None and actor.membership is not None:
        escalation.agent = actor.membership  # whoever picks it up from the queue owns it
    escalation.save(update_fields=["status", "acknowledged_at", "agent"])
    event_record(
        ticket=escalation.ticket,
        kind="escalation_acknowledged",
        actor=actor,
        at=at,
        after={"escalation": escalation.pk, "agent": escalation.agent_id},
    )
    slas.escalation_timers_meet(
        ticket=escalation.ticket, escalation_id=escalation.pk, metrics=[Metric.ESCALATION_ACKNOWLEDGE], at=at
    )
    _emit(escalation, "escalation.acknowledged", at)
    communication.milestone(escalation=escalation, name="acknowledged", at=at)
    return escalation


@transaction.atomic
def escalation_resolve(
    *,
    escalation: Escalation,
    actor: Principal | None,
    resolution: str,
    root_cause: str = "",
    at: datetime | None = None,
) -> Escalation:
    at = at or timezone.now()
    _require(escalation, ACTIVE_STATUSES, "resolved", actor)
    _resolve(escalation, actor, resolution, root_cause, at)
    communication.milestone(escalation=escalation, name="resolved", at=at, resolution=resolution)
    return escalation


def _resolve(escalation: Escalation, actor: Principal | None, resolution: str, root_cause: str, at: datetime) -> None:
    escalation.status, escalation.resolved_at = EscalationStatus.RESOLVED, at
    escalation.resolution, escalation.root_cause = resolution, root_cause
    escalation.save(update_fields=["status", "resolved_at", "resolution", "root_cause"])
    ticket = escalation.ticket
    slas.escalation_timers_meet(ticket=ticket, escalation_id=escalation.pk, metrics=[m.value for m in Metric], at=at)
    ticket_record_escalation_end(
        ticket=ticket,
        actor=actor,
        escalation_id=escalation.pk,
        outcome="resolved",
        still_escalated=_still_escalated(escalation),
        at=at,
    )
    _feedback_note(escalation, actor, at)
    reviews.review_open_if_due(escalation=escalation, actor=actor, at=at)  # high priority or repeated: reviewed
    _emit(escalation, "escalation.resolved", at, resolution=resolution, root_cause=root_cause)


def escalations_end_with_ticket(*, ticket: Ticket, actor: Principal | None, at: datetime) -> list[Escalation]:
    """A solved or closed ticket resolves its open escalations. Left open they sat in the receivers' queues
    ("Awaiting acknowledgement" full of solved tickets) and their clocks ran on towards breaches and the
    ladder over work that was done. Whoever may solve the ticket ends them: no escalation right is asked.
    The customer hears of the solved ticket itself, so no "resolved" milestone goes to them as well."""
    ended = []
    for escalation in Escalation.objects.filter(ticket=ticket, status__in=ACTIVE_STATUSES).order_by("pk"):
        _lock(escalation)
        if escalation.status not in ACTIVE_STATUSES:
            continue
        escalation.ticket = ticket  # the caller's instance: the escalation flags it clears are the ones it returns
        resolution = ENDED_WITH_TICKET.format(status=ticket.status, who=_label(actor))
        _resolve(escalation, actor, resolution, "", at)
        ended.append(escalation)
    return ended


def _feedback_note(escalation: Escalation, actor: Principal | None, at: datetime) -> None:
    """Every resolution is written into the thread as an internal note, so whoever opens the ticket next
    reads how it ended; the agent who handed the ticket up is also told (seeds: close the loop, learn)."""
    note = (
        f"Escalation #{escalation.pk} resolved by {_label(actor)}. Root cause: "
        f"{escalation.root_cause or 'not given'}. Resolution: {escalation.resolution}"
    )
    message_post(
        ticket=escalation.ticket, actor=actor, body=note, author_type=AuthorType.SYSTEM, internal=True, created_at=at
    )
    if escalation.from_agent_id is None:
        return
    outbox_emit(
        tenant_id=escalation.tenant_id,
        type="escalation.feedback",
        dedupe_key=f"feedback:{escalation.pk}",
        payload={
            "escalation": escalation.pk,
            "ticket": escalation.ticket_id,
            "recipient": escalation.from_agent_id,
            "note": note,
            "ticket_context": ticket_context(escalation.ticket),
        },
        at=at,
    )


@transaction.atomic
def escalation_return(
    *, escalation: Escalation, actor: Principal | None, reason: str, at: datetime | None = None
) -> Escalation:
    """Bounceback: back to the sender for clarification. The ticket returns to its former tier and owner."""
    at = at or timezone.now()
    _require(escalation, ACTIVE_STATUSES, "returned", actor)
    escalation.status, escalation.returned_at, escalation.return_reason = EscalationStatus.RETURNED, at, reason
    escalation.save(update_fields=["status", "returned_at", "return_reason"])
    ticket = escalation.ticket
    slas.escalation_timers_meet(ticket=ticket, escalation_id=escalation.pk, metrics=[m.value for m in Metric], at=at)
    ticket_record_escalation_end(
        ticket=ticket,
        actor=actor,
        escalation_id=escalation.pk,
        outcome="returned",
        still_escalated=_still_escalated(escalation),
        tier=escalation.from_tier,
        assignee=escalation.from_agent,
        team=ticket.team,
        move=True,
        at=at,
    )
    watches.watches_arm(ticket=ticket, since=at)
    _emit(escalation, "escalation.returned", at, reason=reason)
    return escalation


@transaction.atomic
def escalation_de_escalate(
    *, escalation: Escalation, actor: Principal | None, reason: str, to_tier: int, at: datetime | None = None
) -> Escalation:
    """Back down to a lower tier once the higher one is no longer needed."""
    at = at or timezone.now()
    _require(escalation, ACTIVE_STATUSES, "de-escalated", actor)
    if to_tier >= escalation.to_tier:
        raise EscalationError(
            f"De-escalation goes down: pick a tier below {escalation.to_tier}.",
            code="invalid",
            status=400,
            fields={"to_tier": [f"Must be below {escalation.to_tier}."]},
        )
    escalation.status, escalation.de_escalated_at = EscalationStatus.DE_ESCALATED, at
    escalation.return_reason = reason
    escalation.save(update_fields=["status", "de_escalated_at", "return_reason"])
    ticket = escalation.ticket
    slas.escalation_timers_meet(ticket=ticket, escalation_id=escalation.pk, metrics=[m.value for m in Metric], at=at)
    assignee = escalation.from_agent if escalation.from_agent and escalation.from_agent.tier <= to_tier else None
    ticket_record_escalation_end(
        ticket=ticket,
        actor=actor,
        escalation_id=escalation.pk,
        outcome="de_escalated",
        still_escalated=_still_escalated(escalation),
        tier=to_tier,
        assignee=assignee,
        team=None,
        move=True,
        at=at,
    )
    watches.watches_arm(ticket=ticket, since=at)
    _emit(escalation, "escalation.de_escalated", at, reason=reason, to_tier=to_tier)
    return escalation


def _answers_for(escalation: Escalation, author: Membership | None) -> bool:
    """Whose reply is the escalation's first substantive (or manager's) response: its receiver's, or a
    manager's. A reply from an integration token has no person behind it and counts, as before."""
    if author is None or escalation.agent_id == author.pk:
        return True
    return ROLE_RANK[author.role] >= ROLE_RANK[Role.MANAGER]


@transaction.atomic
def escalations_on_agent_reply(*, ticket: Ticket, at: datetime, author: Membership | None = None) -> None:
    """A public agent reply during an escalation updates the customer, whoever writes it (the customer-update
    clock's period is met and the next one starts); it is the escalation's first substantive response only
    when the receiver (or a manager) writes it — the agent who handed the ticket up answering again does not
    stop the specialist's clock."""
    escalations = list(Escalation.objects.filter(ticket=ticket, status__in=ACTIVE_STATUSES))
    for escalation in escalations:
        if _answers_for(escalation, author):
            slas.escalation_timers_meet(ticket=ticket, escalation_id=escalation.pk, metrics=RESPONSE_METRICS, at=at)
    slas.escalation_customer_updated(ticket=ticket, escalation_ids=[e.pk for e in escalations], at=at)


# --- roles ---------------------------------------------------------------------------------------

ERR_ROLES_ENDED = "This escalation is {status}; its roles no longer change."
ERR_ROLES_INVALID = "Each role names an active member of this helpdesk."


@transaction.atomic
def escalation_roles_set(
    *, escalation: Escalation, actor: Principal | None, at: datetime | None = None, **member_ids: int | None
) -> Escalation:
    """Sets the seeds' roles (escalation/roles.py) by member id: `resolver`, `customer_updater`, `overseer`
    (None clears one). Checked whole before anything is written: the rights (403), the escalation still open
    (409), each member active and of this tenant (400 naming the field). One audit event names what changed."""
    at = at or timezone.now()
    _lock(escalation)
    if not roles.may_set_roles(escalation, actor, member_ids):
        raise EscalationError(roles.refusal(member_ids), code="permission_denied", status=403)
    if escalation.status not in ACTIVE_STATUSES:
        raise EscalationError(ERR_ROLES_ENDED.format(status=escalation.status))
    before = {name: getattr(escalation, f"{name}_id") for name in member_ids}
    for name, member_id in member_ids.items():
        setattr(escalation, f"{name}_id", member_id)
    problems = roles.role_problems(escalation)
    if problems:
        escalation.refresh_from_db()
        raise EscalationError(ERR_ROLES_INVALID, code="invalid", status=400, fields=problems)
    changed = [name for name in member_ids if before[name] != member_ids[name]]
    if not changed:
        return escalation
    escalation.save(update_fields=changed)
    event_record(
        ticket=escalation.ticket,
        kind="escalation_roles_set",
        actor=actor,
        at=at,
        before={"escalation": escalation.pk, **{name: before[name] for name in changed}},
        after={"escalation": escalation.pk, **{name: member_ids[name] for name in changed}},
    )
    return escalation


# --- the matrix: writing rules -------------------------------------------------------------------

ERR_SLUG_TAKEN = "A rule with this slug exists."


@transaction.atomic
def rule_create(*, tenant, **fields) -> EscalationRule:
    """A new rule of the matrix, validated as every door validates it (escalation/validation.py)."""
    return _rule_store(EscalationRule(tenant=tenant, **fields))


@transaction.atomic
def rule_update(*, rule: EscalationRule, **changes) -> EscalationRule:
    """Changes to a rule (the admin's form may have set them on the instance already: then none are given)."""
    for name, value in changes.items():
        setattr(rule, name, value)
    return _rule_store(rule)


def _rule_store(rule: EscalationRule) -> EscalationRule:
    full_check(rule, validation.rule_problems)
    try:
        with transaction.atomic():  # the unique slug decides, also between two writers at once
            rule.save()
    except IntegrityError:
        raise EscalationError(ERR_SLUG_TAKEN, code="conflict", status=409, fields={"slug": ["Already used."]}) from None
    return rule


# --- the default matrix -------------------------------------------------------------------------


@transaction.atomic
def matrix_install(*, tenant) -> list[EscalationRule]:
    """The seeds' matrix, one rule per trigger at least (escalation/defaults.py). Team names resolve to
    the tenant's teams when they exist; otherwise the rule routes by skill, tier or role."""
    from escalation.defaults import DEFAULT_RULES

    teams = {team.name: team for team in Team.objects.all()}
    rules = []
    for spec in DEFAULT_RULES:
        fields = {k: v for k, v in spec.items() if k != "target_team_name"}
        for name in ("target_skill", "target_role", "priority_override"):
            fields[name] = fields.get(name) or ""
        rules.append(EscalationRule(tenant=tenant, target_team=teams.get(spec.get("target_team_name") or ""), **fields))
    return EscalationRule.objects.bulk_create(rules)


# --- the ladder ---------------------------------------------------------------------------------

# Who already holds authority: the next rung above them is an executive.
LADDER_ROLES = (Role.MANAGER, Role.EXECUTIVE, Role.ADMIN)


@transaction.atomic
def rule_delete(*, rule: EscalationRule, actor: Principal | None = None) -> str:
    """In use: it opened or reinforced an escalation, or fired at all (RuleFiring: the once-per-cycle record
    and the metrics' by-trigger counts). Retired, it stays out of the matrix (matrix() reads active rules)
    and its pending time_open watches go (the caller's arm_after_commit); escalations keep pointing to it.
    A rule that never fired is removed, its pending watches with it."""
    rule = EscalationRule.objects.select_for_update().get(pk=rule.pk)
    in_use = Escalation.objects.filter(rule=rule).exists() or RuleFiring.objects.filter(rule=rule).exists()
    facts = {"name": rule.name, "slug": rule.slug, "trigger": rule.trigger}
    return retire_or_remove(rule, in_use=in_use, actor=actor, object_type="escalation_rule", facts=facts)


ESCALATION_TEXT = ("summary", "reason", "resolution", "root_cause", "return_reason")


def escalations_redact(*, ticket_ids: list[int], redactor: redaction.Redactor) -> int:
    """A customer's erasure, for the escalations of their tickets: the drafted problem (their first sentence,
    cut at 300 characters, so not always a whole one the redactor knows) is replaced; the rest of the summary,
    reasons and resolutions are masked (helpdesk.redaction); the rules' firing reasons too. Counts and times
    stay: the metrics do not move. Returns the rows changed."""
    changed = []
    for escalation in Escalation.objects.filter(ticket_id__in=ticket_ids).only(*ESCALATION_TEXT, "summary_drafted"):
        before = [getattr(escalation, name) for name in ESCALATION_TEXT]
        summary = redactor.json(escalation.summary)
        if escalation.summary_drafted and summary.get("problem"):
            summary["problem"] = redaction.TOMBSTONE_TEXT
        escalation.summary = summary
        for name in ESCALATION_TEXT[1:]:
            setattr(escalation, name, redactor.text(getattr(escalation, name)))
        if [getattr(escalation, name) for name in ESCALATION_TEXT] != before:
            changed.append(escalation)
    Escalation.objects.bulk_update(changed, list(ESCALATION_TEXT), batch_size=BATCH)
    return len(changed) + mask_rows(RuleFiring.objects.filter(ticket_id__in=ticket_ids), ("reason",), redactor)


def _at_the_top(escalation: Escalation) -> bool:
    """The last rung: the top tier, held by an executive (or an admin, who ranks above for access and holds the
    ladder where a desk has no executive). Above it there is nobody to climb to."""
    holder = escalation.agent
    return escalation.to_tier >= MAX_TIER and holder is not None and ROLE_RANK[holder.role] >= ROLE_RANK[Role.EXECUTIVE]


def _next_rung(escalation: Escalation) -> tuple[int, str]:
    """One rung up: the next tier while there is one, and authority above whoever sat on it — a manager above
    an agent, an executive above a manager (helpdesk.models.Role)."""
    holder_role = escalation.agent.role if escalation.agent else ""
    role = Role.EXECUTIVE if holder_role in LADDER_ROLES else Role.MANAGER
    return min(escalation.to_tier + 1, MAX_TIER), role


@transaction.atomic
def escalation_climb(*, escalation_id: int, at: datetime) -> Escalation | None:
    """An escalation missed its acknowledge (or manager-response) target: it goes one level up, with the
    same summary, as many levels as it takes. Claimed by a conditional UPDATE, so it climbs once."""
    claimed = Escalation.objects.filter(pk=escalation_id, climbed_at__isnull=True, status__in=ACTIVE_STATUSES).update(
        climbed_at=at
    )
    if claimed != 1:
        return None
    escalation = Escalation.objects.select_related("ticket", "agent").get(pk=escalation_id)
    ticket = escalation.ticket
    if ticket.status in (Status.SOLVED, Status.CLOSED):
        return None
    if _at_the_top(escalation):
        communication.ladder_notice(escalation=escalation, climbed=None, role="", at=at)
        return None
    to_tier, role = _next_rung(escalation)
    event_record(
        ticket=ticket,
        kind="escalation_climbed",
        actor=None,
        at=at,
        after={"escalation": escalation.pk, "level": escalation.level + 1, "to_tier": to_tier, "role": role},
    )
    # Routing leaves out the ticket's current holder (the one who let the clock run out).
    climbed = escalation_create(
        ticket=ticket,
        actor=None,
        kind=Kind.HIERARCHICAL,
        trigger="sla-ladder",
        summary_fields=escalation.summary,
        summary_drafted=escalation.summary_drafted,
        target_role=role,
        target_tier=to_tier,
        reason=f"escalation #{escalation.pk} was not acknowledged in time",
        to_call=escalation.to_call,
        level=escalation.level + 1,
        # The people named to update the customer and to oversee stay on it as it climbs; the resolver is the
        # new rung's to name.
        customer_updater_id=escalation.customer_updater_id,
        overseer_id=escalation.overseer_id,
        at=at,
    )
    communication.ladder_notice(escalation=escalation, climbed=climbed, role=role, at=at)
    return climbed
