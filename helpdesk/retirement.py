"""DELETE of configuration (API.md, Conventions): calendars, SLA policies, escalation rules, webhooks.

"It removes an object nothing refers to, and retires one in use (`active: false`, kept for history)":
each app's service decides what "in use" means for its model (written beside it) and locks the row
first, so a reference being written at the same moment (which takes a key-share lock on it) either
commits before the decision or waits for it. Either way the tenant's audit trail records the outcome,
with what identifies the object, so a removed one is not forgotten.
"""

from __future__ import annotations

from django.db import models

from helpdesk.audit import audit_record

REMOVED = "removed"
RETIRED = "retired"


def retire_or_remove(obj: models.Model, *, in_use: bool, actor, object_type: str, facts: dict) -> str:
    """`obj` is locked by the caller, inside its transaction. Retiring a retired object records nothing."""
    pk = obj.pk
    if in_use:
        if obj.active:
            obj.active = False
            obj.save(update_fields=["active", "updated_at"])
            _audit(obj.tenant_id, f"{object_type}.{RETIRED}", actor, object_type, pk, facts)
        return RETIRED
    obj.delete()
    _audit(obj.tenant_id, f"{object_type}.{REMOVED}", actor, object_type, pk, facts)
    return REMOVED


def _audit(tenant_id: int, kind: str, actor, object_type: str, object_id: int, facts: dict) -> None:
    audit_record(
        tenant_id=tenant_id, kind=kind, actor=actor, object_type=object_type, object_id=object_id, before=facts
    )
