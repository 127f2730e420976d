"""Bulk import benchmark: 100,000 realistic tickets (1-4 messages each) through `tickets.importer`,
with the two reference points that make the figure mean something, measured in the same run:

- ceiling: the same rows parsed and COPYed into scratch temporary tables (no validation, no analysis,
  no indexes, no RLS) -- what the database and JSON parsing alone cost;
- naive: the per-ticket services path (helpdesk.workflows.ticket_open + message_receive per message,
  one transaction per ticket) on the first --naive tickets, extrapolated to the whole file;
- search-vector variants: the importer with the vector computed at INSERT (what it does) against the
  same importer filling it afterwards with one UPDATE per batch, two ways, on a --variants sample.

    createdb -h 127.0.0.1 -U postgres helpdesk_bench
    export DATABASE_URL=postgres://postgres@127.0.0.1/helpdesk_bench REDIS_URL=redis://127.0.0.1:6379/0 \
           SECRET_KEY=x-test-only-0123456789abcdef0123456789
    .venv/bin/python manage.py migrate && .venv/bin/python manage.py create_tenant bench --name Bench
    .venv/bin/python bench/import_bench.py --tickets 100000

Results and how to read them: bench/IMPORT.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402

from helpdesk import workflows  # noqa: E402
from helpdesk.models import Tenant  # noqa: E402
from helpdesk.tenancy import tenant_context  # noqa: E402
from tickets import importer  # noqa: E402
from tickets.validation import TRANSITIONS  # noqa: E402

# --- a realistic file ----------------------------------------------------------------------------

PRODUCTS = [
    "invoice",
    "export",
    "dashboard",
    "mobile app",
    "API",
    "login",
    "SSO",
    "webhook",
    "report",
    "billing page",
    "password reset",
    "CSV import",
    "calendar sync",
    "notifications",
    "search",
    "checkout",
]
PROBLEMS = [
    "is broken",
    "fails with error 500",
    "is very slow",
    "shows the wrong totals",
    "keeps timing out",
    "does not load",
    "charged us twice",
    "lost our data",
    "stopped working after the update",
    "returns a blank page",
    "sends duplicate emails",
    "is missing entries",
]
OPENERS = ["Hi team,", "Hello,", "Good morning,", "Hey support,", "To whom it may concern,", ""]
DETAILS = [
    "Since yesterday the {p} {x} for everyone in our team.",
    "We tried clearing the cache and logging in again, but nothing changed.",
    "This is blocking our month-end close and my manager is asking for updates.",
    "Steps: open the {p}, pick last month, press export. Expected a file, got an error.",
    "It worked fine last week, so I suspect the latest release.",
    "We have about 40 users affected, mostly in the Berlin office.",
    "Honestly this is the third time this quarter and it is getting frustrating.",
    "Could you please look into it as soon as possible? Thanks a lot!",
    "I attached a screenshot of the error and the request id from the browser console.",
    "Our contract renewal is next month and reliability matters a great deal to us.",
]
CUSTOMER_REPLIES = [
    "Thanks for the quick answer, but the problem is still there after trying that.",
    "That worked perfectly, thank you so much for the help!",
    "This is unacceptable. We have been waiting for days and nothing happens. I want to speak to a manager.",
    "Any update on this? Our finance team is blocked.",
    "I tried the workaround; it helps a little but the {p} is still slow.",
    "Great, everything looks good now. You can close the ticket.",
    "Still broken. Please call me, this is urgent.",
]
AGENT_REPLIES = [
    "Thanks for reaching out! Could you send us the request id and the time it happened?",
    "I am sorry for the trouble. Our engineers identified the cause and a fix is being deployed today.",
    "Could you try again with a private browser window and let me know if the {p} works there?",
    "I have escalated this to our billing specialists; they will get back to you within the day.",
    "The fix is live now. Please confirm on your side that the {p} behaves as expected.",
]
INTERNAL_NOTES = [
    "Looks like the known regression in the {p}, linking to the engineering issue.",
    "Customer is on an enterprise plan, handle with care.",
]
TAGS = ["billing", "bug", "regression", "vip", "how-to", "outage", "refund", "mobile", "integration", "sso"]
CATEGORIES = ["billing", "technical", "account", "feature-request", ""]
STATUS_WEIGHTS = {"new": 5, "open": 20, "pending": 10, "on_hold": 3, "solved": 30, "closed": 32}
FIRST_NAMES = ["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jo", "Kemal", "Lea", "Mo", "Nia"]
LAST_NAMES = ["Okafor", "Petrov", "Quinn", "Rossi", "Silva", "Tanaka", "Ueda", "Varga", "Weber", "Xu", "Young"]


def _person(rng: random.Random, customers: int) -> dict:
    n = rng.randrange(customers)
    first, last = FIRST_NAMES[n % len(FIRST_NAMES)], LAST_NAMES[n % len(LAST_NAMES)]
    email = f"{first}.{last}.{n}@customer{n % 500}.example"
    # Exports from other systems keep whatever case the customer typed.
    return {"email": email if rng.random() < 0.8 else email.upper(), "name": f"{first} {last}"}


def _thread(rng: random.Random, product: str, opened: datetime, now: datetime) -> list[dict]:
    messages, at = [], opened
    authors = ["agent", "customer"] * 2
    for author in authors[: rng.randint(1, 4)]:
        at = min(now, at + timedelta(minutes=rng.randint(5, 3 * 24 * 60)))
        if author == "agent" and rng.random() < 0.15:
            body, internal = rng.choice(INTERNAL_NOTES), True
        else:
            body, internal = rng.choice(AGENT_REPLIES if author == "agent" else CUSTOMER_REPLIES), False
        messages.append(
            {"author_type": author, "body": body.format(p=product), "internal": internal, "created_at": at.isoformat()}
        )
    return messages


def ticket_line(rng: random.Random, n: int, *, customers: int, now: datetime) -> dict:
    product, problem = rng.choice(PRODUCTS), rng.choice(PROBLEMS)
    opened = now - timedelta(seconds=rng.randint(3600, 2 * 365 * 86400))
    details = rng.sample(DETAILS, rng.randint(2, 5))
    description = " ".join([rng.choice(OPENERS), *(d.format(p=product, x=problem) for d in details)]).strip()
    status = rng.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()))[0]
    messages = _thread(rng, product, opened, now)
    return {
        "external_id": f"ZD-{1_000_000 + n}",
        "subject": f"The {product} {problem}",
        "description": description,
        "requester": _person(rng, customers),
        "priority": rng.choices(["low", "normal", "high", "urgent"], weights=[15, 60, 20, 5])[0],
        "channel": rng.choice(["email", "email", "web", "chat", "phone", "api"]),
        "category": rng.choice(CATEGORIES),
        "tags": rng.sample(TAGS, rng.randint(0, 3)),
        "status": status,
        "created_at": opened.isoformat(),
        "updated_at": messages[-1]["created_at"],
        "messages": messages,
    }


def generate(path: Path, tickets: int, *, seed: int = 42) -> None:
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    with path.open("w") as out:
        for n in range(tickets):
            out.write(json.dumps(ticket_line(rng, n, customers=max(1, tickets // 5), now=now)) + "\n")


def settle() -> None:
    """Flush dirty pages to disk before a measurement: otherwise the kernel writes back the file just
    generated (or a step's temporary files) during the next step, and every commit's WAL fsync waits
    behind it (measured: an import 1.7x slower right after generating its file)."""
    os.sync()


# --- the three measurements ----------------------------------------------------------------------


def _tenant(slug: str) -> Tenant:
    tenant = Tenant.objects.filter(slug=slug).first()
    return tenant or workflows.tenant_bootstrap(slug=slug, name=slug)


@dataclass
class Cpu:
    """CPU seconds of the three parties to an import. Unlike wall time, they barely move when other work
    shares the machine, and on an idle 2-core machine wall time is at least max(helper, importer +
    postgres) and at least their sum / 2. (PostgreSQL's background WAL writer and checkpointer are not
    counted.)"""

    importer: float = 0.0
    helper: float = 0.0
    postgres: float = 0.0

    @classmethod
    def now(cls) -> Cpu:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        # /proc/PID/stat: after the ")" closing the command name, utime and stime are the 12th and 13th fields.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        backend = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return cls(own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime, backend)

    def __sub__(self, other: Cpu) -> Cpu:
        return Cpu(self.importer - other.importer, self.helper - other.helper, self.postgres - other.postgres)

    @property
    def total(self) -> float:
        return self.importer + self.helper + self.postgres

    def __str__(self) -> str:
        return (
            f"CPU {self.total:.1f} s = importer {self.importer:.1f} + helper process {self.helper:.1f} "
            f"+ PostgreSQL backend {self.postgres:.1f}"
        )


def measure_import(tenant: Tenant, path: Path, *, lines: int | None = None) -> importer.ImportReport:
    with path.open("rb") as source:
        return importer.tickets_import(tenant=tenant, lines=islice(source, lines))


SCRATCH = """
CREATE TEMPORARY TABLE scratch_ticket (
    n int, subject text, description text, email text, name text, priority text, channel text, category text,
    tags text[], status text, created_at timestamptz, updated_at timestamptz, external_id text);
CREATE TEMPORARY TABLE scratch_message (n int, author_type text, body text, internal bool, created_at timestamptz);
"""


def measure_ceiling(path: Path) -> float:
    """Parse every line and COPY its ticket and messages into unindexed temporary tables: the floor any
    importer of this file pays (JSON parsing, the bytes into PostgreSQL), with nothing computed."""
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(SCRATCH)
        raw = cursor.cursor  # psycopg's own cursor: Django's wrapper has no COPY
        with raw.copy("COPY scratch_ticket FROM STDIN") as tickets, path.open("rb") as source:
            messages = []
            for n, line in enumerate(source):
                t = json.loads(line)
                tickets.write_row(
                    (
                        n,
                        t["subject"],
                        t["description"],
                        t["requester"]["email"],
                        t["requester"]["name"],
                        t["priority"],
                        t["channel"],
                        t["category"],
                        t["tags"],
                        t["status"],
                        t["created_at"],
                        t["updated_at"],
                        t["external_id"],
                    )
                )
                messages.extend((n, m["author_type"], m["body"], m["internal"], m["created_at"]) for m in t["messages"])
        with raw.copy("COPY scratch_message FROM STDIN") as copy:
            for row in messages:
                copy.write_row(row)
        cursor.execute("DROP TABLE scratch_ticket, scratch_message")
    return time.perf_counter() - started


def _naive_one(tenant: Tenant, data: dict) -> None:
    """One ticket the way the API would store it: one transaction, the workflows, message by message."""
    with tenant_context(tenant):
        ticket = workflows.ticket_open(
            tenant=tenant,
            actor=None,
            subject=data["subject"],
            description=data["description"],
            requester_email=data["requester"]["email"],
            requester_name=data["requester"]["name"],
            priority=data["priority"],
            channel=data["channel"],
            category=data["category"],
            tags=data["tags"],
            created_at=datetime.fromisoformat(data["created_at"]),
        )
        for message in data["messages"]:
            workflows.message_receive(
                ticket=ticket,
                actor=None,
                body=message["body"],
                author_type=message["author_type"],
                internal=message["internal"],
                created_at=datetime.fromisoformat(message["created_at"]),
            )
        if data["status"] in TRANSITIONS[ticket.status]:
            workflows.ticket_update(ticket=ticket, actor=None, status=data["status"])


def measure_naive(tenant: Tenant, path: Path, tickets: int) -> float:
    started = time.perf_counter()
    with path.open("rb") as source:
        for line in islice(source, tickets):
            _naive_one(tenant, json.loads(line))
    return time.perf_counter() - started


# --- search-vector variants: the same importer, the vector filled by a second statement -----------

UPDATE_SUBQUERY = """
UPDATE tickets_ticket t SET search_vector =
    setweight(to_tsvector('english', t.subject), 'A') || setweight(to_tsvector('english', t.description), 'B')
    || setweight(coalesce((SELECT to_tsvector('english', string_agg(m.body, ' ')) FROM tickets_message m
                           WHERE m.ticket_id = t.id), ''), 'C')
WHERE t.id = ANY(%s)
"""

UPDATE_VALUES = """
UPDATE tickets_ticket t SET search_vector =
    setweight(to_tsvector('english', v.subject), 'A') || setweight(to_tsvector('english', v.description), 'B')
    || setweight(to_tsvector('english', v.bodies), 'C')
FROM (VALUES {values}) AS v(id, subject, description, bodies) WHERE t.id = v.id
"""


def _no_update(cursor, tickets, ids) -> None:
    """What the search vector costs in all: the import without it."""


def _update_subquery(cursor, tickets, ids) -> None:
    cursor.execute(UPDATE_SUBQUERY, [ids])


def _update_values(cursor, tickets, ids) -> None:
    params = []
    for ticket, pk in zip(tickets, ids, strict=True):
        params += [pk, ticket.subject, ticket.description, " ".join(m.body for m in ticket.messages)]
    values = ", ".join(["(%s::bigint, %s, %s, %s)"] * len(ids))
    cursor.execute(UPDATE_VALUES.format(values=values), params)


def measure_variant(tenant: Tenant, path: Path, lines: int, update) -> float:
    """The importer as it is (update None), or with search_vector NULL at INSERT and filled by `update`
    in the batch's own transaction."""
    if update is None:
        return measure_import(tenant, path, lines=lines).seconds
    insert_with_vector, write = importer.TICKETS_INSERT, importer.batch_write

    def write_then_update(*, tenant, tickets, now):
        with tenant_context(tenant):
            ids = write(tenant=tenant, tickets=tickets, now=now)
            with connection.cursor() as cursor:
                update(cursor, tickets, ids)
        return ids

    importer.TICKETS_INSERT, importer.batch_write = importer.tickets_insert(search_vector="NULL"), write_then_update
    try:
        return measure_import(tenant, path, lines=lines).seconds
    finally:
        importer.TICKETS_INSERT, importer.batch_write = insert_with_vector, write


# --- the run -------------------------------------------------------------------------------------


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    return f"{os.cpu_count()} cores ({model}), PostgreSQL {pg}, Python {sys.version.split()[0]}"


def _rate(label: str, seconds: float, tickets: int, note: str = "") -> None:
    print(f"{label:<52}: {seconds:7.1f} s {tickets / seconds:9,.0f} tickets/s  {note}".rstrip())


def run_imports(tenant: Tenant, path: Path, tickets: int, *, repeat: int, run: str) -> list[float]:
    """The import of the whole file, first into `tenant`, then again into fresh tenants: the spread
    says how much of a single figure is the machine's noise."""
    seconds = []
    for n in range(repeat):
        target = tenant if n == 0 else _tenant(f"bench-repeat-{run}-{n}")
        settle()
        before = Cpu.now()
        report = measure_import(target, path)
        cpu = Cpu.now() - before
        assert report.skipped == 0, report.errors[:5]
        _rate(f"import   tickets.importer, run {n + 1}", report.seconds, report.imported, f"(into {target.slug})")
        print(f"         {cpu}")
        seconds.append(report.seconds)
    return seconds


def run_variants(path: Path, sample: int, *, rounds: int, run: str) -> None:
    """Best of `rounds` per search-vector strategy (wall time and CPU). The order rotates each round so
    that warm-up and drift hit every variant alike."""
    variants = [
        ("computed at INSERT (the importer)", None),
        ("NULL at INSERT + UPDATE ... subquery on messages", _update_subquery),
        ("NULL at INSERT + UPDATE ... FROM (VALUES ...)", _update_values),
        ("reference: no search vector at all", _no_update),
    ]
    wall: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for n in range(rounds):
        for k in range(len(variants)):
            label, update = variants[(n + k) % len(variants)]
            settle()
            before = Cpu.now()
            seconds = measure_variant(_tenant(f"bench-sv-{run}-{n}-{k}"), path, sample, update)
            used = Cpu.now() - before
            wall[label] = min(wall.get(label, seconds), seconds)
            cpu[label] = min(cpu.get(label, used.total), used.total)
    for label, _ in variants:
        _rate(
            f"search   {label}", wall[label], sample, f"CPU {cpu[label]:.1f} s (best of {rounds}, {sample:,} tickets)"
        )


def run_naive(path: Path, tickets: int, sample: int, *, run: str) -> float:
    settle()
    tenant, before = _tenant(f"bench-naive-{run}"), Cpu.now()
    scale = tickets / sample
    naive = measure_naive(tenant, path, sample) * scale
    cpu = Cpu.now() - before
    _rate("naive    workflows per ticket", naive, tickets, f"(EXTRAPOLATED from {sample:,} tickets)")
    print(
        f"         CPU {(cpu.importer + cpu.postgres) * scale:.1f} s = Python {cpu.importer * scale:.1f} "
        f"+ PostgreSQL backend {cpu.postgres * scale:.1f} (extrapolated)"
    )
    return naive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--tenant", default="bench", help="imported into this tenant (manage.py create_tenant)")
    parser.add_argument("--repeat", type=int, default=3, help="imports of the whole file (into fresh tenants); 0 skips")
    parser.add_argument("--naive", type=int, default=2_000, help="tickets through the per-ticket services; 0 skips")
    parser.add_argument("--variants", type=int, default=20_000, help="tickets per search-vector variant")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the search-vector variants; 0 skips")
    args = parser.parse_args()
    path = Path(f"/tmp/helpdesk_import_{args.tickets}.jsonl")
    tenant = Tenant.objects.get(slug=args.tenant)
    run = datetime.now(UTC).strftime("%Y%m%d%H%M%S")

    generate(path, args.tickets)
    messages = sum(len(json.loads(line)["messages"]) for line in path.open("rb"))
    print(f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}, load average {_load()}")
    print(f"file: {path} ({path.stat().st_size / 1e6:.0f} MB, {args.tickets:,} tickets, {messages:,} messages)")

    settle()
    ceiling = measure_ceiling(path)
    _rate("ceiling  parse + COPY into scratch tables", ceiling, args.tickets)
    if args.repeat:
        median = statistics.median(run_imports(tenant, path, args.tickets, repeat=args.repeat, run=run))
        print(f"ratio    import (median) / ceiling = {median / ceiling:.1f}x")
    if args.naive:
        naive = run_naive(path, args.tickets, args.naive, run=run)
        if args.repeat:
            print(f"ratio    naive (extrapolated) / import (median) = {naive / median:.1f}x")
    if args.rounds:
        run_variants(path, min(args.variants, args.tickets), rounds=args.rounds, run=run)
    print(f"# done, load average {_load()}")


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    main()
