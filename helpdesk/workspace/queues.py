"""The queues of /tickets/: which tickets each view holds, their counts, and a page of them.

A view is a filter of the tenant's tickets seen from one member (mine, my teams', escalated to me…); the
API's own filters (tickets.filters.TicketFilter) narrow it further, so `?priority=urgent&q=refund` means the
same here as on /api/v1/tickets/. Pages are cut by a keyset cursor on the sort's columns, never OFFSET: a
deep page costs what the first does.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Count, Q, QuerySet, Subquery

from escalation import selectors as escalations
from helpdesk.auth import Principal
from tickets.filters import TicketFilter
from tickets.models import PRIORITY_ORDER, UNSOLVED_STATUSES, Ticket
from tickets.selectors import ticket_list

OPEN_STATUSES = UNSOLVED_STATUSES
PAGE_SIZE = 50
# A view's count is exact up to here; beyond, the page says "1,000+" (view_counts says why).
COUNT_CAP = 1000


@dataclass(frozen=True)
class View:
    slug: str
    label: str  # UI.md's link name: tests and screen readers find the view by it


VIEWS = (
    View("mine", "My tickets"),
    View("team", "Team"),
    View("escalated", "Escalated to me"),
    View("awaiting_ack", "Awaiting acknowledgement"),
    View("at_risk", "At risk"),
    View("breached", "Breached"),
    View("needs_review", "Needs review"),
    View("all", "All"),
)
VIEW_SLUGS = {view.slug for view in VIEWS}
DEFAULT_VIEW = "mine"


def view_filters(principal: Principal, team_ids: list[int]) -> dict[str, Q]:
    """Each view as a filter of the tenant's tickets, for this member. Open work only, except All."""
    member = principal.membership
    unsolved = Q(status__in=OPEN_STATUSES)
    return {
        "mine": unsolved & Q(assignee_id=member.pk),
        "team": unsolved & Q(team_id__in=team_ids),
        "escalated": Q(escalations.tickets_escalated_to(member, team_ids)),
        "awaiting_ack": Q(escalations.tickets_escalated_to(member, team_ids, awaiting_ack=True)),
        "at_risk": unsolved & Q(sla_at_risk=True),
        "breached": unsolved & Q(sla_breached=True),
        # Flagged by a flag rule ("not silently missed") until a person clears it (the ticket page's button).
        "needs_review": unsolved & Q(review_flagged_at__isnull=False),
        "all": Q(),
    }


def view_counts(tickets: QuerySet[Ticket], filters: dict[str, Q]) -> dict[str, int]:
    """Every view's count in one statement, each exact up to COUNT_CAP and COUNT_CAP + 1 beyond (shown "1,000+").

    One scalar subquery per view that stops after COUNT_CAP + 1 rows, so each is an index walk of at most that
    many rows: an exact count of each view (a FILTER per view over every ticket of the tenant) read all of a
    100,000-ticket tenant and took seconds (bench/WORKSPACE.md). Nobody acts on "7,702" rather than "1,000+"."""
    parts, params = [], []
    for n, condition in enumerate(filters.values()):
        capped = tickets.filter(condition).order_by().values("pk")[: COUNT_CAP + 1]
        try:
            sql, values = capped.query.sql_with_params()
        except EmptyResultSet:  # a condition that holds for nothing (no teams: team_id IN ())
            sql, values = "SELECT 1 WHERE false", ()
        parts.append(f"(SELECT count(*) FROM ({sql}) AS view_{n})")
        params.extend(values)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(parts)}", params)
        return dict(zip(filters, cursor.fetchone(), strict=True))


def search_counts(tickets: QuerySet[Ticket], filters: dict[str, Q]) -> dict[str, int]:
    """Every view's count of a search's tickets, in one pass over them: a search holds at most search_cap()
    tickets, so one FILTER per view over those is cheaper than view_counts' seven walks (7,000 lookups of
    the matches by id, 45 ms for a common word at 100,000 tickets)."""
    return tickets.order_by().aggregate(**{slug: Count("pk", filter=condition) for slug, condition in filters.items()})


# --- sorting and the keyset cursor ----------------------------------------------------------------

# sort name -> (label, the ordering columns; the last is always the id, so every row has one place)
SORTS = {
    "updated": ("Recently updated", ("-updated_at", "-id")),
    "created": ("Newest first", ("-created_at", "-id")),
    "oldest": ("Oldest first", ("created_at", "id")),
    "priority": ("Priority", ("-priority_rank", "-updated_at", "-id")),
}
DEFAULT_SORT = "updated"


class BadCursor(ValueError):
    pass


def _encode(values: list) -> str:
    text = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str, columns: tuple[str, ...]) -> list:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise BadCursor("cursor") from exc
    if not isinstance(raw, list) or len(raw) != len(columns):
        raise BadCursor("cursor")
    values = []
    for column, value in zip(columns, raw, strict=True):
        name = column.lstrip("-")
        try:
            values.append(datetime.fromisoformat(value) if name.endswith("_at") else int(value))
        except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: JSON's Infinity or 1e400
            raise BadCursor("cursor") from exc
    return values


def _reversed(columns: tuple[str, ...]) -> tuple[str, ...]:
    """The same ordering walked the other way: ("-updated_at", "-id") -> ("updated_at", "id")."""
    return tuple(column[1:] if column.startswith("-") else f"-{column}" for column in columns)


def _after(columns: tuple[str, ...], values: list) -> Q:
    """Rows after (a, b, c) in this ordering: a beyond, or a equal and b beyond, … (a row comparison)."""
    condition = Q(pk__in=[])
    for i, column in enumerate(columns):
        name = column.lstrip("-")
        beyond = Q(**{f"{name}__{'lt' if column.startswith('-') else 'gt'}": values[i]})
        earlier = zip(columns[:i], values[:i], strict=True)
        equal = Q(**{earlier_column.lstrip("-"): value for earlier_column, value in earlier})
        condition |= equal & beyond
    return condition


ERR_CURSOR = "This page link is no longer valid; start from the first page."


def keyset_walk(selected: QuerySet, columns: tuple[str, ...], params) -> tuple:
    """Where a page starts: `cursor` (Next page: the rows after the last one shown) or `before` (Previous page:
    the rows before the first one shown, found by walking the order backwards). Returns (the order to read in,
    the rows past the mark, backwards?, the mark, errors); a malformed mark reads nothing and says so."""
    backwards = bool(params.get("before")) and not params.get("cursor")
    walk = _reversed(columns) if backwards else columns
    mark = params.get("before") if backwards else params.get("cursor")
    if mark:
        try:
            selected = selected.filter(_after(walk, _decode(mark, columns)))
        except BadCursor:
            return walk, selected.none(), backwards, mark, {"cursor": [ERR_CURSOR]}
    return walk, selected, backwards, mark, {}


def keyset_cut(rows: list, columns: tuple[str, ...], *, size: int, backwards: bool, mark) -> tuple:
    """A page from the `size + 1` rows read (rows as dicts or model instances, in the page's order): (its rows,
    the Next page's cursor, the Previous page's). Forwards, a next page if one more row was found, and a previous
    one past the first page; backwards, a previous page if one more row was found, and always the next (the page
    it came from)."""
    more = len(rows) > size
    rows = rows[-size:] if backwards else rows[:size]
    has_next, has_prev = (True, more) if backwards else (more, bool(mark))

    def cursor(row) -> str:
        names = [column.lstrip("-") for column in columns]
        return _encode([row[name] if isinstance(row, dict) else getattr(row, name) for name in names])

    return rows, cursor(rows[-1]) if rows and has_next else None, cursor(rows[0]) if rows and has_prev else None


# --- a page ----------------------------------------------------------------------------------------

# What a queue row shows, read as plain values in one query (no model instances).
ROW_FIELDS = (
    "id",
    "subject",
    "requester__name",
    "requester__email",
    "priority",
    "status",
    "tier",
    "assignee_id",
    "assignee__user__username",
    "team__name",
    "account__name",
    "account__vip",
    "escalated",
    "sla_breached",
    "sla_at_risk",
    "tags",
    "review_reason",
    "updated_at",
    "created_at",
)


@dataclass
class QueuePage:
    view: str
    sort: str
    rows: list[dict]
    counts: dict[str, int]
    next_cursor: str | None
    errors: dict[str, list[str]] = field(default_factory=dict)
    search_capped: bool = False  # the search met its cap: the page holds its newest matches ("1,000+ matches")
    prev_cursor: str | None = None  # the page's first row: "Previous page" walks back from it (`before`)


def _team_ids(principal: Principal) -> list[int]:
    return list(principal.membership.teams.values_list("pk", flat=True))


def filtered(principal: Principal, params) -> tuple[QuerySet[Ticket], dict[str, list[str]], bool]:
    """The tenant's tickets narrowed by the API's filters (`params` are the query parameters), and whether the
    search (`q`) met its cap."""
    tickets = ticket_list(tenant=principal.tenant).select_related(None)
    # A form's "any" sends an empty value: no filter (the API refuses an empty one; a page has no such typo).
    given = params.copy()
    for name in [name for name, values in params.lists() if not any(values)]:
        given.pop(name)
    # The filters' `me` is the member: the API reads it from DRF's request.user, which is the principal.
    filterset = TicketFilter(given, queryset=tickets, request=SimpleNamespace(user=principal))
    if not filterset.is_valid():
        return tickets.none(), {name: [str(m) for m in errors] for name, errors in filterset.errors.items()}, False
    selected = filterset.qs  # first: the search runs in it, and says there whether it met its cap
    return selected, {}, filterset.search_capped


def queue_page(principal: Principal, params) -> QueuePage:
    """One page of a view, with every view's count (under the same filters), in a fixed number of queries."""
    view = params.get("view") if params.get("view") in VIEW_SLUGS else DEFAULT_VIEW
    sort = params.get("sort") if params.get("sort") in SORTS else DEFAULT_SORT
    tickets, errors, search_capped = filtered(principal, params)
    filters = view_filters(principal, _team_ids(principal))
    if errors:
        counts = dict.fromkeys(filters, 0)
    elif (params.get("q") or "").strip():
        counts = search_counts(tickets, filters)
    else:
        counts = view_counts(tickets, filters)
    columns = SORTS[sort][1]
    selected = tickets.filter(filters[view]).annotate(priority_rank=PRIORITY_ORDER)
    walk, selected, backwards, mark, bad = keyset_walk(selected, columns, params)
    errors = {**errors, **bad}
    # The page's ids first, from the tickets alone (an index walk in the sort's order, or a sort of the view's
    # tickets), then the columns of their requester, assignee, team and account for those rows only: joined
    # before the cut, every ticket of the view was joined to be sorted (bench/WORKSPACE.md).
    ids = selected.order_by(*walk).values("pk")[: PAGE_SIZE + 1]
    page = ticket_list(tenant=principal.tenant).select_related(None).filter(pk__in=Subquery(ids))
    rows = list(page.annotate(priority_rank=PRIORITY_ORDER).order_by(*columns).values(*ROW_FIELDS, "priority_rank"))
    rows, next_cursor, prev_cursor = keyset_cut(rows, columns, size=PAGE_SIZE, backwards=backwards, mark=mark)
    return QueuePage(
        view=view,
        sort=sort,
        rows=rows,
        counts=counts,
        next_cursor=next_cursor,
        errors=errors,
        search_capped=search_capped,
        prev_cursor=prev_cursor,
    )
