"""Sweep benchmark: `helpdesk.workflows.sweep()` over 1,000,000 running SLA timers across 1,000 tenants,
idle (nothing due) and with 10,000 due, with the two reference points that make the figures mean
something, measured in the same run:

- ceiling: one set-based `UPDATE slas_slatimer SET status = 'breached' ... WHERE status = 'running' AND
  next_check_at <= now()` as the owner (no RLS, no events, no outbox, no flags) -- the least any sweep
  could do for the same due set;
- naive: what django-helpdesk-style code does -- per tenant, iterate every open ticket and compute its
  deadlines in Python (`slas.clock.deadline`, the fast clock) to decide whether it is due -- measured on
  the first tenants up to --naive tickets and extrapolated to all open tickets (labelled as such).

    .venv/bin/python bench/sweep_bench.py [--timers 1000000] [--tenants 1000] [--due 10000]

In order: drops and recreates the bench database (its name must contain "bench"), migrates it, creates
the tenants through `helpdesk.workflows.tenant_bootstrap` (default calendars, policies and escalation
matrix), then writes customers, open tickets and one running timer per ticket with set-based SQL as the
owner. Deadlines of the not-due timers come from `slas.services.schedule` itself (Standard policy,
business-hours calendar, computed once per distinct start minute), so every row agrees with the clock.
The due set is --due random tickets (urgent, 24/7 calendar): --warn-share of them cross their 75 %
warning, the rest their deadline (already warned at 90 %). Before each measurement the database goes back
to the generated state (rows above the generated ids deleted, the due set's tickets and timers restored),
the due set is made due relative to now, the tables vacuumed and the disk settled.

Measured in the Django process, as the app role under RLS (as in production): idle sweeps (median/max of
--idle-runs), one due sweep with every SQL statement timed (then SQL checks: every due timer fired once,
one sla.* outbox row and one audit event each, no other timer moved), idle sweeps right after it, the
ceiling, a set-based reference with the side effects, the naive baseline and the claim query's plans.

With --processes N, the due sweep is N processes on their own connections: one sweep, and N - 1 joiners that
start when it reports its backlog (its first full batch committed), as a worker pool's idle processes do when the
joiners it asks for arrive (helpdesk/tasks.py, SWEEP_JOINERS). The storm's wall time runs from the first start to
the last return; each process's stage times, statements and CPU are reported, the escalations summed (they must
equal a single process's run).

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust). Results and how to read them: bench/SWEEP.md.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SECRET_KEY = "bench-only-secret-key-not-for-production-0123456789"
# DESIGN.md, "Performance targets".
TARGET_DUE_S = 5.0
TARGET_IDLE_MS = 50.0
# Issue 17: the storm (10,000 due clocks, the escalations they open, their fan-out) as a whole, and the fan-out.
TARGET_STORM_S = 10.0
TARGET_FAN_OUT_S = 5.0
# Start minutes of the not-due tickets: the last two days. Their resolution clock (Standard: 2,400
# business minutes, first warning at 75 %) cannot warn before 1,800 business minutes, i.e. ~4 days on a
# 9-to-5 calendar, so nothing of the bulk comes due while the bench runs (checked before each run).
SPREAD_MINUTES = 2 * 24 * 60
QUIET_CORES = 0.3
MAX_STORM_S = 600  # a storm's sweeps that run longer than this are a failed run, not a figure
MAX_LAG_S = 600  # due timers became due up to 10 minutes ago (a sweep that runs late, or a backlog)


class BenchError(RuntimeError):
    """The run cannot give trustworthy figures (wrong counts, stale data, a failed step)."""


# --- helpers ---------------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def owner(args, **kwargs):
    import psycopg

    return psycopg.connect(f"{args.pg}/{args.db}", **kwargs)


def settle(args) -> None:
    """Write dirty pages out before a timed step, so a checkpoint or the kernel's writeback of the
    previous step does not land inside the measurement."""
    with owner(args, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    os.sync()


def _busy_jiffies() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4], sum(fields)


def busy_cores(seconds: float = 1.0) -> float:
    """Cores busy with other work right now: other processes skew every figure."""
    busy0, total0 = _busy_jiffies()
    time.sleep(seconds)
    busy1, total1 = _busy_jiffies()
    return round((busy1 - busy0) / max(1, total1 - total0) * (os.cpu_count() or 1), 2)


def cpu_sample(backend_pid: int) -> tuple[float, ...]:
    """(machine busy jiffies, machine total jiffies, this process's CPU s, its PostgreSQL backend's CPU s, t)."""
    busy, total = _busy_jiffies()
    own = os.times()
    fields = Path(f"/proc/{backend_pid}/stat").read_text().rsplit(")", 1)[1].split()
    backend = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return busy, total, own.user + own.system, backend, time.monotonic()


def cores_used(before: tuple, after: tuple) -> dict:
    """Where the cores went during a measurement: the sweep's Python, its backend, and everything else."""
    wall = after[4] - before[4]
    machine = (after[0] - before[0]) / max(1, after[1] - before[1]) * (os.cpu_count() or 1)
    python, backend = (after[2] - before[2]) / wall, (after[3] - before[3]) / wall
    return {
        "python": round(python, 2),
        "postgres_backend": round(backend, 2),
        "other": round(max(0.0, machine - python - backend), 2),
    }


def quiet(wait_s: float) -> float:
    """Waits (up to wait_s) for the machine to be idle; returns the busy cores seen last."""
    deadline = time.monotonic() + wait_s
    busy = busy_cores()
    while busy > QUIET_CORES and time.monotonic() < deadline:
        busy = busy_cores(2.0)
    if busy > QUIET_CORES:
        log(f"warning: {busy} cores busy with other work during the next measurement")
    return busy


def machine(args) -> dict:
    def run(*argv: str) -> str:
        done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, check=False)
        return done.stdout.strip()

    cpu = next(
        (x.split(":", 1)[1].strip() for x in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in x),
        "?",
    )
    with owner(args) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
        knobs = {k: conn.execute(f"SHOW {k}").fetchone()[0] for k in ("shared_buffers", "work_mem", "jit")}
    dirty = [
        line.split(None, 1)[-1] for line in run("git", "status", "--porcelain", "--untracked-files=no").splitlines()
    ]
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": run("nproc"),
        "cpu": cpu,
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
        "postgres": server,
        "postgres_settings": knobs,
        "python": sys.version.split()[0],
        "commit": run("git", "rev-parse", "--short", "HEAD"),
        "uncommitted_changes": dirty,
    }


# --- data generation -------------------------------------------------------------------------------


def database_create(args, env: dict) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(args.db)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(args.db)))
    migrate(env)


def migrate(env: dict) -> None:
    done = subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise BenchError(f"migrate failed:\n{done.stderr[-3000:]}")


def tenants_bootstrap(count: int) -> None:
    """Through the use case itself, so each tenant has exactly the calendars and policies a real one gets."""
    from django.db import connection

    from helpdesk import workflows

    for i in range(count):
        workflows.tenant_bootstrap(slug=f"bench-{i:05d}", name=f"Bench tenant {i}")
        if (i + 1) % 250 == 0:
            log(f"  {i + 1} tenants")
    connection.close()


TENANT_MAP = """
CREATE TABLE bench_tenant AS
SELECT (row_number() OVER (ORDER BY t.id) - 1)::int AS k, t.id AS tenant_id, c.id AS customer_id,
       ps.id AS standard_policy, ps.calendar_id AS standard_calendar,
       pu.id AS urgent_policy, pu.calendar_id AS urgent_calendar
FROM helpdesk_tenant t
JOIN tickets_customer c ON c.tenant_id = t.id
JOIN slas_slapolicy ps ON ps.tenant_id = t.id AND ps.name = 'Standard'
JOIN slas_slapolicy pu ON pu.tenant_id = t.id AND pu.name = 'Urgent';
CREATE UNIQUE INDEX ON bench_tenant (k);
"""

TICKETS = """
INSERT INTO tickets_ticket (tenant_id, requester_id, subject, description, status, priority, channel, category,
    tags, tier, sentiment, escalated, escalation_count, follow_up_count, exchange_count, failed_attempt_count,
    last_author_type, first_response_at, last_customer_message_at, last_agent_reply_at, created_at, updated_at,
    sla_breached, sla_at_risk /*EXTRA_COLUMNS*/)
SELECT b.tenant_id, b.customer_id, 'Bench ticket ' || g, 'Generated by bench/sweep_bench.py.', 'open', 'normal',
    'email', '', '{}', 1, 0, false, 0, 0, 1, 0,
    'agent', s.at + interval '20 minutes', s.at, s.at + interval '20 minutes', s.at, s.at + interval '20 minutes',
    false, false /*EXTRA_VALUES*/
FROM generate_series(1, %(n)s) g
JOIN bench_tenant b ON b.k = (g - 1) %% %(tenants)s
CROSS JOIN LATERAL (SELECT %(t0)s::timestamptz - ((g::bigint * 7919) %% %(spread)s) * interval '1 minute' AS at) s
"""

# The due set: random tickets (so a batch of 1,000 spans ~630 tenants, the realistic worst case for a
# per-tenant loop), urgent, on the 24/7 calendar where the deadline is plain arithmetic in SQL.
DUE_SET = """
SELECT setseed(%(seed)s);
---
CREATE TABLE bench_due AS
SELECT id AS ticket_id, tenant_id, NULL::bigint AS timer_id,
       CASE WHEN row_number() OVER () <= %(warns)s THEN 'warn' ELSE 'breach' END AS kind,
       (1 + floor(random() * %(lag)s))::int AS lag_s
FROM (SELECT id, tenant_id FROM tickets_ticket ORDER BY random() LIMIT %(due)s) picked;
---
CREATE UNIQUE INDEX ON bench_due (ticket_id);
---
UPDATE tickets_ticket t SET priority = 'urgent',
    status = CASE WHEN d.kind = 'breach' THEN 'new' ELSE 'open' END,
    exchange_count = CASE WHEN d.kind = 'breach' THEN 0 ELSE 1 END,
    last_author_type = CASE WHEN d.kind = 'breach' THEN 'customer' ELSE 'agent' END,
    last_agent_reply_at = CASE WHEN d.kind = 'breach' THEN NULL ELSE t.last_agent_reply_at END
FROM bench_due d WHERE t.id = d.ticket_id;
"""

TIMERS = """
INSERT INTO slas_slatimer (tenant_id, ticket_id, escalation_id, policy_id, calendar_id, metric, target_minutes,
    started_at, pauses, paused_at, warn_percents, warned_percent, warn_at, due_at, next_check_at, warned_at,
    met_at, breached_at, status, created_at, updated_at /*EXTRA_COLUMNS*/)
SELECT t.tenant_id, t.id, 0,
    CASE WHEN d.kind IS NULL THEN b.standard_policy ELSE b.urgent_policy END,
    CASE WHEN d.kind IS NULL THEN b.standard_calendar ELSE b.urgent_calendar END,
    CASE WHEN d.kind = 'breach' THEN 'first_response' ELSE 'resolution' END,
    CASE d.kind WHEN 'breach' THEN %(urgent_fr)s WHEN 'warn' THEN %(urgent_res)s ELSE %(standard_res)s END,
    t.created_at, '[]'::jsonb, NULL, %(warn_percents)s, NULL, s.warn_at, s.due_at, s.next_check_at, NULL,
    NULL, NULL, 'running', t.created_at, t.created_at /*EXTRA_VALUES*/
FROM tickets_ticket t
JOIN bench_tenant b ON b.tenant_id = t.tenant_id
LEFT JOIN bench_due d ON d.ticket_id = t.id
LEFT JOIN bench_schedule s ON s.started_at = t.created_at AND d.kind IS NULL;
---
UPDATE bench_due d SET timer_id = s.id FROM slas_slatimer s WHERE s.ticket_id = d.ticket_id;
"""


def with_defaults(conn, model, statement: str) -> str:
    """Fills the model's other NOT NULL columns with their Django defaults, so a column added to the
    model later does not break the bench (one it cannot default stops it, naming the column)."""
    from django.db import connection
    from psycopg import sql

    given = set(
        re.search(r"INSERT INTO \w+ \(([^)]*)\)", statement).group(1).replace("/*EXTRA_COLUMNS*/", "").split(",")
    )
    given = {name.strip() for name in given}
    columns, values = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key or field.null or field.column in given:
            continue
        if not field.has_default():
            raise BenchError(f"{model._meta.db_table}.{field.column} is new and has no default: fill it in the bench")
        value = field.get_default()
        if field.get_internal_type() == "JSONField":
            value = json.dumps(value)
        literal = sql.Literal(value).as_string(conn).replace("%", "%%")
        columns.append(field.column)
        values.append(f"{literal}::{field.db_type(connection)}")
    extra_columns, extra_values = "".join(f", {c}" for c in columns), "".join(f", {v}" for v in values)
    return statement.replace("/*EXTRA_COLUMNS*/", extra_columns).replace("/*EXTRA_VALUES*/", extra_values)


def run_script(conn, script: str, params: dict) -> None:
    """Statements separated by '---' lines (a statement with parameters must be sent alone)."""
    for statement in script.split("\n---\n"):
        conn.execute(statement, params)


def policies_read(conn) -> dict:
    """The default policies as installed (all tenants alike); the bench relies on their shape."""
    rows = conn.execute(
        """SELECT p.name, p.targets, p.warn_percent, c.always_open, c.timezone, c.hours
           FROM slas_slapolicy p JOIN slas_businesscalendar c ON c.id = p.calendar_id
           WHERE p.tenant_id = (SELECT min(id) FROM helpdesk_tenant) AND p.name IN ('Urgent', 'Standard')"""
    ).fetchall()
    policies = {name: (targets, sorted(warn), always, tz, hours) for name, targets, warn, always, tz, hours in rows}
    if set(policies) != {"Urgent", "Standard"} or not policies["Urgent"][2] or policies["Standard"][2]:
        raise BenchError("slas.defaults changed: expected an 'Urgent' 24/7 and a 'Standard' business-hours policy")
    if policies["Urgent"][1] != policies["Standard"][1] or len(policies["Urgent"][1]) < 2:
        raise BenchError("slas.defaults changed: the bench expects two warning thresholds shared by the policies")
    return policies


def schedule_table(conn, t0: datetime, policies: dict) -> None:
    """due/warn/next_check of every possible start of a not-due timer, computed by the app's own
    `schedule` (once per distinct start minute, not once per row)."""
    from slas.models import BusinessCalendar, SlaTimer
    from slas.services import calendar_to_clock, schedule

    targets, warns, _always, tz, hours = policies["Standard"]
    calendar = calendar_to_clock(BusinessCalendar(timezone=tz, hours=hours, holidays=[], always_open=False))
    rows = []
    for minute in range(SPREAD_MINUTES):
        timer = SlaTimer(started_at=t0 - timedelta(minutes=minute), target_minutes=int(targets["resolution"]))
        timer.warn_percents, timer.pauses, timer.warned_percent = warns, [], None
        schedule(timer, calendar)
        rows.append((timer.started_at, timer.warn_at, timer.due_at, timer.next_check_at))
    conn.execute(
        "CREATE TABLE bench_schedule (started_at timestamptz PRIMARY KEY, warn_at timestamptz, "
        "due_at timestamptz, next_check_at timestamptz)"
    )
    with conn.cursor().copy("COPY bench_schedule FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def generate(args, env: dict) -> dict:
    from slas.models import SlaTimer
    from tickets.models import Customer, Ticket

    timings = {}
    started = time.perf_counter()
    database_create(args, env)
    timings["create_and_migrate_s"] = time.perf_counter() - started
    log(f"database {args.db} created and migrated in {timings['create_and_migrate_s']:.1f} s")
    step = time.perf_counter()
    tenants_bootstrap(args.tenants)
    timings["tenants_s"] = time.perf_counter() - step
    log(f"{args.tenants} tenants bootstrapped (workflows.tenant_bootstrap) in {timings['tenants_s']:.1f} s")
    t0 = datetime.now(UTC).replace(second=0, microsecond=0)
    with owner(args) as conn:
        conn.execute("SET synchronous_commit = off; SET maintenance_work_mem = '512MB'; SET work_mem = '256MB'")
        policies = policies_read(conn)
        customers, tickets, timers = (
            with_defaults(conn, model, statement)
            for model, statement in ((Customer, CUSTOMERS), (Ticket, TICKETS), (SlaTimer, TIMERS))
        )
        steps = [
            ("customers", lambda: conn.execute(customers, {"t0": t0})),
            ("tenant map", lambda: conn.execute(TENANT_MAP)),
            ("tickets", lambda: conn.execute(tickets, tickets_params(args, t0))),
            ("due set", lambda: run_script(conn, DUE_SET, due_params(args))),
            ("schedules", lambda: schedule_table(conn, t0, policies)),
            ("timers", lambda: run_script(conn, timers, timers_params(policies))),
        ]
        for name, run in steps:
            step = time.perf_counter()
            run()
            conn.commit()
            key = name.replace(" ", "_") + "_s"
            timings[key] = time.perf_counter() - step
            log(f"  {name}: {timings[key]:.1f} s")
        conn.execute("CREATE TABLE bench_meta AS SELECT %s::jsonb AS params", [json.dumps(params_of(args))])
        snapshot(conn)
        conn.commit()
    step = time.perf_counter()
    with owner(args, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    timings["vacuum_analyze_s"] = time.perf_counter() - step
    timings["total_s"] = time.perf_counter() - started
    log(f"data generated in {timings['total_s']:.0f} s (VACUUM ANALYZE {timings['vacuum_analyze_s']:.1f} s)")
    return {key: round(value, 1) for key, value in timings.items()}


CUSTOMERS = """
INSERT INTO tickets_customer (tenant_id, email, name, phone, account_id, created_at, updated_at /*EXTRA_COLUMNS*/)
SELECT id, 'requester@' || slug || '.example', 'Requester of ' || slug, '', NULL, %(t0)s, %(t0)s /*EXTRA_VALUES*/
FROM helpdesk_tenant
"""


def tickets_params(args, t0: datetime) -> dict:
    return {"n": args.timers, "tenants": args.tenants, "t0": t0, "spread": SPREAD_MINUTES}


def due_params(args) -> dict:
    return {"seed": 0.42, "due": args.due, "warns": round(args.due * args.warn_share), "lag": MAX_LAG_S}


def timers_params(policies: dict) -> dict:
    urgent, standard = policies["Urgent"][0], policies["Standard"][0]
    return {
        "urgent_fr": int(urgent["first_response"]),
        "urgent_res": int(urgent["resolution"]),
        "standard_res": int(standard["resolution"]),
        "warn_percents": policies["Urgent"][1],
    }


def params_of(args) -> dict:
    return {key: getattr(args, key) for key in ("timers", "tenants", "due", "warn_share")}


def reuse_check(args) -> bool:
    import psycopg

    try:
        with owner(args) as conn:
            stored = conn.execute("SELECT params FROM bench_meta").fetchone()[0]
    except psycopg.Error:
        return False
    if stored != params_of(args):
        raise BenchError(f"--reuse: {args.db} was generated with {stored}, not {params_of(args)}")
    return True


# --- making the due set due (and restoring it between measurements) ------------------------------

# Relative to `now`: a 'breach' timer's first-response deadline passed lag_s ago (its 75 % and 90 %
# warnings already went out); a 'warn' timer crossed its 75 % threshold lag_s ago, and its 90 % one is
# still over an hour away, so one sweep fires each exactly once.
MAKE_DUE = """
WITH x AS (
    SELECT d.timer_id, d.ticket_id, d.kind, s.target_minutes AS target,
           %(now)s::timestamptz - make_interval(mins => CASE WHEN d.kind = 'breach' THEN s.target_minutes
               ELSE s.target_minutes * %(w1)s / 100 END, secs => d.lag_s) AS started
    FROM bench_due d JOIN slas_slatimer s ON s.id = d.timer_id
), timers AS (
    UPDATE slas_slatimer s SET status = 'running', started_at = x.started, met_at = NULL, breached_at = NULL,
        paused_at = NULL, due_at = x.started + make_interval(mins => x.target),
        warned_percent = CASE WHEN x.kind = 'breach' THEN %(w2)s END,
        warned_at = CASE WHEN x.kind = 'breach' THEN x.started + make_interval(mins => x.target * %(w2)s / 100) END,
        warn_at = CASE WHEN x.kind = 'warn' THEN x.started + make_interval(mins => x.target * %(w1)s / 100) END,
        next_check_at = x.started + make_interval(mins => CASE WHEN x.kind = 'breach' THEN x.target
            ELSE x.target * %(w1)s / 100 END),
        created_at = x.started, updated_at = x.started
    FROM x WHERE s.id = x.timer_id
)
UPDATE tickets_ticket t SET created_at = x.started, updated_at = x.started + interval '5 minutes',
    first_response_at = CASE WHEN x.kind = 'warn' THEN x.started + interval '5 minutes' END,
    last_customer_message_at = x.started,
    last_agent_reply_at = CASE WHEN x.kind = 'warn' THEN x.started + interval '5 minutes' END,
    sla_breached = false, sla_at_risk = (x.kind = 'breach')
FROM x WHERE t.id = x.ticket_id
"""


def _tables(conn) -> list[str]:
    return [
        row[0]
        for row in conn.execute(
            """SELECT table_name FROM information_schema.columns WHERE table_schema = 'public'
               AND column_name = 'id' AND table_name NOT LIKE 'bench%'
               AND table_name <> 'django_migrations' ORDER BY 1"""
        )
    ]


def snapshot(conn) -> None:
    """The generated state, to come back to before each measurement: the highest id of every table (what
    a sweep inserts lies above it) and the due set's tickets and timers as they were."""
    conn.execute("CREATE TABLE bench_maxid (table_name text PRIMARY KEY, max_id bigint)")
    for table in _tables(conn):
        conn.execute(f"INSERT INTO bench_maxid SELECT %s, coalesce(max(id), 0) FROM {table}", [table])
    conn.execute(
        "CREATE TABLE bench_ticket_snap AS SELECT t.* FROM tickets_ticket t JOIN bench_due d ON d.ticket_id = t.id"
    )
    conn.execute(
        "CREATE TABLE bench_timer_snap AS SELECT s.* FROM slas_slatimer s JOIN bench_due d ON d.timer_id = s.id"
    )


def restore(conn) -> None:
    """Undoes whatever a sweep did (timers fired, escalations opened, events, outbox rows, flags)."""
    known = dict(conn.execute("SELECT table_name, max_id FROM bench_maxid").fetchall())
    if set(known) != set(_tables(conn)):
        raise BenchError(f"tables changed since the data was generated: {set(_tables(conn)) ^ set(known)}; no --reuse")
    # Replica mode: no triggers (the audit trail's append-only guard, FK checks) for this bench reset only.
    conn.execute("SET LOCAL session_replication_role = replica")
    for table, max_id in known.items():
        conn.execute(f"DELETE FROM {table} WHERE id > %s", [max_id])
    for table, snap in (("tickets_ticket", "bench_ticket_snap"), ("slas_slatimer", "bench_timer_snap")):
        columns = [
            row[0]
            for row in conn.execute(
                """SELECT column_name FROM information_schema.columns c WHERE table_name = %s AND column_name <> 'id'
                   AND EXISTS (SELECT 1 FROM information_schema.columns s
                               WHERE s.table_name = %s AND s.column_name = c.column_name)""",
                [table, snap],
            )
        ]
        names = ", ".join(columns)
        values = ", ".join(f"s.{name}" for name in columns)
        conn.execute(f"UPDATE {table} t SET ({names}) = ROW({values}) FROM {snap} s WHERE t.id = s.id")


def make_due(args, *, at: datetime) -> None:
    """Back to the generated state, then the due set becomes due relative to `at` (a future `at` parks
    it); the touched tables are vacuumed and the disk settled."""
    with owner(args) as conn:
        restore(conn)
        w1, w2 = conn.execute("SELECT warn_percents[1], warn_percents[2] FROM slas_slatimer LIMIT 1").fetchone()
        conn.execute(MAKE_DUE, {"now": at, "w1": w1, "w2": w2})
        conn.commit()
    with owner(args, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    settle(args)


def preflight(args, *, expect_due: int) -> None:
    with owner(args) as conn:
        due, bulk_first = conn.execute(
            """SELECT count(*) FILTER (WHERE next_check_at <= now()),
                      min(next_check_at) FILTER (WHERE ticket_id NOT IN (SELECT ticket_id FROM bench_due))
               FROM slas_slatimer WHERE status = 'running'"""
        ).fetchone()
    if due != expect_due:
        raise BenchError(f"expected {expect_due} due timers, found {due}")
    if bulk_first is None or bulk_first < datetime.now(UTC) + timedelta(hours=1):
        raise BenchError(f"the not-due timers start coming due at {bulk_first}: regenerate (drop --reuse)")


# --- measurements --------------------------------------------------------------------------------


def django_setup(env: dict) -> None:
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "helpdesk.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def timed_sweep(on_backlog=None, joining=None):
    from helpdesk import workflows

    started = time.perf_counter()
    report = workflows.sweep(on_backlog=on_backlog, joining=joining)
    return time.perf_counter() - started, report


class StatementClock:
    """A Django execute wrapper: count and wall time of every SQL statement, grouped by what it does.
    BEGIN and COMMIT are issued by the driver, not through cursors, so they fall into 'the rest'."""

    TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', re.IGNORECASE)

    def __init__(self) -> None:
        self.by_sql: dict[str, list] = defaultdict(lambda: [0, 0.0])

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            entry = self.by_sql[sql]
            entry[0] += 1
            entry[1] += time.perf_counter() - started

    @classmethod
    def kind(cls, sql: str) -> str:
        head = sql.lstrip().split(None, 2)
        if head[0].upper() in ("SAVEPOINT", "RELEASE", "ROLLBACK"):
            return "SAVEPOINT / RELEASE (tenant_context's atomic)"
        if "set_config" in sql:
            return "SELECT set_config (tenant_context: set + restore)"
        if "slas_claim_due_timers" in sql:
            return "SELECT slas_claim_due_timers (claim)"
        match = cls.TABLE.search(sql)
        return f"{head[0].upper()} {match.group(1) if match else '?'}"

    def summary(self) -> list[dict]:
        groups: dict[str, list] = defaultdict(lambda: [0, 0.0])
        for sql, (count, seconds) in self.by_sql.items():
            group = groups[self.kind(sql)]
            group[0] += count
            group[1] += seconds
        rows = [{"statement": k, "count": c, "seconds": round(s, 3)} for k, (c, s) in groups.items()]
        return sorted(rows, key=lambda row: -row["seconds"])


def measure_idle(runs: int) -> dict:
    from django.db import connection

    times = []
    for _ in range(runs):
        seconds, report = timed_sweep()
        if report.claimed:
            raise BenchError(f"an idle sweep claimed {report.claimed} timers")
        times.append(seconds * 1000)
    clock = StatementClock()
    with connection.execute_wrapper(clock):
        timed_sweep()
    return {
        "runs": runs,
        "median_ms": round(statistics.median(times), 2),
        "min_ms": round(min(times), 2),
        "max_ms": round(max(times), 2),
        "first_ms": round(times[0], 2),
        "statements": sum(row["count"] for row in clock.summary()),
    }


def measure_due(args, *, instrumented: bool = False, profile: bool = False) -> dict:
    from django.db import connection

    preflight(args, expect_due=args.due)
    busy = quiet(args.wait_quiet)
    before = datetime.now(UTC)
    clock = StatementClock()
    profiler = cProfile.Profile() if profile else None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    cpu_before = cpu_sample(backend)
    with connection.execute_wrapper(clock) if instrumented else contextlib.nullcontext():
        if profiler:
            profiler.enable()
        seconds, report = timed_sweep()
        if profiler:
            profiler.disable()
    if getattr(report, "failed_tenants", 0):
        raise BenchError(f"{report.failed_tenants} tenants failed during the sweep (see the log above)")
    result = {
        "seconds": round(seconds, 3),
        "stage_seconds": report.stage_seconds,
        "timers_per_s": round(report.claimed / seconds),
        "sla_stage_timers_per_s": round(report.claimed / report.stage_seconds["sla"]),
        "report": report.as_dict(),
        "busy_cores_before": busy,
        "cores_during": cores_used(cpu_before, cpu_sample(backend)),
        "load": uptime(),
        "checks": verify(args, before=before),
    }
    if instrumented:
        statements = clock.summary()
        in_sql = sum(row["seconds"] for row in statements)
        result["statements"] = statements
        result["statement_count"] = sum(row["count"] for row in statements)
        result["seconds_in_statements"] = round(in_sql, 3)
        result["seconds_rest"] = round(seconds - in_sql, 3)
    if profiler:
        result["profile"] = profile_text(profiler)
    return result


def _sweep_in_child(barrier, backlog, moment, out, joiner: bool) -> None:
    """One of --processes, with its own connection (the parent closed its own before forking), opened before the
    start. The first sweeps at once; the others are its joiners: they start when it reports a backlog (its first
    full batch committed), as the pool's idle processes do when the joiners it asks for arrive (helpdesk/tasks.py),
    or when it ends without one."""
    from django.db import connection

    clock = StatementClock()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    cpu_before = cpu_sample(backend)
    barrier.wait(timeout=120)
    joining = None
    if joiner:  # at the sweep's moment, as helpdesk/tasks.py's joiners
        backlog.wait(timeout=MAX_STORM_S)
        joining = datetime.fromtimestamp(moment.value, UTC) if moment.value else None

    def found(at: datetime) -> None:
        moment.value = at.timestamp()
        backlog.set()

    started = time.time()
    with connection.execute_wrapper(clock):
        seconds, report = timed_sweep(on_backlog=None if joiner else found, joining=joining)
    backlog.set()  # no backlog: the joiners find whatever is left (nothing)
    ended = time.time()
    cpu_after = cpu_sample(backend)
    connection.close()
    cpu_s = {
        "python": round(cpu_after[2] - cpu_before[2], 2),
        "postgres_backend": round(cpu_after[3] - cpu_before[3], 2),
    }
    statements = sum(row["count"] for row in clock.summary())
    out.put(
        {"joiner": joiner, "started": started, "ended": ended, "seconds": round(seconds, 3), "report": report.as_dict(),
         "statements": statements, "cpu_s": cpu_s}
    )  # fmt: skip


def _results(out, children, *, deadline: float) -> list:
    """Each child's result from `out`; a child that died without one fails the run at once, not at the deadline."""
    import queue

    runs = []
    while len(runs) < len(children):
        try:
            runs.append(out.get(timeout=1))
        except queue.Empty:
            dead = [child.exitcode for child in children if child.exitcode not in (None, 0)]
            if dead or time.monotonic() > deadline:
                raise BenchError(
                    f"a sweep process failed or hung: exit codes {[c.exitcode for c in children]}"
                ) from None
    return runs


def measure_parallel(args) -> dict:
    """--processes N sweeps of one storm, each in its own process and connection: one sweep and N - 1 joiners that
    start when it reports its backlog. The storm's wall time runs from the first start to the last return; the
    escalations are the processes' sum (they must equal a single process's run: the claims are exclusive). Per
    stage, the slowest process's time."""
    import multiprocessing

    from django.db import connections

    preflight(args, expect_due=args.due)
    busy = quiet(args.wait_quiet)
    before = datetime.now(UTC)
    connections.close_all()  # the children open their own
    context = multiprocessing.get_context("fork")
    barrier, backlog, out = context.Barrier(args.processes), context.Event(), context.Queue()
    moment = context.Value("d", 0.0)  # the sweep's moment, for its joiners
    children = [
        context.Process(target=_sweep_in_child, args=(barrier, backlog, moment, out, index > 0))
        for index in range(args.processes)
    ]
    for child in children:
        child.start()
    runs = _results(out, children, deadline=time.monotonic() + 2 * MAX_STORM_S)
    for child in children:
        child.join(timeout=60)
    if any(child.exitcode for child in children):
        raise BenchError(f"a sweep process failed: exit codes {[child.exitcode for child in children]}")
    runs.sort(key=lambda run: run["started"])
    first = min(run["started"] for run in runs)
    failed = sum(run["report"]["failed_tenants"] for run in runs)
    if failed:
        raise BenchError(f"{failed} tenants failed during the sweeps (see the log above)")
    stages = {name for run in runs for name in run["report"]["stage_seconds"]}
    for run in runs:
        run["started_after_s"] = round(run.pop("started") - first, 3)
        run["ended_after_s"] = round(run.pop("ended") - first, 3)
    seconds = max(run["ended_after_s"] for run in runs)
    return {
        "processes": args.processes,
        "seconds": seconds,
        "stage_seconds": {name: max(run["report"]["stage_seconds"].get(name, 0.0) for run in runs) for name in stages},
        "report": summed_counts([run["report"] for run in runs]),
        "runs": runs,
        "statement_count": sum(run["statements"] for run in runs),
        "cpu_s": {kind: round(sum(run["cpu_s"][kind] for run in runs), 2) for kind in ("python", "postgres_backend")},
        "busy_cores_before": busy,
        "load": uptime(),
        "checks": verify(args, before=before),
    }


SWEEP_COUNTS = ("claimed", "warned", "breached", "escalated", "failed_tenants", "tickets", "batches")


def summed_counts(reports: list[dict]) -> dict:
    """The counts of sweeps that drained one storm together (a sweep and its joiners), added up."""
    return {name: sum(report[name] for report in reports) for name in SWEEP_COUNTS}


def profile_text(profiler: cProfile.Profile, top: int = 40) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    # The app's own functions by inclusive time: which use case the time is spent under.
    app = re.escape(str(ROOT)) + r"/(helpdesk|tickets|slas|escalation|callnotes)/"
    stats.sort_stats("cumulative").print_stats(app, top)
    return out.getvalue()


VERIFY = """
SELECT
  (SELECT count(*) FROM bench_due d JOIN slas_slatimer s ON s.id = d.timer_id
   WHERE d.kind = 'breach' AND s.status = 'breached' AND s.next_check_at IS NULL
     AND s.breached_at = s.started_at + make_interval(mins => s.target_minutes)) AS breach_rows_ok,
  (SELECT count(*) FROM bench_due d JOIN slas_slatimer s ON s.id = d.timer_id
   WHERE d.kind = 'warn' AND s.status = 'running' AND s.warned_percent = %(w1)s AND s.warned_at IS NOT NULL
     AND s.due_at = s.started_at + make_interval(mins => s.target_minutes)
     AND s.warn_at = s.started_at + make_interval(mins => s.target_minutes * %(w2)s / 100)
     AND s.next_check_at = s.warn_at) AS warn_rows_ok,
  (SELECT count(*) FROM slas_slatimer WHERE id <= %(max_timer)s AND status = 'breached') AS breached_total,
  (SELECT count(*) FROM slas_slatimer WHERE id <= %(max_timer)s AND warned_percent = %(w1)s) AS warned_total,
  (SELECT count(*) FROM slas_slatimer WHERE id <= %(max_timer)s AND updated_at >= %(before)s) AS timers_touched,
  (SELECT count(*) FROM slas_slatimer WHERE status = 'running' AND next_check_at <= now()) AS still_due,
  (SELECT count(*) FROM tickets_ticket WHERE rules_due_at IS NOT NULL) AS rules_still_due,
  (SELECT count(*) FROM helpdesk_outboxevent WHERE type LIKE 'sla.%%') AS outbox_sla,
  (SELECT count(*) FROM helpdesk_outboxevent WHERE type = 'sla.breached') AS outbox_sla_breached,
  (SELECT count(*) FROM tickets_ticketevent WHERE kind IN ('sla_breached', 'sla_warning')) AS events_sla,
  (SELECT count(DISTINCT ticket_id) FROM tickets_ticketevent
   WHERE kind IN ('sla_breached', 'sla_warning')) AS events_sla_distinct_tickets,
  (SELECT count(*) FROM tickets_ticketevent WHERE kind = 'sla_breached') AS events_sla_breached,
  (SELECT count(*) FROM tickets_ticket WHERE sla_breached) AS tickets_flagged_breached,
  (SELECT count(*) FROM tickets_ticket WHERE sla_at_risk) AS tickets_flagged_at_risk
"""


def verify(args, *, before: datetime) -> dict:
    """Every due timer fired exactly once, with one sla.* outbox row and one audit event, and no other
    timer moved. What else the sweep did (escalations opened by time rules, their clocks, events and
    outbox rows) is counted, not asserted: it belongs to the escalation engine's own tests."""
    warns = round(args.due * args.warn_share)
    breaches = args.due - warns
    with owner(args) as conn:
        w1, w2 = conn.execute("SELECT warn_percents[1], warn_percents[2] FROM slas_slatimer LIMIT 1").fetchone()
        maxid = dict(conn.execute("SELECT table_name, max_id FROM bench_maxid").fetchall())
        cursor = conn.execute(VERIFY, {"w1": w1, "w2": w2, "before": before, "max_timer": maxid["slas_slatimer"]})
        found = dict(zip([c.name for c in cursor.description], cursor.fetchone(), strict=True))
        also = side_effects(conn, maxid)
    expected = {
        "breach_rows_ok": breaches,
        "warn_rows_ok": warns,
        "breached_total": breaches,
        "warned_total": warns,
        "timers_touched": args.due,
        "still_due": 0,
        "rules_still_due": 0,
        "outbox_sla": args.due,
        "outbox_sla_breached": breaches,
        "events_sla": args.due,
        "events_sla_distinct_tickets": args.due,
        "events_sla_breached": breaches,
        "tickets_flagged_breached": breaches,
        "tickets_flagged_at_risk": warns,
    }
    wrong = {key: (found[key], value) for key, value in expected.items() if found[key] != value}
    if wrong:
        raise BenchError(f"after the sweep (found, expected): {wrong}")
    return {**found, "side_effects": also}


def side_effects(conn, maxid: dict) -> dict:
    created = {}
    for table, max_id in maxid.items():
        count = conn.execute(f"SELECT count(*) FROM {table} WHERE id > %s", [max_id]).fetchone()[0]
        if count:
            created[table] = count
    return {
        "rows_created": created,
        "outbox_by_type": dict(conn.execute("SELECT type, count(*) FROM helpdesk_outboxevent GROUP BY 1 ORDER BY 1")),
        "events_by_kind": dict(conn.execute("SELECT kind, count(*) FROM tickets_ticketevent GROUP BY 1 ORDER BY 1")),
    }


CEILING = """
UPDATE slas_slatimer SET status = 'breached', breached_at = due_at, warn_at = NULL, due_at = NULL,
    next_check_at = NULL, updated_at = now()
WHERE status = 'running' AND next_check_at <= now()
"""


# The same due set with the side effects a sweep owes, set-based in one statement as the owner: every due
# timer breached (no clock maths), its ticket flagged, one audit event and one outbox row each. Not a
# design (it crosses tenants without RLS): the floor of what the full job costs in PostgreSQL here.
CEILING_WITH_EFFECTS = """
WITH fired AS (
    UPDATE slas_slatimer SET status = 'breached', breached_at = due_at, warn_at = NULL, due_at = NULL,
        next_check_at = NULL, updated_at = now()
    WHERE status = 'running' AND next_check_at <= now()
    RETURNING id, tenant_id, ticket_id, metric, target_minutes, started_at, breached_at
), flagged AS (
    UPDATE tickets_ticket t SET sla_breached = true, sla_at_risk = false FROM fired f WHERE t.id = f.ticket_id
), audited AS (
    INSERT INTO tickets_ticketevent (tenant_id, ticket_id, kind, actor_id, actor_label, before, after, created_at)
    SELECT tenant_id, ticket_id, 'sla_breached', NULL, 'system', '{}', jsonb_build_object('ticket', ticket_id,
        'metric', metric, 'target_minutes', target_minutes, 'breached_at', breached_at), now()
    FROM fired
)
INSERT INTO helpdesk_outboxevent (tenant_id, type, dedupe_key, payload, created_at)
SELECT tenant_id, 'sla.breached', 'sla.breached:' || id || ':' || started_at, jsonb_build_object('ticket', ticket_id,
    'metric', metric, 'target_minutes', target_minutes, 'breached_at', breached_at), now()
FROM fired
ON CONFLICT (tenant_id, dedupe_key) DO NOTHING
"""


def measure_ceiling_with_effects(args) -> dict:
    preflight(args, expect_due=args.due)
    busy = quiet(args.wait_quiet)
    with owner(args) as conn:
        started = time.perf_counter()
        rows = conn.execute(CEILING_WITH_EFFECTS).rowcount
        conn.commit()
        seconds = time.perf_counter() - started
        written = conn.execute(
            "SELECT (SELECT count(*) FROM helpdesk_outboxevent), (SELECT count(*) FROM tickets_ticketevent)"
        ).fetchone()
    if rows != args.due or written != (args.due, args.due):
        raise BenchError(f"the set-based reference wrote {rows} outbox rows, {written} (outbox, events)")
    return {"busy_cores_before": busy, "seconds": round(seconds, 4), "rows": rows}


def measure_ceiling(args) -> dict:
    preflight(args, expect_due=args.due)
    with owner(args) as conn:
        started = time.perf_counter()
        rows = conn.execute(CEILING).rowcount
        conn.commit()
        seconds = time.perf_counter() - started
        if rows != args.due:
            raise BenchError(f"the ceiling UPDATE changed {rows} rows, not {args.due}")
        idle = []
        for _ in range(args.idle_runs):
            started = time.perf_counter()
            conn.execute(CEILING, prepare=True)  # prepared: the planning (~0.6 ms here) is not the work
            conn.commit()
            idle.append((time.perf_counter() - started) * 1000)
    return {
        "seconds": round(seconds, 4),
        "rows": rows,
        "idle_median_ms": round(statistics.median(idle), 3),
        "idle_max_ms": round(max(idle), 3),
    }


def _naive_tenant(now: datetime) -> tuple[int, int, int]:
    """django-helpdesk style: no stored due column, so every open ticket of the tenant is loaded and its
    deadlines recomputed to find the few that are due. Generous to the baseline: it uses our compiled
    clock (not minute stepping), and only counts what it would fire instead of writing anything."""
    from slas import clock
    from slas.models import SLAPolicy
    from slas.services import calendar_to_clock, policy_matches
    from tickets.models import Status, Ticket

    policies = list(SLAPolicy.objects.filter(active=True).select_related("calendar").order_by("position", "id"))
    clocks = {policy.pk: calendar_to_clock(policy.calendar) for policy in policies}
    seen = breaches = warnings = 0
    for ticket in Ticket.objects.exclude(status__in=[Status.SOLVED, Status.CLOSED]).iterator(chunk_size=2000):
        seen += 1
        policy = next((p for p in policies if policy_matches(p, ticket=ticket, account=ticket.account)), None)
        if policy is None:
            continue
        metrics = ["resolution"] if ticket.first_response_at else ["first_response", "resolution"]
        state = None
        for metric in metrics:
            target, calendar = int(policy.targets[metric]), clocks[policy.pk]
            if clock.deadline(ticket.created_at, target, calendar) <= now:
                state = "breach"
                break
            if any(clock.deadline(ticket.created_at, target * p // 100, calendar) <= now for p in policy.warn_percent):
                state = "warn"
        breaches += state == "breach"
        warnings += state == "warn"
    return seen, breaches, warnings


def measure_naive(args) -> dict:
    from django.utils import timezone

    from helpdesk.models import Tenant
    from helpdesk.tenancy import tenant_context

    now = timezone.now()
    seen = breaches = warnings = 0
    sample: list[int] = []
    started = time.perf_counter()
    for tenant in Tenant.objects.order_by("id").iterator():
        if seen >= args.naive:
            break
        with tenant_context(tenant):
            counts = _naive_tenant(now)
        seen, breaches, warnings = seen + counts[0], breaches + counts[1], warnings + counts[2]
        sample.append(tenant.pk)
    seconds = time.perf_counter() - started
    with owner(args) as conn:
        total = conn.execute("SELECT count(*) FROM tickets_ticket WHERE status NOT IN ('solved', 'closed')").fetchone()
        expected = conn.execute(
            "SELECT count(*) FILTER (WHERE kind = 'breach'), count(*) FILTER (WHERE kind = 'warn') FROM bench_due "
            "WHERE tenant_id = ANY(%s)",
            [sample],
        ).fetchone()
    if (breaches, warnings) != tuple(expected):
        raise BenchError(f"the naive scan found {breaches} breaches and {warnings} warnings, expected {expected}")
    return {
        "sample_tenants": len(sample),
        "sample_tickets": seen,
        "sample_seconds": round(seconds, 3),
        "tickets_per_s": round(seen / seconds),
        "found_due_in_sample": breaches + warnings,
        "open_tickets": total[0],
        "extrapolated_seconds": round(seconds * total[0] / seen, 1),
    }


CLAIM_INNER = """SELECT t.id, t.tenant_id FROM slas_slatimer t
WHERE t.status = 'running' AND t.next_check_at <= {now}
ORDER BY t.next_check_at
LIMIT {limit}
FOR UPDATE SKIP LOCKED"""

PLAN_KEYS = ("Limit", "LockRows", "Scan", "Index Cond", "Filter", "Sort", "Buffers", "Planning Time", "Execution")


def explain_claim(args) -> dict:
    """The claim's inner SELECT under EXPLAIN (ANALYZE, BUFFERS) as the owner, and the plan the function
    really runs (auto_explain of `SELECT * FROM slas_claim_due_timers(...)`). Rolled back: locks only."""
    from psycopg import sql

    from helpdesk.workflows import SWEEP_BATCH

    now = datetime.now(UTC)
    notices: list[str] = []
    with owner(args) as conn:
        query = sql.SQL(CLAIM_INNER).format(now=sql.Literal(now), limit=sql.Literal(SWEEP_BATCH))
        inner = [row[0] for row in conn.execute(sql.SQL("EXPLAIN (ANALYZE, BUFFERS) ") + query).fetchall()]
        conn.rollback()
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        conn.execute(
            "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on; "
            "SET auto_explain.log_buffers = on; SET auto_explain.log_nested_statements = on; "
            "SET client_min_messages = log"
        )
        claimed = conn.execute("SELECT count(*) FROM slas_claim_due_timers(%s, %s)", [now, SWEEP_BATCH]).fetchone()
        conn.rollback()
    function_plan = next((n for n in notices if "slas_slatimer" in n), "(auto_explain gave no plan)")
    return {
        "claimed": claimed[0],
        "inner_select": inner,
        "inner_key_lines": [line.strip() for line in inner if any(key in line for key in PLAN_KEYS)],
        "function_plan": function_plan.splitlines(),
    }


# --- main ------------------------------------------------------------------------------------------


def phase_idle(args, results: dict) -> None:
    make_due(args, at=datetime.now(UTC) + timedelta(days=1))  # parked: nothing due
    results["plans"]["nothing_due"] = explain_claim(args)
    settle(args)
    results["busy_cores_before"] = quiet(args.wait_quiet)
    timed_sweep()  # the connection (and SET ROLE) is made here, as a worker's first sweep would
    results["idle"] = measure_idle(args.idle_runs)
    log(f"idle sweep: median {results['idle']['median_ms']} ms, max {results['idle']['max_ms']} ms")


def phase_due(args, results: dict) -> None:
    make_due(args, at=datetime.now(UTC))
    results["plans"]["due"] = explain_claim(args)
    settle(args)
    # One run, every statement timed: the wrapper costs ~2 us a statement (a clean run and a timed one
    # differed by less than their run-to-run noise), and it tells where the time goes.
    results["due"] = measure_parallel(args) if args.processes > 1 else measure_due(args, instrumented=True)
    due = results["due"]
    log(
        f"due sweep: {due['seconds']} s for {due['report']['claimed']} timers, stages {due['stage_seconds']}, "
        f"{due['report']['escalated']} escalations, checks ok ({args.processes} process(es), {due['load']})"
    )
    for run in due.get("runs", []):
        log(f"  process: started +{run['started_after_s']} s, ended +{run['ended_after_s']} s, {run['report']}")
    idle_after = measure_idle(args.idle_runs)
    results["idle_after_due"] = idle_after
    log(f"idle right after it: first {idle_after['first_ms']} ms, median {idle_after['median_ms']} ms")
    if args.profile:
        make_due(args, at=datetime.now(UTC))
        results["due_profiled"] = measure_due(args, profile=True)
        log(f"due sweep under cProfile: {results['due_profiled']['seconds']} s")


def rss_mb() -> float:
    """The process's resident set now (VmRSS), in MB: what a worker holds, not its peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def phase_storms(args, results: dict) -> None:
    """A worker's memory over --storms storm sweeps in one process (issue 17: it must stay flat): each sweep on
    the due set made due again, RSS read after it (and after the garbage collector, as a long-lived worker
    runs it between tasks)."""
    import gc

    runs = []
    for index in range(args.storms):
        make_due(args, at=datetime.now(UTC))
        seconds, report = timed_sweep()
        gc.collect()
        runs.append(
            {"run": index + 1, "seconds": round(seconds, 2), "escalated": report.escalated, "rss_mb": rss_mb(),
             "load": uptime()}
        )  # fmt: skip
        log(f"storm {index + 1}/{args.storms}: {runs[-1]}")
    results["storms"] = {"runs": runs, "rss_growth_mb": round(runs[-1]["rss_mb"] - runs[0]["rss_mb"], 1)}


def phase_references(args, results: dict) -> None:
    make_due(args, at=datetime.now(UTC))
    log(f"naive baseline on the first tenants up to {args.naive} tickets ...")
    results["naive"] = measure_naive(args)
    log(f"naive: {results['naive']['tickets_per_s']} tickets/s -> {results['naive']['extrapolated_seconds']} s")
    settle(args)
    results["ceiling"] = {"busy_cores_before": quiet(args.wait_quiet), **measure_ceiling(args)}
    log(f"ceiling: {results['ceiling']['seconds']} s, idle {results['ceiling']['idle_median_ms']} ms")
    make_due(args, at=datetime.now(UTC))
    results["ceiling_with_effects"] = measure_ceiling_with_effects(args)
    log(f"set-based reference with events, outbox and flags: {results['ceiling_with_effects']['seconds']} s")


def conclude(args, results: dict) -> None:
    """The SLA stage is the work the ceiling and the naive baseline also do (find due clocks, mark them),
    so the ratios use it; the whole sweep adds the escalations the matrix opens for those tickets."""
    due = results["due"]
    sla_s, all_s, idle_ms = due["stage_seconds"]["sla"], due["seconds"], results["idle"]["median_ms"]
    worst_idle = max(results["idle"]["max_ms"], results["idle_after_due"]["max_ms"])
    storm = {"target_s": TARGET_STORM_S, "measured_s": all_s, "met": all_s < TARGET_STORM_S}
    fan_out = due["stage_seconds"].get("notifications", 0.0)
    results["verdict"] = {
        "whole_sweep_storm": storm,
        "fan_out": {"target_s": TARGET_FAN_OUT_S, "measured_s": fan_out, "met": fan_out < TARGET_FAN_OUT_S},
        "idle": {"target_ms": TARGET_IDLE_MS, "median_ms": idle_ms, "max_ms": worst_idle,
                 "met": worst_idle < TARGET_IDLE_MS},
    }  # fmt: skip
    if "naive" not in results:
        return
    naive_s = results["naive"]["extrapolated_seconds"]
    results["ratios"] = {
        "sla_stage_vs_ceiling": round(sla_s / results["ceiling"]["seconds"], 1),
        "sla_stage_vs_set_based_with_effects": round(sla_s / results["ceiling_with_effects"]["seconds"], 1),
        "naive_vs_sla_stage": round(naive_s / sla_s, 1),
        "idle_vs_ceiling_idle": round(idle_ms / results["ceiling"]["idle_median_ms"], 1),
        "naive_vs_idle": round(naive_s * 1000 / idle_ms),
    }
    results["verdict"]["sla_stage"] = {"target_s": TARGET_DUE_S, "measured_s": sla_s, "met": sla_s < TARGET_DUE_S}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timers", type=int, default=1_000_000, help="open tickets, one running timer each")
    parser.add_argument("--tenants", type=int, default=1_000)
    parser.add_argument("--due", type=int, default=10_000, help="timers due when the due sweep runs")
    parser.add_argument("--warn-share", type=float, default=0.5, help="share of the due timers that warn (75 %%)")
    parser.add_argument("--idle-runs", type=int, default=20)
    parser.add_argument("--naive", type=int, default=20_000, help="tickets the naive baseline scans (then x)")
    parser.add_argument("--profile", action="store_true", help="also run the due sweep under cProfile")
    parser.add_argument("--wait-quiet", type=float, default=0, help="seconds to wait for an idle machine")
    parser.add_argument("--reuse", action="store_true", help="keep an existing bench database of the same shape")
    parser.add_argument("--storms", type=int, default=0, help="then this many storm sweeps, RSS after each")
    parser.add_argument("--no-references", action="store_true", help="skip the naive baseline and the ceilings")
    parser.add_argument("--drop", action="store_true", help="drop the bench database at the end")
    parser.add_argument("--db", default="helpdesk_bench_sweep", help="bench database (dropped and recreated)")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--processes", type=int, default=1, help="the storm swept by this many processes at once (a sweep + joiners)"
    )
    args = parser.parse_args()
    if "bench" not in args.db:
        parser.error("--db must contain 'bench': it is dropped and recreated")
    if not 1 <= args.tenants <= args.timers or not 1 <= args.due <= args.timers // 2:
        parser.error("need 1 <= --tenants <= --timers and 1 <= --due <= --timers / 2")
    if not 1 <= args.processes <= 16:
        parser.error("--processes must be within 1..16")
    if not 0 <= args.warn_share <= 1 or args.idle_runs < 1 or args.naive < 1:
        parser.error("--warn-share must be within 0..1, --idle-runs and --naive positive")
    return args


def main() -> int:
    args = parse_args()
    env = {
        "DATABASE_URL": f"{args.pg}/{args.db}",
        "REDIS_URL": args.redis_url,
        "SECRET_KEY": SECRET_KEY,
        "DEBUG": "0",
    }
    django_setup(env)
    results: dict = {"command": " ".join([".venv/bin/python", "bench/sweep_bench.py", *sys.argv[1:]])}
    results["params"], results["plans"] = params_of(args), {}
    try:
        if args.reuse and reuse_check(args):
            migrate({**os.environ, **env})  # the app may have moved on since the data was generated
            log(f"reusing {args.db} (migrated)")
            results["generation"] = "reused"
        else:
            results["generation"] = generate(args, {**os.environ, **env})
        results["machine"] = machine(args)
        phase_idle(args, results)
        phase_due(args, results)
        if args.storms:
            phase_storms(args, results)
        if not args.no_references:
            phase_references(args, results)
        conclude(args, results)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    profile = results.get("due_profiled", {}).pop("profile", None)
    print(json.dumps(results, indent=2, default=str))
    if profile:
        print(profile)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    if args.drop:
        from django.db import connections

        connections.close_all()
        import psycopg
        from psycopg import sql

        with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(args.db)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
