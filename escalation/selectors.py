"""Reads of the escalation engine."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.db.models import QuerySet

from escalation import triggers
from escalation.models import Escalation, EscalationRule
from helpdesk.config_cache import tenant_config
from helpdesk.models import Tenant


def escalation_list(*, tenant: Tenant) -> QuerySet[Escalation]:
    return Escalation.objects.filter(tenant=tenant).prefetch_related("firings__rule")


def rule_list(*, tenant: Tenant) -> QuerySet[EscalationRule]:
    return EscalationRule.objects.filter(tenant=tenant)


@dataclass(frozen=True)
class Matrix:
    """The current tenant's active rules: as the evaluator sees them (`rules`, in matrix order), and the rows
    themselves by id (`by_id`), which firing a rule reads (kind, target, response minutes, notify)."""

    rules: tuple[triggers.Rule, ...]
    by_id: Mapping[int, EscalationRule]


def matrix() -> Matrix:
    """Cached per process until a rule changes (helpdesk/config_cache.py), and shared between the threads of
    a worker: evaluator rules are frozen, and the rows must be treated as read-only — firing only reads their
    own columns (the target team is read by id, never through the relation, which would cache onto the row)."""

    def load() -> Matrix:
        rows = list(EscalationRule.objects.filter(active=True).order_by("position", "id"))
        rules = tuple(
            triggers.Rule(
                id=r.pk, slug=r.slug, trigger=r.trigger, conditions=r.conditions, position=r.position, active=r.active
            )
            for r in rows
        )
        return Matrix(rules=rules, by_id={r.pk: r for r in rows})

    return tenant_config("escalation_matrix", load)


def rule_matrix() -> tuple[triggers.Rule, ...]:
    """The current tenant's active rules as the evaluator sees them, in matrix order (cached: see matrix())."""
    return matrix().rules
