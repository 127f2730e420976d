"""The seeds' roles of an escalation: "Document who is responsible for resolving the issue, who will update the
customer, and who will oversee progress."

- resolver: who works the fix (empty: the receiver);
- customer_updater: who owes the customer their updates — the owner of the hourly customer-update clock and
  of its reminders (communication.owner_of);
- overseer: who watches it — the ladder's notices (a climb, a breached escalation clock) go to them.

Each names an active member of the escalation's tenant (role_problems, the one validation, from the model's
clean() and the service). Who may set them (may_set_roles): a manager or above sets any of them; the
escalation's receiver may name the resolver alone (handing the fix to a colleague is their call, choosing
who answers to the customer or who oversees them is not)."""

from __future__ import annotations

from escalation.models import Escalation
from helpdesk.auth import Principal
from helpdesk.models import Role
from tickets.validation import member_problem

ROLE_FIELDS = ("resolver", "customer_updater", "overseer")
RECEIVER_MAY_SET = ("resolver",)
ERR_MEMBER = "Choose an active member of this helpdesk."
ERR_RIGHTS = "Only a manager may set {fields} on an escalation; its receiver may name the resolver."


def role_problems(escalation: Escalation) -> dict[str, list[str]]:
    problems = {}
    for field in ROLE_FIELDS:
        found = member_problem(escalation, field, ERR_MEMBER)
        if found:
            problems[field] = found
    return problems


def may_set_roles(escalation: Escalation, actor: Principal | None, fields) -> bool:
    """The system (actor None) and managers set any role; the receiver the resolver only."""
    if actor is None or actor.has_role(Role.MANAGER):
        return True
    member = actor.membership
    return member is not None and escalation.agent_id == member.pk and set(fields) <= set(RECEIVER_MAY_SET)


def refusal(fields) -> str:
    return ERR_RIGHTS.format(fields=", ".join(sorted(fields)))
