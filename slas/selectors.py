"""Reads of the SLA engine."""

from django.db.models import QuerySet

from helpdesk.models import Tenant
from slas.models import BusinessCalendar, SLAPolicy


def calendar_list(*, tenant: Tenant) -> QuerySet[BusinessCalendar]:
    return BusinessCalendar.objects.filter(tenant=tenant)


def policy_list(*, tenant: Tenant) -> QuerySet[SLAPolicy]:
    return SLAPolicy.objects.filter(tenant=tenant)
