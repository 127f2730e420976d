"""Escalation matrix dry run benchmark: how long the seeds' audit ("had this matrix run over the last 30 days")
takes for the demo tenant (`manage.py seed_demo`: 300 tickets over four weeks, the 20-rule default matrix),
through each of its doors, with the two reference points measured in the same run:

- ceiling: only the reads (the window's tickets and, for all of them at once, what the facts need) with no
  evaluation at all -- the least any dry run over these tickets can cost;
- naive: the dry run as it was first written, ticket by ticket (the facts through a fresh snapshot per ticket,
  the thread by a query of its own: eight queries a ticket); its decisions are compared with the dry run's,
  so the speed-up is between two implementations that agree.

Doors: the function itself (`escalation.dryrun.dry_run`), `GET /api/v1/escalation-rules/dry-run/` with a
manager's token and the admin's button (`/admin/escalation/escalationrule/dry-run/`, signed in as maya), both
through Django's whole WSGI stack in this process (middleware, tenant, RLS, rendering; no HTTP server).
Each figure is the median of --repeat runs after one warm-up run (which fills the configuration cache),
with the SQL statements one run issued.

Runs against DATABASE_URL (and REDIS_URL) as configured, migrated; makes the demo tenant if it is missing
(`seed_demo --if-empty`) and writes nothing else but one API token per run. Results: bench/DRYRUN.md.

    .venv/bin/python bench/dryrun_bench.py [--repeat 7] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import os
import platform
import pstats
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
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from escalation import dryrun, engine, triggers  # noqa: E402
from helpdesk import config_cache  # noqa: E402
from helpdesk.management.commands.seed_demo import DEMO_PASSWORD, DEMO_SLUG  # noqa: E402
from helpdesk.models import Role, Tenant  # noqa: E402
from helpdesk.services import api_token_create  # noqa: E402
from helpdesk.tenancy import tenant_context  # noqa: E402
from tickets.models import AuthorType, Message, Ticket  # noqa: E402

DAYS = 30


def naive(rules, now) -> dict[int, list[triggers.Decision]]:
    """The first dry run: each ticket's facts through a fresh snapshot, its customer thread by its own query."""
    decisions = {}
    window = Ticket.objects.filter(created_at__gte=now - timedelta(days=DAYS)).order_by("created_at", "id")
    for ticket in window[: dryrun.MAX_TICKETS]:
        at = min(now, ticket.solved_at or now)
        bodies = Message.objects.filter(ticket=ticket, author_type=AuthorType.CUSTOMER).values_list("body", flat=True)
        facts = dataclasses.replace(
            engine.ticket_facts(ticket, text="", now=at),
            text="\n".join([ticket.subject, ticket.description, *bodies]),
            solved=False,
        )
        decisions[ticket.pk] = [
            *triggers.evaluate(facts, rules, at, time_based=False),
            *triggers.evaluate(facts, rules, at, time_based=True),
        ]
    return decisions


def ceiling(now) -> int:
    """The batched reads alone (what the dry run reads, nothing evaluated). Absent before the batch reads."""
    from escalation.snapshot import snapshots

    with config_cache.pinned():
        tickets = dryrun.window(days=DAYS, now=now)
        moments = [min(now, t.solved_at or now) for t in tickets]
        return len(snapshots(tickets, between=(min(moments), max(moments))))


def measure(run, repeat: int) -> tuple[float, int]:
    """Median seconds of `repeat` runs after a warm-up, and the statements of one run."""
    run()
    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        run()
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), len(statements)


def doors(tenant: Tenant) -> tuple:
    _, key = api_token_create(tenant=tenant, role=Role.MANAGER, label="dry-run bench")
    token_client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Token {key}")
    admin = Client(HTTP_HOST="localhost")
    if not admin.login(username="maya", password=DEMO_PASSWORD):
        raise SystemExit("maya (the demo manager) cannot sign in: is this seed_demo's tenant?")

    def api():
        response = token_client.get(f"/api/v1/escalation-rules/dry-run/?days={DAYS}")
        assert response.status_code == 200, response.content[:300]

    def button():
        response = admin.get(f"/admin/escalation/escalationrule/dry-run/?days={DAYS}")
        assert response.status_code == 200, response.status_code

    return api, button


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions of one dry run")
    args = parser.parse_args()

    call_command("seed_demo", "--if-empty")
    tenant = Tenant.objects.get(slug=DEMO_SLUG)
    api, button = doors(tenant)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    with tenant_context(tenant):
        report = dryrun.dry_run(days=DAYS)
        print(f"demo: {report.tickets} tickets in the last {DAYS} days, {report.would_escalate} would escalate "
              f"({report.rate} %)")  # fmt: skip
        rows = [("dry_run()", *measure(lambda: dryrun.dry_run(days=DAYS), args.repeat))]
    rows.append(("API GET …/dry-run/", *measure(api, args.repeat)))
    rows.append(("admin button", *measure(button, args.repeat)))
    with tenant_context(tenant):
        now = timezone.now()
        rules = engine.active_rules()
        if hasattr(dryrun, "evaluations"):
            batched = {t.pk: ds for t, ds in dryrun.evaluations(dryrun.window(days=DAYS, now=now), rules, now)}
            agree = batched == naive(rules, now)
            rows.append(("ceiling: the reads alone", *measure(lambda: ceiling(now), args.repeat)))
        else:
            agree = None
        rows.append(("naive: ticket by ticket", *measure(lambda: naive(rules, now), args.repeat)))
        if args.profile:
            profile = cProfile.Profile()
            profile.runcall(dryrun.dry_run, days=DAYS)
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(25)
            print(out.getvalue())

    print("\n| what | median | SQL statements |\n|---|---|---|")
    for name, seconds, queries in rows:
        print(f"| {name} | {seconds * 1000:,.0f} ms | {queries:,} |")
    if agree is not None:
        print(f"\nthe dry run's decisions {'equal' if agree else 'DIFFER FROM'} the naive ones, ticket by ticket")


if __name__ == "__main__":
    main()
