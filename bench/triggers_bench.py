"""escalation.triggers benchmark: time added to an event (a new customer message) by evaluating a 50-rule matrix,
as p50/p95 microseconds per `evaluate()`, with the two reference points that make the figure mean something,
measured in the same run:

- ceiling: a loop over 50 pre-bound no-op checks -- what any one-Python-call-per-rule design costs at the least --
  and the same after normalising the message once (what any design with text triggers must also do);
- naive: the first thing one would write -- validate each rule's conditions and call tickets.analysis per rule
  (keyword_hits re-normalises the message for every keyword rule) on every event. Its decisions are compared with
  evaluate()'s, so the ratio is between two implementations that agree.

Workload: the default matrix (17 rules) plus 33 tenant rules of the kinds a real matrix grows (product and
competitor keywords, plan and contract thresholds, per-metric SLA rules, stricter counts for some categories) = 50.
Facts: 2,000 seeded tickets (customer messages of 20-160 words from a support vocabulary, with some trigger words,
VADER sentiment of the text, counters, accounts, timers, requester history), cycled to --evaluations (20,000).
"cached rules": Rule objects built once (a services layer that caches the matrix per tenant); "rules per event":
Rule objects rebuilt from row dicts on every event (no cache in services) -- compiled conditions are still shared.
Pure Python, one core, no database.

    .venv/bin/python bench/triggers_bench.py         # results and how to read them: bench/TRIGGERS.md
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from escalation.defaults import DEFAULT_RULES
from escalation.triggers import (
    TIME_TRIGGERS,
    Rule,
    TicketFacts,
    TimerFact,
    evaluate,
    validate_conditions,
)
from slas.clock import Calendar, business_minutes_between
from tickets import analysis

NOW = datetime(2026, 3, 4, 13, 30, tzinfo=UTC)
CALENDAR = Calendar(
    "Europe/Berlin", {day: [("09:00", "17:00")] for day in ("mon", "tue", "wed", "thu", "fri")}, country="DE"
)

TENANT_RULES = [
    ("keyword", {"keywords": ["competitor", "zendesk", "freshdesk", "switching", "alternative"]}),
    ("keyword", {"keywords": ["gdpr", "dpa", "data processing agreement", "subject access request"]}),
    ("keyword", {"keywords": ["sso", "saml", "okta", "scim", "azure ad"]}),
    ("keyword", {"keywords": ["invoice", "receipt", "vat", "tax id", "purchase order"]}),
    ("keyword", {"keywords": ["downtime", "500 error", "timeout", "not loading", "crash", "crashed"]}),
    ("keyword", {"keywords": ["breach", "hacked", "phishing", "unauthorized", "suspicious login"]}),
    ("keyword", {"keywords": ["api key", "webhook", "rate limit", "integration"]}),
    ("keyword", {"keywords": ["deleted", "lost my data", "missing records", "restore", "backup"]}),
    ("keyword", {"keywords": ["renewal", "contract", "discount", "pricing", "quote"]}),
    ("keyword", {"keywords": ["accessibility", "screen reader", "wcag"]}),
    ("keyword", {"keywords": ["press", "journalist", "twitter", "review", "trustpilot"]}),
    ("keyword", {"keywords": ["unacceptable", "ridiculous", "worst", "disgusting", "scam"]}),
    ("sentiment", {"below": -0.8}),
    ("sentiment", {"below": -0.3}),
    ("value", {"plans": ["enterprise"]}),
    ("value", {"acv_gte": 100000}),
    ("value", {"lifetime_value_gte": 500000, "plans": ["business"]}),
    ("sla_risk", {"percent": 50, "metrics": ["first_response"]}),
    ("sla_risk", {"percent": 95}),
    ("sla_risk", {"breached": True, "metrics": ["escalation_acknowledge", "manager_response"]}),
    ("time_open", {"business_hours": 8, "tier": 2}),
    ("time_open", {"business_hours": 24}),
    ("repeat_contact", {"tickets": 6, "days": 90}),
    ("repeat_contact", {"tickets": 2, "days": 2}),
    ("follow_ups", {"count": 5}),
    ("failed_attempts", {"count": 1}),
    ("failed_attempts", {"count": 4}),
    ("back_and_forth", {"count": 10}),
    ("manager_request", {"phrases": ["head of support", "your boss", "ceo"]}),
    ("category", {"categories": ["billing"]}),
    ("category", {"categories": ["bug", "outage"]}),
    ("category", {"categories": ["feature_request"]}),
    ("category", {"categories": ["onboarding", "training"]}),
]

VOCABULARY = (
    "the", "a", "to", "and", "of", "i", "my", "we", "our", "is", "it", "this", "that", "not", "for", "on", "with",
    "you", "your", "please", "can", "help", "account", "dashboard", "export", "report", "login", "password", "page",
    "error", "again", "still", "since", "yesterday", "morning", "team", "users", "settings", "update", "plan",
    "card", "subscription", "order", "data", "file", "upload", "sync", "app", "mobile", "browser", "working", "slow",
    "issue", "ticket", "support", "thanks", "hello", "hi", "regards", "waiting", "days", "week", "customer",
    "client", "project", "workspace", "admin", "permission", "role", "access", "email", "notification", "link",
    "great", "quick", "question", "how", "where", "when",
)  # fmt: skip
SPICE = (
    "refund", "cancel", "lawyer", "legal action", "call me", "speak to a manager", "your supervisor", "urgent",
    "outage", "chargeback", "zendesk", "sso", "invoice", "timeout", "unacceptable", "deleted", "gdpr", "ceo",
)  # fmt: skip
CATEGORIES = (
    "question", "question", "question", "question", "bug", "billing", "feature_request", "onboarding", "legal",
    "security",
)  # fmt: skip


def make_rules() -> list[dict]:
    rows = [dict(row) for row in DEFAULT_RULES]
    for i, (trigger, conditions) in enumerate(TENANT_RULES):
        rows.append({"slug": f"tenant-{i}", "trigger": trigger, "conditions": conditions, "position": 200 + i})
    assert len(rows) == 50, len(rows)
    for i, row in enumerate(rows):
        row["id"] = i + 1
        validate_conditions(row["trigger"], row["conditions"])
    return rows


def rules_from_rows(rows: list[dict]) -> list[Rule]:
    return [Rule(r["id"], r["slug"], r["trigger"], r["conditions"], r["position"], True) for r in rows]


def make_facts(count: int, seed: int) -> list[TicketFacts]:
    rng = random.Random(seed)
    pool = []
    for i in range(count):
        words = [rng.choice(VOCABULARY) for _ in range(rng.randint(20, 160))]
        for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):
            words.insert(rng.randrange(len(words) + 1), rng.choice(SPICE))
        text = " ".join(words).capitalize() + "."
        scores = tuple(round(rng.uniform(-0.9, 0.6), 4) for _ in range(rng.randint(1, 6)))
        plan = rng.choice(("free", "standard", "standard", "business", "enterprise", None))
        history = (NOW, *(NOW - timedelta(days=rng.uniform(0, 90)) for _ in range(rng.randrange(5))))
        timers = tuple(
            TimerFact(metric, status, percent, percent >= 100)
            for metric in ("first_response", "resolution")
            for status, percent in [(rng.choice(("running", "running", "paused", "met")), rng.betavariate(2, 5) * 130)]
        )
        pool.append(
            TicketFacts(
                ticket_id=i,
                status="open",
                priority=rng.choice(("low", "normal", "normal", "high")),
                tier=rng.choice((1, 1, 1, 2)),
                category=rng.choice(CATEGORIES),
                channel="email",
                sentiment=analysis.sentiment(text),
                customer_sentiments=scores,
                follow_up_count=rng.choice((1, 1, 1, 1, 2, 2, 3)),
                exchange_count=min(12, int(rng.expovariate(0.5))),
                failed_attempts_low_tier=rng.choice((0,) * 8 + (1, 2)),
                vip=rng.random() < 0.05,
                plan=plan,
                annual_contract_value=float(rng.choice((0, 6000, 42000, 150000))),
                lifetime_value=float(rng.choice((0, 14000, 160000, 900000))),
                requester_ticket_times=history,
                text=text,
                tier_since=NOW - timedelta(hours=rng.uniform(0, 72)),
                calendar=CALENDAR,
                timers=timers,
                solved=False,
            )
        )
    return pool


# --- the naive baseline: validate and analyse per rule, per event -------------------------------------------


def naive_evaluate(facts: TicketFacts, rows: list[dict], now: datetime) -> list[str]:
    """Slugs that fire, the obvious way: no compiled rules, no shared tokenisation (same semantics)."""
    fired = []
    for row in sorted(rows, key=lambda r: (r["position"], r["id"])):
        trigger = row["trigger"]
        if trigger == "time_open":
            continue
        c = validate_conditions(trigger, row["conditions"])
        if trigger == "keyword":
            hit = bool(analysis.keyword_hits(facts.text, c["keywords"]))
        elif trigger == "sentiment":
            hit = facts.sentiment < c["below"]
        elif trigger == "value":
            hit = (
                (c.get("vip") and facts.vip)
                or facts.plan in c.get("plans", ())
                or ("acv_gte" in c and facts.annual_contract_value >= c["acv_gte"])
                or ("lifetime_value_gte" in c and facts.lifetime_value >= c["lifetime_value_gte"])
            )
        elif trigger == "sla_risk":
            metrics = c.get("metrics")
            hit = any(
                (metrics is None or t.metric in metrics)
                and (
                    (t.breached or t.status == "breached") and t.status != "met"
                    if c.get("breached")
                    else t.status in ("running", "breached") and t.percent_used >= c["percent"]
                )
                for t in facts.timers
            )
        elif trigger == "repeat_contact":
            since = now - timedelta(days=c["days"])
            hit = sum(since <= t <= now for t in facts.requester_ticket_times) >= c["tickets"]
        elif trigger == "follow_ups":
            hit = facts.follow_up_count >= c["count"]
        elif trigger == "failed_attempts":
            hit = facts.failed_attempts_low_tier >= c["count"]
        elif trigger == "back_and_forth":
            hit = facts.exchange_count >= c["count"]
        elif trigger == "manager_request":
            hit = analysis.asks_for_manager(facts.text) or bool(analysis.keyword_hits(facts.text, c.get("phrases", [])))
        else:
            hit = facts.category.lower() in c["categories"]
        if hit:
            fired.append(row["slug"])
    return fired


# --- timing -----------------------------------------------------------------------------------------------


def per_call_us(function, pool: list[TicketFacts], evaluations: int) -> list[float]:
    """Microseconds of each call of function(facts), cycling through the pool."""
    samples = []
    clock = time.perf_counter_ns
    for i in range(evaluations):
        facts = pool[i % len(pool)]
        began = clock()
        function(facts)
        samples.append((clock() - began) / 1000)
    return samples


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=20_000)
    parser.add_argument("--tickets", type=int, default=2_000, help="distinct facts, cycled")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    rows = make_rules()
    cached = rules_from_rows(rows)
    pool = make_facts(args.tickets, args.seed)
    business_minutes_between(NOW - timedelta(days=30), NOW, CALENDAR)  # the holidays tables, once per process

    # Agreement first (event mode): the naive and compiled evaluations fire the same rules for every ticket.
    disagreements = sum(
        naive_evaluate(f, rows, NOW) != [d.slug for d in evaluate(f, cached, NOW, time_based=False)] for f in pool
    )
    fired = [len(evaluate(f, cached, NOW, time_based=False)) for f in pool]

    noops = [lambda _context: None] * len(rows)

    def ceiling(facts: TicketFacts) -> None:
        for check in noops:
            check(facts)

    def ceiling_with_text(facts: TicketFacts) -> None:
        analysis._normalise(facts.text)  # what any text trigger must do once: read the message
        for check in noops:
            check(facts)

    measured = [
        ("ceiling: 50 no-op checks in a loop", ceiling),
        ("ceiling: normalise the message once + 50 no-ops", ceiling_with_text),
        ("evaluate(), event, cached rules", lambda f: evaluate(f, cached, NOW, time_based=False)),
        (
            "evaluate(), event, rules rebuilt per event",
            lambda f: evaluate(f, rules_from_rows(rows), NOW, time_based=False),
        ),
        ("evaluate(), sweep (time triggers), cached rules", lambda f: evaluate(f, cached, NOW, time_based=True)),
        ("naive: validate + analysis per rule, per event", lambda f: naive_evaluate(f, rows, NOW)),
    ]
    for _name, function in measured:  # warm-up: compiled rules, calendar blocks, VADER lexicon
        per_call_us(function, pool, min(2_000, args.evaluations))
    results = []
    for name, function in measured:
        gc.collect()  # each series starts from the same heap; the collector stays on, as in production
        results.append((name, per_call_us(function, pool, args.evaluations)))

    print(
        f"date {datetime.now(UTC):%Y-%m-%d}, {platform.processor() or platform.machine()}, nproc {os.cpu_count()}, "
        f"Python {platform.python_version()}; {len(rows)} rules "
        f"({sum(r['trigger'] in TIME_TRIGGERS for r in rows)} time-based), {args.evaluations} evaluations over "
        f"{len(pool)} tickets, {statistics.mean(len(f.text.split()) for f in pool):.0f} words per message on average"
    )
    print(f"  {'':<50} {'p50 us':>9} {'p95 us':>9} {'p99 us':>9} {'mean us':>9}")
    for name, samples in results:
        print(
            f"  {name:<50} {percentile(samples, 0.5):>9.1f} {percentile(samples, 0.95):>9.1f} "
            f"{percentile(samples, 0.99):>9.1f} {statistics.mean(samples):>9.1f}"
        )
    event_p95 = percentile(results[2][1], 0.95)
    rebuilt_p95 = percentile(results[3][1], 0.95)
    naive_p95 = percentile(results[5][1], 0.95)
    print(
        f"  p95 naive / cached: x{naive_p95 / event_p95:.1f}; decisions per event: mean {statistics.mean(fired):.2f}, "
        f"{sum(1 for n in fired if n) / len(fired):.0%} of events fire at least one rule; "
        f"naive decisions differing from evaluate(): {disagreements} of {len(pool)}"
    )
    worst = max(event_p95, rebuilt_p95)
    print(f"  target p95 < 5,000 us per event: {'met' if worst < 5_000 else 'NOT met'} (x{5_000 / worst:.0f} under it)")


if __name__ == "__main__":
    main()
