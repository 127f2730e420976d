"""The 30-day escalation audit (metrics/audit.py) on bench/metrics_bench.py's data: the recurring issue types
(one statement), every row read a page at a time, and the whole CSV as the API streams it; wall and process CPU
time, statements, rows.

    .venv/bin/python bench/audit_bench.py [--tickets 300000] [--repeat 3] [--reuse]

Runs against DATABASE_URL (the data of metrics_bench's tenant, written once; --reuse keeps it). Results: the
issue-20 section of bench/METRICS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from bench.metrics_bench import TZ, build, log
from metrics import audit
from metrics.period import Query
from slas import clock


def measure(function, repeat: int) -> tuple[float, float, float, int]:
    """(median wall s, max wall s, median CPU s of this process, statements of one run) after one warm-up."""
    function()
    walls, cpus = [], []
    for _ in range(repeat):
        before = len(connection.queries)
        cpu, wall = time.process_time(), time.perf_counter()
        function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        statements = len(connection.queries) - before
    return statistics.median(walls), max(walls), statistics.median(cpus), statements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=300_000)
    parser.add_argument("--escalations", type=int, default=0, help="informative (metrics_bench: 1 ticket in 7)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    call_command("migrate", "--noinput", verbosity=0)
    tenant = build(args)
    settings.DEBUG = True  # count the statements
    now = timezone.now()
    today = clock.local_today(now, TZ)
    query = Query(start_day=today - timedelta(days=29), end_day=today + timedelta(days=1), timezone=TZ)
    from helpdesk.tenancy import tenant_context

    with tenant_context(tenant):
        summary = audit.recurring_issue_types(query, tenant_id=tenant.pk)
        log(f"30 days: {summary['escalations']:,} escalations, {len(summary['groups'])} recurring issue types")
        groups = measure(lambda: audit.recurring_issue_types(query, tenant_id=tenant.pk), args.repeat)
    rows = measure(lambda: sum(1 for _ in audit.audit_rows(query, tenant=tenant)), args.repeat)
    size = {}

    def whole_csv():
        size["bytes"] = sum(len(line) for line in audit.csv_lines(query, summary=summary, rows=audit.audit_rows(
            query, tenant=tenant)))  # fmt: skip

    csv_run = measure(whole_csv, args.repeat)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| what | median wall | max wall | median CPU (this process) | SQL statements |\n|---|---|---|---|---|")
    for name, (median, worst, cpu, statements) in (
        ("recurring issue types", groups),
        (f"all {summary['escalations']:,} rows, pages of {audit.PAGE:,}", rows),
        (f"the whole CSV ({size['bytes'] / 1e6:.1f} MB)", csv_run),
    ):
        print(f"| {name} | {median * 1000:,.0f} ms | {worst * 1000:,.0f} ms | {cpu * 1000:,.0f} ms | {statements} |")


if __name__ == "__main__":
    main()
