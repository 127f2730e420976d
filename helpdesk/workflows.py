"""Use cases that span apps. Each runs in one transaction and calls the apps' services in order.

Called by API views, UI views, management commands and Celery tasks; the apps themselves never import
each other upwards (callnotes -> escalation -> slas -> tickets -> helpdesk).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

from django.db import transaction

from helpdesk.models import Tenant
from helpdesk.services import tenant_create

logger = logging.getLogger(__name__)


@transaction.atomic
def tenant_bootstrap(*, slug: str, name: str, timezone: str = "UTC") -> Tenant:
    """A new tenant, ready to work: later issues add its default calendar, SLA policies and matrix here."""
    return tenant_create(slug=slug, name=name, timezone=timezone)


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
