"""Time a 50-rule matrix adds to a customer message, in the real request path: `workflows.message_receive`
on the seeded demo tenant, PostgreSQL under RLS as the app role, the matrix's facts read from the database.

    .venv/bin/python bench/event_rules_bench.py      # defaults: --messages 1000 --warmup 100 --seed 2026

The matrix is the default one (17 rules) plus the 33 tenant rules of bench/triggers_bench.py (sla_risk percents
moved to the policies' warning thresholds, as the API now requires). Each measured message is a customer reply
(20-160 words from the triggers bench's vocabulary, 0-2 trigger phrases spliced in) on a random open ticket,
after an agent reply (not measured), so the thread alternates as support threads do.

Per message, wall time of (perf_counter around calls, nothing replaced):
- the whole `message_receive` (post, SLA clocks, matrix, escalations), one transaction;
- `engine.evaluate` — the matrix's added time: facts from the database, triage, the pure decisions, firing;
- `services.rules_fire` inside it — opening the escalations the decisions call for.
"evaluation" = evaluate - rules_fire: what every message pays whether or not a rule fires.

A second pass runs the same messages with every rule switched off (evaluate then reads facts and triage
only): the reference for the message path without a matrix. Results: bench/TRIGGERS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_MS = 5.0


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(samples: list[float]) -> dict:
    if not samples:
        return {"n": 0}
    return {
        "n": len(samples),
        "p50_ms": round(percentile(samples, 50), 2),
        "p95_ms": round(percentile(samples, 95), 2),
        "p99_ms": round(percentile(samples, 99), 2),
        "mean_ms": round(statistics.fmean(samples), 2),
    }


def setup(args) -> None:
    from bench.api_bench import database_recreate

    database_recreate(f"{args.pg}/postgres", args.db)
    os.environ.update(
        {
            "DATABASE_URL": f"{args.pg}/{args.db}",
            "REDIS_URL": args.redis_url,
            "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789",
            "DEBUG": "0",
        }
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("seed_demo", "--tickets", str(args.tickets), verbosity=0)


def install_tenant_rules(tenant) -> int:
    from bench.triggers_bench import TENANT_RULES
    from escalation.models import EscalationRule
    from helpdesk.tenancy import tenant_context

    moved = {50: 75, 95: 90}  # the default policies warn at 75 and 90 %
    with tenant_context(tenant):
        for i, (trigger, conditions) in enumerate(TENANT_RULES):
            conditions = dict(conditions)
            if "percent" in conditions:
                conditions["percent"] = moved.get(conditions["percent"], conditions["percent"])
            EscalationRule.objects.create(
                tenant=tenant,
                name=f"Tenant rule {i}",
                slug=f"tenant-{i}",
                trigger=trigger,
                conditions=conditions,
                kind="functional",
                target_tier=2,
                response_minutes=60,
                position=200 + i,
            )
        return EscalationRule.objects.filter(active=True).count()


def messages(rng: random.Random, count: int) -> list[str]:
    from bench.triggers_bench import SPICE, VOCABULARY

    out = []
    for _ in range(count):
        words = [rng.choice(VOCABULARY) for _ in range(rng.randint(20, 160))]
        for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):
            words.insert(rng.randrange(len(words) + 1), rng.choice(SPICE))
        out.append(" ".join(words).capitalize() + ".")
    return out


class Stopwatch:
    """Wraps a module function to add up the wall time spent inside it during one message."""

    def __init__(self, module, name: str):
        self.module, self.name, self.original = module, name, getattr(module, name)
        self.spent = 0.0

        def timed(*a, **kw):
            started = time.perf_counter()
            try:
                return self.original(*a, **kw)
            finally:
                self.spent += time.perf_counter() - started

        setattr(module, name, timed)

    def take(self) -> float:
        spent, self.spent = self.spent, 0.0
        return spent * 1000


def run_pass(tenant, tickets: list, bodies: list[str], warmup: int, rng: random.Random) -> dict:
    from django.db import transaction

    from escalation import engine, services
    from helpdesk import workflows
    from helpdesk.tenancy import tenant_context
    from tickets.models import Ticket

    evaluate = Stopwatch(workflows.engine, "evaluate")
    fire = Stopwatch(engine.services, "rules_fire")
    # The facts are read in one query before evaluate is called (snapshot.event_snapshot): timed and counted
    # as the evaluation's, as they were when evaluate read them itself.
    facts = Stopwatch(workflows, "event_snapshot")
    assert engine.services is services
    rows = {"message": [], "evaluate": [], "evaluation": [], "fire": [], "fired": 0}
    quiet = {"message": [], "evaluation": []}
    try:
        for i, body in enumerate(bodies):
            ticket_id = rng.choice(tickets)
            with tenant_context(tenant):
                ticket = Ticket.objects.get(pk=ticket_id)
                workflows.message_receive(ticket=ticket, actor=None, author_type="agent", body="Looking into it.")
            evaluate.take(), fire.take(), facts.take()
            started = time.perf_counter()
            with transaction.atomic(), tenant_context(tenant):
                ticket = Ticket.objects.get(pk=ticket_id)
                escalated_before = ticket.escalation_count
                workflows.message_receive(ticket=ticket, actor=None, author_type="customer", body=body)
                ticket.refresh_from_db()
            total = (time.perf_counter() - started) * 1000
            spent, fired = evaluate.take() + facts.take(), fire.take()
            if i < warmup:
                continue
            rows["message"].append(total)
            rows["evaluate"].append(spent)
            rows["evaluation"].append(spent - fired)
            rows["fire"].append(fired)
            if ticket.escalation_count == escalated_before:
                quiet["message"].append(total)
                quiet["evaluation"].append(spent - fired)
            else:
                rows["fired"] += 1
    finally:
        workflows.engine.evaluate = evaluate.original
        engine.services.rules_fire = fire.original
        workflows.event_snapshot = facts.original
    result = {name: summary(values) for name, values in rows.items() if name != "fired"}
    result["escalated_messages"] = rows["fired"]
    result["without_escalation"] = {name: summary(values) for name, values in quiet.items()}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--tickets", type=int, default=600, help="seed_demo --tickets")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--db", default="helpdesk_bench_events")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if "bench" not in args.db:
        parser.error("--db must contain 'bench': it is dropped and recreated")
    setup(args)
    from escalation.models import EscalationRule
    from helpdesk.models import Tenant
    from helpdesk.tenancy import tenant_context
    from tickets.models import Status, Ticket

    tenant = Tenant.objects.get(slug="demo")
    active = install_tenant_rules(tenant)
    with tenant_context(tenant):
        open_tickets = list(
            Ticket.objects.exclude(status__in=[Status.SOLVED, Status.CLOSED]).values_list("pk", flat=True)
        )
    bodies = messages(random.Random(args.seed), args.messages + args.warmup)
    results = {"command": " ".join(sys.argv), "rules_active": active, "open_tickets": len(open_tickets)}
    results["with_matrix"] = run_pass(tenant, open_tickets, bodies, args.warmup, random.Random(args.seed))
    with tenant_context(tenant):
        EscalationRule.objects.update(active=False)
    results["rules_off"] = run_pass(tenant, open_tickets, bodies, args.warmup, random.Random(args.seed + 1))
    evaluation = results["with_matrix"]["without_escalation"]["evaluation"]
    results["verdict"] = {
        "target_ms": TARGET_MS,
        "evaluation_p95_ms_on_messages_that_escalate_nothing": evaluation.get("p95_ms"),
        "met": evaluation.get("p95_ms", 1e9) < TARGET_MS,
    }
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
