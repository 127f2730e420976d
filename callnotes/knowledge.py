"""Resolved cases as searchable knowledge: solved tickets and completed calls, one KnowledgeEntry each, with a
PostgreSQL full-text document weighted so that the root cause counts most (A), then the resolution and the
title (B), then category and tags (C). Searches rank by ts_rank_cd over that document and name who resolved
each case. Written when a ticket is solved or closed (the workflows) and when a call completes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db.models import Count, F, Q, QuerySet, Value
from django.db.models.functions import Lower
from django.utils import timezone

from callnotes.models import Call, CallStatus, KnowledgeEntry, KnowledgeKind
from escalation.models import ENDED_WITH_TICKET_PREFIX, Escalation, EscalationStatus
from tickets.models import AuthorType, Message, Status, Ticket

SEARCH_CONFIG = "english"
# The weights of D, C, B, A (PostgreSQL's order): a match in the root cause outweighs one in the tags.
WEIGHTS = [0.05, 0.2, 0.5, 1.0]
QUERY_WORDS = 16
REPEAT_DAYS = 30
REPEAT_MIN = 2


def _document() -> SearchVector:
    return (
        SearchVector("root_cause", weight="A", config=SEARCH_CONFIG)
        + SearchVector("resolution", weight="B", config=SEARCH_CONFIG)
        + SearchVector("title", weight="B", config=SEARCH_CONFIG)
        + SearchVector("category", weight="C", config=SEARCH_CONFIG)
    )


def index_call(*, call: Call, tags: list[str]) -> None:
    ticket = call.ticket
    entry = KnowledgeEntry(
        tenant_id=call.tenant_id,
        kind=KnowledgeKind.CALL,
        ticket=ticket,
        call=call,
        title=ticket.subject,
        category=ticket.category,
        root_cause=call.root_cause,
        resolution=call.resolution,
        tags=sorted(set(tags) | set(ticket.tags)),
        resolved_by_id=call.agent_id,
        resolved_at=call.ended_at or timezone.now(),
    )
    # Replaced, not upserted: ON CONFLICT on a partial unique index needs its condition, which bulk_create
    # cannot spell.
    KnowledgeEntry.objects.filter(kind=KnowledgeKind.CALL, call=call).delete()
    entry.save(force_insert=True)
    _vectorise(entry)


def index_ticket(*, ticket: Ticket) -> KnowledgeEntry | None:
    """A solved or closed ticket: its root cause and resolution from its last resolved escalation or completed
    call, else the last public agent reply; resolved by that escalation's receiver or call's agent, else the
    ticket's assignee. Re-indexing replaces the entry."""
    if ticket.status not in (Status.SOLVED, Status.CLOSED):
        return None
    escalation = (
        Escalation.objects.filter(ticket=ticket, status=EscalationStatus.RESOLVED)
        .exclude(resolution__startswith=ENDED_WITH_TICKET_PREFIX)
        .order_by("-resolved_at")
        .first()
    )
    call = Call.objects.filter(ticket=ticket, status=CallStatus.COMPLETED).order_by("-ended_at").first()
    root_cause, resolution, resolver = "", "", ticket.assignee_id
    source = max((x for x in (escalation, call) if x is not None), key=_ended, default=None)
    if source is not None:
        root_cause, resolution = source.root_cause, source.resolution
        resolver = source.agent_id or resolver
    if not resolution:
        resolution = (
            Message.objects.filter(ticket=ticket, author_type=AuthorType.AGENT, internal=False)
            .order_by("-created_at")
            .values_list("body", flat=True)
            .first()
            or ""
        )
    KnowledgeEntry.objects.filter(kind=KnowledgeKind.TICKET, ticket=ticket).delete()
    entry = KnowledgeEntry.objects.create(
        tenant_id=ticket.tenant_id,
        kind=KnowledgeKind.TICKET,
        ticket=ticket,
        title=ticket.subject,
        category=ticket.category,
        root_cause=root_cause[:500],
        resolution=resolution,
        tags=list(ticket.tags),
        resolved_by_id=resolver,
        resolved_at=ticket.solved_at or ticket.closed_at or timezone.now(),
    )
    _vectorise(entry)
    return entry


def _ended(source) -> datetime:
    return getattr(source, "resolved_at", None) or getattr(source, "ended_at", None) or timezone.now()


def _vectorise(entry: KnowledgeEntry) -> None:
    KnowledgeEntry.objects.filter(pk=entry.pk).update(
        search_vector=_document() + SearchVector(Value(" ".join(entry.tags)), weight="C", config=SEARCH_CONFIG)
    )


def unindex_ticket(*, ticket: Ticket) -> None:
    """A reopened ticket is not a resolved case any more."""
    KnowledgeEntry.objects.filter(kind=KnowledgeKind.TICKET, ticket=ticket).delete()


# --- reads ---------------------------------------------------------------------------------------------


def _query(text: str, *, any_word: bool) -> SearchQuery | None:
    words = re.findall(r"\w{3,}", text)[:QUERY_WORDS]
    if not words:
        return None
    if any_word:
        return SearchQuery(" OR ".join(words), search_type="websearch", config=SEARCH_CONFIG)
    return SearchQuery(text, search_type="websearch", config=SEARCH_CONFIG)


def search(entries: QuerySet[KnowledgeEntry], text: str, *, any_word: bool = False) -> QuerySet[KnowledgeEntry]:
    """The entries matching `text`, most relevant first (then most recent); `any_word` for "similar to this
    ticket", where a case sharing some of its words is worth showing."""
    query = _query(text, any_word=any_word)
    if query is None:
        return entries.none()
    rank = SearchRank(F("search_vector"), query, weights=WEIGHTS, cover_density=False)
    return (
        entries.filter(search_vector=query)
        .annotate(rank=rank)
        .select_related("resolved_by__user")
        .order_by("-rank", "-resolved_at", "-id")
    )


def similar(ticket: Ticket, *, limit: int = 5) -> list[KnowledgeEntry]:
    text = f"{ticket.subject} {ticket.description}"
    entries = KnowledgeEntry.objects.exclude(ticket=ticket)
    return list(search(entries, text, any_word=True)[:limit])


@dataclass(frozen=True)
class Repeat:
    root_cause: str
    count: int
    days: int

    @property
    def flag(self) -> str:
        return f"seen {self.count} times in {self.days} days"


def repeated_root_causes(ticket: Ticket, *, now: datetime | None = None) -> list[Repeat]:
    """Root causes that similar cases resolved in the last 30 days share: the seeds' "repeat escalation"
    signal — a known problem that documentation or a fix should end."""
    now = now or timezone.now()
    query = _query(f"{ticket.subject} {ticket.description}", any_word=True)
    if query is None:
        return []
    rows = (
        KnowledgeEntry.objects.exclude(ticket=ticket)
        .exclude(root_cause="")
        .filter(
            Q(search_vector=query) | Q(category=ticket.category or "-"),
            resolved_at__gte=now - timedelta(days=REPEAT_DAYS),
        )
        .annotate(cause=Lower("root_cause"))
        .values("cause")
        .annotate(n=Count("ticket", distinct=True))
        .filter(n__gte=REPEAT_MIN)
        .order_by("-n", "cause")
    )
    return [Repeat(root_cause=row["cause"], count=row["n"], days=REPEAT_DAYS) for row in rows[:3]]
