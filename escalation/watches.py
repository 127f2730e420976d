"""Due moments of time_open rules (see models.TimeWatch): armed when a ticket opens or changes tier,
claimed by the sweep when they come due."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Max

from escalation.models import EscalationRule, TimeWatch
from escalation.selectors import rule_matrix
from helpdesk import bulk
from helpdesk.tenancy import claim_by_tenant
from slas import clock
from slas import services as slas
from tickets.models import Status, Ticket, TicketEvent

# What moves a ticket to another tier: a time_open rule counts its hours from the last of these.
TIER_MOVES = ("escalated", "escalation_returned", "escalation_de_escalated")


def watches_arm(*, ticket: Ticket, since: datetime, new: bool = False) -> int:
    """(Re)arms one watch per active time_open rule that applies at the ticket's tier: due when the
    ticket will have spent the rule's business hours at this tier, counted from `since`. `new`: the
    ticket was opened in this transaction, so it has no watches yet and they are inserted at once."""
    rules = [r for r in rule_matrix() if r.trigger == "time_open" and r.conditions.get("tier") in (None, ticket.tier)]
    if not new:
        TimeWatch.objects.filter(ticket=ticket).exclude(rule_id__in=[r.id for r in rules]).delete()
    if not rules:
        return 0
    calendar = slas.ticket_clock(ticket=ticket)
    if new:
        TimeWatch.objects.bulk_create(
            TimeWatch(
                tenant_id=ticket.tenant_id,
                ticket=ticket,
                rule_id=rule.id,
                due_at=clock.deadline(since, _minutes(rule), calendar),
            )
            for rule in rules
        )
        return len(rules)
    for rule in rules:
        minutes = _minutes(rule)
        TimeWatch.objects.update_or_create(
            tenant_id=ticket.tenant_id,
            ticket=ticket,
            rule_id=rule.id,
            defaults={"due_at": clock.deadline(since, minutes, calendar), "fired_at": None},
        )
    return len(rules)


def watches_arm_many(*, tickets: list[Ticket], since: datetime) -> int:
    """watches_arm for many tickets that just changed tier (the sweep's batch of escalations): the watches of
    rules that no longer apply at each ticket's tier go in one DELETE per tier; tickets that have rules to
    arm at their new tier are armed one by one (watches_arm). Returns the watches armed."""
    by_tier: dict[int, list[Ticket]] = {}
    for ticket in tickets:
        by_tier.setdefault(ticket.tier, []).append(ticket)
    timed = [r for r in rule_matrix() if r.trigger == "time_open"]
    armed = 0
    for tier, group in by_tier.items():
        applying = [r.id for r in timed if r.conditions.get("tier") in (None, tier)]
        if applying:
            armed += sum(watches_arm(ticket=ticket, since=since) for ticket in group)
            continue
        _unwatch([(t.tenant_id, t.pk) for t in group])
    return armed


UNWATCH = """
DELETE FROM escalation_timewatch w USING unnest(%s::bigint[], %s::bigint[]) AS d(tenant_id, ticket_id)
WHERE w.tenant_id = d.tenant_id AND w.ticket_id = d.ticket_id
"""


def _unwatch(tickets: list[tuple[int, int]]) -> None:
    """Every watch of these (tenant id, ticket id): inside the sweep's pass (bulk.gathered), one DELETE for the
    whole claim on the way out (the batch policy opens the claimed tenants' watches, tenancy.CLAIM_BATCH_TABLES);
    the pass flushes before a ladder climb, which may arm the ticket's watches again, so the order holds."""
    if not bulk.defer("escalation.unwatch", tickets, _unwatch_now):
        _unwatch_now(tickets)


def _unwatch_now(tickets: list[tuple[int, int]]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(UNWATCH, [[t for t, _ in tickets], [pk for _, pk in tickets]])


def _minutes(rule) -> int:
    return round(float(rule.conditions["business_hours"]) * 60)


def watches_claim_due(*, now: datetime, limit: int) -> dict[int, list[int]]:
    """Locks due watches of all tenants (SKIP LOCKED) through the narrow SECURITY DEFINER function."""
    return claim_by_tenant("SELECT watch_id, tenant_id FROM escalation_claim_due_watches(%s, %s)", [now, limit])


def watches_fire(*, watch_ids: list[int], now: datetime) -> set[int]:
    """Marks the claimed watches fired; returns their tickets, for the time rules to evaluate."""
    watches = TimeWatch.objects.filter(pk__in=watch_ids, fired_at__isnull=True)
    wanted = set(watches.values_list("ticket_id", flat=True))
    # Like the SLA sweep: take the tickets nobody else holds, leave the rest due for the next sweep.
    ticket_ids = set(
        Ticket.objects.filter(pk__in=wanted)
        .order_by("pk")
        .select_for_update(skip_locked=True)
        .values_list("pk", flat=True)
    )
    watches = watches.filter(ticket_id__in=ticket_ids)
    watches.update(fired_at=now)
    return ticket_ids


def watches_arm_rule(*, rule_id: int) -> int:
    """A time_open rule was created or edited: arm it for the tickets already open at its tier (not only for
    those that open or move later), counting from when each arrived there. Watches already fired stay
    fired (the rule fires once per cycle anyway); a rule switched off or away from time_open drops its
    pending watches. Returns the number of watches armed."""
    rule = EscalationRule.objects.filter(pk=rule_id).first()
    if rule is None or not rule.active or rule.trigger != "time_open":
        TimeWatch.objects.filter(rule_id=rule_id, fired_at__isnull=True).delete()
        return 0
    tickets = Ticket.objects.exclude(status__in=[Status.SOLVED, Status.CLOSED])
    if rule.conditions.get("tier") is not None:
        tickets = tickets.filter(tier=rule.conditions["tier"])
    # The account comes with the ticket: the ticket's clock (its policy) reads it, once per ticket otherwise.
    tickets = list(tickets.select_related("account"))
    moved = dict(
        TicketEvent.objects.filter(ticket_id__in=[t.pk for t in tickets], kind__in=TIER_MOVES)
        .values("ticket_id")
        .annotate(last=Max("created_at"))
        .values_list("ticket_id", "last")
    )
    minutes = round(float(rule.conditions["business_hours"]) * 60)
    watches = [
        TimeWatch(
            tenant_id=ticket.tenant_id,
            ticket=ticket,
            rule=rule,
            due_at=clock.deadline(
                moved.get(ticket.pk, ticket.created_at),
                minutes,
                slas.ticket_clock(ticket=ticket, account=ticket.account),
            ),
        )
        for ticket in tickets
    ]
    TimeWatch.objects.bulk_create(
        watches, update_conflicts=True, unique_fields=["tenant", "ticket", "rule"], update_fields=["due_at"]
    )
    return len(watches)
