"""Reads of the metrics app: a tenant's health ranges and the whole metric set."""

from __future__ import annotations

from datetime import datetime

from metrics import queries
from metrics.models import HealthThreshold
from metrics.period import Query


def threshold_overrides() -> dict[str, tuple[float, float, float | None]]:
    """The current tenant's own ranges (metric -> (warn, bad, low))."""
    return {t.metric: (t.warn, t.bad, t.low) for t in HealthThreshold.objects.all()}


def escalation_metrics(query: Query, *, tenant, now: datetime) -> dict:
    return queries.escalation_metrics(query, tenant_id=tenant.pk, now=now, overrides=threshold_overrides())


def series(query: Query, *, tenant, interval: str) -> list[dict]:
    return queries.series(query, tenant_id=tenant.pk, interval=interval)


def rule_advice(query: Query, *, tenant) -> list[dict]:
    return queries.rule_rows(query, tenant_id=tenant.pk)


def graded_value(result: dict, metric: str) -> float | None:
    """The one number a metric's health reads (None: nothing to grade in the period)."""
    return queries.graded_value(result, metric)
