"""Reads of the SLA engine."""

from collections.abc import Iterable

from django.db.models import QuerySet

from helpdesk.models import Tenant
from slas.models import BusinessCalendar, SLAPolicy, SlaTimer


def calendar_list(*, tenant: Tenant) -> QuerySet[BusinessCalendar]:
    return BusinessCalendar.objects.filter(tenant=tenant)


def policy_list(*, tenant: Tenant) -> QuerySet[SLAPolicy]:
    return SLAPolicy.objects.filter(tenant=tenant)


def escalation_timers(*, escalation_ids: Iterable[int]) -> list[SlaTimer]:
    """The clocks of these escalations, by metric."""
    return list(SlaTimer.objects.filter(escalation_id__in=list(escalation_ids)).order_by("metric"))
