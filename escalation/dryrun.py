"""The dry run: had this matrix been active over the last N days, which stored tickets would have
escalated, by which trigger, and at what rate? Reads only — nothing is written.

The seeds' advice becomes the verdict: audit the last 30 days, aim for an escalation rate of 10-20 %,
reconsider above 35 %."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from escalation import engine, triggers
from escalation.snapshot import TicketSnapshot, snapshots
from helpdesk import config_cache
from tickets.models import Dispute, Ticket

HEALTHY = (10.0, 20.0)
RECONSIDER_ABOVE = 35.0
MAX_TICKETS = 5000


@dataclass
class DryRunReport:
    days: int
    tickets: int = 0
    would_escalate: int = 0
    by_trigger: Counter = field(default_factory=Counter)
    examples: dict[str, list[int]] = field(default_factory=dict)
    truncated: bool = False
    # One escalation per cause (triggers.merge): (lead slug, superseded slugs) -> tickets, and a few of them.
    merged: Counter = field(default_factory=Counter)
    merged_examples: dict[tuple[str, tuple[str, ...]], list[int]] = field(default_factory=dict)
    # Rules that tag or flag instead of escalating: tickets per rule slug, by action. They count in no rate.
    by_action: dict[str, Counter] = field(default_factory=lambda: {"tag": Counter(), "flag": Counter()})

    @property
    def rate(self) -> float:
        return round(100.0 * self.would_escalate / self.tickets, 1) if self.tickets else 0.0

    @property
    def verdict(self) -> str:
        if self.rate > RECONSIDER_ABOVE:
            return f"bad: {self.rate} % is above {RECONSIDER_ABOVE:g} %; the matrix escalates too much"
        low, high = HEALTHY
        if low <= self.rate <= high:
            return f"ok: {self.rate} % is in the healthy {low:g}-{high:g} % range"
        return f"warn: {self.rate} % is outside the healthy {low:g}-{high:g} % range"

    def as_dict(self) -> dict:
        return {
            "days": self.days,
            "tickets": self.tickets,
            "would_escalate": self.would_escalate,
            "escalation_rate": self.rate,
            "by_trigger": dict(self.by_trigger.most_common()),
            "examples": self.examples,
            "verdict": self.verdict,
            "truncated": self.truncated,
            "merges": self.merges(),
            "by_action": {action: dict(counts.most_common()) for action, counts in self.by_action.items()},
        }

    def merges(self) -> list[dict]:
        """Where rules fired together and one superseded the others: the one escalation they would have opened."""
        return [
            {"slug": lead, "supersedes": list(joined), "count": count, "examples": self.merged_examples[(lead, joined)]}
            for (lead, joined), count in self.merged.most_common()
        ]

    def rows(self) -> list[dict]:
        return [
            {"slug": slug, "count": count, "examples": self.examples.get(slug, [])}
            for slug, count in self.by_trigger.most_common()
        ]


def _moment(ticket: Ticket, now: datetime) -> datetime:
    """When a ticket is judged: the window's end, or its solving if it was solved before."""
    return min(now, ticket.solved_at or now)


def _decisions(snapshot: TicketSnapshot, rules: list[triggers.Rule], at: datetime) -> list[triggers.Decision]:
    """Every rule, event and time triggers alike, against the ticket as it stood, reading its whole customer
    thread (each message would have been evaluated as it came in)."""
    ticket = snapshot.ticket
    thread = "\n".join([ticket.subject, ticket.description, *(body for body, _ in snapshot.customer_thread)])
    # Its tags as if each had just been added, its largest dispute in each currency as if just recorded.
    disputes = getattr(snapshot, "largest_disputes", None) or [None]
    facts = dataclasses.replace(
        engine.ticket_facts(
            ticket, text="", now=at, snapshot=snapshot, added_tags=tuple(ticket.tags), dispute=disputes[0]
        ),
        text=thread,
        solved=False,
    )
    decisions = [
        *triggers.evaluate(facts, rules, at, time_based=False),
        *triggers.evaluate(facts, rules, at, time_based=True),
    ]
    # A dispute rule compares one currency: the ticket's other currencies are asked of the dispute rules alone.
    dispute_rules = [rule for rule in rules if rule.trigger == "dispute"]
    for amount, currency in disputes[1:]:
        other = dataclasses.replace(facts, dispute_amount=amount, dispute_currency=currency)
        decided = {decision.rule_id for decision in decisions}
        decisions += [
            decision
            for decision in triggers.evaluate(other, dispute_rules, at, time_based=False)
            if decision.rule_id not in decided
        ]
    return decisions


def evaluations(
    tickets: list[Ticket], rules: list[triggers.Rule], now: datetime
) -> Iterator[tuple[Ticket, list[triggers.Decision]]]:
    """Each ticket (loaded with its account) with the decisions of the matrix on it. Everything the facts
    read is read for all the tickets at once (snapshot.snapshots): a fixed number of queries, whatever the
    number of tickets."""
    if not tickets:
        return
    moments = [_moment(ticket, now) for ticket in tickets]
    largest = _largest_disputes(tickets) if any(rule.trigger == "dispute" for rule in rules) else {}
    for snapshot, at in zip(snapshots(tickets, between=(min(moments), max(moments))), moments, strict=True):
        snapshot.largest_disputes = largest.get(snapshot.ticket.pk)
        yield snapshot.ticket, _decisions(snapshot, rules, at)


def _largest_disputes(tickets: list[Ticket]) -> dict[int, list[tuple]]:
    """Each ticket's largest dispute in each of its currencies, as (amount, currency), in one query: dispute rules
    compare one currency each (escalation.triggers), so a large yen dispute must not hide a smaller dollar one."""
    largest: dict[int, dict[str, tuple]] = {}
    rows = Dispute.objects.filter(ticket_id__in=[t.pk for t in tickets]).order_by("ticket_id", "-amount")
    for ticket_id, amount, currency in rows.values_list("ticket_id", "amount", "currency"):
        largest.setdefault(ticket_id, {}).setdefault(currency, (amount, currency))
    return {ticket_id: list(by_currency.values()) for ticket_id, by_currency in largest.items()}


def window(*, days: int, now: datetime) -> list[Ticket]:
    """The tickets opened in the last `days` days, oldest first, at most MAX_TICKETS + 1 (to tell a cut)."""
    since = now - timedelta(days=days)
    opened = Ticket.objects.filter(created_at__gte=since).select_related("account").order_by("created_at", "id")
    return list(opened[: MAX_TICKETS + 1])


def dry_run(*, days: int = 30, now: datetime | None = None) -> DryRunReport:
    """Evaluates the active matrix against every ticket opened in the window, as of its end (or, for a
    solved ticket, as of its solving). The tickets' own escalations are ignored: the question is what
    this matrix would have done. The configuration is read once (pinned): the dry run writes none."""
    now = now or timezone.now()
    report = DryRunReport(days=days)
    with config_cache.pinned():
        rules = engine.active_rules()
        tickets = window(days=days, now=now)
        report.truncated = len(tickets) > MAX_TICKETS
        actions = {rule.id: rule.action for rule in rules}
        for ticket, all_decisions in evaluations(tickets[:MAX_TICKETS], rules, now):
            report.tickets += 1
            decisions = [d for d in all_decisions if actions.get(d.rule_id, "escalate") == "escalate"]
            for slug, action in {(d.slug, actions[d.rule_id]) for d in all_decisions if d.rule_id in actions}:
                if action != "escalate":
                    report.by_action[action][slug] += 1
            if not decisions:
                continue
            report.would_escalate += 1
            for slug in {d.slug for d in decisions}:
                report.by_trigger[slug] += 1
                report.examples.setdefault(slug, [])
                if len(report.examples[slug]) < 5:
                    report.examples[slug].append(ticket.pk)
            _count_merges(report, ticket, triggers.merge(decisions, rules))
    return report


def _count_merges(report: DryRunReport, ticket: Ticket, merges: list[triggers.Merge]) -> None:
    for merge in merges:
        if not merge.superseded:
            continue
        key = (merge.lead.slug, tuple(d.slug for d in merge.superseded))
        report.merged[key] += 1
        examples = report.merged_examples.setdefault(key, [])
        if len(examples) < 5:
            examples.append(ticket.pk)
