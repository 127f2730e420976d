"""What the customer hears during an escalation.

Routine escalations send milestone updates (escalated, acknowledged, resolved) from the tenant's
templates. High-stakes ones — hierarchical, a VIP account, anything legal — get no automatic message:
a person must write it, and the owner is reminded (through the outbox) with the update's deadline."""

from __future__ import annotations

from datetime import datetime

from escalation.models import Escalation, Kind
from helpdesk.models import Tenant
from helpdesk.outbox import outbox_emit
from helpdesk.tenancy import current_tenant_or_none
from slas import services as slas
from slas.models import Metric, SlaTimer
from tickets.models import Account, AuthorType
from tickets.selectors import ticket_context
from tickets.services import message_post

MILESTONES = ("escalated", "acknowledged", "resolved")
DEFAULT_TEMPLATES = {
    "escalated": (
        'Hi {customer}, we have passed your request "{subject}" (#{ticket}) to our {team} specialists, with '
        "everything you have told us so far, so you won't need to repeat anything. We'll update you soon."
    ),
    "acknowledged": 'Hi {customer}, a specialist has picked up your request "{subject}" (#{ticket}) and is on it.',
    "resolved": 'Hi {customer}, your request "{subject}" (#{ticket}) is resolved: {resolution}',
}
HIGH_STAKES_CATEGORIES = ("legal", "security", "data_loss")
HIGH_STAKES_TRIGGERS = ("legal-threat",)


def templates_for(tenant: Tenant) -> dict[str, str]:
    """The tenant's own wording (settings["customer_templates"]) over the defaults."""
    custom = (tenant.settings or {}).get("customer_templates", {})
    return {name: custom.get(name) or DEFAULT_TEMPLATES[name] for name in MILESTONES}


def is_high_stakes(escalation: Escalation) -> bool:
    ticket = escalation.ticket
    vip = ticket.account_id is not None and Account.objects.filter(pk=ticket.account_id, vip=True).exists()
    return (
        escalation.kind == Kind.HIERARCHICAL
        or vip
        or ticket.category in HIGH_STAKES_CATEGORIES
        or escalation.trigger in HIGH_STAKES_TRIGGERS
    )


class _Blank(dict):
    def __missing__(self, key):
        return ""


def render(template: str, escalation: Escalation, **extra) -> str:
    ticket = escalation.ticket
    values = _Blank(
        customer=ticket.requester.name or "there",
        subject=ticket.subject,
        ticket=ticket.pk,
        team=escalation.team.name if escalation.team else "senior",
        **extra,
    )
    return template.format_map(values)


def _tenant(tenant_id: int) -> Tenant:
    # The request's (or sweep's) tenant is already loaded; read it again only outside its context.
    tenant = current_tenant_or_none()
    return tenant if tenant is not None and tenant.pk == tenant_id else Tenant.objects.get(pk=tenant_id)


def milestone(*, escalation: Escalation, name: str, at: datetime, **extra) -> None:
    ticket = escalation.ticket
    if is_high_stakes(escalation):
        if name == "escalated":
            _remind_owner(escalation, at)
        return
    text = render(templates_for(_tenant(ticket.tenant_id))[name], escalation, **extra)
    # A public system message: the customer sees it in the thread, and it counts as their update.
    message_post(ticket=ticket, actor=None, body=text, author_type=AuthorType.SYSTEM, internal=False, created_at=at)
    slas.escalation_timers_meet(ticket=ticket, escalation_id=escalation.pk, metrics=[Metric.CUSTOMER_UPDATE], at=at)
    outbox_emit(
        tenant_id=ticket.tenant_id,
        type="customer.update",
        dedupe_key=f"customer.update:{escalation.pk}:{name}",
        payload={
            "ticket": ticket.pk,
            "escalation": escalation.pk,
            "milestone": name,
            "to": ticket.requester.email,
            "text": text,
            "ticket_context": ticket_context(ticket),
        },
        at=at,
    )


def _remind_owner(escalation: Escalation, at: datetime) -> None:
    due = (
        SlaTimer.objects.filter(escalation_id=escalation.pk, metric=Metric.CUSTOMER_UPDATE)
        .values_list("due_at", flat=True)
        .first()
    )
    outbox_emit(
        tenant_id=escalation.tenant_id,
        type="owner.reminder",
        dedupe_key=f"owner.reminder:{escalation.pk}",
        at=at,
        payload={
            "ticket": escalation.ticket_id,
            "escalation": escalation.pk,
            "recipient": escalation.agent_id,
            "text": "High-stakes escalation: write the customer a personal update (no automatic message was sent).",
            "due_at": due.isoformat() if due else None,
            "ticket_context": ticket_context(escalation.ticket),
        },
    )
