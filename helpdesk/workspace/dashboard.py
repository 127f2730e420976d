"""The managers' dashboard (/dashboard/, UI.md "Dashboard"): one region per metric of API.md, named as the
API names it (escalation_rate -> "Escalation rate"), with its value and its health as the word ok, warn or
bad; trend lines and by-trigger bars (Chart.js, vendored in static/vendor/chartjs/, fed by json_script: no
inline script); and links to the tickets behind each number (the queue /tickets/ with the filters)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from escalation.models import Kind
from helpdesk.workspace.access import manager_required
from metrics import selectors
from metrics.period import DEFAULT_DAYS, PeriodError, Query, parse
from slas import clock
from tickets.models import Priority

# metric -> how its value reads; the order of the tiles. Region names follow API.md's field names.
TILES = (
    ("escalation_rate", "percent"),
    ("time_to_escalate", "minutes"),
    ("post_escalation_resolution", "minutes"),
    ("re_escalation_rate", "percent"),
    ("bounceback_rate", "percent"),
    ("handoff_delay", "handoff"),
    ("sla_compliance_escalated", "percent"),
    ("post_escalation_csat", "csat"),
    ("first_tier_resolution_rate", "percent"),
    ("repeat_escalation_rate", "percent"),
    ("priority_mistranslation_rate", "percent"),
    ("context_loss_rate", "percent"),
    ("escalation_to_call_rate", "percent"),
    ("root_cause_recorded_share", "percent"),
    ("reviews_done_share", "reviews"),
)
ACRONYMS = {"sla": "SLA", "csat": "CSAT"}
# Tiles whose tickets are the escalated ones: their link adds the queue's `escalated` filter.
ESCALATION_TILES = {
    "bounceback_rate", "handoff_delay", "post_escalation_resolution", "priority_mistranslation_rate",
    "context_loss_rate", "escalation_to_call_rate", "root_cause_recorded_share", "re_escalation_rate",
    "repeat_escalation_rate", "sla_compliance_escalated", "post_escalation_csat", "reviews_done_share",
}  # fmt: skip


def region_name(metric: str) -> str:
    """API.md's field name as words: escalation_rate -> "Escalation rate", post_escalation_csat -> "Post
    escalation CSAT" (what the browser tests and screen readers find)."""
    words = [ACRONYMS.get(word, word) for word in metric.split("_")]
    first = words[0] if words[0].isupper() else words[0].capitalize()
    return " ".join([first, *words[1:]])


@dataclass(frozen=True)
class Tile:
    metric: str
    name: str
    value: str
    detail: str
    health: str
    link: str


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "no data"
    return f"{value:g}{unit}"


def _value(metric: str, kind: str, result: dict) -> tuple[str, str]:
    value = result[metric]
    if kind == "percent":
        return _fmt(value, " %"), ""
    if kind == "minutes":
        return _fmt(value["p50"], " min"), f"median; p90 {_fmt(value['p90'], ' min')}"
    if kind == "reviews":
        return _fmt(value, " %"), f"of {result['reviews']} post-escalation reviews"
    if kind == "csat":
        return (_fmt(value, " / 5"), f"{result['csat_responses']} responses")
    handoff = result["handoff_delay"]
    return (
        _fmt(handoff["p50"], " min"),
        f"median to acknowledge; p90 {_fmt(handoff['p90'], ' min')}; high/urgent p90 "
        f"{_fmt(handoff['high_priority_p90'], ' min')} ({_fmt(handoff['high_priority_p90_with_waiting'], ' min')} "
        f"counting those still waiting: the health reads it); {handoff['over_30m_high']} high/urgent over 30 min; "
        f"{handoff['over_2h']} in limbo over 2 h",
    )


def _queue_link(query: Query, metric: str) -> str:
    params = {
        "view": "all",
        "created_after": query.start.isoformat().replace("+00:00", "Z"),
        "created_before": query.end.isoformat().replace("+00:00", "Z"),
    }
    params.update({k: v for k, v in query.filters.items() if k in ("team", "channel", "priority", "category")})
    if metric in ESCALATION_TILES:
        params["escalated"] = "true"
    return f"{reverse('workspace:queue')}?{urlencode(params)}"


NO_DATA = "no data"


def _health(result: dict, metric: str) -> str:
    # The API grades a metric without a value "ok" (nothing to flag); a tile saying "no data" beside a green "ok"
    # read as good news, so the page says there is nothing to grade.
    return NO_DATA if selectors.graded_value(result, metric) is None else result["health"][metric]


def tiles(result: dict, query: Query) -> list[Tile]:
    out = []
    for metric, kind in TILES:
        value, detail = _value(metric, kind, result)
        out.append(
            Tile(
                metric=metric,
                name=region_name(metric),
                value=value,
                detail=detail,
                health=_health(result, metric),
                link=_queue_link(query, metric),
            )
        )
    return out


def _chart_data(points: list[dict], result: dict) -> dict:
    triggers = result["by_trigger"]
    return {
        "labels": [p["start"] for p in points],
        "escalation_rate": [p["escalation_rate"] for p in points],
        "bounceback_rate": [p["bounceback_rate"] for p in points],
        "handoff_p50": [p["handoff_p50"] for p in points],
        "triggers": list(triggers),
        "trigger_escalations": [t["escalations"] for t in triggers.values()],
    }


@manager_required
def dashboard(request):
    principal = request.principal
    now = timezone.now()
    errors = {}
    try:
        query = parse(request.GET, tenant=principal.tenant, now=now)
    except PeriodError as exc:
        errors = exc.fields
        query = parse({}, tenant=principal.tenant, now=now)
    result = selectors.escalation_metrics(query, tenant=principal.tenant, now=now)
    interval = "day" if (query.end_day - query.start_day).days <= 62 else "week"
    points = selectors.series(query, tenant=principal.tenant, interval=interval)
    context = {
        "query": query,
        "last_day": query.end_day.fromordinal(query.end_day.toordinal() - 1),
        "result": result,
        "tiles": tiles(result, query),
        "chart": _chart_data(points, result),
        "interval": interval,
        "rules": selectors.rule_advice(query, tenant=principal.tenant),
        "errors": errors,
        "default_days": DEFAULT_DAYS,
        "today": clock.local_today(now, principal.tenant.timezone),
        "priorities": Priority.values,
        "kinds": Kind.values,
    }
    return render(request, "workspace/dashboard.html", context, status=400 if errors else 200)
