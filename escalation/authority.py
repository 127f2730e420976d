"""Authority: what a tier may decide alone. An action above the actor's limit is not refused and not
done: it becomes a hierarchical escalation to someone who may approve it.

Three actions the seeds name ("refunds beyond your cap, contract changes"; "authority to issue credits"),
one rule for all of them (`authority_request`): the actor's cap for the action decides. Caps live in the
tenant's settings (`approval_limits`), by action and tier; managers, executives and admins have their own.
`None` is no cap. The defaults below are the seeds' example, a cap per tier; a contract change's amount is
what it moves the annual contract value by (a discount, an upgrade given away), and no agent changes a
contract alone.

Amounts: a refund or a credit gives the customer money, so it is above 0 (a credit of 0 decides nothing and
must not be recorded as approved). A contract change may move the value either way: negative is a downgrade
(a smaller plan, fewer seats), not 0. Its cap compares the size of the move, `abs(amount)`: a downgrade is
still a commercial concession (revenue given up) that needs the same authority as an upgrade given away.
`amount_problem` is the one rule; `authority_request` applies it for every door (400 naming `amount`).

Above a manager's cap the sign-off goes to an executive (the business's authority, helpdesk.models.Role);
below it, to a manager. An admin administers the tenant and ranks above an executive, so it holds the
executive's caps (a desk without an executive still has someone who may sign)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from escalation import selectors, services
from escalation.errors import EscalationError
from escalation.models import Escalation, Kind
from helpdesk.auth import Principal
from helpdesk.models import ROLE_RANK, Role, Tenant
from helpdesk.outbox import outbox_emit
from tickets.models import Ticket
from tickets.services import event_record

REFUND, CREDIT, CONTRACT_CHANGE = "refund", "credit", "contract_change"
DEFAULT_LIMITS: dict[str, dict[str, int | None]] = {
    REFUND: {"tier_0": 0, "tier_1": 50, "tier_2": 500, "tier_3": 2000, "manager": 10000, "executive": None},
    CREDIT: {"tier_0": 0, "tier_1": 100, "tier_2": 1000, "tier_3": 5000, "manager": 25000, "executive": None},
    CONTRACT_CHANGE: {"tier_0": 0, "tier_1": 0, "tier_2": 0, "tier_3": 0, "manager": 20000, "executive": None},
}
# What the audit trail, the outbox and the sign-off's summary call each action.
WORDS = {REFUND: "a refund", CREDIT: "a credit", CONTRACT_CHANGE: "a contract change"}
ERR_NOT_POSITIVE = "Must be above 0: {what} gives the customer money."
ERR_ZERO_CHANGE = "Must not be 0: a contract change moves the annual contract value up, or down (negative)."
# Roles with a cap of their own, highest first: a role reads the first at or below its rank (an admin the
# executive's).
ROLE_CAPS = (Role.EXECUTIVE, Role.MANAGER)


@dataclass(frozen=True)
class Decision:
    approved: bool
    limit: Decimal | None
    escalation: Escalation | None = None


def _limits(tenant: Tenant, action: str) -> dict:
    return {**DEFAULT_LIMITS[action], **(tenant.settings or {}).get("approval_limits", {}).get(action, {})}


def _role_key(role: str) -> str | None:
    return next((cap for cap in ROLE_CAPS if ROLE_RANK[role] >= ROLE_RANK[cap]), None)


def limit_for(*, tenant: Tenant, actor: Principal, action: str) -> Decimal | None:
    """None means no limit. A token (no person, no tier) acts with its role's limit, or tier 1's."""
    limits = _limits(tenant, action)
    key = _role_key(actor.role)
    if key is not None:
        value = limits.get(key)
    else:
        tier = actor.membership.tier if actor.membership else 1
        value = limits.get(f"tier_{tier}", 0)
    return None if value is None else Decimal(str(value))


def amount_problem(action: str, amount: Decimal) -> str | None:
    """What is wrong with an amount for an action, else None (the module's doc: refunds and credits above 0,
    a contract change anything but 0)."""
    if action == CONTRACT_CHANGE:
        return ERR_ZERO_CHANGE if amount == 0 else None
    return ERR_NOT_POSITIVE.format(what=WORDS[action]) if amount <= 0 else None


def _within(amount: Decimal, cap: Decimal | None) -> bool:
    """A cap bounds the size of what is given up: a downgrade of 500 needs the authority an upgrade of 500 does."""
    return cap is None or abs(amount) <= cap


def approver_role(*, tenant: Tenant, action: str, amount: Decimal) -> str:
    """Who signs off an amount above the requester's cap: a manager while it is within a manager's cap, else
    an executive."""
    cap = _limits(tenant, action).get("manager")
    return Role.MANAGER if cap is not None and _within(amount, Decimal(str(cap))) else Role.EXECUTIVE


@transaction.atomic
def authority_request(*, ticket: Ticket, actor: Principal, action: str, amount: Decimal, reason: str) -> Decision:
    """A refund, credit or contract change: recorded within the actor's cap (`<action>_approved` event and
    outbox row), else escalated hierarchically for sign-off (`<action>_needs_approval`), nothing done yet."""
    problem = amount_problem(action, amount)
    if problem:
        raise EscalationError(problem, code="invalid", status=400, fields={"amount": [problem]})
    at = timezone.now()
    limit = limit_for(tenant=actor.tenant, actor=actor, action=action)
    if _within(amount, limit):
        event_record(
            ticket=ticket,
            kind=f"{action}_approved",
            actor=actor,
            at=at,
            after={"amount": str(amount), "reason": reason, "limit": None if limit is None else str(limit)},
        )
        outbox_emit(
            tenant_id=ticket.tenant_id,
            type=f"{action}.approved",
            dedupe_key=f"{action}:{ticket.pk}:{at.isoformat()}",
            payload={"ticket": ticket.pk, "amount": str(amount), "reason": reason},
            at=at,
        )
        return Decision(approved=True, limit=limit)
    role = approver_role(tenant=actor.tenant, action=action, amount=amount)
    summary = selectors.draft_summary(ticket)
    summary["desired_outcome"] = f"{WORDS[action]} of {amount} ({reason})"
    escalation = services.escalation_create(
        ticket=ticket,
        actor=actor,
        kind=Kind.HIERARCHICAL,
        trigger="authority-limit",
        summary_fields=summary,
        summary_drafted=True,
        target_role=role,
        reason=f"{WORDS[action]} of {amount} is above the {limit} the requester may approve: needs sign-off",
        at=at,
    )
    event_record(
        ticket=ticket,
        kind=f"{action}_needs_approval",
        actor=actor,
        at=at,
        after={"amount": str(amount), "limit": str(limit), "escalation": escalation.pk, "approver": role},
    )
    return Decision(approved=False, limit=limit, escalation=escalation)
