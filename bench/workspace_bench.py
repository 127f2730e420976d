"""Agent workspace benchmark: server time of the queue pages, the ticket page and the polls for a tenant with
100,000 tickets (issue 14: < 100 ms at p95 for queue and ticket pages; a poll that finds nothing new costs one
cheap query and answers 204), with the two reference points measured in the same run:

- ceiling: a signed-in request that reads one indexed row and renders nothing (the queue poll that finds
  nothing new): session, user, seat, tenant and the transaction that carries the tenant setting -- what every
  page pays before it reads anything of its own;
- naive: the queues as one writes them first, through the same view and template: an exact COUNT(*) per view
  (seven statements), OFFSET pagination, model instances without select_related (the requester, assignee,
  its user, team and account of each row read one by one).

Every request goes through Django's whole stack in this process (test Client: middleware, session, tenant,
row-level security under the app's role, template rendering; no HTTP server), signed in as an agent of tier 2
in the Billing team ("wsb-maya"). Each figure is the p50 / p95 of --repeat requests after two warm-ups, with
the SQL statements of one request counted by an execute wrapper.

The tenant ("wsbench") is made once and reused: 100,000 tickets with 250,000 messages through the bulk
importer (`tickets.importer`, the path of `manage.py import_tickets`, SLA clocks started per batch), then,
set-based in SQL, 1,000 accounts (one in twelve VIP), 6 teams and 38 people, tickets spread over teams and
assignees, the open tickets' clocks re-based around now (some breached, some at risk, with the tickets'
flags as the sweep keeps them), 160 escalations through the workflows (manual ones to a team, a tier and a
manager; angry customer messages that fire the matrix) and ~3,000 more copied from those onto other open
tickets. Results: bench/WORKSPACE.md.

    .venv/bin/python bench/workspace_bench.py [--tickets 100000] [--repeat 30] [--naive-repeat 10]
"""

from __future__ import annotations

import argparse
import html
import math
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

import django

django.setup()

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402

from bench import import_bench  # noqa: E402
from escalation.models import Escalation, RuleFiring  # noqa: E402
from helpdesk import workflows  # noqa: E402
from helpdesk.auth import Principal  # noqa: E402
from helpdesk.models import Role, Team, Tenant  # noqa: E402
from helpdesk.services import membership_create  # noqa: E402
from helpdesk.tenancy import tenant_context  # noqa: E402
from helpdesk.workspace import queues  # noqa: E402
from tickets.models import AuthorType, Ticket  # noqa: E402

SLUG = "wsbench"
PASSWORD = "wsbench-pass-123"
AGENT = "wsb-maya"
# team name, tier, skills, members; "slots" of ten: how many tenths of the tickets the team holds
TEAMS = (
    ("Support EU", 1, [], 10, 3),
    ("Support US", 1, [], 8, 2),
    ("Support APAC", 1, [], 6, 1),
    ("Billing", 2, ["billing"], 6, 2),
    ("Technical", 2, ["integrations"], 4, 1),
    ("Engineering", 3, ["engineering"], 2, 1),
)
ANGRY = "This is unacceptable. We have been waiting for days and nothing happens. I want to speak to a manager."
SUMMARY = {
    "problem": "The export fails for every user since the update.",
    "tried": "Cleared caches, reproduced on two accounts, checked the status page.",
    "emotional_state": "Frustrated: month-end close is blocked.",
    "desired_outcome": "A working export today, or a workaround.",
    "account_context": "Enterprise plan, renewal next month.",
}


# --- the tenant ------------------------------------------------------------------------------------


def superuser_sql():
    """The URL's own role (it owns the tables, so row-level security does not filter its set-based writes)."""
    db = settings.DATABASES["default"]
    return psycopg.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"] or None, port=db["PORT"] or None, password=db["PASSWORD"]
    )


def people(tenant: Tenant) -> dict[str, list]:
    """The teams and their members (wsb-maya first in Billing), and two managers in no team."""
    teams = {}
    for name, tier, skills, size, _ in TEAMS:
        members = []
        for n in range(size):
            username = AGENT if name == "Billing" and n == 0 else f"wsb-{name.split()[-1].lower()}-{n}"
            members.append(
                membership_create(
                    tenant=tenant, username=username, password=PASSWORD, role=Role.AGENT, tier=tier, skills=skills
                )
            )
        teams[name] = workflows.team_create(
            tenant=tenant, actor=None, name=name, tier=tier, skills=skills, members=members
        )
    for n in range(2):
        membership_create(tenant=tenant, username=f"wsb-manager-{n}", password=PASSWORD, role=Role.MANAGER, tier=3)
    return teams


def spread(tenant: Tenant, teams: dict) -> None:
    """Accounts, teams, assignees, clocks and the SLA flags, set-based (the importer knows none of them)."""
    slots = []
    for name, tier, _, _, share in TEAMS:
        team = teams[name]
        with tenant_context(tenant):
            member_ids = list(team.members.values_list("pk", flat=True))
        slots += [(team.pk, tier, member_ids)] * share
    values = ", ".join(
        f"({i}, {team_id}, {tier}, ARRAY[{','.join(map(str, ids))}]::bigint[])"
        for i, (team_id, tier, ids) in enumerate(slots)
    )
    t = tenant.pk
    statements = [
        f"""INSERT INTO tickets_account (tenant_id, name, plan, vip, annual_contract_value, lifetime_value,
                customer_since, created_at, updated_at)
            SELECT {t}, (ARRAY['Acme','Globex','Initech','Umbrella','Stark','Wayne','Hooli','Vandelay','Soylent',
                    'Tyrell','Cyberdyne','Wonka','Gringotts','Oscorp','Aperture','Black Mesa'])[1 + g % 16]
                    || ' ' || (ARRAY['GmbH','Ltd','Inc','SA','BV','AG','Oy'])[1 + g % 7] || ' ' || g,
                (ARRAY['free','standard','business','enterprise'])[1 + (g * 7) % 4], g % 12 = 0,
                (g * 137 % 200) * 1000, (g * 311 % 900) * 1000, date '2015-01-01' + (g * 37 % 3000), now(), now()
            FROM generate_series(1, 1000) g""",
        f"""UPDATE tickets_customer c SET account_id = a.id
            FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM tickets_account WHERE tenant_id = {t}) a
            WHERE c.tenant_id = {t} AND c.id % 10 <> 0 AND a.n = c.id % 1000""",
        f"""UPDATE tickets_ticket t SET account_id = c.account_id
            FROM tickets_customer c WHERE t.requester_id = c.id AND t.tenant_id = {t}""",
        f"""UPDATE tickets_ticket t SET team_id = m.team_id, tier = m.tier,
                assignee_id = CASE WHEN t.status = 'new' AND t.id % 3 <> 0 THEN NULL
                                   ELSE m.members[1 + (t.id / {len(slots)}) % array_length(m.members, 1)] END
            FROM (VALUES {values}) m(slot, team_id, tier, members)
            WHERE t.tenant_id = {t} AND m.slot = t.id % {len(slots)}""",
    ]
    with superuser_sql() as sql:
        for statement in statements:
            sql.execute(statement)
    clocks(tenant)


def clocks(tenant: Tenant) -> None:
    """The unsolved tickets' clocks, re-based around now (imported tickets are back-dated, so every clock
    would be long overdue): due between 5 hours ago and 2.8 days ahead, paused while pending or on hold;
    then what the sweep would have made of them (breached) and the tickets' flags."""
    t = tenant.pk
    spread_minutes = "(abs(hashtext(s.id::text)) % 4300 - 300)"
    statements = [
        f"""UPDATE slas_slatimer s
            SET started_at = now() - interval '1 minute' * (abs(hashtext(s.id::text || 's')) % 2880),
                due_at = now() + interval '1 minute' * {spread_minutes},
                warn_at = now() + interval '1 minute' * ({spread_minutes} - s.target_minutes / 4),
                next_check_at = now() + interval '1 minute' * ({spread_minutes} - s.target_minutes / 4),
                status = CASE WHEN t.status IN ('pending', 'on_hold') THEN 'paused' ELSE 'running' END,
                paused_at = CASE WHEN t.status IN ('pending', 'on_hold') THEN t.updated_at END,
                breached_at = NULL
            FROM tickets_ticket t
            WHERE s.ticket_id = t.id AND s.tenant_id = {t} AND s.status IN ('running', 'breached', 'paused')
              AND t.status IN ('new', 'open', 'pending', 'on_hold')""",
        f"""UPDATE slas_slatimer SET status = 'breached', breached_at = due_at, next_check_at = NULL
            WHERE tenant_id = {t} AND status = 'running' AND due_at < now()""",
        f"""UPDATE tickets_ticket t SET
                sla_breached = EXISTS (SELECT 1 FROM slas_slatimer s
                                       WHERE s.ticket_id = t.id AND s.status = 'breached'),
                sla_at_risk = EXISTS (SELECT 1 FROM slas_slatimer s WHERE s.ticket_id = t.id AND s.status = 'running'
                                      AND s.warn_at < now())
            WHERE t.tenant_id = {t} AND t.status IN ('new', 'open', 'pending', 'on_hold')""",
    ]
    with superuser_sql() as sql:
        for statement in statements:
            started = time.perf_counter()
            sql.execute(statement)
            print(f"  {time.perf_counter() - started:.1f} s: {' '.join(statement.split())[:60]}")


def principal_of(tenant: Tenant, membership) -> Principal:
    return Principal(tenant=tenant, role=membership.role, membership=membership)


def escalate(tenant: Tenant, teams: dict) -> None:
    """Escalations through the workflows (manual ones, and the matrix on angry messages), then copies of them
    onto other open tickets, set-based, to a realistic share of the open work (~3,000 of ~35,000)."""
    billing = teams["Billing"]
    with tenant_context(tenant):
        candidates = list(
            Ticket.objects.filter(status__in=["new", "open"], assignee__isnull=False, escalated=False)
            .select_related("assignee__user", "requester")
            .order_by("-updated_at")[:160]
        )
        for n, ticket in enumerate(candidates[:120]):
            target = [{"target_team": billing}, {"target_tier": 2}, {"target_role": Role.MANAGER}][n % 3]
            workflows.escalate_manually(
                ticket=ticket,
                actor=principal_of(tenant, ticket.assignee),
                kind="functional" if n % 3 != 2 else "hierarchical",
                reason="the customer needs a specialist",
                summary=SUMMARY,
                **target,
            )
        for ticket in candidates[120:]:
            workflows.message_receive(ticket=ticket, actor=None, body=ANGRY, author_type=AuthorType.CUSTOMER)
        for escalation in Escalation.objects.filter(team=billing).select_related("agent")[:20]:
            if escalation.agent is not None:
                workflows.escalation_acknowledge(escalation=escalation, actor=principal_of(tenant, escalation.agent))
    t = tenant.pk
    with superuser_sql() as sql:
        columns = [
            row[0]
            for row in sql.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'escalation_escalation'"
                " AND column_name NOT IN ('id', 'ticket_id')"
            )
        ]
        listed = ", ".join(columns)
        sql.execute(
            f"""WITH templates AS (
                    SELECT e.*, row_number() OVER (ORDER BY e.id) - 1 AS n, count(*) OVER () AS total
                    FROM escalation_escalation e WHERE e.tenant_id = {t}),
                targets AS (
                    SELECT t.id AS ticket_id, row_number() OVER (ORDER BY t.id) - 1 AS n FROM tickets_ticket t
                    WHERE t.tenant_id = {t} AND t.status IN ('new', 'open', 'pending') AND NOT t.escalated
                      AND t.id % 11 = 0),
                copied AS (
                    INSERT INTO escalation_escalation (ticket_id, {listed})
                    SELECT targets.ticket_id, {", ".join(f"templates.{c}" for c in columns)}
                    FROM targets JOIN templates ON templates.n = targets.n % templates.total
                    RETURNING ticket_id)
                UPDATE tickets_ticket SET escalated = true, escalation_count = escalation_count + 1
                WHERE id IN (SELECT ticket_id FROM copied)"""
        )


def tenant_with_tickets(tickets: int) -> Tenant:
    """The bench tenant, made once; each stage is skipped when its work is there (a load can be resumed)."""
    started = time.perf_counter()
    tenant = Tenant.objects.filter(slug=SLUG).first()
    if tenant is None:
        tenant = workflows.tenant_bootstrap(slug=SLUG, name="Workspace bench", timezone="Europe/Berlin")
        people(tenant)
    with tenant_context(tenant):
        teams = {team.name: team for team in Team.objects.all()}
        held = Ticket.objects.count()
        spread_done = Ticket.objects.filter(team__isnull=False).exists()
        escalated = Escalation.objects.exists()
    if held == 0:
        path = Path(f"/tmp/wsbench_tickets_{tickets}.jsonl")
        if not path.exists():
            import_bench.generate(path, tickets)
        with open(os.devnull, "w") as quiet:
            call_command("import_tickets", SLUG, str(path), stdout=quiet)
        print(f"imported {tickets:,} tickets in {time.perf_counter() - started:.0f} s")
    elif held < tickets:
        raise SystemExit(f"tenant {SLUG} holds {held:,} tickets, not {tickets:,}: use a fresh database")
    if not spread_done:
        spread(tenant, teams)
    if not escalated:
        escalate(tenant, teams)
        with superuser_sql() as sql:
            sql.autocommit = True
            sql.execute("VACUUM ANALYZE")
        print(f"loaded in {time.perf_counter() - started:.0f} s")
    return tenant


def describe(tenant: Tenant) -> str:
    with tenant_context(tenant):
        tickets = Ticket.objects.all()
        opened = tickets.filter(status__in=queues.OPEN_STATUSES)
        return (
            f"{tickets.count():,} tickets ({opened.count():,} open; "
            f"{opened.filter(sla_breached=True).count():,} breached, {opened.filter(sla_at_risk=True).count():,} at "
            f"risk, {tickets.filter(escalated=True).count():,} escalated), "
            f"{Escalation.objects.count():,} escalations, {RuleFiring.objects.count():,} rule firings, "
            f"{tickets.filter(account__vip=True).count():,} tickets of VIP accounts"
        )


# --- the naive queues ------------------------------------------------------------------------------


def naive_queue_page(principal, params) -> queues.QueuePage:
    """The queues as first written: exact COUNT(*) per view, OFFSET pages (the "cursor" is the offset), and
    each row's related objects read one by one."""
    view = params.get("view") if params.get("view") in queues.VIEW_SLUGS else queues.DEFAULT_VIEW
    sort = params.get("sort") if params.get("sort") in queues.SORTS else queues.DEFAULT_SORT
    tickets, errors, _ = queues.filtered(principal, params)
    filters = queues.view_filters(principal, list(principal.membership.teams.values_list("pk", flat=True)))
    counts = {slug: tickets.filter(q).count() for slug, q in filters.items()}
    offset = int(params.get("cursor") or 0)
    selected = (
        tickets.filter(filters[view])
        .select_related(None)
        .annotate(priority_rank=queues.PRIORITY_ORDER)
        .order_by(*queues.SORTS[sort][1])
    )
    found = list(selected[offset : offset + queues.PAGE_SIZE + 1])
    rows = [naive_row(ticket) for ticket in found[: queues.PAGE_SIZE]]
    more = len(found) > queues.PAGE_SIZE
    return queues.QueuePage(
        view=view,
        sort=sort,
        rows=rows,
        counts=counts,
        next_cursor=str(offset + queues.PAGE_SIZE) if more else None,
        errors=errors,
    )


def naive_row(ticket: Ticket) -> dict:
    row = {name: getattr(ticket, name) for name in queues.ROW_FIELDS if "__" not in name}
    row.update(
        priority_rank=ticket.priority_rank,
        requester__name=ticket.requester.name,
        requester__email=ticket.requester.email,
        assignee__user__username=ticket.assignee.user.username if ticket.assignee_id else None,
        team__name=ticket.team.name if ticket.team_id else None,
        account__name=ticket.account.name if ticket.account_id else None,
        account__vip=ticket.account.vip if ticket.account_id else None,
    )
    return row


def exact_counts(tickets, filters) -> dict[str, int]:
    """The counts before they were capped: every view exact, one FILTER per view over all of the tickets."""
    return tickets.aggregate(**{slug: Count("pk", filter=q) for slug, q in filters.items()})


# --- measuring -------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


# CPU time of the template rendering of the current request (django.template.backends.django.Template.render,
# wrapped in main()): the part of "Python CPU" that the templates cost.
RENDER_CPU: list[float] = []


def timed_render(render):
    def timed(self, *args, **kwargs):
        started = time.process_time()
        try:
            return render(self, *args, **kwargs)
        finally:
            RENDER_CPU.append(time.process_time() - started)

    return timed


def measure(client: Client, url: str, repeat: int, *, status: int = 200, htmx: bool = False) -> dict:
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    for _ in range(2):
        response = client.get(url, **headers)
        assert response.status_code == status, (url, response.status_code, response.content[:300])
    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = client.get(url, **headers)
    seconds, cpu, rendering = [], [], []
    for _ in range(repeat):
        RENDER_CPU.clear()
        started, started_cpu = time.perf_counter(), time.process_time()
        client.get(url, **headers)
        seconds.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        rendering.append(sum(RENDER_CPU))
    body = response.content.decode()
    return {
        "cpu": statistics.median(cpu) * 1000,
        "render": statistics.median(rendering) * 1000,
        "p50": statistics.median(seconds) * 1000,
        "p95": percentile(seconds, 0.95) * 1000,
        "max": max(seconds) * 1000,
        "statements": len(statements),
        "rows": body.count("<tr data-row"),
        "body": body,
    }


def scenarios(tenant: Tenant, client: Client) -> list[tuple[str, str]]:
    with tenant_context(tenant):
        billing = Team.objects.get(name="Billing").pk
    found = [(f"queue view={view.slug}", f"/tickets/?view={view.slug}") for view in queues.VIEWS]
    found += [
        ("all, status=open", "/tickets/?view=all&status=open"),
        ("all, priority=urgent", "/tickets/?view=all&priority=urgent"),
        ("all, team=Billing", f"/tickets/?view=all&team={billing}"),
        ("all, vip=true", "/tickets/?view=all&vip=true"),
        ("team, priority=high, vip=true", "/tickets/?view=team&priority=high&vip=true"),
        ("all, q=webhook (5 % of tickets)", "/tickets/?view=all&q=webhook"),
        ("all, q=frustrating (≈ 40 %)", "/tickets/?view=all&q=frustrating"),
        ('all, q="charged twice" invoice (none)', "/tickets/?view=all&q=%22charged+twice%22+invoice"),
        ("mine, q=slow", "/tickets/?view=mine&q=slow"),
        ("all, sort=priority", "/tickets/?view=all&sort=priority"),
        ("all, sort=oldest", "/tickets/?view=all&sort=oldest"),
        ("team, sort=priority", "/tickets/?view=team&sort=priority"),
    ]
    return found


def second_page(client: Client, url: str, body: str) -> str:
    """The queue's own "Next page" link, as the page rendered it (a cursor, or the naive offset)."""
    link = re.search(r'<a href="\?([^"]*)" rel="next">', body)
    assert link, f"no next page on {url}"
    return "/tickets/?" + html.unescape(link.group(1))


def ticket_pages(tenant: Tenant) -> list[tuple[str, int]]:
    with tenant_context(tenant):
        fired = RuleFiring.objects.filter(escalation__isnull=False).values_list("ticket_id", flat=True).first()
        manual = (
            Escalation.objects.filter(trigger="manual", team__name="Billing")
            .order_by("id")
            .values_list("ticket_id", flat=True)
            .first()
        )
        plain = Ticket.objects.filter(status="open", escalated=False).order_by("id").values_list("pk", flat=True)[0]
    return [
        ("ticket page, escalated by the matrix (Why escalated)", fired),
        ("ticket page, escalated to Billing by a person", manual),
        ("ticket page, open, not escalated", plain),
    ]


def run(tenant: Tenant, client: Client, repeat: int, naive_repeat: int) -> list[tuple]:
    results = []
    page_urls = scenarios(tenant, client)
    for label, url in page_urls:
        results.append((label, measure(client, url, repeat)))
        print(f"  {label}: p95 {results[-1][1]['p95']:,.1f} ms", flush=True)
    for label, url in [("all", "/tickets/?view=all"), ("team", "/tickets/?view=team")]:
        first = client.get(url).content.decode()
        results.append((f"{label}, second page (cursor)", measure(client, second_page(client, url, first), repeat)))
    for label, ticket_id in ticket_pages(tenant):
        results.append((label, measure(client, f"/tickets/{ticket_id}/", repeat)))
    body = client.get("/tickets/?view=all").content.decode()
    version = re.search(r'data-version="(\d+)"', body).group(1)
    poll = measure(client, f"/tickets/?view=all&since={version}", repeat, status=204, htmx=True)
    results.append(("queue poll, nothing new (204) = ceiling", poll))
    ticket_id = ticket_pages(tenant)[0][1]
    page = client.get(f"/tickets/{ticket_id}/").content.decode()
    since = re.search(r"poll/\?since=(\d+)", page).group(1)
    results.append(
        (
            "ticket poll, nothing new (204)",
            measure(client, f"/tickets/{ticket_id}/poll/?since={since}", repeat, status=204),
        )
    )
    naive = []
    real_page = queues.queue_page
    queues.queue_page = naive_queue_page
    try:
        for label, url in page_urls:
            naive.append((label, measure(client, url, naive_repeat)))
        for label, url in [("all", "/tickets/?view=all"), ("team", "/tickets/?view=team")]:
            first = client.get(url).content.decode()
            naive.append(
                (f"{label}, second page (cursor)", measure(client, second_page(client, url, first), naive_repeat))
            )
    finally:
        queues.queue_page = real_page
    before = []
    real_counts = queues.view_counts
    queues.view_counts = exact_counts
    try:
        for label, url in page_urls[: len(queues.VIEWS)]:
            before.append((label, measure(client, url, naive_repeat)))
    finally:
        queues.view_counts = real_counts
    naive_by_label, before_by_label = dict(naive), dict(before)
    return [(label, result, naive_by_label.get(label), before_by_label.get(label)) for label, result in results]


def report(rows: list[tuple]) -> None:
    print(
        "\n| request | p50 | p95 | Python CPU p50 | of it rendering | SQL | rows | naive p50 | naive p95 | naive SQL "
        "| exact counts p50 | exact counts p95 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, result, naive, before in rows:
        theirs = f"{naive['p50']:,.1f} ms | {naive['p95']:,.1f} ms | {naive['statements']}" if naive else "— | — | —"
        exact = f"{before['p50']:,.1f} ms | {before['p95']:,.1f} ms" if before else "— | —"
        print(
            f"| {label} | {result['p50']:,.1f} ms | {result['p95']:,.1f} ms | {result['cpu']:,.1f} ms | "
            f"{result['render']:,.1f} ms | {result['statements']} | {result['rows']} | {theirs} | {exact} |"
        )


def counts_of(client: Client) -> str:
    body = client.get("/tickets/?view=all").content.decode()
    found = re.findall(r'<a href="\?view=(\w+)"[^>]*>[^<]*<span class="count"[^>]*>([^<]*)</span>', body)
    return ", ".join(f"{view} {count}" for view, count in found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--naive-repeat", type=int, default=10)
    parser.add_argument("--load-only", action="store_true")
    args = parser.parse_args()

    tenant = tenant_with_tickets(args.tickets)
    print(describe(tenant))
    if args.load_only:
        return
    from django.template.backends import django as django_templates

    django_templates.Template.render = timed_render(django_templates.Template.render)
    client = Client(HTTP_HOST="localhost")
    if not client.login(username=AGENT, password=PASSWORD):
        raise SystemExit(f"{AGENT} cannot sign in")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, load {load}")
    print(f"counts as {AGENT} sees them: {counts_of(client)}")
    rows = run(tenant, client, args.repeat, args.naive_repeat)
    report(rows)
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
