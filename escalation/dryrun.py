"""The dry run: had this matrix been active over the last N days, which stored tickets would have
escalated, by which trigger, and at what rate? Reads only — nothing is written.

The seeds' advice becomes the verdict: audit the last 30 days, aim for an escalation rate of 10-20 %,
reconsider above 35 %."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from escalation import engine, triggers
from tickets.models import AuthorType, Message, Ticket

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
        }

    def rows(self) -> list[dict]:
        return [
            {"slug": slug, "count": count, "examples": self.examples.get(slug, [])}
            for slug, count in self.by_trigger.most_common()
        ]


def _thread(ticket: Ticket) -> str:
    bodies = Message.objects.filter(ticket=ticket, author_type=AuthorType.CUSTOMER).values_list("body", flat=True)
    return "\n".join([ticket.subject, ticket.description, *bodies])


def _decisions(ticket: Ticket, rules: list[triggers.Rule], at: datetime) -> list[triggers.Decision]:
    facts = dataclasses.replace(engine.ticket_facts(ticket, text="", now=at), text=_thread(ticket), solved=False)
    return [
        *triggers.evaluate(facts, rules, at, time_based=False),
        *triggers.evaluate(facts, rules, at, time_based=True),
    ]


def dry_run(*, days: int = 30, now: datetime | None = None) -> DryRunReport:
    """Evaluates the active matrix against every ticket opened in the window, as of its end (or, for a
    solved ticket, as of its solving). The tickets' own escalations are ignored: the question is what
    this matrix would have done."""
    now = now or timezone.now()
    rules = engine.active_rules()
    report = DryRunReport(days=days)
    tickets = Ticket.objects.filter(created_at__gte=now - timedelta(days=days)).order_by("created_at")
    for ticket in tickets[:MAX_TICKETS]:
        report.tickets += 1
        decisions = _decisions(ticket, rules, min(now, ticket.solved_at or now))
        if not decisions:
            continue
        report.would_escalate += 1
        for slug in {d.slug for d in decisions}:
            report.by_trigger[slug] += 1
            report.examples.setdefault(slug, [])
            if len(report.examples[slug]) < 5:
                report.examples[slug].append(ticket.pk)
    report.truncated = tickets.count() > MAX_TICKETS
    return report
