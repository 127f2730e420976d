"""Who may move an escalation through its lifecycle: the one rule, read by the services (which refuse) and by
the pages (which show only the buttons a person may press).

Its receiver, or a manager or admin, may do anything its status allows. An unassigned one (left in a team's
or a tier's queue) may be acknowledged by anyone who could have received it. The system (rules, the ladder)
and integration tokens without a person behind them act with their token's role, as API.md describes.
"""

from __future__ import annotations

from escalation.models import Escalation
from helpdesk.auth import Principal
from helpdesk.models import Membership, Role

ERR_AUTHORITY = "Only {who} may {action} this escalation."
# The lifecycle's steps, as the services name them -> the verb people read.
VERBS = {"acknowledged": "acknowledge", "resolved": "resolve", "returned": "return", "de-escalated": "de-escalate"}


def may_pick_up(escalation: Escalation, member: Membership, team_ids: list[int] | None = None) -> bool:
    """Someone who could have been routed the escalation: at its tier, in its team if it has one. A page that
    knows the member's teams passes them (no query)."""
    if member.tier < escalation.to_tier:
        return False
    if escalation.team_id is None:
        return True
    if team_ids is not None:
        return escalation.team_id in team_ids
    return member.teams.filter(pk=escalation.team_id).exists()


def may(escalation: Escalation, actor: Principal | None, action: str, team_ids: list[int] | None = None) -> bool:
    if actor is None or actor.has_role(Role.MANAGER) or actor.membership is None:
        return True
    member = actor.membership
    if escalation.agent_id == member.pk:
        return True
    return action == "acknowledged" and escalation.agent_id is None and may_pick_up(escalation, member, team_ids)


def refusal(escalation: Escalation, action: str) -> str:
    who = "its receiver or a manager" if escalation.agent_id else "an agent at its tier and team, or a manager"
    return ERR_AUTHORITY.format(who=who, action=VERBS[action])
