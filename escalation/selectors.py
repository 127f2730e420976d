"""Reads of the escalation engine."""

from django.db.models import QuerySet

from escalation import triggers
from escalation.models import Escalation, EscalationRule
from helpdesk.config_cache import tenant_config
from helpdesk.models import Tenant


def escalation_list(*, tenant: Tenant) -> QuerySet[Escalation]:
    return Escalation.objects.filter(tenant=tenant).prefetch_related("firings__rule")


def rule_list(*, tenant: Tenant) -> QuerySet[EscalationRule]:
    return EscalationRule.objects.filter(tenant=tenant)


def rule_matrix() -> tuple[triggers.Rule, ...]:
    """The current tenant's active rules as the evaluator sees them, in matrix order; cached per process
    until a rule changes (helpdesk/config_cache.py). Rules are frozen, so sharing them is safe."""

    def load() -> tuple[triggers.Rule, ...]:
        return tuple(
            triggers.Rule(
                id=r.pk, slug=r.slug, trigger=r.trigger, conditions=r.conditions, position=r.position, active=r.active
            )
            for r in EscalationRule.objects.filter(active=True).order_by("position", "id")
        )

    return tenant_config("escalation_rules", load)
