"""Reads of the tickets app, shared by the API, the UI and tasks."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.db.models import CharField, Func, QuerySet
from django.db.models.expressions import RawSQL

from helpdesk.models import Tenant
from tickets.models import Account, Customer, Message, ResolutionAttempt, Ticket, TicketEvent


def account_list(*, tenant: Tenant) -> QuerySet[Account]:
    return Account.objects.filter(tenant=tenant)


def customer_list(*, tenant: Tenant) -> QuerySet[Customer]:
    return Customer.objects.filter(tenant=tenant)


def ticket_list(*, tenant: Tenant) -> QuerySet[Ticket]:
    """The tenant's tickets as model instances, for the code that acts on one (services, workflows).
    What the API shows of them is read through ticket_rows and ticket_sla_rows."""
    return Ticket.objects.filter(tenant=tenant).select_related("requester").defer("search_vector")


def categories_in_use(*, tenant: Tenant, recent: int = 500) -> list[str]:
    """The categories of the tenant's most recent tickets (the newest-first index bounds the read), to suggest
    where a category is asked for."""
    latest = Ticket.objects.filter(tenant=tenant).exclude(category="").order_by("-created_at", "-id")
    return sorted(set(latest.values_list("category", flat=True)[:recent]))


def ticket_get(*, tenant: Tenant, ticket_id: int) -> Ticket:
    """Raises Ticket.DoesNotExist for a missing ticket and for another tenant's alike."""
    return ticket_list(tenant=tenant).get(pk=ticket_id)


# The columns of a ticket the API shows, the requester's through the join of the same query.
TICKET_ROW_FIELDS = (
    "id",
    "subject",
    "description",
    "requester_id",
    "requester__email",
    "requester__name",
    "priority",
    "channel",
    "category",
    "tags",
    "status",
    "tier",
    "assignee_id",
    "team_id",
    "account_id",
    "sentiment",
    "escalated",
    "escalation_count",
    "follow_up_count",
    "sla_breached",
    "sla_at_risk",
    "triage",
    "triage_reasons",
    "review_reason",
    "review_flagged_at",
    "created_at",
    "updated_at",
)


def ticket_rows(tickets: QuerySet[Ticket]) -> QuerySet[dict]:
    """The tickets of a (filtered, tenant-scoped) queryset as plain dicts of TICKET_ROW_FIELDS. A page of
    model instances (tickets, requesters) and the columns nobody shows cost most of a list page's CPU.
    Dicts, not tuples: the cursor paginator reads the ordering field of the page's last row by name."""
    return tickets.select_related(None).prefetch_related(None).values(*TICKET_ROW_FIELDS)


class UtcIsoText(Func):
    """A timestamptz as ISO 8601 text in UTC with six-digit microseconds ("2026-11-25T18:04:05.120000Z"),
    formatted by PostgreSQL: psycopg parses a timestamp into a datetime at ~2.7 us (Django's time zone
    loader is pure Python), and a page's ~300 clock times were then only formatted back into text."""

    template = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    output_field = CharField()


# What the ticket's "sla" block shows of each of its own clocks (an escalation's clocks are shown on the
# escalation, so they are not read at all). The times come as UtcIsoText.
SLA_ROW_FIELDS = (
    "metric", "target_minutes", "started_at", "due_at", "warn_at", "status", "breached_at", "met_at", "misses",
    "met_periods",
)  # fmt: skip
SLA_ROW_TIMES = frozenset({"started_at", "due_at", "warn_at", "breached_at", "met_at"})


def ticket_sla_rows(*, tenant: Tenant, ticket_ids: list[int]) -> dict[int, list[tuple]]:
    """The own SLA clocks of these tickets in one query: ticket id -> tuples of SLA_ROW_FIELDS, sorted by
    metric (in Python, as the block always was: the database's collation may order names otherwise)."""
    # "sla_timers" is the SLA engine's reverse relation: read by name, so this app imports nothing of it.
    timers = Ticket._meta.get_field("sla_timers").related_model.objects
    columns = [UtcIsoText(name) if name in SLA_ROW_TIMES else name for name in SLA_ROW_FIELDS]
    rows = timers.filter(tenant=tenant, ticket_id__in=ticket_ids, escalation_id=0).values_list("ticket_id", *columns)
    by_ticket: dict[int, list[tuple]] = {}
    for ticket_id, *clock in rows:
        by_ticket.setdefault(ticket_id, []).append(tuple(clock))
    return {ticket_id: sort_clocks(clocks) for ticket_id, clocks in by_ticket.items()}


def sort_clocks(clocks: list[tuple]) -> list[tuple]:
    return sorted(clocks, key=lambda clock: clock[0])


# The match runs in `tickets_search_ids` (migration tickets 0010, capped in 0011), where the GIN index can serve
# it: under row-level security the planner may not use an index for `@@`, which is not LEAKPROOF. The function
# keeps to the transaction's tenant; the tickets themselves are still read under RLS and the queryset's own
# filters. It returns the newest matches up to a cap: a word in 40 % of 100,000 tickets returned 40,000 ids,
# read again by every count of a queue page (1.8 s, bench/WORKSPACE.md).
SEARCH_IDS = "SELECT tickets_search_ids(%s, %s)"


def search_cap() -> int:
    """How many matches a search holds, the newest (settings.SEARCH_CAP; "1,000+ matches" beyond)."""
    return settings.SEARCH_CAP


def search_ids(text: str) -> list[int]:
    """The ids of the newest search_cap() + 1 matches, newest first: one more than a search holds, to tell a
    search that met its cap from one that did not."""
    with connection.cursor() as cursor:
        cursor.execute(SEARCH_IDS, [text, search_cap() + 1])
        return [row[0] for row in cursor.fetchall()]


def ticket_search_in(queryset: QuerySet[Ticket], ids: list[int]) -> QuerySet[Ticket]:
    """The queryset's tickets among the matches of search_ids, as one array parameter: the matches are read
    once, not searched again by each count and page that filters by them."""
    return queryset.filter(pk__in=RawSQL("SELECT unnest(%s::bigint[])", [ids[: search_cap()]]))


def ticket_search(queryset: QuerySet[Ticket], text: str) -> QuerySet[Ticket]:
    return ticket_search_in(queryset, search_ids(text))


def message_list(*, tenant: Tenant, ticket: Ticket) -> QuerySet[Message]:
    return Message.objects.filter(tenant=tenant, ticket=ticket).select_related("author__user")


def attempt_list(*, tenant: Tenant, ticket: Ticket) -> QuerySet[ResolutionAttempt]:
    return (
        ResolutionAttempt.objects.filter(tenant=tenant, ticket=ticket)
        .select_related("actor__user")
        .order_by("created_at", "id")
    )


def event_list(*, tenant: Tenant, ticket: Ticket) -> QuerySet[TicketEvent]:
    return TicketEvent.objects.filter(tenant=tenant, ticket=ticket)


def ticket_context(ticket: Ticket) -> dict:
    """What a notification about the ticket shows. Emitters put it in outbox payloads (as
    `ticket_context`): the notifications layer below this app reads payloads, never tickets."""
    requester, account = ticket.requester, ticket.account if ticket.account_id else None
    return _context_of(
        ticket.pk, ticket.subject, ticket.status, ticket.priority, ticket.category, ticket.assignee_id,
        ticket.team_id, requester.name, requester.email, account.name if account else None,
        account.plan if account else None, account.vip if account else None,
    )  # fmt: skip


def ticket_contexts(*, ticket_ids: set[int]) -> dict[int, dict]:
    """ticket_context of many tickets in one query. The sweep calls it for the tickets it claimed, in one
    tenant's context or inside tenancy.tenant_batch (no current tenant; RLS bounds the rows), so the
    tickets are named by id through `unscoped`."""
    # Plain rows, not models: the sweep asks for 10,000 tickets at a time, and three model instances per
    # ticket were a tenth of its SLA stage.
    rows = Ticket.unscoped.filter(pk__in=ticket_ids).values_list(*CONTEXT_COLUMNS)
    return {row[0]: _context_of(*row) for row in rows}


CONTEXT_COLUMNS = (
    "pk", "subject", "status", "priority", "category", "assignee_id", "team_id",
    "requester__name", "requester__email", "account__name", "account__plan", "account__vip",
)  # fmt: skip


def _context_of(number, subject, status, priority, category, assignee, team, name, email, account, plan, vip) -> dict:
    """The one shape of a ticket context, from a model or a row (the account fields are None without one)."""
    return {
        "number": number,
        "subject": subject,
        "status": status,
        "priority": priority,
        "category": category,
        "customer_name": name,
        "customer_email": email,
        "account_name": account or "",
        "account_plan": plan or "",
        "vip": bool(vip),
        "assignee": assignee,
        "team": team,
    }
