"""Reads of the tickets app, shared by the API, the UI and tasks."""

from __future__ import annotations

from django.contrib.postgres.search import SearchQuery
from django.db.models import Prefetch, QuerySet

from helpdesk.models import Tenant
from tickets.models import Account, Customer, Message, Ticket, TicketEvent

SEARCH_CONFIG = "english"


def account_list(*, tenant: Tenant) -> QuerySet[Account]:
    return Account.objects.filter(tenant=tenant)


def customer_list(*, tenant: Tenant) -> QuerySet[Customer]:
    return Customer.objects.filter(tenant=tenant)


# What the ticket's "sla" block shows of each of its own clocks (an escalation's clocks are shown on the
# escalation, so they are not read at all).
SLA_TIMER_FIELDS = ("ticket", "metric", "target_minutes", "started_at", "due_at", "warn_at", "status")
SLA_TIMER_FIELDS += ("breached_at", "met_at")


def ticket_list(*, tenant: Tenant) -> QuerySet[Ticket]:
    """Tickets with what their list and detail views show, in a constant number of queries. The ticket's
    own SLA clocks land as a plain list in `ticket.sla_own_timers` (to_attr): no related manager and
    no queryset clone per row, which cost a quarter of a list page's time."""
    # "sla_timers" is the SLA engine's reverse relation: read by name, so this app imports nothing of it.
    timers = Ticket._meta.get_field("sla_timers").related_model.objects.filter(escalation_id=0)
    return (
        Ticket.objects.filter(tenant=tenant)
        .select_related("requester")
        .prefetch_related(Prefetch("sla_timers", queryset=timers.only(*SLA_TIMER_FIELDS), to_attr="sla_own_timers"))
        .defer("search_vector")
    )


def ticket_get(*, tenant: Tenant, ticket_id: int) -> Ticket:
    """Raises Ticket.DoesNotExist for a missing ticket and for another tenant's alike."""
    return ticket_list(tenant=tenant).get(pk=ticket_id)


def ticket_search(queryset: QuerySet[Ticket], text: str) -> QuerySet[Ticket]:
    return queryset.filter(search_vector=SearchQuery(text, config=SEARCH_CONFIG, search_type="websearch"))


def message_list(*, tenant: Tenant, ticket: Ticket) -> QuerySet[Message]:
    return Message.objects.filter(tenant=tenant, ticket=ticket).select_related("author__user")


def event_list(*, tenant: Tenant, ticket: Ticket) -> QuerySet[TicketEvent]:
    return TicketEvent.objects.filter(tenant=tenant, ticket=ticket)


def ticket_context(ticket: Ticket) -> dict:
    """What a notification about the ticket shows. Emitters put it in outbox payloads (as
    `ticket_context`): the notifications layer below this app reads payloads, never tickets."""
    return _facts(ticket, ticket.requester, ticket.account if ticket.account_id else None)


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


def _facts(ticket: Ticket, requester: Customer, account: Account | None) -> dict:
    return _context_of(
        ticket.pk, ticket.subject, ticket.status, ticket.priority, ticket.category, ticket.assignee_id,
        ticket.team_id, requester.name, requester.email, account.name if account else None,
        account.plan if account else None, account.vip if account else None,
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
