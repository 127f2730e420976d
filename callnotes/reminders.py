"""Due reminders of calls (before their start) and action items (on their due date): indexed due columns
(`reminder_due_at`) that the sweep claims across tenants through two narrow SECURITY DEFINER functions
(FOR UPDATE SKIP LOCKED, migration callnotes 0002), then fires inside each tenant. Exactly once: the claim
locks the rows, the firing clears the column with a conditional UPDATE, and the outbox row's dedupe key names
the call's invite sequence (a rescheduled call is reminded again, once) or the action item."""

from __future__ import annotations

from datetime import datetime

from callnotes import services
from callnotes.models import ActionItem, Call
from helpdesk.tenancy import claim_by_tenant


def calls_claim_due(*, now: datetime, limit: int) -> dict[int, list[int]]:
    return claim_by_tenant("SELECT call_id, tenant_id FROM callnotes_claim_call_reminders(%s, %s)", [now, limit])


def items_claim_due(*, now: datetime, limit: int) -> dict[int, list[int]]:
    return claim_by_tenant("SELECT item_id, tenant_id FROM callnotes_claim_action_reminders(%s, %s)", [now, limit])


def calls_remind(*, call_ids: list[int], at: datetime) -> int:
    calls = Call.objects.filter(pk__in=call_ids).select_related(
        "ticket__requester", "ticket__account", "ticket__tenant"
    )
    return sum(services.call_remind(call=call, at=at) for call in calls.order_by("pk"))


def items_remind(*, item_ids: list[int], at: datetime) -> int:
    items = ActionItem.objects.filter(pk__in=item_ids).select_related("ticket__requester", "ticket__account")
    return sum(services.action_item_remind(item=item, at=at) for item in items.order_by("pk"))
