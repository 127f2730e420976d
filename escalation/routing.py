"""Who receives an escalation: the available member of the target team/tier/role with the needed skill
and the most spare capacity; ties go to whoever received one least recently (round robin). Nobody
available: the team's queue (and the caller notifies the team's manager)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, F, IntegerField, Max, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from escalation.models import ACTIVE_STATUSES, Escalation
from helpdesk.models import ROLE_RANK, Membership, Team


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
