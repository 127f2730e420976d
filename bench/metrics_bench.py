"""Escalation metrics benchmark: every metric of `metrics.queries.escalation_metrics` (plus the daily series and
the per-rule advice the dashboard also reads) for one tenant with --tickets tickets and --escalations
escalations over 90 days, against the issue's target (< 2 s for all metrics), with a naive baseline measured
in the same run:

- naive: what one writes first -- a Python loop over the ORM: the period's tickets, and for each ticket its
  escalations, clocks and CSAT by queries of their own (N+1), the percentiles and rates computed in Python.
  It is measured on a --naive-days window (all of its tickets) and extrapolated linearly to the 90 days
  (labelled as such); on that window its numbers are compared with the SQL's, so the ratio is between two
  implementations that agree.

    .venv/bin/python bench/metrics_bench.py [--tickets 1000000] [--escalations 150000] [--repeat 5]

Runs against DATABASE_URL (its database name must contain "bench"): migrated, then the bench tenant is made
through `helpdesk.workflows.tenant_bootstrap` (the default matrix, policies and calendars) and its facts are
written with set-based SQL as the owner (--reuse keeps what a previous run wrote). Measured in this process
as the app role under RLS, inside the tenant (as a request runs). Results: bench/METRICS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from escalation.models import Escalation, EscalationRule  # noqa: E402
from helpdesk import workflows  # noqa: E402
from helpdesk.db.base import owner_mode  # noqa: E402
from helpdesk.models import Tenant  # noqa: E402
from helpdesk.tenancy import tenant_context  # noqa: E402
from metrics import queries  # noqa: E402
from metrics.models import CsatResponse  # noqa: E402
from metrics.period import Query  # noqa: E402
from slas import clock  # noqa: E402
from slas.models import BusinessCalendar, SlaTimer  # noqa: E402
from tickets.models import Ticket  # noqa: E402

SLUG = "metrics-bench"
DAYS = 90
TARGET_S = 2.0
TZ = "Europe/Berlin"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the data --------------------------------------------------------------------------------------------

GENERATE = """
SELECT setseed(0.2026);
INSERT INTO tickets_account (tenant_id, name, plan, vip, annual_contract_value, lifetime_value, created_at, updated_at)
SELECT %(t)s, 'Account ' || g, 'standard', g %% 50 = 0, 0, 0, %(now)s, %(now)s FROM generate_series(1, 5000) g;

INSERT INTO tickets_customer (tenant_id, email, name, phone, account_id, created_at, updated_at)
SELECT %(t)s, 'c' || g || '@bench.test', '', '',
       CASE WHEN g %% 5 = 0 THEN NULL
            ELSE (SELECT min(id) FROM tickets_account WHERE tenant_id = %(t)s) + g %% 5000 END,
       %(now)s, %(now)s
FROM generate_series(1, 50000) g;

CREATE TEMP TABLE bench_t AS
SELECT g, %(now)s - (random() * interval '90 days') AS created_at,
       (ARRAY['low','normal','normal','normal','high','high','urgent'])[1 + floor(random() * 7)::int] AS priority,
       (ARRAY['email','chat','phone','web','api','social'])[1 + floor(random() * 6)::int] AS channel,
       (ARRAY['billing','login','export','api','mobile','refund','outage','other'])[1 + floor(random() * 8)::int]
           AS category,
       CASE WHEN random() < 0.7 THEN 'solved' WHEN random() < 0.5 THEN 'closed' ELSE 'open' END AS status,
       (SELECT min(id) FROM tickets_customer WHERE tenant_id = %(t)s) + (g %% 50000) AS requester_id
FROM generate_series(1, %(tickets)s) g;

INSERT INTO tickets_ticket (tenant_id, subject, description, status, priority, channel, category, tags, tier,
    sentiment, escalated, escalation_count, follow_up_count, exchange_count, failed_attempt_count,
    last_author_type, created_at, updated_at, requester_id, account_id, sla_at_risk, sla_breached, triage,
    triage_reasons, external_id)
SELECT %(t)s, 'Bench ticket ' || b.g, 'x', b.status, b.priority, b.channel, b.category, '{}', 1, 0,
       false, CASE WHEN b.g %% 7 = 0 THEN 1 + (b.g %% 140 = 0)::int ELSE 0 END, 0, 0, 0, 'customer',
       b.created_at, b.created_at, b.requester_id, c.account_id, false, false, 'autonomous', '[]', 'bench-' || b.g
FROM bench_t b JOIN tickets_customer c ON c.id = b.requester_id
ORDER BY b.g;

CREATE TEMP TABLE bench_e AS
SELECT t.id AS ticket_id, t.created_at + random() * interval '8 hours' + (n - 1) * interval '1 day' AS created_at,
       n - 1 AS cycle, random() AS r, random() AS s, random() AS u
FROM tickets_ticket t CROSS JOIN LATERAL generate_series(1, t.escalation_count) n
WHERE t.tenant_id = %(t)s AND t.escalation_count > 0;

INSERT INTO escalation_escalation (tenant_id, ticket_id, kind, status, trigger, rule_id, reason, cycle, level,
    from_tier, to_tier, requested_by_label, summary, summary_drafted, to_call, created_at, acknowledged_at,
    resolved_at, returned_at, de_escalated_at, resolution, root_cause, return_reason, fallback_reason)
SELECT %(t)s, e.ticket_id, 'functional',
       CASE WHEN e.r < 0.60 THEN 'resolved' WHEN e.r < 0.68 THEN 'returned' WHEN e.r < 0.75 THEN 'de_escalated'
            WHEN e.r < 0.85 THEN 'acknowledged' ELSE 'requested' END,
       CASE WHEN e.s < 0.3 THEN 'manual' ELSE r.slug END,
       CASE WHEN e.s < 0.3 THEN NULL ELSE r.id END,
       'bench', e.cycle, 1, 1, 2, 'bench', '{}', true, false, e.created_at,
       CASE WHEN e.r < 0.60 OR (e.r >= 0.68 AND e.r < 0.85) THEN e.created_at + e.u * interval '3 hours' END,
       CASE WHEN e.r < 0.60 THEN e.created_at + interval '3 hours' + e.u * interval '2 days' END,
       CASE WHEN e.r >= 0.60 AND e.r < 0.68 THEN e.created_at + e.u * interval '4 hours' END,
       CASE WHEN e.r >= 0.68 AND e.r < 0.75 THEN e.created_at + interval '3 hours' + e.u * interval '1 day' END,
       '', CASE WHEN e.r < 0.42 THEN 'cause ' || floor(e.u * 200)::int ELSE '' END,
       CASE WHEN e.r >= 0.60 AND e.r < 0.64 THEN 'Missing information: no logs'
            WHEN e.r >= 0.64 AND e.r < 0.68 THEN 'Wrong team' ELSE '' END,
       ''
FROM bench_e e
JOIN LATERAL (SELECT id, slug FROM escalation_escalationrule
              WHERE tenant_id = %(t)s ORDER BY id OFFSET floor(e.s * 20)::int %% 20 LIMIT 1) r ON true;

INSERT INTO escalation_rulefiring (tenant_id, ticket_id, rule_id, cycle, escalation_id, reason, created_at,
    fallback_reason)
SELECT %(t)s, e.ticket_id, e.rule_id, e.cycle, e.id, 'bench', e.created_at, ''
FROM escalation_escalation e WHERE e.tenant_id = %(t)s AND e.rule_id IS NOT NULL;

INSERT INTO tickets_ticketevent (tenant_id, ticket_id, kind, actor_label, before, after, created_at)
SELECT %(t)s, e.ticket_id, 'escalated', 'bench', '{}'::jsonb, jsonb_build_object('escalation', e.id), e.created_at
FROM escalation_escalation e WHERE e.tenant_id = %(t)s
UNION ALL
SELECT %(t)s, e.ticket_id, 'escalation_de_escalated', 'bench', '{}'::jsonb,
       jsonb_build_object('escalation', e.id, 'tier', CASE WHEN e.id %% 4 = 0 THEN 0 ELSE 1 END), e.de_escalated_at
FROM escalation_escalation e WHERE e.tenant_id = %(t)s AND e.status = 'de_escalated'
UNION ALL
SELECT %(t)s, e.ticket_id, 'updated', 'bench', '{"priority": "high"}'::jsonb, '{"priority": "normal"}'::jsonb,
       e.created_at + interval '10 minutes'
FROM escalation_escalation e WHERE e.tenant_id = %(t)s AND e.id %% 30 = 0;

INSERT INTO slas_slatimer (tenant_id, ticket_id, escalation_id, calendar_id, metric, target_minutes, started_at,
    pauses, warn_percents, status, met_at, breached_at, business_minutes, margin_minutes, created_at, updated_at)
SELECT %(t)s, t.id, 0, %(cal)s, m.metric, m.target, t.created_at, '[]', '{}',
       CASE WHEN x.v < 0.8 THEN 'met' WHEN x.v < 0.9 THEN 'breached' ELSE 'running' END,
       CASE WHEN x.v < 0.9 THEN t.created_at + (x.v * m.target * 1.25) * interval '1 minute' END,
       CASE WHEN x.v >= 0.8 AND x.v < 0.9 THEN t.created_at + m.target * interval '1 minute' END,
       CASE WHEN x.v < 0.9 THEN x.v * m.target * 1.25 END,
       CASE WHEN x.v < 0.9 THEN m.target - x.v * m.target * 1.25 END,
       %(now)s, %(now)s
FROM tickets_ticket t
CROSS JOIN (VALUES ('first_response', 60), ('resolution', 600)) m(metric, target)
CROSS JOIN LATERAL (SELECT random() + t.id * 0 AS v) x
WHERE t.tenant_id = %(t)s;

INSERT INTO slas_slatimer (tenant_id, ticket_id, escalation_id, calendar_id, metric, target_minutes, started_at,
    pauses, warn_percents, status, met_at, breached_at, business_minutes, margin_minutes, created_at, updated_at)
SELECT %(t)s, e.ticket_id, e.id, %(cal)s, m.metric, m.target, e.created_at, '[]', '{}',
       CASE WHEN x.v < 0.7 THEN 'met' WHEN x.v < 0.9 THEN 'breached' ELSE 'running' END,
       CASE WHEN x.v < 0.9 THEN e.created_at + (x.v * m.target * 1.4) * interval '1 minute' END,
       CASE WHEN x.v >= 0.7 AND x.v < 0.9 THEN e.created_at + m.target * interval '1 minute' END,
       CASE WHEN x.v < 0.9 THEN x.v * m.target * 1.4 END,
       CASE WHEN x.v < 0.9 THEN m.target - x.v * m.target * 1.4 END,
       %(now)s, %(now)s
FROM escalation_escalation e
CROSS JOIN (VALUES ('escalation_acknowledge', 30), ('escalation_first_response', 60)) m(metric, target)
CROSS JOIN LATERAL (SELECT random() + e.id * 0 AS v) x
WHERE e.tenant_id = %(t)s;

INSERT INTO callnotes_call (tenant_id, ticket_id, escalation_id, status, suggested_trigger, suggested_reason,
    timezone, routing, attendees, stakeholders, uid, sequence, created_at, cancel_reason, root_cause, resolution,
    customer_summary, summary_approved_by)
SELECT %(t)s, e.ticket_id, e.id, CASE WHEN e.id %% 3 = 0 THEN 'cancelled' ELSE 'completed' END, e.trigger, '',
       '', '', '{}', '{}', gen_random_uuid(), 0, e.created_at, '', '', '', '', ''
FROM escalation_escalation e WHERE e.tenant_id = %(t)s AND e.id %% 25 = 0;

INSERT INTO metrics_csatresponse (tenant_id, ticket_id, score, source, created_at)
SELECT %(t)s, t.id, 1 + (t.id %% 5), 'api', t.created_at + interval '3 days'
FROM tickets_ticket t WHERE t.tenant_id = %(t)s AND t.escalation_count > 0 AND t.id %% 4 = 0;
"""


def build(args) -> Tenant:
    tenant = Tenant.objects.filter(slug=SLUG).first()
    if tenant is None:
        tenant = workflows.tenant_bootstrap(slug=SLUG, name="Metrics bench", timezone=TZ)
    with tenant_context(tenant):
        written = Ticket.objects.exists()
    if written and args.reuse:
        return tenant
    if written:
        raise SystemExit(f"the bench tenant has data in {connection.settings_dict['NAME']}: pass --reuse, or drop it")
    with tenant_context(tenant):
        calendar = BusinessCalendar.objects.get(name="24/7")
    log(f"writing {args.tickets:,} tickets and ~{args.escalations:,} escalations with set-based SQL (owner)")
    started = time.monotonic()
    with owner_mode(), connection.cursor() as cursor:
        cursor.execute(GENERATE, {"t": tenant.pk, "now": timezone.now(), "tickets": args.tickets, "cal": calendar.pk})
        cursor.execute("VACUUM ANALYZE" if not connection.in_atomic_block else "ANALYZE")
    log(f"written in {time.monotonic() - started:.0f} s")
    return tenant


# --- the naive baseline ----------------------------------------------------------------------------------


def _percentile(values: list[float], fraction: float) -> float | None:
    """percentile_cont: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def naive(query: Query) -> dict:
    """The ticket metrics and the main escalation ones, ticket by ticket over the ORM."""
    start, end = query.start, query.end
    tickets = escalated = re_escalated = finished = first_tier = 0
    waits, scores, met, stopped = [], [], 0, 0
    for ticket in Ticket.objects.filter(created_at__gte=start, created_at__lt=end).iterator(chunk_size=2000):
        tickets += 1
        mine = list(Escalation.objects.filter(ticket=ticket).order_by("created_at"))
        if ticket.status in ("solved", "closed"):
            finished += 1
            first_tier += not mine
        if not mine:
            continue
        escalated += 1
        re_escalated += len(mine) > 1
        waits.append((mine[0].created_at - ticket.created_at).total_seconds() / 60)
        for timer in SlaTimer.objects.filter(ticket=ticket, escalation_id=0):
            stopped += timer.status in ("met", "breached")
            met += timer.status == "met"
        csat = CsatResponse.objects.filter(ticket=ticket).first()
        if csat is not None and csat.created_at >= mine[0].created_at:
            scores.append(csat.score)
    escalations = returned = 0
    resolutions, handoffs = [], []
    for escalation in Escalation.objects.filter(created_at__gte=start, created_at__lt=end).iterator(chunk_size=2000):
        escalations += 1
        returned += escalation.status == "returned"
        if escalation.resolved_at and escalation.status == "resolved":
            resolutions.append((escalation.resolved_at - escalation.created_at).total_seconds() / 60)
        if escalation.acknowledged_at:
            handoffs.append((escalation.acknowledged_at - escalation.created_at).total_seconds() / 60)

    def pct(part, whole):
        return round(100.0 * part / whole, 1) if whole else None

    def rnd(value, digits=1):
        return None if value is None else round(value, digits)

    return {
        "tickets": tickets,
        "escalations": escalations,
        "escalation_rate": pct(escalated, tickets),
        "time_to_escalate": {"p50": rnd(_percentile(waits, 0.5)), "p90": rnd(_percentile(waits, 0.9))},
        "post_escalation_resolution": {
            "p50": rnd(_percentile(resolutions, 0.5)),
            "p90": rnd(_percentile(resolutions, 0.9)),
        },
        "re_escalation_rate": pct(re_escalated, escalated),
        "bounceback_rate": pct(returned, escalations),
        "handoff": (rnd(_percentile(handoffs, 0.5)), rnd(_percentile(handoffs, 0.9))),
        "sla_compliance_escalated": pct(met, stopped),
        "post_escalation_csat": rnd(sum(scores) / len(scores), 2) if scores else None,
        "first_tier_resolution_rate": pct(first_tier, finished),
    }


def comparable(result: dict) -> dict:
    keys = ("tickets", "escalations", "escalation_rate", "time_to_escalate", "post_escalation_resolution",
            "re_escalation_rate", "bounceback_rate", "sla_compliance_escalated", "post_escalation_csat",
            "first_tier_resolution_rate")  # fmt: skip
    out = {key: result[key] for key in keys}
    out["handoff"] = (result["handoff_delay"]["p50"], result["handoff_delay"]["p90"])
    return out


# --- measuring -------------------------------------------------------------------------------------------


def backend_cpu() -> float | None:
    """CPU seconds the PostgreSQL backend of this connection has used (user + system), from /proc: a measure
    the machine's load does not inflate, unlike wall time (None if the server is not local)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(function, repeat: int) -> tuple[float, float, int, float | None]:
    """(median s, max s, SQL statements of one run, median backend CPU s) over `repeat` runs after one warm-up.
    The backend's CPU leaves out parallel workers' (only metrics_ticket_counts uses them)."""
    function()
    seconds, cpu = [], []
    for _ in range(repeat):
        cpu_before = backend_cpu()
        before = len(connection.queries)
        started = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - started)
        statements = len(connection.queries) - before
        cpu_after = backend_cpu()
        if cpu_before is not None and cpu_after is not None:
            cpu.append(cpu_after - cpu_before)
    return statistics.median(seconds), max(seconds), statements, statistics.median(cpu) if cpu else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--escalations", type=int, default=150_000, help="informative: 1 ticket in 7 escalates")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--naive-days", type=int, default=3)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    if "bench" not in connection.settings_dict["NAME"]:
        raise SystemExit("DATABASE_URL must name a database whose name contains 'bench'")
    call_command("migrate", "--noinput", verbosity=0)
    tenant = build(args)
    from django.conf import settings

    settings.DEBUG = True  # count the statements (connection.queries)
    now = timezone.now()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    with tenant_context(tenant):
        today = clock.local_today(now, TZ)
        whole = Query(start_day=today - timedelta(days=DAYS - 1), end_day=today + timedelta(days=1), timezone=TZ)
        counts = {
            "tickets": Ticket.objects.count(),
            "escalations": Escalation.objects.count(),
            "timers": SlaTimer.objects.count(),
            "rules": EscalationRule.objects.count(),
        }
        print("data: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
        rows = []
        result = queries.escalation_metrics(whole, tenant_id=tenant.pk, now=now)
        print(f"90 days: {result['tickets']:,} tickets, {result['escalations']:,} escalations, escalation rate "
              f"{result['escalation_rate']} %, handoff p50 {result['handoff_delay']['p50']} min")  # fmt: skip
        rows.append(("all metrics, 90 days", *timed(
            lambda: queries.escalation_metrics(whole, tenant_id=tenant.pk, now=now), args.repeat)))  # fmt: skip
        rows.append(("daily series, 90 days", *timed(
            lambda: queries.series(whole, tenant_id=tenant.pk, interval="day"), args.repeat)))  # fmt: skip
        rows.append(("per-rule advice, 90 days", *timed(
            lambda: queries.rule_rows(whole, tenant_id=tenant.pk), args.repeat)))  # fmt: skip
        filtered = Query(start_day=whole.start_day, end_day=whole.end_day, timezone=TZ,
                         filters={"priority": "urgent", "channel": "email"})  # fmt: skip
        rows.append(("all metrics, 90 days, priority + channel filters", *timed(
            lambda: queries.escalation_metrics(filtered, tenant_id=tenant.pk, now=now), args.repeat)))  # fmt: skip
        window = Query(start_day=today - timedelta(days=args.naive_days), end_day=today, timezone=TZ)
        sql_window = queries.escalation_metrics(window, tenant_id=tenant.pk, now=now)
        started = time.perf_counter()
        before = len(connection.queries)
        naive_window = naive(window)
        naive_s = time.perf_counter() - started
        naive_statements = len(connection.queries) - before
        agree = naive_window == comparable(sql_window)
        sql_window_s = timed(lambda: queries.escalation_metrics(window, tenant_id=tenant.pk, now=now), args.repeat)[0]

    print("\n| what | median | max | backend CPU (median) | SQL statements |\n|---|---|---|---|---|")
    for name, median, worst, statements, cpu in rows:
        cpu_ms = "n/a" if cpu is None else f"{cpu * 1000:,.0f} ms"
        print(f"| {name} | {median * 1000:,.0f} ms | {worst * 1000:,.0f} ms | {cpu_ms} | {statements} |")
    share = naive_window["tickets"] / max(1, result["tickets"])
    print(f"| naive ORM loop, {args.naive_days} days ({naive_window['tickets']:,} tickets, "
          f"{naive_window['escalations']:,} escalations) | {naive_s:,.1f} s | | | {naive_statements:,} |")  # fmt: skip
    print(f"| SQL, same {args.naive_days} days | {sql_window_s * 1000:,.0f} ms | | | 3 |")
    extrapolated = naive_s / share
    total = rows[0][1]
    print(
        f"\nnaive extrapolated to 90 days: {extrapolated:,.0f} s (x{1 / share:.1f}); "
        f"ratio naive/SQL: {extrapolated / total:,.0f}x over 90 days, {naive_s / sql_window_s:,.0f}x on the window"
    )
    print(f"the naive loop's numbers {'EQUAL' if agree else 'DIFFER FROM'} the SQL's on the window")
    if not agree:
        print("naive:", naive_window, "\nsql:  ", comparable(sql_window))
    print(f"target < {TARGET_S} s for all metrics: {'met' if total < TARGET_S else 'MISSED'} ({total:.2f} s)")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
