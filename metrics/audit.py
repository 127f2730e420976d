"""The 30-day escalation audit the seeds prescribe before writing rules ("Audit your last 30 days of escalated
tickets ... What was the original issue type? How long did the ticket sit before escalation? Who made the
escalation call? What was the outcome? Did the customer churn, complain further, or leave a negative review?
You'll almost always find 3 to 5 recurring issue types that account for most escalations. Start there.").

One row per escalation created in the period (by default the last 30 local days of the tenant's zone, as every
metrics endpoint: metrics/period.py), oldest first, with the same filters as the metrics:
    issue type      the ticket's category ("uncategorised" when it has none)
    minutes before  ticket creation -> this escalation, wall minutes
    escalated by    `rule` (and the rule's slug) or `person` (and who, as recorded); `system` for the rest
    outcome         status, resolution, root cause
    signals         what followed within SIGNAL_DAYS (30) of the escalation: the ticket reopened (its audit
                    trail's `reopened` event), a negative CSAT (score <= NEGATIVE_CSAT, 2 of 5) given after it,
                    the same ticket escalated again, another ticket of the same account escalated. The product
                    holds no churn record: a reopened ticket and a low score are the complaint signals it has.

Recurring issue types (decision): the escalations grouped by issue type, the largest first, those with at least
two escalations, at most five — the seeds' "3 to 5". Each group carries its share of the period's escalations,
its most frequent root cause (case and spaces aside, as metrics/queries.py compares them) and trigger, the median
minutes before escalation and how many of its escalations had a signal. Root causes are free text, so grouping
by category and root cause together split one issue into many one-row groups; the category is what the seeds
call the issue type, the root cause is shown as what the group's escalations most often came down to.
Escalations of tickets without a category are not an issue type (a tester saw "uncategorised" ranked first among
the recurring ones): they are counted apart, as `uncategorised` (the group's fields, or null when there are none),
never ranked among the groups and not in `groups_share`; the rows keep "uncategorised" as their issue type.

Reads: one aggregate statement for the groups, then the rows in pages of PAGE by (created_at, id), each page its
own statement inside the tenant's context, so the CSV streams in bounded memory (metrics/api.py, metrics/admin.py).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import timedelta

from django.http import StreamingHttpResponse

from helpdesk.tenancy import tenant_context
from metrics import queries
from metrics.period import Query

SIGNAL_DAYS = 30
NEGATIVE_CSAT = 2
MIN_RECURRING, MAX_GROUPS = 2, 5
PAGE = 2000
UNCATEGORISED = "uncategorised"
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): such a text cell is
# written with a leading apostrophe, which spreadsheets show as text. Numbers are written as numbers.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# base: the period's escalations (a page of them for the rows) with their per-ticket signals (indexed probes by
# ticket). The account signal is a join instead: as a correlated EXISTS through the account's tickets it cost
# 0.2 ms a row, 2.6 s of 3.5 s for 15,000 escalations (bench/METRICS.md); `later` holds the escalations that can
# follow one of base's (after its first, within SIGNAL_DAYS of its last) with their account, and a hash join
# on the account pairs them.
FACTS = """
WITH base AS (
    SELECT e.id, e.ticket_id, e.created_at, e.trigger, e.rule_id, e.requested_by_label, e.kind, e.status,
           e.resolution, e.root_cause, t.created_at AS ticket_created_at, t.subject, t.priority, t.account_id,
           COALESCE(NULLIF(t.category, ''), %(uncategorised)s) AS issue_type, a.name AS account,
           (t.category = '') AS no_category,
           lower(btrim(e.root_cause)) AS cause,
           {minutes_before} AS minutes_before,
           EXISTS (SELECT 1 FROM tickets_ticketevent v
                   WHERE v.tenant_id = %(tenant)s AND v.ticket_id = e.ticket_id AND v.kind = 'reopened'
                     AND v.created_at > e.created_at AND v.created_at <= e.created_at + %(signal)s) AS reopened,
           EXISTS (SELECT 1 FROM metrics_csatresponse c
                   WHERE c.tenant_id = %(tenant)s AND c.ticket_id = e.ticket_id AND c.score <= %(negative)s
                     AND c.created_at >= e.created_at AND c.created_at <= e.created_at + %(signal)s) AS negative_csat,
           EXISTS (SELECT 1 FROM escalation_escalation n
                   WHERE n.tenant_id = %(tenant)s AND n.ticket_id = e.ticket_id AND n.id <> e.id
                     AND (n.created_at, n.id) > (e.created_at, e.id)
                     AND n.created_at <= e.created_at + %(signal)s) AS escalated_again
    FROM escalation_escalation e
    JOIN tickets_ticket t ON t.id = e.ticket_id AND t.tenant_id = %(tenant)s
    LEFT JOIN tickets_account a ON a.id = t.account_id AND a.tenant_id = %(tenant)s
    WHERE e.tenant_id = %(tenant)s AND e.created_at >= %(start)s AND e.created_at < %(end)s {where} {page}
), later AS (
    SELECT n.ticket_id, n.created_at, nt.account_id
    FROM escalation_escalation n JOIN tickets_ticket nt ON nt.id = n.ticket_id AND nt.tenant_id = %(tenant)s
    WHERE n.tenant_id = %(tenant)s AND nt.account_id IS NOT NULL
      AND n.created_at > (SELECT min(created_at) FROM base)
      AND n.created_at <= (SELECT max(created_at) FROM base) + %(signal)s
), followed AS (
    SELECT DISTINCT b.id FROM base b
    JOIN later l ON l.account_id = b.account_id AND l.ticket_id <> b.ticket_id
                AND l.created_at > b.created_at AND l.created_at <= b.created_at + %(signal)s
)
SELECT base.*, (followed.id IS NOT NULL) AS account_escalated_again
FROM base LEFT JOIN followed ON followed.id = base.id
"""

# A page of rows: base cut at the keyset before the signals are joined.
PAGE_CUT = "AND (e.created_at, e.id) > (%(after_at)s, %(after_id)s) ORDER BY e.created_at, e.id LIMIT %(page)s"

SIGNALED = "(reopened OR negative_csat OR escalated_again OR account_escalated_again)"

GROUPS_SQL = """
WITH x AS ({facts}),
g AS (
    SELECT issue_type, no_category, count(*) AS escalations, count(DISTINCT ticket_id) AS tickets,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY minutes_before) AS minutes_before_p50,
           count(*) FILTER (WHERE {signaled}) AS with_signal
    FROM x GROUP BY issue_type, no_category
), causes AS (
    SELECT DISTINCT ON (issue_type, no_category) issue_type, no_category, min(btrim(root_cause)) AS root_cause,
           count(*) AS n
    FROM x WHERE cause <> '' GROUP BY issue_type, no_category, cause
    ORDER BY issue_type, no_category, count(*) DESC, cause
), triggers AS (
    SELECT DISTINCT ON (issue_type, no_category) issue_type, no_category, trigger, count(*) AS n
    FROM x GROUP BY issue_type, no_category, trigger ORDER BY issue_type, no_category, count(*) DESC, trigger
)
SELECT g.*, causes.root_cause AS top_root_cause, COALESCE(causes.n, 0) AS top_root_cause_escalations,
       triggers.trigger AS top_trigger, triggers.n AS top_trigger_escalations, (SELECT count(*) FROM x) AS total
FROM g LEFT JOIN causes USING (issue_type, no_category) LEFT JOIN triggers USING (issue_type, no_category)
ORDER BY g.escalations DESC, g.issue_type, g.no_category
"""

ROWS_SQL = """
SELECT * FROM ({facts}) x ORDER BY x.created_at, x.id
"""

COLUMNS = (
    "escalation", "ticket", "subject", "issue_type", "priority", "account", "ticket_created_at", "escalated_at",
    "minutes_before_escalation", "escalated_by", "escalated_by_name", "kind", "status", "resolution",
    "root_cause", "reopened", "negative_csat", "escalated_again", "account_escalated_again", "signal",
)  # fmt: skip
GROUP_COLUMNS = (
    "issue_type", "escalations", "share", "tickets", "top_root_cause", "top_root_cause_escalations",
    "top_trigger", "minutes_before_escalation_p50", "with_signal",
)  # fmt: skip


def _params(query: Query, tenant_id: int, *, page: bool = False) -> tuple[str, dict]:
    params = {
        "tenant": tenant_id,
        "start": query.start,
        "end": query.end,
        "signal": timedelta(days=SIGNAL_DAYS),
        "negative": NEGATIVE_CSAT,
        "uncategorised": UNCATEGORISED,
    }
    facts = FACTS.format(
        minutes_before=queries._minutes("e.created_at - t.created_at"),
        where=queries._escalation_where(query, "e", params),
        page=PAGE_CUT if page else "",
    )
    return facts, params


def recurring_issue_types(query: Query, *, tenant_id: int) -> dict:
    """The period's escalations by issue type: {"escalations": total, "groups": the recurring ones (<= 5)}."""
    facts, params = _params(query, tenant_id)
    queries._session()  # as for every metric: JIT compiles these for longer than they run
    rows = queries._fetch(GROUPS_SQL.format(facts=facts, signaled=SIGNALED), params)
    total = rows[0]["total"] if rows else 0
    # By the category itself, not the label: a category a tenant named "uncategorised" is an issue type like any.
    typed = [_group(row, total) for row in rows if not row["no_category"]]
    groups = [group for group in typed if group["escalations"] >= MIN_RECURRING][:MAX_GROUPS]
    uncategorised = next((_group(row, total) for row in rows if row["no_category"]), None)
    covered = sum(group["escalations"] for group in groups)
    return {
        "escalations": total,
        "groups": groups,
        "groups_share": queries._pct(covered, total),
        "uncategorised": uncategorised,
    }


def _group(row: dict, total: int) -> dict:
    return {
        "issue_type": row["issue_type"],
        "escalations": row["escalations"],
        "share": queries._pct(row["escalations"], total),
        "tickets": row["tickets"],
        "top_root_cause": row["top_root_cause"] or "",
        "top_root_cause_escalations": row["top_root_cause_escalations"],
        "top_trigger": row["top_trigger"],
        "minutes_before_escalation_p50": queries._round(row["minutes_before_p50"]),
        "with_signal": row["with_signal"],
    }


def _row(raw: dict) -> dict:
    by = "rule" if raw["rule_id"] is not None else ("person" if raw["trigger"] == "manual" else "system")
    signals = {k: raw[k] for k in ("reopened", "negative_csat", "escalated_again", "account_escalated_again")}
    return {
        "escalation": raw["id"],
        "ticket": raw["ticket_id"],
        "subject": raw["subject"],
        "issue_type": raw["issue_type"],
        "priority": raw["priority"],
        "account": raw["account"] or "",
        "ticket_created_at": _iso(raw["ticket_created_at"]),
        "escalated_at": _iso(raw["created_at"]),
        "minutes_before_escalation": queries._round(raw["minutes_before"]),
        "escalated_by": by,
        "escalated_by_name": raw["trigger"] if by == "rule" else raw["requested_by_label"],
        "kind": raw["kind"],
        "status": raw["status"],
        "resolution": raw["resolution"],
        "root_cause": raw["root_cause"],
        **signals,
        "signal": any(signals.values()),
    }


def _iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def audit_rows(query: Query, *, tenant) -> Iterator[dict]:
    """The period's escalations, oldest first, read a page at a time, each page inside the tenant's context: the
    generator may run after the request's own transaction ended (a streamed response)."""
    facts, params = _params(query, tenant.pk, page=True)
    sql = ROWS_SQL.format(facts=facts)
    after_at, after_id = query.start - timedelta(microseconds=1), 0
    while True:
        with tenant_context(tenant):
            queries._session()
            page = queries._fetch(sql, {**params, "after_at": after_at, "after_id": after_id, "page": PAGE})
        for raw in page:
            yield _row(raw)
        if len(page) < PAGE:
            return
        after_at, after_id = page[-1]["created_at"], page[-1]["id"]


# --- CSV ------------------------------------------------------------------------------------------------


def safe_cell(value):
    """A cell as a spreadsheet should read it: None empty, booleans yes/no, text never a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(query: Query, *, summary: dict, rows: Iterator[dict]) -> Iterator[str]:
    """The audit as CSV text, line by line: the recurring issue types at the top, a blank line, then one row per
    escalation."""
    writer = csv.writer(_Echo())

    def line(values) -> str:
        return writer.writerow([safe_cell(v) for v in values])

    yield line([f"Escalation audit {query.start_day} to {query.end_day} (end excluded, {query.timezone})"])
    total, share = summary["escalations"], summary["groups_share"]
    heading = f"{total} escalations; the recurring issue types below account for {share} %"
    yield line([heading if total else "No escalations in the period."])
    yield line(["recurring issue types"])
    yield line(GROUP_COLUMNS)
    for group in summary["groups"]:
        yield line([group[name] for name in GROUP_COLUMNS])
    if summary["uncategorised"]:  # under its own heading: not an issue type, never ranked among them
        yield line(["not ranked: escalations of tickets without a category"])
        yield line([summary["uncategorised"][name] for name in GROUP_COLUMNS])
    yield line([])
    yield line(COLUMNS)
    for row in rows:
        yield line([row[name] for name in COLUMNS])


def csv_response(query: Query, summary: dict, rows: Iterator[dict]) -> StreamingHttpResponse:
    """The audit as a streamed CSV download (the API's and the admin's)."""
    response = StreamingHttpResponse(
        csv_lines(query, summary=summary, rows=rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="escalation-audit-{query.start_day}-{query.end_day}.csv"'
    return response
