"""What evaluating the matrix reads about one ticket, read at most once per evaluation and shared by the
facts, the triage, the drafted summaries and every rule the evaluation fires.

Each part is read when first asked for, so an evaluation that fires nothing never reads what only firing
needs. A ticket opened in this very transaction (`new=True`) has no messages, attempts, tier moves or
escalations yet, and its clocks are the ones just started: nothing of that is read at all.

The snapshot belongs to one evaluation in one transaction: the firing keeps it current (the escalations it
opens join `escalations`); nothing else writes the ticket meanwhile."""

from __future__ import annotations

from datetime import datetime
from functools import cached_property

from escalation import watches
from escalation.models import Escalation, EscalationStatus
from slas.models import SlaTimer
from tickets.models import Account, AuthorType, Message, Outcome, ResolutionAttempt, Ticket, TicketEvent


class TicketSnapshot:
    def __init__(self, ticket: Ticket, *, new: bool = False, timers: list[SlaTimer] | None = None):
        self.ticket, self.new = ticket, new
        # (escalation, trigger, facts) for each escalation this evaluation opened or reinforced with `to_call`:
        # the workflow turns them into call requests (the calls app sits above this one). Empty, it costs nothing.
        self.calls_wanted: list[tuple[Escalation, str, str]] = []
        if timers is not None:
            self.timers = timers  # the ticket's own clocks, already in memory (fills the cached property)

    @cached_property
    def account(self) -> Account | None:
        # Through the relation: a ticket loaded with select_related("account") costs nothing here.
        return self.ticket.account if self.ticket.account_id else None

    @cached_property
    def messages(self) -> list[tuple[str, str, float | None, bool]]:
        """(author_type, body, sentiment, internal) of the whole thread, in order."""
        if self.new:
            return []
        return list(
            Message.objects.filter(ticket=self.ticket)
            .order_by("created_at", "id")
            .values_list("author_type", "body", "sentiment", "internal")
        )

    @property
    def customer_thread(self) -> list[tuple[str, float | None]]:
        """(body, sentiment) of the customer's messages in order: the facts and the triage read these."""
        return [(body, sentiment) for author, body, sentiment, _ in self.messages if author == AuthorType.CUSTOMER]

    @property
    def public_messages(self) -> list[tuple[str, str]]:
        """(author_type, body) of what the customer can see, in order: the drafted summary reads these."""
        return [(author, body) for author, body, _, internal in self.messages if not internal]

    @cached_property
    def attempts(self) -> list[tuple[str, int, str]]:
        """(outcome, tier, note) of the resolution attempts, in order."""
        if self.new:
            return []
        return list(
            ResolutionAttempt.objects.filter(ticket=self.ticket)
            .order_by("created_at", "id")
            .values_list("outcome", "tier", "note")
        )

    @property
    def failed_attempts_low_tier(self) -> int:
        return sum(1 for outcome, tier, _ in self.attempts if outcome == Outcome.FAILED and tier <= 1)

    @cached_property
    def timers(self) -> list[SlaTimer]:
        # The ticket's own clocks: an escalation's clocks have their own consequence, the ladder.
        return list(SlaTimer.objects.filter(ticket=self.ticket, escalation_id=0).select_related("calendar"))

    @cached_property
    def tier_since(self) -> datetime:
        """When the ticket reached its current tier (a time_open rule counts from there)."""
        if self.new:
            return self.ticket.created_at
        moved = (
            TicketEvent.objects.filter(ticket=self.ticket, kind__in=watches.TIER_MOVES)
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        return moved or self.ticket.created_at

    @cached_property
    def escalations(self) -> list[Escalation]:
        """The ticket's escalations, oldest first, each holding this very ticket instance (a reinforcing rule
        changes the ticket through it, and the evaluation must see that change). Only what firing reads:
        the cycle (statuses), the open one of a kind, and what a reinforcement changes."""
        if self.new:
            return []
        rows = Escalation.objects.filter(ticket=self.ticket).only("tenant_id", "ticket_id", "kind", "status", "to_call")
        escalations = list(rows.order_by("pk"))
        for escalation in escalations:
            escalation.ticket = self.ticket
        return escalations

    @property
    def cycle(self) -> int:
        """The escalation cycle the ticket is in: how many of its escalations were resolved (a rule fires at
        most once per cycle)."""
        return sum(1 for escalation in self.escalations if escalation.status == EscalationStatus.RESOLVED)

    @cached_property
    def earlier_tickets(self) -> int:
        """How many other tickets the requester has opened (the drafted summary's history line)."""
        return Ticket.objects.filter(requester_id=self.ticket.requester_id).exclude(pk=self.ticket.pk).count()
