"""Who receives an escalation: the available member of the target team/tier/role with the needed skill
and the most spare capacity; ties go to whoever received one least recently (round robin). Nobody
available: the team's queue (and the caller notifies the team's manager)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery
from django.db.models import Count, F, IntegerField, Max, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from escalation.models import ACTIVE_STATUSES, Escalation, EscalationStatus
from helpdesk.models import ROLE_RANK, Membership, Team
from tickets.models import Status, Ticket
from tickets.services import SEARCH_CONFIG


@dataclass(frozen=True)
class Route:
    team: Team | None
    agent: Membership | None
    explanation: str


def team_for_skill(skill: str) -> Team | None:
    return Team.objects.filter(skills__contains=[skill]).order_by("tier", "id").first() if skill else None


def _roles_at_least(role: str) -> list[str]:
    return [name for name, rank in ROLE_RANK.items() if rank >= ROLE_RANK[role]]


def candidates(*, team: Team | None, tier: int | None, role: str, skill: str, exclude_ids=()):
    members = Membership.objects.filter(active=True, available=True).exclude(pk__in=list(exclude_ids))
    if team is not None:
        members = members.filter(teams=team)
    elif skill:
        members = members.filter(skills__contains=[skill])
    if tier is not None:
        members = members.filter(tier__gte=tier)
    if role:
        members = members.filter(role__in=_roles_at_least(role))
    return members


def _with_load(members):
    active = Escalation.objects.filter(agent=OuterRef("pk"), status__in=ACTIVE_STATUSES)
    load = active.values("agent").annotate(n=Count("id")).values("n")
    last = Escalation.objects.filter(agent=OuterRef("pk")).values("agent").annotate(m=Max("created_at")).values("m")
    return members.annotate(
        load=Coalesce(Subquery(load, output_field=IntegerField()), Value(0)),
        last_assigned=Subquery(last),
    ).annotate(spare=F("capacity") - F("load"))


def route(
    *,
    target_team: Team | None = None,
    target_tier: int | None = None,
    target_role: str = "",
    target_skill: str = "",
    exclude_ids=(),
) -> Route:
    team = target_team or team_for_skill(target_skill)
    members = candidates(team=team, tier=target_tier, role=target_role, skill=target_skill, exclude_ids=exclude_ids)
    ranked = _with_load(members).filter(Q(spare__gt=0)).select_related("user")
    best = ranked.order_by("-spare", F("last_assigned").asc(nulls_first=True), "id").first()
    if best is None:
        return Route(team=team, agent=None, explanation="nobody available: left in the team queue")
    return Route(
        team=team,
        agent=best,
        explanation=f"{best.user.get_username()}: {best.spare} of {best.capacity} capacity free",
    )


# --- collaborators ------------------------------------------------------------------------------

SIMILAR_SAMPLE = 200  # the most recently solved similar tickets looked at
SUBJECT_WORDS = 12


@dataclass(frozen=True)
class Collaborator:
    member: Membership
    resolved_similar: int
    examples: tuple[int, ...]


def _similar_solved(ticket: Ticket) -> list[int]:
    """Solved tickets like this one: the same category, or sharing words of the subject (full-text, any
    word; websearch_to_tsquery never fails on odd input)."""
    match = Q(category=ticket.category) if ticket.category else Q()
    words = re.findall(r"\w{3,}", ticket.subject)[:SUBJECT_WORDS]
    if words:
        query = SearchQuery(" OR ".join(words), search_type="websearch", config=SEARCH_CONFIG)
        match |= Q(search_vector=query)
    if not match:
        return []
    solved = Ticket.objects.filter(match, status__in=[Status.SOLVED, Status.CLOSED]).exclude(pk=ticket.pk)
    return list(
        solved.order_by(F("solved_at").desc(nulls_last=True), "-id").values_list("pk", flat=True)[:SIMILAR_SAMPLE]
    )


def collaborators(*, ticket: Ticket, exclude_ids=(), limit: int = 3) -> list[Collaborator]:
    """People who resolved similar tickets before (as the ticket's last owner or as the receiver of a
    resolved escalation), most such tickets first: the seeds' "pull in whoever fixed this last time"."""
    similar = _similar_solved(ticket)
    solved_by: dict[int, list[int]] = {}
    owners = Ticket.objects.filter(pk__in=similar, assignee__isnull=False).values_list("assignee_id", "pk")
    receivers = Escalation.objects.filter(
        ticket_id__in=similar, status=EscalationStatus.RESOLVED, agent__isnull=False
    ).values_list("agent_id", "ticket_id")
    for member_id, ticket_id in [*owners, *receivers]:
        tickets = solved_by.setdefault(member_id, [])
        if ticket_id not in tickets:
            tickets.append(ticket_id)
    members = Membership.objects.filter(pk__in=list(solved_by), active=True).exclude(pk__in=list(exclude_ids))
    ranked = sorted(members.select_related("user"), key=lambda m: (-len(solved_by[m.pk]), m.pk))[:limit]
    order = {pk: i for i, pk in enumerate(similar)}  # most recently solved first
    return [
        Collaborator(
            member=m,
            resolved_similar=len(solved_by[m.pk]),
            examples=tuple(sorted(solved_by[m.pk], key=order.__getitem__)[:3]),
        )
        for m in ranked
    ]
