"""What evaluating the matrix reads about one ticket, read at most once per evaluation and shared by the
facts, the triage, the drafted summaries and every rule the evaluation fires.

Each part is read when first asked for, so an evaluation that fires nothing never reads what only firing
needs. A ticket opened in this very transaction (`new=True`) has no messages, attempts, tier moves or
escalations yet, and its clocks are the ones just started: nothing of that is read at all.

The snapshot belongs to one evaluation in one transaction: the firing keeps it current (the escalations it
opens join `escalations`); nothing else writes the ticket meanwhile."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache, cached_property

from django.db.models import BooleanField, CharField, DecimalField, Field, ForeignKey, IntegerField, TextField

from escalation import triggers, watches
from escalation.models import Escalation, EscalationStatus
from helpdesk import bulk
from slas import clock
from slas import services as slas
from slas.models import BusinessCalendar, SlaTimer
from tickets.models import Account, AuthorType, Message, Outcome, ResolutionAttempt, Ticket, TicketEvent

# How far back a repeat_contact rule may look (its days are at most 365).
REPEAT_WINDOW = timedelta(days=365)
# repeat_contact counts the requester's tickets "about the same issue" (seed 001): the same category, or a
# similar subject — the Dice overlap of the two subjects' English lexemes (stemmed, stop words dropped) at least
# SAME_ISSUE_SIMILARITY. Full text rather than pg_trgm: the embedded PostgreSQL (pgserver) ships no contrib
# extension. A stored ticket's subject lexemes are read from its search vector (the subject is its weight A), so no
# row is parsed again: "Refund for the March invoice" and "March invoice refund still missing" are the same issue
# (0.86), "Refund" and "Login fails" are not (0).
SAME_ISSUE_SIMILARITY = 0.5
# The requester's most recent tickets looked at for a match. Parsing each subject again cost ~130 ms for a requester
# with 1,000 tickets, reading the stored lexemes ~7 ms; 250 bounds it near 2 ms whatever the requester (a rule
# counts at most REPEAT_SAMPLE - 1 tickets, and a person rarely opens 250 tickets in the window).
REPEAT_SCAN = 250


def same_issue_times_sql(*, ticket: str, category: str, subject: str, requester: str) -> str:
    """created_at of the requester's tickets about the same issue as the ticket whose id, category, subject and
    requester are the given SQL expressions, newest first, at most REPEAT_SAMPLE (the ticket itself included).
    Parameters: %(tenant)s, %(since)s, %(until)s, %(sample)s, %(scan)s, %(similar)s."""
    return f"""
    SELECT r.created_at FROM (
        SELECT t.id, t.category, t.created_at,
               tsvector_to_array(ts_filter(coalesce(t.search_vector, ''::tsvector), '{{a}}')) AS la
        FROM tickets_ticket t
        WHERE t.tenant_id = %(tenant)s AND t.requester_id = {requester}
          AND t.created_at >= %(since)s AND t.created_at <= %(until)s
        ORDER BY t.created_at DESC LIMIT %(scan)s) r
    CROSS JOIN (SELECT tsvector_to_array(to_tsvector('english'::regconfig, {subject})) AS lb) q
    WHERE r.id = {ticket} OR ({category} <> '' AND r.category = {category})
       OR (r.la && q.lb AND 2 * cardinality(ARRAY(SELECT unnest(r.la) INTERSECT SELECT unnest(q.lb)))
           >= %(similar)s * (cardinality(r.la) + cardinality(q.lb)))
    ORDER BY r.created_at DESC LIMIT %(sample)s"""


def _same_issue_params(tenant_id: int, since: datetime, until: datetime) -> dict:
    return {
        "tenant": tenant_id,
        "since": since,
        "until": until,
        "sample": triggers.REPEAT_SAMPLE,
        "scan": REPEAT_SCAN,
        "similar": SAME_ISSUE_SIMILARITY,
    }


class TicketSnapshot:
    def __init__(self, ticket: Ticket, *, new: bool = False, timers: list[SlaTimer] | None = None):
        self.ticket, self.new = ticket, new
        # (escalation, trigger, facts) for each escalation this evaluation opened or reinforced with `to_call`:
        # the workflow turns them into call requests (the calls app sits above this one). Empty, it costs nothing.
        self.calls_wanted: list[tuple[Escalation, str, str]] = []
        # Tags the evaluation's tag rules added (engine.evaluate runs the tag_added rules for them next).
        self.tags_added: list[str] = []
        # All the requester's tickets an evaluation may count, when snapshots() read them for many tickets at
        # once; None: requester_ticket_times reads them for its own moment.
        self.requester_times: tuple[datetime, ...] | None = None
        if timers is not None:
            self.timers = timers  # the ticket's own clocks, already in memory (fills the cached property)

    @cached_property
    def account(self) -> Account | None:
        # Through the relation: a ticket loaded with select_related("account") costs nothing here.
        return self.ticket.account if self.ticket.account_id else None

    @cached_property
    def messages(self) -> list[tuple[str, str, float | None, bool]]:
        """(author_type, body, sentiment, internal) of the whole thread, in order."""
        if self.new:
            return []
        return list(
            Message.objects.filter(ticket=self.ticket)
            .order_by("created_at", "id")
            .values_list("author_type", "body", "sentiment", "internal")
        )

    @cached_property
    def customer_thread(self) -> list[tuple[str, float | None]]:
        """(body, sentiment) of the customer's messages in order: the facts and the triage read these (an event's
        snapshot reads only these; the whole thread then waits for a rule that fires and drafts a summary)."""
        return [(body, sentiment) for author, body, sentiment, _ in self.messages if author == AuthorType.CUSTOMER]

    @property
    def public_messages(self) -> list[tuple[str, str]]:
        """(author_type, body) of what the customer can see, in order: the drafted summary reads these."""
        return [(author, body) for author, body, _, internal in self.messages if not internal]

    @cached_property
    def attempts(self) -> list[tuple[str, int, str]]:
        """(outcome, tier, note) of the resolution attempts, in order."""
        if self.new:
            return []
        return list(
            ResolutionAttempt.objects.filter(ticket=self.ticket)
            .order_by("created_at", "id")
            .values_list("outcome", "tier", "note")
        )

    @property
    def failed_attempts_low_tier(self) -> int:
        return sum(1 for outcome, tier, _ in self.attempts if outcome == Outcome.FAILED and tier <= 1)

    @cached_property
    def timers(self) -> list[SlaTimer]:
        # The ticket's own clocks: an escalation's clocks have their own consequence, the ladder.
        return list(
            SlaTimer.objects.filter(ticket=self.ticket, escalation_id=0).select_related("calendar").order_by("id")
        )

    @cached_property
    def tier_since(self) -> datetime:
        """When the ticket reached its current tier (a time_open rule counts from there)."""
        if self.new:
            return self.ticket.created_at
        moved = (
            TicketEvent.objects.filter(ticket=self.ticket, kind__in=watches.TIER_MOVES)
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        return moved or self.ticket.created_at

    @cached_property
    def business_clock(self) -> clock.Calendar:
        """The calendar the ticket's policy runs on (a time_open rule counts business time on it)."""
        return slas.ticket_clock(ticket=self.ticket, account=self.account)

    def requester_ticket_times(self, now: datetime) -> tuple[datetime, ...]:
        """created_at of the requester's most recent tickets about the same issue up to `now` (at most
        REPEAT_SAMPLE, within REPEAT_WINDOW), this one included, newest first."""
        since = now - REPEAT_WINDOW
        known = self.requester_times
        if known is not None:
            return tuple(sorted((c for c in known if since <= c <= now), reverse=True)[: triggers.REPEAT_SAMPLE])
        from django.db import connection

        ticket = self.ticket
        sql = same_issue_times_sql(
            ticket="%(ticket)s", category="%(category)s", subject="%(subject)s", requester="%(requester)s"
        )
        params = _same_issue_params(ticket.tenant_id, since, now) | {
            "ticket": ticket.pk,
            "category": ticket.category or "",
            "subject": ticket.subject,
            "requester": ticket.requester_id,
        }
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return tuple(created for (created,) in cursor.fetchall())

    @cached_property
    def escalations(self) -> list[Escalation]:
        """The ticket's escalations, oldest first, each holding this very ticket instance (a reinforcing rule
        changes the ticket through it, and the evaluation must see that change). Only what firing reads:
        the cycle (statuses), the open one of a kind, and what a reinforcement changes."""
        if self.new:
            return []
        rows = Escalation.objects.filter(ticket=self.ticket).only("tenant_id", "ticket_id", "kind", "status", "to_call")
        escalations = list(rows.order_by("pk"))
        for escalation in escalations:
            escalation.ticket = self.ticket
        return escalations

    @property
    def cycle(self) -> int:
        """The escalation cycle the ticket is in: how many of its escalations were resolved (a rule fires at
        most once per cycle)."""
        return sum(1 for escalation in self.escalations if escalation.status == EscalationStatus.RESOLVED)

    @cached_property
    def earlier_tickets(self) -> int:
        """How many other tickets the requester has opened (the drafted summary's history line)."""
        return Ticket.objects.filter(requester_id=self.ticket.requester_id).exclude(pk=self.ticket.pk).count()


# What an event's evaluation reads about a stored ticket, in one round trip: its thread, its attempts, its own
# clocks with their calendars, and the requester's tickets an evaluation at `until` may count.
EVENT_PARTS = (
    """
SELECT
 (SELECT coalesce(json_agg(json_build_array(m.body, m.sentiment) ORDER BY m.created_at, m.id), '[]'::json)
  FROM tickets_message m WHERE m.tenant_id = %(tenant)s AND m.ticket_id = %(ticket)s AND m.author_type = 'customer'),
 (SELECT coalesce(json_agg(json_build_array(a.outcome, a.tier, a.note) ORDER BY a.created_at, a.id), '[]'::json)
  FROM tickets_resolutionattempt a WHERE a.tenant_id = %(tenant)s AND a.ticket_id = %(ticket)s),
 (SELECT coalesce(json_agg(json_build_array(row_to_json(s), row_to_json(c)) ORDER BY s.id), '[]'::json)
  FROM slas_slatimer s JOIN slas_businesscalendar c ON c.id = s.calendar_id
  WHERE s.tenant_id = %(tenant)s AND s.ticket_id = %(ticket)s AND s.escalation_id = 0),
 (SELECT coalesce(json_agg(s.created_at), '[]'::json) FROM ("""
    + same_issue_times_sql(
        ticket="%(ticket)s", category="%(category)s", subject="%(subject)s", requester="%(requester)s"
    )
    + """) s),
 (SELECT row_to_json(a) FROM tickets_account a WHERE a.tenant_id = %(tenant)s AND a.id = %(account)s)
"""
)


def _from_json(model, row: dict):
    """A model instance from its row as PostgreSQL's row_to_json wrote it (as if loaded by the ORM)."""
    values = {}
    for field, attname, column, native in _json_columns(model):
        value = row[column]
        values[attname] = value if value is None or type(value) is native else _json_value(field, value)
    instance = bulk.new(model, **values)
    instance._state.adding, instance._state.db = False, "default"
    return instance


# The stock to_python of the columns that row_to_json writes as JSON's own string, integer or boolean: they hand
# such a value back as it is (nor does None go through them), so only other values need the field. The storm's
# snapshots build 20,000 clocks and calendars from JSON, ~25 columns each.
_AS_IS = {
    CharField.to_python: str, TextField.to_python: str, IntegerField.to_python: int, BooleanField.to_python: bool
}  # fmt: skip


@cache
def _json_columns(model) -> tuple[tuple[Field, str, str, type | None], ...]:
    """Each concrete field of the model with its attname, its column and the JSON type it takes as it is (None:
    every value goes through _json_value)."""
    columns = []
    for field in model._meta.concrete_fields:
        target = field.target_field if field.is_relation else field
        stock = not field.is_relation or type(field).to_python is ForeignKey.to_python
        native = _AS_IS.get(type(target).to_python) if stock else None
        columns.append((field, field.attname, field.column, native))
    return tuple(columns)


def _json_value(field, value):
    # JSON carries numeric as a float: 12000.50 would come back as Decimal('12000.5000000000') through to_python;
    # through its shortest repr and the column's places it is the Decimal('12000.50') the ORM reads.
    if isinstance(field, DecimalField) and isinstance(value, float):
        return Decimal(repr(value)).quantize(Decimal(1).scaleb(-field.decimal_places))
    return field.to_python(value)


def event_snapshot(ticket: Ticket, *, at: datetime) -> TicketSnapshot:
    """The snapshot of a stored ticket for an event's evaluation at `at`, with everything the event's facts read
    (the customer's thread, attempts, own clocks and their calendars, the requester's recent tickets, the
    account) in one query instead of one per part (issue 17: the message path's rules under 5 ms at p95)."""
    from django.db import connection
    from django.utils.dateparse import parse_datetime

    snapshot = TicketSnapshot(ticket)
    params = _same_issue_params(ticket.tenant_id, at - REPEAT_WINDOW, at) | {
        "ticket": ticket.pk,
        "requester": ticket.requester_id,
        "category": ticket.category or "",
        "subject": ticket.subject,
        # The account comes along unless the ticket holds it already (the API and the pages load tickets
        # without it): the facts read it on every event, and a round trip of its own was ~10 % of them.
        "account": None if Ticket.account.is_cached(ticket) else ticket.account_id,
    }
    with connection.cursor() as cursor:
        cursor.execute(EVENT_PARTS, params)
        thread, attempts, clocks, times, account = cursor.fetchone()
    if account is not None:
        ticket.account = _from_json(Account, account)
    snapshot.__dict__.update(
        customer_thread=[tuple(row) for row in thread],
        attempts=[tuple(row) for row in attempts],
        timers=_timers_from_json(clocks),
    )
    snapshot.requester_times = tuple(parse_datetime(value) for value in times)
    return snapshot


# What the facts of many stored tickets read, in one round trip (snapshots): per ticket its thread, its attempts,
# its own clocks with their calendars and its latest tier move, each part ordered as the per-ticket property reads it.
MANY_PARTS = """
SELECT t.id,
 (SELECT coalesce(json_agg(json_build_array(m.author_type, m.body, m.sentiment, m.internal)
                           ORDER BY m.created_at, m.id), '[]'::json)
  FROM tickets_message m WHERE m.tenant_id = %(tenant)s AND m.ticket_id = t.id),
 (SELECT coalesce(json_agg(json_build_array(a.outcome, a.tier, a.note) ORDER BY a.created_at, a.id), '[]'::json)
  FROM tickets_resolutionattempt a WHERE a.tenant_id = %(tenant)s AND a.ticket_id = t.id),
 (SELECT coalesce(json_agg(json_build_array(row_to_json(s), row_to_json(c)) ORDER BY s.id), '[]'::json)
  FROM slas_slatimer s JOIN slas_businesscalendar c ON c.id = s.calendar_id
  WHERE s.tenant_id = %(tenant)s AND s.ticket_id = t.id AND s.escalation_id = 0),
 (SELECT max(e.created_at) FROM tickets_ticketevent e
  WHERE e.tenant_id = %(tenant)s AND e.ticket_id = t.id AND e.kind = ANY(%(moves)s))
FROM unnest(%(ids)s::bigint[]) AS t(id)
"""


# MANY_PARTS for the tickets of many tenants (the sweep's escalation pass: claim_reads): each ticket's parts read
# under its own tenant, which the rows name, rather than the one of %(tenant)s.
def across_template(template: str, old: str, new: str) -> str:
    """template with `old` replaced by `new`; raises (at import) if `old` is not there, rather than building a
    statement that silently reads one tenant's rows."""
    if old not in template:
        raise RuntimeError(f"the statement no longer holds {old!r}")
    return template.replace(old, new)


MANY_PARTS_ACROSS = across_template(
    across_template(MANY_PARTS, "%(tenant)s", "t.tenant_id"),
    "FROM unnest(%(ids)s::bigint[]) AS t(id)",
    "FROM unnest(%(ids)s::bigint[], %(tenants)s::bigint[]) AS t(id, tenant_id)",
)


def parts_across(tickets: Sequence[Ticket]) -> dict[int, tuple]:
    """What snapshots() reads in MANY_PARTS, for tickets of many tenants in one query (inside tenancy.tenant_batch
    and tenant_reads, which open exactly the claimed tenants' rows): the parts by ticket id, for `snapshots(parts=)`."""
    from django.db import connection

    if not tickets:
        return {}
    params = {
        "ids": [t.pk for t in tickets],
        "tenants": [t.tenant_id for t in tickets],
        "moves": list(watches.TIER_MOVES),
    }
    with connection.cursor() as cursor:
        cursor.execute(MANY_PARTS_ACROSS, params)
        return {row[0]: row[1:] for row in cursor.fetchall()}


def _timers_from_json(clocks: list) -> list[SlaTimer]:
    timers = []
    for timer_row, calendar_row in clocks:
        timer = _from_json(SlaTimer, timer_row)
        timer.calendar = _from_json(BusinessCalendar, calendar_row)
        timers.append(timer)
    return timers


def snapshots(
    tickets: Sequence[Ticket],
    *,
    between: tuple[datetime, datetime],
    requesters: bool = True,
    parts: dict[int, tuple] | None = None,
) -> list[TicketSnapshot]:
    """Snapshots of many stored tickets of the current tenant (loaded with select_related("account")), for
    evaluations at moments `between` the two given: what the facts read (thread, attempts, clocks with their
    calendars, tier moves) comes for all of them in one query (MANY_PARTS), the requesters' tickets in another,
    not one per ticket and part: the dry run's 300 demo tickets took 2,400 queries and 2-4 s that way; the
    sweep's escalation batch pays per tenant share, so every round trip counts. Filled in exactly as the
    per-ticket properties read them. `parts`: those parts as parts_across read them already (for a whole claim)."""
    from django.db import connection

    if not tickets:
        return []
    if parts is None:
        params = {"tenant": tickets[0].tenant_id, "ids": [t.pk for t in tickets], "moves": list(watches.TIER_MOVES)}
        with connection.cursor() as cursor:
            cursor.execute(MANY_PARTS, params)
            parts = {row[0]: row[1:] for row in cursor.fetchall()}
    clocks = slas.ticket_clocks(tickets)
    # Without `requesters` (the sweep's time rules never count a requester's tickets), they are not read.
    requester_times = _requester_times(tickets, between=between) if requesters else {}
    out = []
    for ticket in tickets:
        messages, attempts, timers, moved = parts[ticket.pk]
        snapshot = TicketSnapshot(ticket, timers=_timers_from_json(timers))
        snapshot.__dict__.update(
            messages=[tuple(row) for row in messages],
            attempts=[tuple(row) for row in attempts],
            tier_since=moved or ticket.created_at,
            business_clock=clocks[ticket.pk],
        )
        snapshot.requester_times = requester_times.get(ticket.pk)
        out.append(snapshot)
    return out


def _requester_times(
    tickets: Sequence[Ticket], *, between: tuple[datetime, datetime]
) -> dict[int, tuple[datetime, ...]]:
    """By ticket: created_at of its requester's tickets about the same issue that an evaluation between the two
    moments may count (requester_ticket_times picks each evaluation's own window from them). One query."""
    if not tickets:
        return {}
    from django.db import connection

    sql = (
        "SELECT e.id, m.created_at FROM tickets_ticket e CROSS JOIN LATERAL ("
        + same_issue_times_sql(ticket="e.id", category="e.category", subject="e.subject", requester="e.requester_id")
        + ") m WHERE e.tenant_id = %(tenant)s AND e.id = ANY(%(ids)s)"
    )
    params = _same_issue_params(tickets[0].tenant_id, between[0] - REPEAT_WINDOW, between[1])
    times: dict[int, list[datetime]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(sql, params | {"ids": [t.pk for t in tickets]})
        for ticket_id, created_at in cursor.fetchall():
            times[ticket_id].append(created_at)
    return {t.pk: tuple(times.get(t.pk, ())) for t in tickets}
