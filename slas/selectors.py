"""Reads of the SLA engine."""

from collections.abc import Iterable
from datetime import datetime

from django.db.models import QuerySet

from helpdesk.models import Tenant
from slas.models import RECURRING_METRICS, BusinessCalendar, SLAPolicy, SlaTimer, TimerStatus


def calendar_list(*, tenant: Tenant) -> QuerySet[BusinessCalendar]:
    return BusinessCalendar.objects.filter(tenant=tenant)


def policy_list(*, tenant: Tenant) -> QuerySet[SLAPolicy]:
    return SLAPolicy.objects.filter(tenant=tenant)


def escalation_timers(*, escalation_ids: Iterable[int]) -> list[SlaTimer]:
    """The clocks of these escalations, by metric."""
    return list(SlaTimer.objects.filter(escalation_id__in=list(escalation_ids)).order_by("metric"))


def update_clocks_warned(*, ticket_ids: Iterable[int], at: datetime) -> list[SlaTimer]:
    """The running recurring clocks of these tickets' escalations that crossed a warning threshold in their
    current period (a new period starts unwarned) and whose deadline is still ahead of `at`."""
    return _update_clocks_warned(SlaTimer.objects.all(), ticket_ids, at)


def update_clocks_warned_across(*, tenant_ids: list[int], ticket_ids: Iterable[int], at: datetime) -> list[SlaTimer]:
    """update_clocks_warned for the tickets of many tenants at once (the sweep's escalation pass, inside
    tenancy.tenant_batch: the batch policy opens the clocks of exactly the claimed tenants)."""
    return _update_clocks_warned(SlaTimer.unscoped.filter(tenant_id__in=tenant_ids), ticket_ids, at)


def _update_clocks_warned(timers: QuerySet, ticket_ids: Iterable[int], at: datetime) -> list[SlaTimer]:
    return list(
        timers.filter(
            ticket_id__in=list(ticket_ids),
            escalation_id__gt=0,
            metric__in=RECURRING_METRICS,
            status=TimerStatus.RUNNING,
            warned_percent__isnull=False,
            due_at__gt=at,
        )
    )


def ticket_clocks(
    *, ticket_ids: Iterable[int], own_only: bool = False, open_only: bool = False, with_breached: bool = False
) -> list[SlaTimer]:
    """The clocks of these tickets with their calendars (what a countdown needs), in one query: the tickets'
    own, and with own_only False their escalations' too; with open_only, running and paused ones only (and
    breached ones too with with_breached: how long overdue)."""
    clocks = SlaTimer.objects.filter(ticket_id__in=list(ticket_ids)).select_related("calendar")
    if own_only:
        clocks = clocks.filter(escalation_id=0)
    if open_only:
        wanted = [TimerStatus.RUNNING, TimerStatus.PAUSED] + ([TimerStatus.BREACHED] if with_breached else [])
        clocks = clocks.filter(status__in=wanted)
    return list(clocks.order_by("ticket_id", "escalation_id", "metric"))
