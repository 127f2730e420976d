"""Use cases that span apps. Each runs in one transaction and calls the apps' services in order.

Called by API views, UI views, management commands and Celery tasks; the apps themselves never import
each other upwards (callnotes -> escalation -> slas -> tickets -> helpdesk).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

from django.db import transaction

from helpdesk.auth import Principal
from helpdesk.models import Tenant
from helpdesk.services import tenant_create
from tickets import services as tickets
from tickets.models import Message, Ticket

logger = logging.getLogger(__name__)


@transaction.atomic
def tenant_bootstrap(*, slug: str, name: str, timezone: str = "UTC") -> Tenant:
    """A new tenant, ready to work: later issues add its default calendar, SLA policies and matrix here."""
    return tenant_create(slug=slug, name=name, timezone=timezone)


@transaction.atomic
def ticket_open(*, tenant: Tenant, actor: Principal | None, **fields) -> Ticket:
    """A ticket arrives (API, UI, inbound email). Stores it with its text analysis; the SLA timers
    (issue 4) and event-driven escalation rules (issue 5) join this same transaction."""
    return tickets.ticket_open(tenant=tenant, actor=actor, **fields)


@transaction.atomic
def message_receive(*, ticket: Ticket, actor: Principal | None, **fields) -> Message:
    """A message on a ticket: stored and analysed; SLA clocks and rules follow in the same transaction."""
    return tickets.message_post(ticket=ticket, actor=actor, **fields)


@dataclass
class SweepReport:
    """What one sweep did. Each part of the system adds its own counters as it is wired in."""

    tenants: int = 0
    counters: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def sweep() -> SweepReport:
    """One pass over due work: SLA timers, time-based rules, outbox. Safe to run concurrently:
    every step claims its rows (SKIP LOCKED / conditional UPDATE), so two sweeps never act twice."""
    report = SweepReport(tenants=Tenant.objects.count())
    logger.info("sweep done: %s", report.as_dict())
    return report
