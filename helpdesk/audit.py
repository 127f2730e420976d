"""The tenant-level audit trail (helpdesk.models.AuditEvent): one writer, and how an actor is shown.

Ticket events have their own writer (tickets.services.event_record) because they belong to a ticket;
both show the actor the same way, from here. `actor` is the helpdesk.auth.Principal acting, or None for
the system (a command, a task).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone

from helpdesk.models import AuditEvent, Membership

if TYPE_CHECKING:
    from helpdesk.auth import Principal

SYSTEM_LABEL = "system"


def actor_label(actor: Principal | None) -> str:
    return str(actor) if actor is not None else SYSTEM_LABEL


def actor_membership(actor: Principal | None) -> Membership | None:
    return actor.membership if actor is not None else None


def audit_record(
    *,
    tenant_id: int,
    kind: str,
    actor: Principal | None,
    object_type: str,
    object_id: int,
    before: dict | None = None,
    after: dict | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        tenant_id=tenant_id,
        kind=kind,
        actor=actor_membership(actor),
        actor_label=actor_label(actor),
        object_type=object_type,
        object_id=object_id,
        before=before or {},
        after=after or {},
        created_at=at or timezone.now(),
    )
