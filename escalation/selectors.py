"""Reads of the escalation engine."""

from django.db.models import QuerySet

from escalation.models import Escalation, EscalationRule
from helpdesk.models import Tenant


def escalation_list(*, tenant: Tenant) -> QuerySet[Escalation]:
    return Escalation.objects.filter(tenant=tenant).prefetch_related("firings__rule")


def rule_list(*, tenant: Tenant) -> QuerySet[EscalationRule]:
    return EscalationRule.objects.filter(tenant=tenant)
