"""The matrix advice the seeds ask for in the 30-day audit: for each rule, how often it fired, how many of
its escalations bounced back or were de-escalated, and how fast they were acknowledged — so a manager sees
which rule is too eager (fires often, bounces) or too late (slow to be picked up). One statement; shown
beside the dry run in the admin and on the dashboard (metrics/)."""

from __future__ import annotations

from datetime import datetime

from django.db import connection

# The firings join their tickets only when a ticket filter asks; the escalations read their ticket's values from
# their own row (the ticket_* copies, migration 0010).
RULES_SQL = """
WITH f AS (
    SELECT f.rule_id, count(*) AS fired FROM escalation_rulefiring f {ticket_join}
    WHERE f.tenant_id = %(tenant)s AND f.created_at >= %(start)s AND f.created_at < %(end)s {ticket_where}
    GROUP BY f.rule_id
), x AS (
    SELECT e.rule_id, count(*) AS escalations,
           count(*) FILTER (WHERE e.status = 'returned') AS returned,
           count(*) FILTER (WHERE e.status = 'de_escalated') AS de_escalated,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM e.acknowledged_at - e.created_at) / 60.0)
               AS acknowledge_p50
    FROM escalation_escalation e
    WHERE e.tenant_id = %(tenant)s AND e.created_at >= %(start)s AND e.created_at < %(end)s
      AND e.rule_id IS NOT NULL {escalation_where}
    GROUP BY e.rule_id
)
SELECT r.id AS rule, r.slug, r.name, r.trigger, r.active,
       COALESCE(f.fired, 0) AS fired, COALESCE(x.escalations, 0) AS escalations,
       COALESCE(x.returned, 0) AS returned, COALESCE(x.de_escalated, 0) AS de_escalated, x.acknowledge_p50
FROM escalation_escalationrule r
LEFT JOIN f ON f.rule_id = r.id LEFT JOIN x ON x.rule_id = r.id
WHERE r.tenant_id = %(tenant)s AND (r.active OR f.fired IS NOT NULL OR x.escalations IS NOT NULL)
ORDER BY COALESCE(f.fired, 0) DESC, r.position, r.id
"""
TICKET_JOIN = "JOIN tickets_ticket t ON t.id = f.ticket_id AND t.tenant_id = %(tenant)s"
TICKET_COLUMNS = {"team": "team_id", "channel": "channel", "priority": "priority", "category": "category"}
ESCALATION_COLUMNS = ("kind", "trigger")


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def rule_advice(*, tenant_id: int, start: datetime, end: datetime, filters: dict | None = None) -> list[dict]:
    """Per rule (active ones, and any that fired or escalated in [start, end)), newest facts only."""
    filters = filters or {}
    params: dict = {"tenant": tenant_id, "start": start, "end": end}
    ticket_where, escalation_where = [], []
    for name, column in TICKET_COLUMNS.items():
        if name in filters:
            params[name] = filters[name]
            ticket_where.append(f" AND t.{column} = %({name})s")
            escalation_where.append(f" AND e.ticket_{column} = %({name})s")
    for name in ESCALATION_COLUMNS:
        if name in filters:
            params[name] = filters[name]
            escalation_where.append(f" AND e.{name} = %({name})s")
    sql = RULES_SQL.format(
        ticket_join=TICKET_JOIN if ticket_where else "",
        ticket_where="".join(ticket_where),
        escalation_where="".join(escalation_where),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        row["bounceback_rate"] = _pct(row["returned"], row["escalations"])
        row["de_escalation_rate"] = _pct(row["de_escalated"], row["escalations"])
        if row["acknowledge_p50"] is not None:
            row["acknowledge_p50"] = round(float(row["acknowledge_p50"]), 1)
    return rows
