"""The managers' weekly digest: last week's tiles (local Monday to Monday in the tenant's zone) with their
health, and what moved since the week before (a health that changed, a value that moved by MOVED_POINTS
or more). One outbox row per tenant and week (its dedupe key), so a digest task that runs twice sends once;
the notifications send it to the tenant's managers (template `metrics.digest`, recipients role:manager)."""

from __future__ import annotations

from datetime import datetime, timedelta

from helpdesk.outbox import outbox_emit
from metrics import queries, selectors
from metrics.period import Query
from slas import clock

MOVED_POINTS = 5.0  # percentage points, or minutes for the time metrics
DIGEST_METRICS = (
    "escalation_rate", "time_to_escalate", "post_escalation_resolution", "re_escalation_rate", "bounceback_rate",
    "handoff_delay", "sla_compliance_escalated", "post_escalation_csat", "first_tier_resolution_rate",
    "repeat_escalation_rate", "priority_mistranslation_rate", "context_loss_rate",
)  # fmt: skip


def last_week(now: datetime, timezone: str) -> tuple[Query, Query]:
    today = clock.local_today(now, timezone)
    monday = today - timedelta(days=today.weekday())
    week = Query(start_day=monday - timedelta(days=7), end_day=monday, timezone=timezone)
    before = Query(start_day=monday - timedelta(days=14), end_day=monday - timedelta(days=7), timezone=timezone)
    return week, before


def moved(current: dict, previous: dict) -> list[dict]:
    changes = []
    for metric in DIGEST_METRICS:
        now_value = queries.graded_value(current, metric)
        then_value = queries.graded_value(previous, metric)
        health_changed = current["health"][metric] != previous["health"][metric]
        delta = None if now_value is None or then_value is None else round(now_value - then_value, 1)
        if health_changed or (delta is not None and abs(delta) >= MOVED_POINTS):
            changes.append(
                {
                    "metric": metric,
                    "from": then_value,
                    "to": now_value,
                    "health_from": previous["health"][metric],
                    "health_to": current["health"][metric],
                }
            )
    return changes


def _line(metric: str, value, health: str) -> str:
    shown = "no data" if value is None else f"{value:g}"
    return f"- {metric.replace('_', ' ')}: {shown} ({health})"


def digest_text(current: dict, changes: list[dict], week: Query) -> str:
    lines = [
        f"Escalation metrics for the week of {week.start_day} ({week.timezone}): {current['tickets']} tickets, "
        f"{current['escalations']} escalations.",
        "",
    ]
    lines += [_line(m, queries.graded_value(current, m), current["health"][m]) for m in DIGEST_METRICS]
    lines += ["", "What moved since the week before:" if changes else "Nothing moved much since the week before."]
    lines += [
        f"- {c['metric'].replace('_', ' ')}: {c['from']} -> {c['to']} ({c['health_from']} -> {c['health_to']})"
        for c in changes
    ]
    return "\n".join(lines)


def weekly_digest(*, tenant, now: datetime) -> bool:
    """Writes the tenant's digest of last week to the outbox (False: it was written already)."""
    week, before = last_week(now, tenant.timezone)
    current = selectors.escalation_metrics(week, tenant=tenant, now=now)
    previous = selectors.escalation_metrics(before, tenant=tenant, now=now)
    changes = moved(current, previous)
    return outbox_emit(
        tenant_id=tenant.pk,
        type="metrics.digest",
        dedupe_key=f"metrics.digest:{week.start_day}",
        payload={
            "week": week.start_day.isoformat(),
            "text": digest_text(current, changes, week),
            "tiles": {
                m: {"value": queries.graded_value(current, m), "health": current["health"][m]} for m in DIGEST_METRICS
            },
            "moved": changes,
        },
        at=now,
    )
