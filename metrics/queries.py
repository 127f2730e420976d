"""Every escalation metric of a tenant for a period, as SQL aggregates over the stored facts: tickets and
their audit trail (tickets/), the clocks with their stored durations (slas/), escalations and rule firings
(escalation/), calls (callnotes/), CSAT responses (here). No row is looped over in Python: each number is
a count, a percentile_cont or an average with a FILTER, in two statements whatever the period's size
(after one SET LOCAL that turns PostgreSQL's JIT off for the transaction).

Cohorts (decisions)
    Ticket metrics count the tickets created in the period: escalation rate (tickets with an escalation /
    tickets), time to escalate (creation -> first escalation), re-escalation rate (tickets escalated more
    than once / escalated tickets), first-tier resolution rate (solved or closed tickets never escalated /
    solved or closed tickets), SLA compliance of escalated tickets (their own clocks that stopped: met /
    met or breached), post-escalation CSAT (average score given after the first escalation).
    Escalation metrics count the escalations created in the period: post-escalation resolution (creation
    -> resolved), bounceback (returned for clarification), de-escalation, handoff delay, priority
    mistranslation, repeats, context loss, calls, root causes, the escalation clocks, by trigger and rule.
    The ticket filters (team, channel, priority, category) select tickets by their current values; the
    escalation filters (kind, trigger) select escalations, and a ticket counts as escalated when it has
    one that matches.

Definitions (decisions where the seeds leave room)
    handoff delay: escalation -> acknowledgement, wall minutes (p50, p90 of the acknowledged ones);
        "first action": escalation -> the receiver's first substantive response, i.e. when its
        escalation_first_response clock stopped. `over_2h` ("in limbo") and `over_30m_high` count the
        escalations not acknowledged within 2 h (all) / 30 min (tickets now high or urgent), counting one
        never acknowledged until it ended (resolved, returned, de-escalated) or until `now`.
    priority mistranslation: the ticket's priority was lowered while the escalation was open (an `updated`
        audit event with a lower `priority`), or the escalation was de-escalated to a tier below the one the
        ticket came from (its audit event's tier < the escalation's from_tier). An escalation cannot lower
        a priority itself (a rule's override only raises it: tickets.services.ticket_escalation_move).
    repeat escalation: another ticket of the same account and category, or with the same recorded root
        cause (case and spaces aside), was escalated in the 30 days before (window functions over the
        escalations of the period and the 30 days before it, with the same filters).
    context loss: returned with a "missing information" reason (CONTEXT_LOSS_PATTERN). Receivers cannot
        edit an escalation's summary in this version, so that half of the seeds' definition counts none.
    escalation clocks' compliance: acknowledge, first response and manager response: met / stopped
        (status met or breached); customer update: periods met / (met + missed).
    reviews done share: of the post-escalation reviews of the period's escalations (opened when a high-priority or
        repeated one resolved: escalation/reviews.py), the share marked done.
    Rates and shares are percentages rounded to 0.1; minutes to 0.1; CSAT to 0.01. No denominator: null.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from django.db import connection

from escalation import advice
from metrics import health
from metrics.period import Query

CONTEXT_LOSS_PATTERN = (
    r"\m(missing|incomplete|insufficient|lacking|lacks|without|no|not enough|need(s|ed)? more|more)\M"
    r"[^.;]{0,30}\m(info|information|details?|context|logs?|steps|screenshots?|data|repro\w*)\M"
)
PRIORITY_RANK = "ARRAY['low', 'normal', 'high', 'urgent']"
FINISHED = "('solved', 'closed')"
LIMBO_MINUTES, HIGH_HANDOFF_MINUTES = 120, 30
REPEAT_WINDOW_DAYS = 30


def _minutes(expression: str) -> str:
    return f"(extract(epoch FROM {expression}) / 60.0)"


def _p(fraction: float, expression: str, where: str = "") -> str:
    filtered = f" FILTER (WHERE {where})" if where else ""
    return f"percentile_cont({fraction}) WITHIN GROUP (ORDER BY {expression}){filtered}"


def _where(query: Query, ticket_alias: str, escalation_alias: str | None, params: dict) -> str:
    """SQL conditions for the filters, bound as parameters (the names come from period.FILTERS only)."""
    parts = []
    columns = {"team": "team_id", "channel": "channel", "priority": "priority", "category": "category"}
    for name, column in columns.items():
        if name in query.filters:
            params[f"f_{name}"] = query.filters[name]
            parts.append(f"{ticket_alias}.{column} = %(f_{name})s")
    if escalation_alias:
        for name in ("kind", "trigger"):
            if name in query.filters:
                params[f"f_{name}"] = query.filters[name]
                parts.append(f"{escalation_alias}.{name} = %(f_{name})s")
    return "".join(f" AND {part}" for part in parts)


def _escalation_filter(query: Query, alias: str, params: dict) -> str:
    parts = []
    for name in ("kind", "trigger"):
        if name in query.filters:
            params[f"f_{name}"] = query.filters[name]
            parts.append(f"{alias}.{name} = %(f_{name})s")
    return "".join(f" AND {part}" for part in parts)


def _no_jit() -> None:
    """PostgreSQL's JIT compiles these aggregates for longer than they run (measured: 1.4 s instead of 0.3 s
    for the escalation statement on 20,000 tickets, bench/METRICS.md); off for the rest of the transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")


def _fetch(sql: str, params: dict) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# --- ticket cohort --------------------------------------------------------------------------------------

TICKETS_SQL = """
WITH t AS (
    SELECT t.id, t.created_at, t.status FROM tickets_ticket t
    WHERE t.tenant_id = %(tenant)s AND t.created_at >= %(start)s AND t.created_at < %(end)s {ticket_where}
), e AS (
    SELECT e.ticket_id, min(e.created_at) AS first_at, count(*) AS n
    FROM escalation_escalation e JOIN t ON t.id = e.ticket_id
    WHERE e.tenant_id = %(tenant)s {escalation_where}
    GROUP BY e.ticket_id
), clocks AS (
    SELECT count(*) FILTER (WHERE s.status = 'met') AS met,
           count(*) FILTER (WHERE s.status IN ('met', 'breached')) AS stopped
    FROM slas_slatimer s JOIN e ON s.ticket_id = e.ticket_id
    WHERE s.tenant_id = %(tenant)s AND s.escalation_id = 0
)
SELECT count(*) AS tickets,
       count(e.ticket_id) AS escalated,
       count(*) FILTER (WHERE e.n > 1) AS re_escalated,
       {tte_p50} AS tte_p50,
       {tte_p90} AS tte_p90,
       count(*) FILTER (WHERE t.status IN {finished}) AS finished,
       count(*) FILTER (WHERE t.status IN {finished} AND e.ticket_id IS NULL) AS first_tier,
       avg(c.score) FILTER (WHERE c.created_at >= e.first_at) AS csat,
       count(c.score) FILTER (WHERE c.created_at >= e.first_at) AS csat_responses,
       (SELECT met FROM clocks) AS clocks_met,
       (SELECT stopped FROM clocks) AS clocks_stopped
FROM t
LEFT JOIN e ON e.ticket_id = t.id
LEFT JOIN metrics_csatresponse c ON c.ticket_id = t.id AND c.tenant_id = %(tenant)s
"""


def _tickets(query: Query, params: dict) -> dict:
    waited = _minutes("e.first_at - t.created_at")
    sql = TICKETS_SQL.format(
        ticket_where=_where(query, "t", None, params),
        escalation_where=_escalation_filter(query, "e", params),
        tte_p50=_p(0.5, waited),
        tte_p90=_p(0.9, waited),
        finished=FINISHED,
    )
    return _fetch(sql, params)[0]


# --- escalation cohort ----------------------------------------------------------------------------------

# r0: the escalations of the period and of the 30 days before (same filters). r1..r: for each, the latest earlier
# escalation of another ticket with the same account and category (a_prev), or the same root cause (c_prev): in
# each partition by time, rows of one ticket in a row form a run, and the row before the run is the latest
# other ticket's (lag, a running count of run starts, a max per run: sorts only). x: those of the period with
# their per-escalation facts. (count(*) over 30-day RANGE frames, joined back by id, ran for minutes on
# 150,000 escalations: bench/METRICS.md.)
ESCALATIONS_CTE = """
WITH r0 AS (
    SELECT e.id, e.ticket_id, e.status, e.trigger, e.rule_id, e.created_at, e.acknowledged_at, e.resolved_at,
           e.returned_at, e.de_escalated_at, e.return_reason, e.from_tier, e.root_cause, t.priority,
           t.account_id, t.category, lower(btrim(e.root_cause)) AS cause
    FROM escalation_escalation e JOIN tickets_ticket t ON t.id = e.ticket_id AND t.tenant_id = %(tenant)s
    WHERE e.tenant_id = %(tenant)s AND e.created_at >= %(lookback)s AND e.created_at < %(end)s {where}
), r1 AS (
    SELECT r0.*,
           lag(ticket_id) OVER wa IS DISTINCT FROM ticket_id AS a_new, lag(created_at) OVER wa AS a_lag,
           lag(ticket_id) OVER wc IS DISTINCT FROM ticket_id AS c_new, lag(created_at) OVER wc AS c_lag
    FROM r0
    WINDOW wa AS (PARTITION BY account_id, category ORDER BY created_at, id),
           wc AS (PARTITION BY cause ORDER BY created_at, id)
), r2 AS (
    SELECT r1.*,
           count(*) FILTER (WHERE a_new) OVER (PARTITION BY account_id, category ORDER BY created_at, id
                                               ROWS UNBOUNDED PRECEDING) AS a_run,
           count(*) FILTER (WHERE c_new) OVER (PARTITION BY cause ORDER BY created_at, id
                                               ROWS UNBOUNDED PRECEDING) AS c_run
    FROM r1
), r AS (
    SELECT r2.*,
           max(CASE WHEN a_new THEN a_lag END) OVER (PARTITION BY account_id, category, a_run) AS a_prev,
           max(CASE WHEN c_new THEN c_lag END) OVER (PARTITION BY cause, c_run) AS c_prev
    FROM r2
), x AS (
    SELECT e.id, e.ticket_id, e.status, e.trigger, e.rule_id, e.created_at, e.acknowledged_at, e.resolved_at,
           e.root_cause, e.priority,
           {ack} AS ack_minutes,
           {waited} AS unacknowledged_minutes,
           (e.status = 'returned' AND e.return_reason ~* %(context_loss)s) AS context_lost,
           ((e.account_id IS NOT NULL AND e.category <> '' AND e.a_prev >= e.created_at - {window})
            OR (e.cause <> '' AND e.c_prev >= e.created_at - {window})) AS repeated,
           (EXISTS (SELECT 1 FROM tickets_ticketevent v
                    WHERE v.tenant_id = %(tenant)s AND v.ticket_id = e.ticket_id AND v.kind = 'updated'
                      AND v.created_at >= e.created_at
                      AND v.created_at < COALESCE(e.resolved_at, e.returned_at, e.de_escalated_at, 'infinity')
                      AND v.before ? 'priority'
                      AND array_position({rank}, v.after ->> 'priority')
                          < array_position({rank}, v.before ->> 'priority'))
            OR (e.status = 'de_escalated' AND EXISTS (
                    SELECT 1 FROM tickets_ticketevent v
                    WHERE v.tenant_id = %(tenant)s AND v.ticket_id = e.ticket_id AND v.kind = 'escalation_de_escalated'
                      AND v.created_at = e.de_escalated_at AND v.after ->> 'escalation' = e.id::text
                      AND (v.after ->> 'tier')::int < e.from_tier))) AS mistranslated,
           EXISTS (SELECT 1 FROM callnotes_call c
                   WHERE c.tenant_id = %(tenant)s AND c.escalation_id = e.id AND c.status <> 'cancelled') AS called,
           (SELECT {first_action} FROM slas_slatimer s
            WHERE s.tenant_id = %(tenant)s AND s.ticket_id = e.ticket_id AND s.escalation_id = e.id
              AND s.metric = 'escalation_first_response' AND s.met_at IS NOT NULL) AS first_action_minutes
    FROM r e
    WHERE e.created_at >= %(start)s
)
"""

ESCALATIONS_SQL = """
SELECT count(*) AS escalations,
       count(*) FILTER (WHERE status = 'returned') AS returned,
       count(*) FILTER (WHERE status = 'de_escalated') AS de_escalated,
       count(*) FILTER (WHERE status = 'resolved') AS resolved,
       count(*) FILTER (WHERE status = 'resolved' AND btrim(root_cause) <> '') AS root_caused,
       {res_p50} AS resolution_p50,
       {res_p90} AS resolution_p90,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ack_minutes) AS handoff_p50,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY ack_minutes) AS handoff_p90,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY ack_minutes) FILTER (WHERE priority IN ('high', 'urgent'))
           AS handoff_high_p90,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY first_action_minutes) AS first_action_p50,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY first_action_minutes) AS first_action_p90,
       count(*) FILTER (WHERE unacknowledged_minutes > {limbo}) AS over_2h,
       count(*) FILTER (WHERE unacknowledged_minutes > {high} AND priority IN ('high', 'urgent')) AS over_30m_high,
       count(*) FILTER (WHERE mistranslated) AS mistranslated,
       count(*) FILTER (WHERE repeated) AS repeated,
       count(*) FILTER (WHERE context_lost) AS context_lost,
       count(*) FILTER (WHERE called) AS called
FROM x
"""

BY_TRIGGER_SQL = """
SELECT trigger, count(*) AS escalations,
       count(*) FILTER (WHERE status = 'returned') AS returned,
       count(*) FILTER (WHERE status = 'de_escalated') AS de_escalated,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ack_minutes) AS acknowledge_p50
FROM x GROUP BY trigger
"""

CLOCKS_SQL = """
SELECT s.metric,
       count(*) FILTER (WHERE s.status = 'met') AS met,
       count(*) FILTER (WHERE s.status IN ('met', 'breached')) AS stopped,
       COALESCE(sum(s.met_periods), 0) AS met_periods,
       COALESCE(sum(s.misses), 0) AS misses,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY s.business_minutes) AS business_p50,
       avg(s.margin_minutes) AS margin_avg
FROM slas_slatimer s JOIN x ON s.ticket_id = x.ticket_id AND s.escalation_id = x.id
WHERE s.tenant_id = %(tenant)s
GROUP BY s.metric
"""


def _escalation_cte(query: Query, params: dict) -> str:
    ack = _minutes("e.acknowledged_at - e.created_at")
    until = "COALESCE(e.acknowledged_at, e.resolved_at, e.returned_at, e.de_escalated_at, %(now)s)"
    waited = _minutes(f"{until} - e.created_at")
    params["lookback"] = query.start - timedelta(days=REPEAT_WINDOW_DAYS)
    params["context_loss"] = CONTEXT_LOSS_PATTERN
    return ESCALATIONS_CTE.format(
        window=f"INTERVAL '{REPEAT_WINDOW_DAYS} days'",
        where=_where(query, "t", "e", params),
        ack=ack,
        waited=waited,
        rank=PRIORITY_RANK,
        first_action=_minutes("s.met_at - e.created_at"),
    )


# One statement: x is read three times, so PostgreSQL computes it once (three statements computed it thrice).
COMBINED_SQL = """
SELECT m.*,
       (SELECT COALESCE(jsonb_agg(to_jsonb(b) ORDER BY b.escalations DESC, b.trigger), '[]'::jsonb)
        FROM ({by_trigger}) b) AS triggers,
       (SELECT COALESCE(jsonb_agg(to_jsonb(c)), '[]'::jsonb) FROM ({clocks}) c) AS clocks
FROM ({main}) m
"""


def _escalations(query: Query, params: dict) -> tuple[dict, list[dict], list[dict]]:
    cte = _escalation_cte(query, params)
    resolution = _minutes("resolved_at - created_at")
    main = ESCALATIONS_SQL.format(
        res_p50=_p(0.5, resolution, "status = 'resolved'"),
        res_p90=_p(0.9, resolution, "status = 'resolved'"),
        limbo=LIMBO_MINUTES,
        high=HIGH_HANDOFF_MINUTES,
    )
    row = _fetch(cte + COMBINED_SQL.format(by_trigger=BY_TRIGGER_SQL, clocks=CLOCKS_SQL, main=main), params)[0]
    # Django's connection hands jsonb back as text.
    return row, json.loads(row.pop("triggers")), json.loads(row.pop("clocks"))


# --- post-escalation reviews ---------------------------------------------------------------------------

# The reviews (escalation/reviews.py) of the period's escalations, with the same filters: opened, and done. One
# statement of its own: the reviews table is small (a share of the resolved escalations) and indexed by tenant.
REVIEWS_SQL = """
SELECT count(*) AS reviews, count(*) FILTER (WHERE r.status = 'done') AS done
FROM escalation_review r
JOIN escalation_escalation e ON e.id = r.escalation_id AND e.tenant_id = %(tenant)s
JOIN tickets_ticket t ON t.id = r.ticket_id AND t.tenant_id = %(tenant)s
WHERE r.tenant_id = %(tenant)s AND e.created_at >= %(start)s AND e.created_at < %(end)s {where}
"""


def _reviews(query: Query, params: dict) -> dict:
    return _fetch(REVIEWS_SQL.format(where=_where(query, "t", "e", params)), params)[0]


# --- rules (the matrix advice) --------------------------------------------------------------------------


def rule_rows(query: Query, *, tenant_id: int) -> list[dict]:
    """Per rule of the matrix: fired, bounced back, de-escalated, median time to acknowledge (escalation/advice.py
    reads only the escalation app's facts, so the admin's dry run shows it too)."""
    return advice.rule_advice(tenant_id=tenant_id, start=query.start, end=query.end, filters=query.filters)


# --- series ---------------------------------------------------------------------------------------------

SERIES_TICKETS_SQL = """
WITH t AS (
    SELECT t.id, width_bucket(t.created_at, %(bounds)s::timestamptz[]) AS bucket FROM tickets_ticket t
    WHERE t.tenant_id = %(tenant)s AND t.created_at >= %(start)s AND t.created_at < %(end)s {ticket_where}
), e AS (
    SELECT DISTINCT e.ticket_id FROM escalation_escalation e JOIN t ON t.id = e.ticket_id
    WHERE e.tenant_id = %(tenant)s {escalation_where}
)
SELECT t.bucket, count(*) AS tickets, count(e.ticket_id) AS escalated
FROM t LEFT JOIN e ON e.ticket_id = t.id GROUP BY t.bucket
"""

SERIES_ESCALATIONS_SQL = """
SELECT width_bucket(e.created_at, %(bounds)s::timestamptz[]) AS bucket, count(*) AS escalations,
       count(*) FILTER (WHERE e.status = 'returned') AS returned,
       {ack_p50} AS handoff_p50
FROM escalation_escalation e JOIN tickets_ticket t ON t.id = e.ticket_id AND t.tenant_id = %(tenant)s
WHERE e.tenant_id = %(tenant)s AND e.created_at >= %(start)s AND e.created_at < %(end)s {where}
GROUP BY 1
"""


def series(query: Query, *, tenant_id: int, interval: str) -> list[dict]:
    """Daily or weekly points (local days; weeks from Monday) of the charted metrics, two statements."""
    bounds = query.bucket_starts(interval)
    _no_jit()
    params = {"tenant": tenant_id, "start": query.start, "end": query.end, "bounds": bounds}
    tickets = {
        row["bucket"]: row
        for row in _fetch(
            SERIES_TICKETS_SQL.format(
                ticket_where=_where(query, "t", None, params),
                escalation_where=_escalation_filter(query, "e", params),
            ),
            params,
        )
    }
    escalations = {
        row["bucket"]: row
        for row in _fetch(
            SERIES_ESCALATIONS_SQL.format(
                where=_where(query, "t", "e", params), ack_p50=_p(0.5, _minutes("e.acknowledged_at - e.created_at"))
            ),
            params,
        )
    }
    points = []
    for index, day in enumerate(query.bucket_days(interval), start=1):
        t, e = tickets.get(index, {}), escalations.get(index, {})
        points.append(
            {
                "start": day.isoformat(),
                "tickets": t.get("tickets", 0),
                "escalated_tickets": t.get("escalated", 0),
                "escalation_rate": _pct(t.get("escalated", 0), t.get("tickets", 0)),
                "escalations": e.get("escalations", 0),
                "bounceback_rate": _pct(e.get("returned", 0), e.get("escalations", 0)),
                "handoff_p50": _round(e.get("handoff_p50")),
            }
        )
    return points


# --- the whole set --------------------------------------------------------------------------------------


def _pct(part, whole) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _round(value, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)


def _clock_compliance(rows: list[dict]) -> dict:
    by_metric = {row["metric"]: row for row in rows}
    out = {}
    for name, metric in (
        ("acknowledge", "escalation_acknowledge"),
        ("first_response", "escalation_first_response"),
        ("manager_response", "manager_response"),
    ):
        row = by_metric.get(metric, {})
        out[name] = _pct(row.get("met", 0), row.get("stopped", 0))
    row = by_metric.get("customer_update", {})
    met, missed = row.get("met_periods", 0), row.get("misses", 0)
    out["customer_update"] = _pct(met, met + missed)
    return out


def escalation_metrics(query: Query, *, tenant_id: int, now: datetime, overrides: dict | None = None) -> dict:
    """Every metric of the issue for the tenant's period and filters, with its health (metrics/health.py)."""
    params = {"tenant": tenant_id, "start": query.start, "end": query.end, "now": now}
    _no_jit()
    t = _tickets(query, dict(params))
    e, triggers, clocks = _escalations(query, dict(params))
    reviews = _reviews(query, dict(params))
    escalations = e["escalations"]
    result = {
        "period": {"start": query.start_day.isoformat(), "end": query.end_day.isoformat(), "timezone": query.timezone},
        "filters": dict(query.filters),
        "tickets": t["tickets"],
        "escalated_tickets": t["escalated"],
        "escalations": escalations,
        "escalation_rate": _pct(t["escalated"], t["tickets"]),
        "time_to_escalate": {"p50": _round(t["tte_p50"]), "p90": _round(t["tte_p90"])},
        "post_escalation_resolution": {"p50": _round(e["resolution_p50"]), "p90": _round(e["resolution_p90"])},
        "re_escalation_rate": _pct(t["re_escalated"], t["escalated"]),
        "bounceback_rate": _pct(e["returned"], escalations),
        "de_escalation_rate": _pct(e["de_escalated"], escalations),
        "handoff_delay": {
            "p50": _round(e["handoff_p50"]),
            "p90": _round(e["handoff_p90"]),
            "over_2h": e["over_2h"],
            "high_priority_p90": _round(e["handoff_high_p90"]),
            "over_30m_high": e["over_30m_high"],
            "first_action_p50": _round(e["first_action_p50"]),
            "first_action_p90": _round(e["first_action_p90"]),
        },
        "priority_mistranslation_rate": _pct(e["mistranslated"], escalations),
        "repeat_escalation_rate": _pct(e["repeated"], escalations),
        "context_loss_rate": _pct(e["context_lost"], escalations),
        "sla_compliance_escalated": _pct(t["clocks_met"] or 0, t["clocks_stopped"] or 0),
        "sla_compliance_escalation_clocks": _clock_compliance(clocks),
        "post_escalation_csat": _round(t["csat"], 2),
        "csat_responses": t["csat_responses"],
        "first_tier_resolution_rate": _pct(t["first_tier"], t["finished"]),
        "escalation_to_call_rate": _pct(e["called"], escalations),
        "root_cause_recorded_share": _pct(e["root_caused"], e["resolved"]),
        "reviews": reviews["reviews"],
        "reviews_done_share": _pct(reviews["done"], reviews["reviews"]),
        "by_trigger": {
            row["trigger"]: {
                "escalations": row["escalations"],
                "bounceback_rate": _pct(row["returned"], row["escalations"]),
                "de_escalation_rate": _pct(row["de_escalated"], row["escalations"]),
                "acknowledge_p50": _round(row["acknowledge_p50"]),
            }
            for row in triggers
        },
    }
    result["health"] = grade_all(result, health.ranges(overrides or {}))
    return result


def graded_value(result: dict, metric: str) -> float | None:
    """The one number a metric's health reads."""
    if metric == "time_to_escalate":
        return result["time_to_escalate"]["p50"]
    if metric == "post_escalation_resolution":
        return result["post_escalation_resolution"]["p50"]
    if metric == "handoff_delay":
        return result["handoff_delay"]["high_priority_p90"]
    return result[metric]


def grade_all(result: dict, ranges: dict) -> dict[str, str]:
    return {metric: health.grade(graded_value(result, metric), limits) for metric, limits in ranges.items()}
