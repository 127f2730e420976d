"""The seeds' roles of an escalation: "Document who is responsible for resolving the issue, who will update the
customer, and who will oversee progress."

- resolver: who works the fix (empty: the receiver);
- customer_updater: who owes the customer their updates — the owner of the hourly customer-update clock and
  of its reminders (communication.owner_of);
- overseer: who watches it — the ladder's notices (a climb, a breached escalation clock) go to them.

Each names an active person of the escalation's tenant with the right role (`eligible`, the one rule: the
service's validation `role_problems`, from the model's clean() and the service, and the card's choices read it):
- a person, not the self-service bot: an agent at tier 0 is the bot's seat (helpdesk.models.Membership: "0 =
  self-service/bot"; the demo's "Bo"), which can neither fix, nor write to the customer, nor watch anything;
  the user's login active as well as the seat;
- the overseer a manager or above: the ladder's notices it receives (a climb, a breached clock) ask for a
  decision an agent cannot take, and the managers are who oversees when the role is empty.
A member already stored stays valid (a seat deactivated later must not block every other edit).

Who may set them (may_set_roles): a manager or above sets any of them; the escalation's receiver may name the
resolver alone (handing the fix to a colleague is their call, choosing
who answers to the customer or who oversees them is not)."""

from __future__ import annotations

from django.db.models import Q

from escalation.models import Escalation
from helpdesk.auth import Principal
from helpdesk.models import ROLE_RANK, Membership, Role

ROLE_FIELDS = ("resolver", "customer_updater", "overseer")
RECEIVER_MAY_SET = ("resolver",)
ERR_MEMBER = "Choose an active person of this helpdesk (not the self-service bot)."
ERR_OVERSEER = "Choose an active manager, executive or admin of this helpdesk to oversee it."
ERR_RIGHTS = "Only a manager may set {fields} on an escalation; its receiver may name the resolver."
BOT_TIER = 0  # an agent's seat at tier 0 is self-service, the bot (helpdesk.models.Membership.tier)
OVERSEER_ROLES = tuple(role for role in Role if ROLE_RANK[role] >= ROLE_RANK[Role.MANAGER])


def eligible(field: str) -> Q:
    """The members a role may name (the module's doc), as a filter on Membership."""
    people = Q(active=True, user__is_active=True) & ~Q(role=Role.AGENT, tier=BOT_TIER)
    return people & Q(role__in=OVERSEER_ROLES) if field == "overseer" else people


def role_problems(escalation: Escalation) -> dict[str, list[str]]:
    """What is wrong with the roles as they stand, by field: each names an eligible member of the escalation's
    tenant, or the one already stored. Read unscoped by id and tenant, so another tenant's member answers exactly
    like a missing one."""
    stored = {}
    if escalation.pk is not None:
        columns = [f"{field}_id" for field in ROLE_FIELDS]
        stored = Escalation.unscoped.filter(pk=escalation.pk).values(*columns).first() or {}
    problems = {}
    for field in ROLE_FIELDS:
        member_id = getattr(escalation, f"{field}_id")
        if member_id is None or stored.get(f"{field}_id") == member_id:
            continue
        found = Membership.unscoped.filter(eligible(field), pk=member_id, tenant_id=escalation.tenant_id).exists()
        if not found:
            problems[field] = [ERR_OVERSEER if field == "overseer" else ERR_MEMBER]
    return problems


def may_set_roles(escalation: Escalation, actor: Principal | None, fields) -> bool:
    """The system (actor None) and managers set any role; the receiver the resolver only."""
    if actor is None or actor.has_role(Role.MANAGER):
        return True
    member = actor.membership
    return member is not None and escalation.agent_id == member.pk and set(fields) <= set(RECEIVER_MAY_SET)


def refusal(fields) -> str:
    return ERR_RIGHTS.format(fields=", ".join(sorted(fields)))
