"""Authority: what a tier may decide alone. An action above the actor's limit is not refused and not
done: it becomes a hierarchical escalation to someone who may approve it.

Limits live in the tenant's settings (`approval_limits`), by action and tier; managers and admins
have their own. The defaults below are the seeds' example: a refund cap per tier."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from escalation import selectors, services
from escalation.models import Escalation, Kind
from helpdesk.auth import Principal
from helpdesk.models import Tenant
from helpdesk.outbox import outbox_emit
from tickets.models import Ticket
from tickets.services import event_record

DEFAULT_LIMITS = {"refund": {"tier_0": 0, "tier_1": 50, "tier_2": 500, "tier_3": 2000, "manager": 10000, "admin": None}}


@dataclass(frozen=True)
class Decision:
    approved: bool
    limit: Decimal | None
    escalation: Escalation | None = None


def limit_for(*, tenant: Tenant, actor: Principal, action: str) -> Decimal | None:
    """None means no limit. A token (no person, no tier) acts with its role's limit, or tier 1's."""
    limits = {**DEFAULT_LIMITS.get(action, {}), **(tenant.settings or {}).get("approval_limits", {}).get(action, {})}
    if actor.role in ("manager", "admin"):
        value = limits.get(actor.role)
    else:
        tier = actor.membership.tier if actor.membership else 1
        value = limits.get(f"tier_{tier}", 0)
    return None if value is None else Decimal(str(value))


@transaction.atomic
def refund_request(*, ticket: Ticket, actor: Principal, amount: Decimal, reason: str) -> Decision:
    at = timezone.now()
    limit = limit_for(tenant=actor.tenant, actor=actor, action="refund")
    if limit is None or amount <= limit:
        event_record(
            ticket=ticket,
            kind="refund_approved",
            actor=actor,
            at=at,
            after={"amount": str(amount), "reason": reason, "limit": None if limit is None else str(limit)},
        )
        outbox_emit(
            tenant_id=ticket.tenant_id,
            type="refund.approved",
            dedupe_key=f"refund:{ticket.pk}:{at.isoformat()}",
            payload={"ticket": ticket.pk, "amount": str(amount), "reason": reason},
            at=at,
        )
        return Decision(approved=True, limit=limit)
    summary = selectors.draft_summary(ticket)
    summary["desired_outcome"] = f"a refund of {amount} ({reason})"
    escalation = services.escalation_create(
        ticket=ticket,
        actor=actor,
        kind=Kind.HIERARCHICAL,
        trigger="authority-limit",
        summary_fields=summary,
        summary_drafted=True,
        target_role="manager",
        reason=f"refund of {amount} is above the {limit} the requester may approve: needs sign-off",
        at=at,
    )
    event_record(
        ticket=ticket,
        kind="refund_needs_approval",
        actor=actor,
        at=at,
        after={"amount": str(amount), "limit": str(limit), "escalation": escalation.pk},
    )
    return Decision(approved=False, limit=limit, escalation=escalation)
