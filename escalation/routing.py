"""Who receives an escalation: the available member of the target team/tier/role with the needed skill
and the most spare capacity; ties go to whoever received one least recently (round robin). Nobody
available: the team's queue (and the caller notifies the team's manager). Nobody who could ever take it
(a skill no one has, an emptied or deactivated team, a role that does not exist): the managers' queue, with
the reason recorded — stale configuration never stops intake nor leaves an escalation with no one."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery
from django.db import connection
from django.db.models import F, Q

from escalation.models import ACTIVE_STATUSES, Escalation, EscalationStatus
from helpdesk.models import ROLE_RANK, Membership, Role, Team
from helpdesk.tenancy import current_tenant
from tickets.models import Status, Ticket
from tickets.services import SEARCH_CONFIG


@dataclass(frozen=True)
class Route:
    team: Team | None
    agent: Membership | None
    explanation: str
    # Why the target could not be served at all (stale configuration): the escalation went to the fallback.
    fallback: str = ""


FALLBACK_ROLE = Role.MANAGER  # the tenant's managers' queue


def team_for_skill(skill: str) -> Team | None:
    return Team.objects.filter(skills__contains=[skill], active=True).order_by("tier", "id").first() if skill else None


def _roles_at_least(role: str) -> list[str]:
    return [name for name, rank in ROLE_RANK.items() if rank >= ROLE_RANK[role]]


# Who could receive the escalation at all: active members of the team (or with the skill), at or above the
# tier and role. Tenant-scoped by its parameter, and by row-level security underneath.
CAPABLE = """
WHERE m.tenant_id = %(tenant)s AND m.active
  AND (%(team)s::bigint IS NULL OR EXISTS (
      SELECT 1 FROM helpdesk_teammember tm
      WHERE tm.tenant_id = m.tenant_id AND tm.team_id = %(team)s AND tm.membership_id = m.id))
  AND (%(team)s::bigint IS NOT NULL OR %(skill)s = '' OR m.skills @> ARRAY[%(skill)s]::varchar(50)[])
  AND (%(tier)s::integer IS NULL OR m.tier >= %(tier)s::integer)
  AND (%(roles)s::text[] IS NULL OR m.role = ANY(%(roles)s::text[]))
"""

# The best candidate in one statement: of those capable, the available ones, not excluded, with spare
# capacity (capacity minus their open escalations); most spare first, then whoever received an escalation
# least recently (never first), then the oldest seat. Written as SQL because it runs for every escalation
# and the ORM spent more time composing it than the database spent answering.
RANKED = (
    """
SELECT m.*, u.username AS username, m.capacity - coalesce(l.load, 0) AS spare
FROM helpdesk_membership m
JOIN auth_user u ON u.id = m.user_id
LEFT JOIN LATERAL (
    SELECT count(*) AS load FROM escalation_escalation e
    WHERE e.tenant_id = m.tenant_id AND e.agent_id = m.id AND e.status = ANY(%(active)s)
) l ON true
LEFT JOIN LATERAL (
    SELECT max(e.created_at) AS last_assigned FROM escalation_escalation e
    WHERE e.tenant_id = m.tenant_id AND e.agent_id = m.id
) a ON true"""
    + CAPABLE
    + """  AND m.available AND NOT (m.id = ANY(%(exclude)s::bigint[]))
  AND m.capacity - coalesce(l.load, 0) > 0
ORDER BY spare DESC, a.last_assigned ASC NULLS FIRST, m.id
LIMIT 1
"""
)
ANYONE_CAPABLE = "SELECT EXISTS (SELECT 1 FROM helpdesk_membership m" + CAPABLE + ")"


def _params(*, team: Team | None, tier: int | None, role: str, skill: str, exclude_ids=()) -> dict:
    return {
        "tenant": current_tenant().pk,
        "active": [str(status) for status in ACTIVE_STATUSES],
        "exclude": list(exclude_ids),
        "team": team.pk if team is not None else None,
        "skill": skill or "",
        "tier": tier,
        "roles": _roles_at_least(role) if role else None,
    }


def _best(*, team: Team | None, tier: int | None, role: str, skill: str, exclude_ids) -> Membership | None:
    params = _params(team=team, tier=tier, role=role, skill=skill, exclude_ids=exclude_ids)
    return next(iter(Membership.objects.raw(RANKED, params)), None)


def _anyone_capable(*, team: Team | None, tier: int | None, role: str, skill: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(ANYONE_CAPABLE, _params(team=team, tier=tier, role=role, skill=skill))
        return cursor.fetchone()[0]


def _who(*, team: Team | None, tier: int | None, role: str, skill: str) -> str:
    """The target in words, for the reason a fallback records."""
    parts = [
        f"of team {team.name!r}" if team else f"with skill {skill!r}" if skill else "",
        f"at tier {tier} or above" if tier is not None else "",
        f"with role {role} or above" if role else "",
    ]
    return " ".join(p for p in parts if p)


def _stale_on_its_face(target_team: Team | None, target_role: str) -> str:
    """What is wrong with the target without a query: a deactivated team, a role that does not exist (a rule
    stored before rules were validated)."""
    if target_team is not None and not target_team.active:
        return f"team {target_team.name!r} is deactivated"
    if target_role and target_role not in ROLE_RANK:
        return f"unknown role {target_role!r}"
    return ""


def _fallback(reason: str, exclude_ids) -> Route:
    """Stale configuration never stops an escalation: it goes to the tenant's managers' queue — to the
    available manager with most room, or unassigned when none is — and says why."""
    manager = _best(team=None, tier=None, role=FALLBACK_ROLE, skill="", exclude_ids=exclude_ids)
    who = f"{manager.username}: {manager.spare} of {manager.capacity} capacity free" if manager else "unassigned"
    return Route(
        team=None, agent=manager, explanation=f"{reason}: sent to the managers' queue ({who})", fallback=reason
    )


def route(
    *,
    target_team: Team | None = None,
    target_tier: int | None = None,
    target_role: str = "",
    target_skill: str = "",
    exclude_ids=(),
) -> Route:
    stale = _stale_on_its_face(target_team, target_role)
    if stale:
        return _fallback(stale, exclude_ids)
    team = target_team or team_for_skill(target_skill)
    target = {"team": team, "tier": target_tier, "role": target_role, "skill": target_skill}
    best = _best(**target, exclude_ids=exclude_ids)
    if best is not None:
        return Route(
            team=team, agent=best, explanation=f"{best.username}: {best.spare} of {best.capacity} capacity free"
        )
    # Nobody can take it now. Busy or away people are a queue; nobody at all who could is stale configuration
    # (a skill removed from everyone, a team emptied), which must not leave the escalation with no one.
    if not _anyone_capable(**target):
        return _fallback(f"no active member {_who(**target)}", exclude_ids)
    return Route(team=team, agent=None, explanation="nobody available: left in the team queue")


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


def handed_over_by(ticket, actor) -> list[int]:
    """Who an escalation never routes to: the ticket's assignee and the person escalating it (a tester's
    tier-1 agent "escalated" a ticket to herself)."""
    member = actor.membership if actor is not None else None
    return sorted({pk for pk in (ticket.assignee_id, member.pk if member is not None else None) if pk})
