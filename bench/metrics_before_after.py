"""The escalation metrics before and after a change, side by side on the same data in the same minute
(bench/METRICS.md): the metrics module of a git revision (--before) against the working tree's, called
alternately, with the wall time and the PostgreSQL backend's CPU time of each call, after checking that both
return identical results (all metrics, two filter sets, the daily and weekly series).

    .venv/bin/python bench/metrics_before_after.py --before d94d81a [--repeat 5]

Runs against metrics_bench.py's database (DATABASE_URL, its name containing "bench", already seeded). The
revision's metrics_ticket_counts (migration metrics/0004, which counted the tickets themselves) is installed
beside the current one as metrics_ticket_counts_before, and the old module calls that one.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
import types
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from metrics_bench import SLUG, TZ, backend_cpu  # noqa: E402

from helpdesk.db.base import owner_mode  # noqa: E402
from helpdesk.models import Tenant  # noqa: E402
from helpdesk.tenancy import tenant_context  # noqa: E402
from metrics import queries as after  # noqa: E402
from metrics.period import Query  # noqa: E402
from slas import clock  # noqa: E402

OLD_NAME = "metrics_ticket_counts_before"


def _before_module(revision: str) -> types.ModuleType:
    source = subprocess.check_output(["git", "show", f"{revision}:metrics/queries.py"], text=True)
    module = types.ModuleType("queries_before")
    exec(
        compile(source.replace("metrics_ticket_counts(", f"{OLD_NAME}("), "queries_before.py", "exec"), module.__dict__
    )
    return module


def _install_old_counts() -> None:
    counts = importlib.import_module("metrics.migrations.0004_ticket_counts").TICKET_COUNTS
    with owner_mode(), connection.cursor() as cursor:
        cursor.execute(counts.replace("metrics_ticket_counts(", f"{OLD_NAME}("))
        cursor.execute(f"GRANT EXECUTE ON FUNCTION {OLD_NAME}(timestamptz, timestamptz, timestamptz[], bigint, text, "
                       f"text, text) TO {settings.APP_DB_ROLE}")  # fmt: skip
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="git revision of the metrics module to compare with")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if "bench" not in connection.settings_dict["NAME"]:
        raise SystemExit("DATABASE_URL must name a database whose name contains 'bench'")
    _install_old_counts()
    before = _before_module(args.before)
    tenant = Tenant.objects.get(slug=SLUG)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tenant_context(tenant):
        now = timezone.now()
        today = clock.local_today(now, TZ)
        whole = Query(start_day=today - timedelta(days=89), end_day=today + timedelta(days=1), timezone=TZ)
        calls = {
            "all metrics, 90 days": lambda m: m.escalation_metrics(whole, tenant_id=tenant.pk, now=now),
            "all metrics, priority + channel": lambda m: m.escalation_metrics(
                Query(whole.start_day, whole.end_day, TZ, {"priority": "urgent", "channel": "email"}),
                tenant_id=tenant.pk, now=now),
            "all metrics, category + trigger": lambda m: m.escalation_metrics(
                Query(whole.start_day, whole.end_day, TZ, {"category": "billing", "trigger": "manual"}),
                tenant_id=tenant.pk, now=now),
            "daily series, 90 days": lambda m: m.series(whole, tenant_id=tenant.pk, interval="day"),
            "weekly series, 90 days": lambda m: m.series(whole, tenant_id=tenant.pk, interval="week"),
        }  # fmt: skip
        for name, call in calls.items():
            old, new = (json.dumps(call(m), sort_keys=True, default=str) for m in (before, after))
            print(f"{name}: {'IDENTICAL' if old == new else 'DIFFERENT'}")
            if old != new:
                print(f"  before: {old}\n  after:  {new}")
        print("\n| what | code | wall median | wall min | backend CPU median | backend CPU min |")
        print("|---|---|---|---|---|---|")
        for name in ("all metrics, 90 days", "daily series, 90 days", "all metrics, priority + channel"):
            measured = {"before": ([], []), "after": ([], [])}
            for _ in range(args.repeat):
                for label, module in (("before", before), ("after", after)):
                    cpu, started = backend_cpu(), time.perf_counter()
                    calls[name](module)
                    measured[label][0].append(time.perf_counter() - started)
                    measured[label][1].append(backend_cpu() - cpu)
            for label, (wall, cpu) in measured.items():
                print(f"| {name} | {label} | {statistics.median(wall) * 1000:,.0f} ms | {min(wall) * 1000:,.0f} ms | "
                      f"{statistics.median(cpu) * 1000:,.0f} ms | {min(cpu) * 1000:,.0f} ms |")  # fmt: skip
    print(f"\nload average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
