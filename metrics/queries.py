"""Every escalation metric of a tenant for a period, as SQL aggregates over the stored facts: tickets and
their audit trail (tickets/), the clocks with their stored durations (slas/), escalations and rule firings
(escalation/), calls (callnotes/), CSAT responses (here). No row is looped over in Python: each number is
a count, a percentile_cont or an average with a FILTER, in two statements whatever the period's size
(after one that sets JIT off and work_mem for the transaction). The escalations' side reads the copies of
their ticket's facts (migration escalation/0010) and the outcomes of their ticket's and their own clocks
(escalation/0015) on their own rows rather than joining tickets and clocks, and the period's tickets are
counted by metrics_ticket_counts from the daily counts per filter combination (metrics/0006, after 0004):
docs/ARCHITECTURE.md, bench/METRICS.md.

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
    handoff delay: escalation -> acknowledgement, wall minutes (p50, p90 of the acknowledged ones); its health
        reads `high_priority_p90_with_waiting`: the high/urgent escalations' p90 with the ones never acknowledged
        counted at their wait (until they ended, or until `now`: a lower bound of their handoff);
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
from escalation.reviews import REPEAT_WINDOW_DAYS  # one window: the reviews and the repeat metric
from metrics import health
from metrics.period import Query

CONTEXT_LOSS_PATTERN = (
    r"\m(missing|incomplete|insufficient|lacking|lacks|without|no|not enough|need(s|ed)? more|more)\M"
    r"[^.;]{0,30}\m(info|information|details?|context|logs?|steps|screenshots?|data|repro\w*)\M"
)
PRIORITY_RANK = "ARRAY['low', 'normal', 'high', 'urgent']"
FINISHED = "('solved', 'closed')"
LIMBO_MINUTES, HIGH_HANDOFF_MINUTES = 120, 30
WORK_MEM = "64MB"


def _minutes(expression: str) -> str:
    return f"(extract(epoch FROM {expression}) / 60.0)"


def _p(fraction: float, expression: str, where: str = "") -> str:
    filtered = f" FILTER (WHERE {where})" if where else ""
    return f"percentile_cont({fraction}) WITHIN GROUP (ORDER BY {expression}){filtered}"


# The ticket filters read the copies of the ticket's current values on the escalation row (migration
# escalation/0010): no join to tickets for the escalations' side.
TICKET_COLUMNS = {"team": "team_id", "channel": "channel", "priority": "priority", "category": "category"}
ESCALATION_COLUMNS = ("kind", "trigger")


def _ticket_counts(query: Query, params: dict, *, bounds: list | None) -> str:
    """The call of metrics_ticket_counts (migration metrics/0004) for the period, the filters and the buckets'
    bounds (None: one row for the whole period). The tickets are counted as the tables' owner, within the
    tenant of the transaction: read by the app role, every row of a million paid for the two policies."""
    for name in TICKET_COLUMNS:
        params[f"f_{name}"] = query.filters.get(name)
    params["bounds"] = bounds
    return (
        "metrics_ticket_counts(%(start)s, %(end)s, %(bounds)s::timestamptz[], %(f_team)s::bigint, "
        "%(f_channel)s::text, %(f_priority)s::text, %(f_category)s::text)"
    )


def _escalation_where(query: Query, alias: str, params: dict) -> str:
    """Every filter on escalation rows: the ticket's on their ticket_* copies, kind and trigger on their own."""
    parts = []
    for name, column in TICKET_COLUMNS.items():
        if name in query.filters:
            params[f"f_{name}"] = query.filters[name]
            parts.append(f"{alias}.ticket_{column} = %(f_{name})s")
    for name in ESCALATION_COLUMNS:
        if name in query.filters:
            params[f"f_{name}"] = query.filters[name]
            parts.append(f"{alias}.{name} = %(f_{name})s")
    return "".join(f" AND {part}" for part in parts)


def _session() -> None:
    """Settings for the rest of the transaction, in one statement. JIT off: PostgreSQL's JIT compiles these
    aggregates for longer than they run (1.4 s instead of 0.3 s for the escalation statement on 20,000 tickets,
    bench/METRICS.md). work_mem: the percentiles sort up to 150,000 values and the repeats' windows sort
    180,000 narrow rows; at the server's 4 MB they spill to disk."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('jit', 'off', true), set_config('work_mem', %s, true)", [WORK_MEM])


def _fetch(sql: str, params: dict) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# --- ticket cohort --------------------------------------------------------------------------------------

# e: the tickets created in the period that escalated, from their escalations alone (the ticket's creation,
# status, filter columns and own clocks' outcomes are copied on each of its escalation rows: escalation/0010,
# 0015). n: all the period's tickets, counted by metrics_ticket_counts (migration metrics/0006). Never-escalated
# finished tickets = finished - escalated finished.
TICKETS_SQL = """
WITH e AS (
    SELECT e.ticket_id, min(e.ticket_created_at) AS created_at, min(e.ticket_status) AS status,
           min(e.created_at) AS first_at, count(*) AS n,
           min(e.ticket_clocks_met) AS clocks_met, min(e.ticket_clocks_stopped) AS clocks_stopped
    FROM escalation_escalation e
    WHERE e.tenant_id = %(tenant)s AND e.ticket_created_at >= %(start)s AND e.ticket_created_at < %(end)s {where}
    GROUP BY e.ticket_id
), n AS (
    SELECT COALESCE(sum(tickets), 0)::bigint AS tickets, COALESCE(sum(finished), 0)::bigint AS finished
    FROM {ticket_counts}
), csat AS (
    SELECT avg(c.score) AS score, count(c.score) AS responses
    FROM e JOIN metrics_csatresponse c ON c.tenant_id = %(tenant)s AND c.ticket_id = e.ticket_id
    WHERE c.created_at >= e.first_at
)
SELECT (SELECT tickets FROM n) AS tickets,
       count(*) AS escalated,
       count(*) FILTER (WHERE e.n > 1) AS re_escalated,
       {quartiles} WITHIN GROUP (ORDER BY {waited}) AS tte,
       (SELECT finished FROM n) AS finished,
       (SELECT finished FROM n) - count(*) FILTER (WHERE e.status IN {finished}) AS first_tier,
       (SELECT score FROM csat) AS csat,
       (SELECT responses FROM csat) AS csat_responses,
       sum(e.clocks_met) AS clocks_met,
       sum(e.clocks_stopped) AS clocks_stopped
FROM e
"""


def _tickets(query: Query, params: dict) -> dict:
    waited = _minutes("e.first_at - e.created_at")
    sql = TICKETS_SQL.format(
        where=_escalation_where(query, "e", params),
        ticket_counts=_ticket_counts(query, params, bounds=None),
        quartiles=QUARTILES,
        waited=waited,
        finished=FINISHED,
    )
    return _fetch(sql, params)[0]


# --- escalation cohort ----------------------------------------------------------------------------------

# p: the period's escalations (filters on the row itself, ticket_* copies included).
# Repeats: whether another ticket's escalation with the same account and category (ka*), or the same root cause
# (kc*, case and spaces aside), came before it (by time, then id) within 30 days, under the same filters. Each
# key over the period and the 30 days before, only the escalations that have it, narrow, text compared bytewise
# (COLLATE "C": only equality matters). In each key's partition by time, rows of one ticket in a row form a run,
# and the row before the run is the latest other ticket's: *1 marks each run's start with that row's time (lag),
# the next level carries it down the run with a running max (the marks only grow along the partition's time
# order, so the max so far is the current run's): one sort per key. Measured against the alternatives
# (bench/METRICS.md): count(*) over 30-day RANGE frames joined back by id ran for minutes; probes per
# escalation into an index on (tenant, account, category, created_at) cost more CPU than the sort.
# Mistranslation. lowered: the period's priority drops; de_escalated: the period's de-escalations to a tier;
# each read from its partial index, then joined to the escalations by ticket (a probe per escalation into the
# whole audit trail cost more than the rest of the statement).
# x: the period's escalations with their per-escalation facts.
ESCALATIONS_CTE = """
WITH p AS MATERIALIZED (
    SELECT e.id, e.ticket_id, e.status, e.trigger, e.created_at, e.resolved_at, e.returned_at, e.de_escalated_at,
           e.from_tier, e.ticket_priority AS priority,
           e.clock_acknowledge, e.clock_first_response, e.clock_manager_response, e.clock_update_met_periods,
           e.clock_update_misses, {first_action} AS first_action_minutes,
           {ack} AS ack_minutes,
           {waited} AS unacknowledged_minutes,
           CASE WHEN e.status = 'resolved' THEN {resolution} END AS resolution_minutes,
           (e.status = 'resolved' AND btrim(e.root_cause) <> '') AS root_caused,
           (e.status = 'returned' AND e.return_reason ~* %(context_loss)s) AS context_lost
    FROM escalation_escalation e
    WHERE e.tenant_id = %(tenant)s AND e.created_at >= %(start)s AND e.created_at < %(end)s {where}
), ka0 AS (
    SELECT e.id, e.ticket_id, e.created_at, e.ticket_account_id AS account_id, e.ticket_category COLLATE "C" AS category
    FROM escalation_escalation e
    WHERE e.tenant_id = %(tenant)s AND e.created_at >= %(lookback)s AND e.created_at < %(end)s
      AND e.ticket_account_id IS NOT NULL AND e.ticket_category <> '' {where}
), ka1 AS (
    SELECT ka0.*,
           CASE WHEN lag(ticket_id) OVER w IS DISTINCT FROM ticket_id THEN lag(created_at) OVER w END AS mark
    FROM ka0 WINDOW w AS (PARTITION BY account_id, category ORDER BY created_at, id)
), ka AS (
    SELECT id, created_at,
           max(mark) OVER (PARTITION BY account_id, category ORDER BY created_at, id ROWS UNBOUNDED PRECEDING) AS prev
    FROM ka1
), kc0 AS (
    SELECT e.id, e.ticket_id, e.created_at, lower(btrim(e.root_cause)) COLLATE "C" AS cause
    FROM escalation_escalation e
    WHERE e.tenant_id = %(tenant)s AND e.created_at >= %(lookback)s AND e.created_at < %(end)s
      AND btrim(e.root_cause) <> '' {where}
), kc1 AS (
    SELECT kc0.*,
           CASE WHEN lag(ticket_id) OVER w IS DISTINCT FROM ticket_id THEN lag(created_at) OVER w END AS mark
    FROM kc0 WINDOW w AS (PARTITION BY cause ORDER BY created_at, id)
), kc AS (
    SELECT id, created_at, max(mark) OVER (PARTITION BY cause ORDER BY created_at, id ROWS UNBOUNDED PRECEDING) AS prev
    FROM kc1
), repeated AS MATERIALIZED (
    SELECT id FROM ka WHERE created_at >= %(start)s AND prev >= created_at - {window}
    UNION
    SELECT id FROM kc WHERE created_at >= %(start)s AND prev >= created_at - {window}
), lowered AS (
    SELECT v.ticket_id, v.created_at FROM tickets_ticketevent v
    WHERE v.tenant_id = %(tenant)s AND v.kind = 'updated' AND v.before ? 'priority' AND v.created_at >= %(start)s
      AND array_position({rank}, v.after ->> 'priority') < array_position({rank}, v.before ->> 'priority')
), de_escalated AS (
    SELECT v.ticket_id, v.created_at, v.after ->> 'escalation' AS escalation, (v.after ->> 'tier')::int AS tier
    FROM tickets_ticketevent v
    WHERE v.tenant_id = %(tenant)s AND v.kind = 'escalation_de_escalated' AND v.created_at >= %(start)s
), mistranslated AS (
    SELECT e.id FROM p e JOIN lowered v ON v.ticket_id = e.ticket_id
    WHERE v.created_at >= e.created_at
      AND v.created_at < COALESCE(e.resolved_at, e.returned_at, e.de_escalated_at, 'infinity')
    UNION
    SELECT e.id FROM p e JOIN de_escalated v ON v.ticket_id = e.ticket_id AND v.created_at = e.de_escalated_at
    WHERE e.status = 'de_escalated' AND v.escalation = e.id::text AND v.tier < e.from_tier
), x AS (
    SELECT e.status, e.trigger, e.priority, e.ack_minutes, e.unacknowledged_minutes, e.resolution_minutes,
           e.root_caused, e.context_lost, e.clock_acknowledge, e.clock_first_response, e.clock_manager_response,
           e.clock_update_met_periods, e.clock_update_misses, e.first_action_minutes,
           e.id IN (SELECT id FROM repeated) AS repeated,
           e.id IN (SELECT id FROM mistranslated) AS mistranslated,
           EXISTS (SELECT 1 FROM callnotes_call c
                   WHERE c.tenant_id = %(tenant)s AND c.escalation_id = e.id AND c.status <> 'cancelled') AS called
    FROM p e
)
"""

# Percentiles as arrays (p50, p90): one sort per expression.
ESCALATIONS_SQL = """
SELECT count(*) AS escalations,
       count(*) FILTER (WHERE status = 'returned') AS returned,
       count(*) FILTER (WHERE status = 'de_escalated') AS de_escalated,
       count(*) FILTER (WHERE status = 'resolved') AS resolved,
       count(*) FILTER (WHERE root_caused) AS root_caused,
       {quartiles} WITHIN GROUP (ORDER BY resolution_minutes) AS resolution,
       {quartiles} WITHIN GROUP (ORDER BY ack_minutes) AS handoff,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY ack_minutes) FILTER (WHERE priority IN ('high', 'urgent'))
           AS handoff_high_p90,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY unacknowledged_minutes)
           FILTER (WHERE priority IN ('high', 'urgent')) AS handoff_high_p90_waiting,
       count(*) FILTER (WHERE unacknowledged_minutes > {limbo}) AS over_2h,
       count(*) FILTER (WHERE unacknowledged_minutes > {high} AND priority IN ('high', 'urgent')) AS over_30m_high,
       count(*) FILTER (WHERE mistranslated) AS mistranslated,
       count(*) FILTER (WHERE repeated) AS repeated,
       count(*) FILTER (WHERE context_lost) AS context_lost,
       count(*) FILTER (WHERE called) AS called,
       {quartiles} WITHIN GROUP (ORDER BY first_action_minutes) AS first_action,
       {clocks}
FROM x
"""

BY_TRIGGER_SQL = """
SELECT trigger, count(*) AS escalations,
       count(*) FILTER (WHERE status = 'returned') AS returned,
       count(*) FILTER (WHERE status = 'de_escalated') AS de_escalated,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ack_minutes) AS acknowledge_p50
FROM x GROUP BY trigger
"""

# The escalation clocks' outcomes, from their copies on the escalation row (migration escalation/0015): one
# clock per escalation and metric (slatimer_unique_clock), so counting escalations counts clocks. The receiver's
# first action is when the escalation's first-response clock stopped (first_action_minutes in p).
CLOCK_METRICS = {
    "escalation_acknowledge": "clock_acknowledge",
    "escalation_first_response": "clock_first_response",
    "manager_response": "clock_manager_response",
}


def _clock_aggregates() -> str:
    parts = []
    for metric, column in CLOCK_METRICS.items():
        parts.append(f"count(*) FILTER (WHERE {column} = 'met') AS \"{metric}.met\"")
        parts.append(f"count(*) FILTER (WHERE {column} IN ('met', 'breached')) AS \"{metric}.stopped\"")
    parts.append('COALESCE(sum(clock_update_met_periods), 0) AS "customer_update.met_periods"')
    parts.append('COALESCE(sum(clock_update_misses), 0) AS "customer_update.misses"')
    return ",\n       ".join(parts)


def _clock_rows(row: dict) -> list[dict]:
    """The clock aggregates of the main row, by metric (what _clock_compliance reads)."""
    rows: dict[str, dict] = {}
    for name in [name for name in row if "." in name]:
        metric, measure = name.split(".")
        rows.setdefault(metric, {"metric": metric})[measure] = row.pop(name)
    return list(rows.values())


QUARTILES = "percentile_cont(ARRAY[0.5, 0.9])"


def _escalation_cte(query: Query, params: dict) -> str:
    ack = _minutes("e.acknowledged_at - e.created_at")
    until = "COALESCE(e.acknowledged_at, e.resolved_at, e.returned_at, e.de_escalated_at, %(now)s)"
    waited = _minutes(f"{until} - e.created_at")
    params["lookback"] = query.start - timedelta(days=REPEAT_WINDOW_DAYS)
    params["context_loss"] = CONTEXT_LOSS_PATTERN
    return ESCALATIONS_CTE.format(
        window=f"INTERVAL '{REPEAT_WINDOW_DAYS} days'",
        where=_escalation_where(query, "e", params),
        ack=ack,
        waited=waited,
        rank=PRIORITY_RANK,
        first_action=_minutes("e.clock_first_response_met_at - e.created_at"),
        resolution=_minutes("e.resolved_at - e.created_at"),
    )


# One statement: x is read twice, so PostgreSQL computes it once (three statements computed it thrice).
COMBINED_SQL = """
SELECT m.*,
       (SELECT COALESCE(jsonb_agg(to_jsonb(b) ORDER BY b.escalations DESC, b.trigger), '[]'::jsonb)
        FROM ({by_trigger}) b) AS triggers
FROM ({main}) m
"""


def _escalations(query: Query, params: dict) -> tuple[dict, list[dict], list[dict]]:
    cte = _escalation_cte(query, params)
    main = ESCALATIONS_SQL.format(
        quartiles=QUARTILES, limbo=LIMBO_MINUTES, high=HIGH_HANDOFF_MINUTES, clocks=_clock_aggregates()
    )
    row = _fetch(cte + COMBINED_SQL.format(by_trigger=BY_TRIGGER_SQL, main=main), params)[0]
    # Django's connection hands jsonb back as text.
    return row, json.loads(row.pop("triggers")), _clock_rows(row)


# --- post-escalation reviews ---------------------------------------------------------------------------

# The reviews (escalation/reviews.py) of the period's escalations, with the same filters: opened, and done. One
# statement of its own: the reviews table is small (a share of the resolved escalations) and indexed by tenant.
REVIEWS_SQL = """
SELECT count(*) AS reviews, count(*) FILTER (WHERE r.status = 'done') AS done
FROM escalation_review r
JOIN escalation_escalation e ON e.id = r.escalation_id AND e.tenant_id = %(tenant)s
WHERE r.tenant_id = %(tenant)s AND e.created_at >= %(start)s AND e.created_at < %(end)s {where}
"""


def _reviews(query: Query, params: dict) -> dict:
    return _fetch(REVIEWS_SQL.format(where=_escalation_where(query, "e", params)), params)[0]


# --- rules (the matrix advice) --------------------------------------------------------------------------


def rule_rows(query: Query, *, tenant_id: int) -> list[dict]:
    """Per rule of the matrix: fired, bounced back, de-escalated, median time to acknowledge (escalation/advice.py
    reads only the escalation app's facts, so the admin's dry run shows it too)."""
    return advice.rule_advice(tenant_id=tenant_id, start=query.start, end=query.end, filters=query.filters)


# --- series ---------------------------------------------------------------------------------------------

# Tickets per bucket from metrics_ticket_counts; escalated tickets per bucket of their creation, from their
# escalations' copies (escalation/0010).
SERIES_TICKETS_SQL = """
WITH e AS (
    SELECT width_bucket(e.ticket_created_at, %(bounds)s::timestamptz[]) AS bucket,
           count(DISTINCT e.ticket_id) AS escalated
    FROM escalation_escalation e
    WHERE e.tenant_id = %(tenant)s AND e.ticket_created_at >= %(start)s AND e.ticket_created_at < %(end)s {where}
    GROUP BY 1
)
SELECT t.bucket, t.tickets, COALESCE(e.escalated, 0) AS escalated
FROM {ticket_counts} t LEFT JOIN e ON e.bucket = t.bucket
"""

SERIES_ESCALATIONS_SQL = """
SELECT width_bucket(e.created_at, %(bounds)s::timestamptz[]) AS bucket, count(*) AS escalations,
       count(*) FILTER (WHERE e.status = 'returned') AS returned,
       {ack_p50} AS handoff_p50
FROM escalation_escalation e
WHERE e.tenant_id = %(tenant)s AND e.created_at >= %(start)s AND e.created_at < %(end)s {where}
GROUP BY 1
"""


def series(query: Query, *, tenant_id: int, interval: str) -> list[dict]:
    """Daily or weekly points (local days; weeks from Monday) of the charted metrics, two statements."""
    bounds = query.bucket_starts(interval)
    _session()
    params = {"tenant": tenant_id, "start": query.start, "end": query.end, "bounds": bounds}
    tickets = {
        row["bucket"]: row
        for row in _fetch(
            SERIES_TICKETS_SQL.format(
                ticket_counts=_ticket_counts(query, params, bounds=bounds), where=_escalation_where(query, "e", params)
            ),
            params,
        )
    }
    escalations = {
        row["bucket"]: row
        for row in _fetch(
            SERIES_ESCALATIONS_SQL.format(
                where=_escalation_where(query, "e", params),
                ack_p50=_p(0.5, _minutes("e.acknowledged_at - e.created_at")),
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


def _quartiles(values: list | None) -> dict:
    """p50 and p90 of a QUARTILES array (null when nothing was measured)."""
    p50, p90 = values or (None, None)
    return {"p50": _round(p50), "p90": _round(p90)}


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
    _session()
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
        "time_to_escalate": _quartiles(t["tte"]),
        "post_escalation_resolution": _quartiles(e["resolution"]),
        "re_escalation_rate": _pct(t["re_escalated"], t["escalated"]),
        "bounceback_rate": _pct(e["returned"], escalations),
        "de_escalation_rate": _pct(e["de_escalated"], escalations),
        "handoff_delay": {
            **_quartiles(e["handoff"]),
            "over_2h": e["over_2h"],
            "high_priority_p90": _round(e["handoff_high_p90"]),
            "high_priority_p90_with_waiting": _round(e["handoff_high_p90_waiting"]),
            "over_30m_high": e["over_30m_high"],
            "first_action_p50": _quartiles(e["first_action"])["p50"],
            "first_action_p90": _quartiles(e["first_action"])["p90"],
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
        # Graded with the escalations still waiting (or never acknowledged) counted at their wait so far: graded on
        # the acknowledged ones alone, a dashboard said "ok" beside 31 escalations in limbo for over 2 h.
        return result["handoff_delay"]["high_priority_p90_with_waiting"]
    return result[metric]


def grade_all(result: dict, ranges: dict) -> dict[str, str]:
    return {metric: health.grade(graded_value(result, metric), limits) for metric, limits in ranges.items()}
