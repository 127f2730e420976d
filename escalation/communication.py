"""What the customer hears during an escalation.

Routine escalations send milestone updates (escalated, acknowledged, resolved) from the tenant's
templates. High-stakes ones — hierarchical, a VIP account, anything legal — get no automatic message:
a person must write it, and the owner is reminded (through the outbox) with the update's deadline."""

from __future__ import annotations

from datetime import datetime

from escalation.models import Escalation, Kind
from helpdesk.models import Tenant
from helpdesk.outbox import Emission, outbox_emit_across
from helpdesk.tenancy import current_tenant_or_none
from slas import services as slas
from slas.models import Metric
from tickets.models import Account, AuthorType
from tickets.selectors import ticket_context
from tickets.services import message_post

_UNREAD = object()

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


def is_high_stakes(escalation: Escalation, *, account: Account | object | None = _UNREAD) -> bool:
    """Pass the ticket's account if you have it read already."""
    ticket = escalation.ticket
    if account is _UNREAD:
        vip = ticket.account_id is not None and Account.objects.filter(pk=ticket.account_id, vip=True).exists()
    else:
        vip = account is not None and account.vip
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
    """A later milestone (acknowledged, resolved): routine escalations tell the customer, and that message is
    their update. High-stakes ones stay silent: a person writes to the customer."""
    if is_high_stakes(escalation):
        return
    ticket = escalation.ticket
    text = _post_update(escalation, name, at, **extra)
    slas.escalation_timers_meet(ticket=ticket, escalation_id=escalation.pk, metrics=[Metric.CUSTOMER_UPDATE], at=at)
    emission = _update_emission(escalation, name, text, ticket_context(ticket))
    outbox_emit_across(emissions=[(ticket.tenant_id, emission)], at=at)


def opened(
    *, escalation: Escalation, at: datetime, high_stakes: bool, update_due_at: datetime | None, context: dict
) -> Emission:
    """The "escalated" milestone, for the caller to emit with the escalation's own event: the customer's message
    for a routine escalation (the caller started its customer-update clock met: this message is the update), or
    the owner's reminder, with the update's deadline, for a high-stakes one."""
    if high_stakes:
        return _reminder(escalation, update_due_at, context)
    return _update_emission(escalation, "escalated", _post_update(escalation, "escalated", at), context)


def _post_update(escalation: Escalation, name: str, at: datetime, **extra) -> str:
    ticket = escalation.ticket
    text = render(templates_for(_tenant(ticket.tenant_id))[name], escalation, **extra)
    # A public system message: the customer sees it in the thread, and it counts as their update.
    message_post(ticket=ticket, actor=None, body=text, author_type=AuthorType.SYSTEM, internal=False, created_at=at)
    return text


def _update_emission(escalation: Escalation, name: str, text: str, context: dict) -> Emission:
    ticket = escalation.ticket
    return Emission(
        type="customer.update",
        dedupe_key=f"customer.update:{escalation.pk}:{name}",
        payload={
            "ticket": ticket.pk,
            "escalation": escalation.pk,
            "milestone": name,
            "to": ticket.requester.email,
            "text": text,
            "ticket_context": context,
        },
    )


def _reminder(escalation: Escalation, due: datetime | None, context: dict) -> Emission:
    return Emission(
        type="owner.reminder",
        dedupe_key=f"owner.reminder:{escalation.pk}",
        payload={
            "ticket": escalation.ticket_id,
            "escalation": escalation.pk,
            "recipient": escalation.agent_id,
            "text": "High-stakes escalation: write the customer a personal update (no automatic message was sent).",
            "due_at": due.isoformat() if due else None,
            "ticket_context": context,
        },
    )
