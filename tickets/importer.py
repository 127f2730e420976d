"""Bulk import of tickets from another helpdesk: `manage.py import_tickets SLUG FILE.jsonl`.

Input is JSON Lines, one ticket per line:

    {"subject": str, "description": str, "requester": {"email": str, "name"?: str},
     "created_at": ISO 8601 with offset,
     "priority"?: Priority, "channel"?: Channel, "category"?: slug, "tags"?: [slug], "status"?: Status,
     "updated_at"?: ISO 8601 with offset, "external_id"?: str | int,
     "messages"?: [{"author_type": "customer" | "agent", "body": str, "internal"?: bool, "created_at": ...}]}

Optional fields default as in the API (priority normal, channel api, status new); null or "" means
absent.
Every line is validated strictly: a bad line is reported with its number and skipped, the others are
kept. Unknown fields are refused, so a typo ("create_at") cannot silently drop data.

Why not the services: through the workflows (ticket_open, message_receive per message) a ticket costs
dozens of statements, i.e. most of an hour for 100,000. Here a batch costs a fixed handful whatever its
size: customers resolved with one SELECT (+ one INSERT for new ones), ticket ids drawn from the
sequence, then one INSERT ... SELECT FROM json_to_recordset(one JSON document) each for tickets,
messages and events, the search vector computed in the ticket INSERT. What the services maintain message
by message (sentiment, follow-ups, exchanges, first response, ...) is recomputed by replaying the thread
with the same rules; that part is pure Python and runs one batch ahead in a helper process. Figures:
bench/IMPORT.md.

Each batch is its own transaction inside tenant_context, so row-level security checks every row, and an
interrupted import keeps every batch committed before it (`report.last_committed_line` says where to
resume).
"""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, validate_slug
from django.db import DataError, IntegrityError, connection
from django.db.models import NOT_PROVIDED
from django.utils import timezone

from helpdesk.fields import datetime_error, text_error
from helpdesk.models import Tenant
from helpdesk.tenancy import tenant_context
from tickets import analysis
from tickets.models import (
    CLOCK_SKEW,
    EARLIEST_CREATED_AT,
    AuthorType,
    Channel,
    Customer,
    Message,
    Priority,
    Status,
    Ticket,
    TicketEvent,
)
from tickets.services import SEARCH_CONFIG
from tickets.validation import normalise_email

BATCH_SIZE = 1000
MAX_TEXT = 100_000
MAX_TAGS = 50
MAX_EXTERNAL_ID = 255
# Clocks of two systems disagree a little; a time further ahead than this is a data error, not skew.
FUTURE_TOLERANCE = CLOCK_SKEW
EVENT_KIND = "imported"
ACTOR_LABEL = "import"

CUSTOMER = AuthorType.CUSTOMER.value
AGENT = AuthorType.AGENT.value
STATUSES = tuple(Status.values)
PRIORITIES = tuple(Priority.values)
CHANNELS = tuple(Channel.values)
AUTHOR_TYPES = (CUSTOMER, AGENT)
MAX_SUBJECT = Ticket._meta.get_field("subject").max_length
MAX_NAME = Customer._meta.get_field("name").max_length
MAX_EMAIL = Customer._meta.get_field("email").max_length

TICKET_FIELDS = frozenset({
    "subject", "description", "requester", "priority", "channel", "category", "tags", "status", "created_at",
    "updated_at", "external_id", "messages",
})  # fmt: skip
TICKET_REQUIRED = ("subject", "description", "requester", "created_at")
REQUESTER_FIELDS = frozenset({"email", "name"})
MESSAGE_FIELDS = frozenset({"author_type", "body", "internal", "created_at"})
MESSAGE_REQUIRED = ("author_type", "body", "created_at")

ERR_JSON = "not valid JSON: {detail}"
ERR_UTF8 = "not valid UTF-8"
ERR_MISSING = "missing field {field}"
ERR_UNKNOWN = "unknown field {field}"
ERR_TYPE = "{field} must be {kind}"
ERR_BLANK = "{field} must not be blank"
ERR_TOO_LONG = "{field} is longer than {limit} characters"
ERR_TOO_MANY = "{field} has more than {limit} items"
ERR_UNSTORABLE = "{field}: {problem}"
ERR_CHOICE = "{field} must be one of {choices}, not {value!r}"
ERR_SLUG = "{field} must be a slug (letters, digits, - and _), not {value!r}"
ERR_DATETIME = "{field} is not an ISO 8601 date-time: {value!r}"
ERR_NAIVE = "{field} needs a UTC offset, e.g. 2024-05-01T09:00:00Z: {value!r}"
ERR_FUTURE = "{field} is in the future: {value!r}"
ERR_TOO_OLD = "{field} is before {earliest}: {value!r}"
ERR_BEFORE_TICKET = "{field} is before the ticket's created_at"
ERR_UPDATED_BEFORE = "updated_at is before the ticket's last activity"
ERR_EMAIL = "{field} is not a valid email address: {value!r}"
ERR_CUSTOMER_INTERNAL = "{field}: a customer message cannot be internal"
ERR_DUPLICATE = "external_id {value!r} already appeared on line {line}"
ERR_DATABASE = "refused by the database: {detail}"

_email_validator = EmailValidator()


class LineInvalid(ValueError):
    """The line is skipped; the message says why, naming the field."""


@dataclass(frozen=True)
class LineError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ImportReport:
    imported: int = 0
    # Lines whose external_id an earlier run already imported: skipped, and not errors.
    already_imported: int = 0
    errors: list[LineError] = field(default_factory=list)
    seconds: float = 0.0
    # Every line up to this one is either committed or reported: resume after it.
    last_committed_line: int = 0

    @property
    def skipped(self) -> int:
        return len(self.errors)

    @property
    def tickets_per_second(self) -> float:
        return self.imported / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        already = f", {self.already_imported} already imported before" if self.already_imported else ""
        return (
            f"imported {self.imported} tickets, skipped {self.skipped} lines{already} "
            f"in {self.seconds:.1f} s ({self.tickets_per_second:,.0f} tickets/s)"
        )


@dataclass(slots=True)
class ImportedMessage:
    author_type: str
    body: str
    internal: bool
    created_at: datetime
    sentiment: float | None = None


@dataclass(slots=True)
class ImportedTicket:
    line: int
    subject: str
    description: str
    email: str
    name: str
    priority: str
    channel: str
    category: str
    tags: list[str]
    status: str
    created_at: datetime
    updated_at: datetime | None
    external_id: str | int | None
    messages: list[ImportedMessage]
    # Computed by conversation_replay, as the services would have left them.
    sentiment: float = 0.0
    opening_sentiment: float | None = None
    follow_up_count: int = 0
    exchange_count: int = 0
    last_author_type: str = CUSTOMER
    first_response_at: datetime | None = None
    last_customer_message_at: datetime | None = None
    last_agent_reply_at: datetime | None = None
    solved_at: datetime | None = None
    closed_at: datetime | None = None


# --- validation (no database) -------------------------------------------------------------------


def _object(value, where: str, allowed: frozenset, required: tuple) -> dict:
    if type(value) is not dict:
        raise LineInvalid(ERR_TYPE.format(field=where, kind="an object"))
    unknown = value.keys() - allowed
    if unknown:
        raise LineInvalid(ERR_UNKNOWN.format(field=_path(where, min(unknown))))
    for key in required:
        if value.get(key) is None:
            raise LineInvalid(ERR_MISSING.format(field=_path(where, key)))
    return value


def _path(where: str, key: str) -> str:
    return key if where == "the line" else f"{where}.{key}"


def _text(value, name: str, *, max_length: int, blank: bool = False) -> str:
    if type(value) is not str:
        raise LineInvalid(ERR_TYPE.format(field=name, kind="a string"))
    if not blank and not value.strip():
        raise LineInvalid(ERR_BLANK.format(field=name))
    if len(value) > max_length:
        raise LineInvalid(ERR_TOO_LONG.format(field=name, limit=max_length))
    # PostgreSQL text cannot hold NUL, and a lone surrogate (from a "\ud800" escape) cannot be sent at
    # all: either would fail the whole batch at INSERT, so they are refused here, per line.
    if problem := text_error(value):
        raise LineInvalid(ERR_UNSTORABLE.format(field=name, problem=problem))
    return value


def _choice(value, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices or type(value) is not str:
        raise LineInvalid(ERR_CHOICE.format(field=name, choices=", ".join(choices), value=value))
    return value


def _slug(value, name: str) -> str:
    _text(value, name, max_length=50)
    try:
        validate_slug(value)
    except ValidationError:
        raise LineInvalid(ERR_SLUG.format(field=name, value=value)) from None
    return value


def _tags(value) -> list[str]:
    if type(value) is not list:
        raise LineInvalid(ERR_TYPE.format(field="tags", kind="a list of slugs"))
    if len(value) > MAX_TAGS:
        raise LineInvalid(ERR_TOO_MANY.format(field="tags", limit=MAX_TAGS))
    return sorted({_slug(tag, f"tags[{i}]") for i, tag in enumerate(value)})


def _when(value, name: str, now: datetime) -> datetime:
    if type(value) is not str:
        raise LineInvalid(ERR_TYPE.format(field=name, kind="an ISO 8601 date-time string"))
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise LineInvalid(ERR_DATETIME.format(field=name, value=value)) from None
    # A naive time is ambiguous (whose midnight?): refused rather than silently read as UTC.
    if parsed.tzinfo is None:
        raise LineInvalid(ERR_NAIVE.format(field=name, value=value))
    # An offset PostgreSQL can't store (+23:59) would fail the whole batch at INSERT.
    if problem := datetime_error(parsed):
        raise LineInvalid(ERR_UNSTORABLE.format(field=name, problem=problem))
    if parsed > now + FUTURE_TOLERANCE:
        raise LineInvalid(ERR_FUTURE.format(field=name, value=value))
    if parsed < EARLIEST_CREATED_AT:
        raise LineInvalid(ERR_TOO_OLD.format(field=name, value=value, earliest=f"{EARLIEST_CREATED_AT:%Y-%m-%d}"))
    return parsed


def _email(value, name: str) -> str:
    email = normalise_email(_text(value, name, max_length=MAX_EMAIL))
    try:
        _email_validator(email)
    except ValidationError:
        raise LineInvalid(ERR_EMAIL.format(field=name, value=value)) from None
    return email


def _external_id(value) -> str | int | None:
    if value is None or (type(value) is int):
        return value
    if type(value) is not str:
        raise LineInvalid(ERR_TYPE.format(field="external_id", kind="a string or an integer"))
    return _text(value, "external_id", max_length=MAX_EXTERNAL_ID)


def _message(value, index: int, *, opened: datetime, now: datetime) -> ImportedMessage:
    where = f"messages[{index}]"
    data = _object(value, where, MESSAGE_FIELDS, MESSAGE_REQUIRED)
    author_type = _choice(data["author_type"], f"{where}.author_type", AUTHOR_TYPES)
    internal = data.get("internal")
    if internal is None:
        internal = False
    elif type(internal) is not bool:
        raise LineInvalid(ERR_TYPE.format(field=f"{where}.internal", kind="true or false"))
    if internal and author_type == CUSTOMER:
        raise LineInvalid(ERR_CUSTOMER_INTERNAL.format(field=where))
    created_at = _when(data["created_at"], f"{where}.created_at", now)
    if created_at < opened:
        raise LineInvalid(ERR_BEFORE_TICKET.format(field=f"{where}.created_at"))
    body = _text(data["body"], f"{where}.body", max_length=MAX_TEXT)
    return ImportedMessage(author_type=author_type, body=body, internal=internal, created_at=created_at)


def _messages(value, *, opened: datetime, now: datetime) -> list[ImportedMessage]:
    if value is None:
        return []
    if type(value) is not list:
        raise LineInvalid(ERR_TYPE.format(field="messages", kind="a list"))
    messages = [_message(item, i, opened=opened, now=now) for i, item in enumerate(value)]
    # The counters depend on the order of the thread; exporters usually give it, a stable sort makes sure.
    messages.sort(key=lambda message: message.created_at)
    return messages


def _decode(raw: bytes | str) -> dict:
    try:
        text = raw.decode() if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise LineInvalid(ERR_UTF8) from None
    try:
        # A BOM is what some editors put at the start of a file; it is not part of the data.
        return json.loads(text.lstrip("\ufeff"))
    except json.JSONDecodeError as exc:
        raise LineInvalid(ERR_JSON.format(detail=exc.msg + f" at column {exc.colno}")) from None


def _present(data: dict, key: str, default=None):
    """An optional field's value; exporters write null or "" for "no value", both read as absent."""
    value = data.get(key)
    return default if value is None or value == "" else value


def ticket_parse(raw: bytes | str, *, line: int, now: datetime) -> ImportedTicket:
    """One line of the file, validated. Raises LineInvalid naming the first bad field."""
    data = _object(_decode(raw), "the line", TICKET_FIELDS, TICKET_REQUIRED)
    requester = _object(data["requester"], "requester", REQUESTER_FIELDS, ("email",))
    created_at = _when(data["created_at"], "created_at", now)
    updated_at, category, tags = _present(data, "updated_at"), _present(data, "category"), _present(data, "tags")
    return ImportedTicket(
        line=line,
        subject=_text(data["subject"], "subject", max_length=MAX_SUBJECT),
        description=_text(data["description"], "description", max_length=MAX_TEXT),
        email=_email(requester["email"], "requester.email"),
        name=_text(_present(requester, "name", ""), "requester.name", max_length=MAX_NAME, blank=True),
        priority=_choice(_present(data, "priority", Priority.NORMAL.value), "priority", PRIORITIES),
        channel=_choice(_present(data, "channel", Channel.API.value), "channel", CHANNELS),
        category=_slug(category, "category") if category is not None else "",
        tags=_tags(tags) if tags is not None else [],
        status=_choice(_present(data, "status", Status.NEW.value), "status", STATUSES),
        created_at=created_at,
        updated_at=_when(updated_at, "updated_at", now) if updated_at is not None else None,
        external_id=_external_id(_present(data, "external_id")),
        messages=_messages(_present(data, "messages"), opened=created_at, now=now),
    )


# --- the conversation, replayed (no database) ---------------------------------------------------


def conversation_replay(ticket: ImportedTicket) -> None:
    """Sets the counters the services keep, as if ticket_open and then message_post had run for each
    message in order (same rules as tickets.services._apply_customer_message / _apply_agent_reply).
    The status is the source system's final word, so it is taken as given, not replayed."""
    ticket.sentiment = ticket.opening_sentiment = analysis.opening_sentiment(ticket.subject, ticket.description)
    ticket.last_customer_message_at = ticket.created_at
    for message in ticket.messages:
        if message.author_type == CUSTOMER:
            _customer_message(ticket, message)
        elif not message.internal:
            _agent_reply(ticket, message)
    last_activity = ticket.messages[-1].created_at if ticket.messages else ticket.created_at
    if ticket.updated_at is None:
        ticket.updated_at = last_activity
    elif ticket.updated_at < last_activity:
        raise LineInvalid(ERR_UPDATED_BEFORE)
    # The source gives no solved/closed time: the last update is the best witness of it.
    if ticket.status in (Status.SOLVED, Status.CLOSED):
        ticket.solved_at = ticket.updated_at
    if ticket.status == Status.CLOSED:
        ticket.closed_at = ticket.updated_at


def _customer_message(ticket: ImportedTicket, message: ImportedMessage) -> None:
    message.sentiment = analysis.sentiment(message.body)
    ticket.sentiment = analysis.blend_sentiment(ticket.sentiment, message.sentiment)
    ticket.follow_up_count += 1
    if ticket.last_author_type == AGENT:
        ticket.exchange_count += 1
    ticket.last_author_type = CUSTOMER
    ticket.last_customer_message_at = message.created_at


def _agent_reply(ticket: ImportedTicket, message: ImportedMessage) -> None:
    ticket.follow_up_count = 0
    if ticket.last_author_type == CUSTOMER:
        ticket.exchange_count += 1
    ticket.last_author_type = AGENT
    ticket.last_agent_reply_at = message.created_at
    ticket.first_response_at = ticket.first_response_at or message.created_at


# --- writing one batch: a fixed number of statements whatever its size ---------------------------
#
# Rows travel as one JSON document per statement, unpacked by json_to_recordset: PostgreSQL parses it
# in C, where unnest(one array per column) had psycopg escape every element in Python (measured: half
# the client CPU, and fewer bytes on the wire than Django's bulk_create placeholders).


@dataclass(frozen=True)
class InsertStatement:
    """INSERT ... SELECT FROM json_to_recordset(%(rows)s), built from the model: the columns the importer
    computes come from the JSON rows or from SQL expressions, every other column gets its field's default,
    so a field added to the model later (with a default) needs no change here."""

    sql: str
    defaulted: tuple  # the fields whose defaults are passed as parameters, evaluated per batch

    def params(self, **params) -> dict:
        defaults = {f"default_{f.column}": f.get_db_prep_save(f.get_default(), connection) for f in self.defaulted}
        return {**params, **defaults}


def insert_statement(
    model, *, rows: dict[str, str], expressions: dict[str, str], scratch: dict[str, str] | None = None, suffix=""
) -> InsertStatement:
    """`rows`: column -> SQL type read from the JSON rows; `expressions`: column -> SQL expression;
    `scratch`: JSON keys (with types) the expressions read but no column stores."""
    # A column with a database default (db_default) is left out: the database fills it.
    fields = [
        f
        for f in model._meta.concrete_fields
        if (not f.primary_key or f.column in rows) and (f.db_default is NOT_PROVIDED or f.column in rows)
    ]
    defaulted = tuple(f for f in fields if f.column not in rows and f.column not in expressions)
    values = {
        **{column: f"u.{column}" for column in rows},
        **expressions,
        **{f.column: f"%(default_{f.column})s" for f in defaulted},
    }
    record = ", ".join(f"{name} {sql_type}" for name, sql_type in {**rows, **(scratch or {})}.items())
    sql = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(values)})\n"
        f"SELECT {', '.join(values.values())}\n"
        f"FROM json_to_recordset(%(rows)s::json) AS u({record})\n{suffix}"
    )
    return InsertStatement(sql=sql, defaulted=defaulted)


CUSTOMERS_SELECT = """
SELECT email, id, account_id, name FROM tickets_customer
WHERE tenant_id = %(tenant)s AND email IN (SELECT json_array_elements_text(%(emails)s::json))
"""

CUSTOMERS_INSERT = insert_statement(
    Customer,
    rows={"email": "text", "name": "text"},
    expressions={"tenant_id": "%(tenant)s", "created_at": "%(now)s", "updated_at": "%(now)s"},
    suffix="ON CONFLICT (tenant_id, email) DO NOTHING RETURNING email, id, account_id, name",
)

# As customer_find_or_create does: a name fills an empty one, never overwrites.
CUSTOMERS_NAME = """
UPDATE tickets_customer c SET name = u.name, updated_at = %(now)s
FROM json_to_recordset(%(rows)s::json) AS u(id bigint, name text)
WHERE c.id = u.id AND c.tenant_id = %(tenant)s AND c.name = ''
"""

TICKET_IDS = "SELECT nextval(pg_get_serial_sequence('tickets_ticket', 'id')) FROM generate_series(1, %s)"

# Computed in the INSERT itself, weighted as the services weight it (subject A, description B,
# messages C): cheaper than a second pass that rewrites every row (bench/IMPORT.md).
SEARCH_VECTOR = (
    "setweight(to_tsvector(%(config)s::regconfig, u.subject), 'A')"
    " || setweight(to_tsvector(%(config)s::regconfig, u.description), 'B')"
    " || setweight(to_tsvector(%(config)s::regconfig, u.bodies), 'C')"
)

TICKET_ROW = {
    "id": "bigint", "requester_id": "bigint", "account_id": "bigint", "subject": "text", "description": "text",
    "status": "text", "priority": "text", "channel": "text", "category": "text", "tags": "text[]",
    "sentiment": "float8", "opening_sentiment": "float8", "follow_up_count": "int", "exchange_count": "int",
    "last_author_type": "text",
    "first_response_at": "timestamptz", "last_customer_message_at": "timestamptz",
    "last_agent_reply_at": "timestamptz", "solved_at": "timestamptz", "closed_at": "timestamptz",
    "created_at": "timestamptz", "updated_at": "timestamptz", "external_id": "text",
}  # fmt: skip
TICKET_COLUMNS = tuple(column for column in TICKET_ROW if column not in ("id", "requester_id", "account_id"))


def tickets_insert(search_vector: str = SEARCH_VECTOR) -> InsertStatement:
    return insert_statement(
        Ticket,
        rows=TICKET_ROW,
        expressions={"tenant_id": "%(tenant)s", "search_vector": search_vector},
        scratch={"bodies": "text"},
    )


TICKETS_INSERT = tickets_insert()

MESSAGES_INSERT = insert_statement(
    Message,
    rows={"ticket_id": "bigint", "author_type": "text", "body": "text", "internal": "bool", "sentiment": "float8",
          "created_at": "timestamptz"},
    expressions={"tenant_id": "%(tenant)s"},
)  # fmt: skip

EVENTS_INSERT = insert_statement(
    TicketEvent,
    rows={"ticket_id": "bigint", "after": "jsonb"},
    expressions={"tenant_id": "%(tenant)s", "kind": "%(kind)s", "actor_label": "%(label)s", "created_at": "%(now)s"},
)


def _json(rows) -> str:
    return json.dumps(rows, default=_isoformat, ensure_ascii=False)


def _isoformat(value) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _customers_resolve(cursor, tenant_id: int, tickets: list[ImportedTicket], now: datetime) -> dict[str, tuple]:
    """email -> (customer id, account id) for the batch's requesters, creating the new ones."""
    names: dict[str, str] = {}
    for ticket in tickets:
        if not names.get(ticket.email):
            names[ticket.email] = ticket.name
    cursor.execute(CUSTOMERS_SELECT, {"tenant": tenant_id, "emails": _json(list(names))})
    found = {email: (pk, account_id, name) for email, pk, account_id, name in cursor.fetchall()}
    missing = [{"email": email, "name": name} for email, name in names.items() if email not in found]
    if missing:
        cursor.execute(CUSTOMERS_INSERT.sql, CUSTOMERS_INSERT.params(tenant=tenant_id, now=now, rows=_json(missing)))
        found.update((email, (pk, account_id, name)) for email, pk, account_id, name in cursor.fetchall())
    if len(found) < len(names):
        # Another import created some of them between our SELECT and INSERT (ON CONFLICT skipped them).
        cursor.execute(CUSTOMERS_SELECT, {"tenant": tenant_id, "emails": _json([e for e in names if e not in found])})
        found.update((email, (pk, account_id, name)) for email, pk, account_id, name in cursor.fetchall())
    unnamed = [{"id": found[email][0], "name": name} for email, name in names.items() if name and not found[email][2]]
    if unnamed:
        cursor.execute(CUSTOMERS_NAME, {"tenant": tenant_id, "now": now, "rows": _json(unnamed)})
    return {email: (pk, account_id) for email, (pk, account_id, _) in found.items()}


def _ticket_row(ticket: ImportedTicket, ticket_id: int, customers: dict) -> dict:
    row = {name: getattr(ticket, name) for name in TICKET_COLUMNS}
    # The account is copied from the requester, as ticket_open does: the account at the time is what counts.
    row["requester_id"], row["account_id"] = customers[ticket.email]
    row["id"] = ticket_id
    row["external_id"] = None if ticket.external_id is None else str(ticket.external_id)
    row["bodies"] = "\n".join(message.body for message in ticket.messages)
    return row


def _message_rows(ticket: ImportedTicket, ticket_id: int) -> list[dict]:
    return [
        {
            "ticket_id": ticket_id,
            "author_type": message.author_type,
            "body": message.body,
            "internal": message.internal,
            "sentiment": message.sentiment,
            "created_at": message.created_at,
        }
        for message in ticket.messages
    ]


def _event_row(ticket: ImportedTicket, ticket_id: int) -> dict:
    after = {
        "subject": ticket.subject,
        "priority": ticket.priority,
        "channel": ticket.channel,
        "category": ticket.category,
        "requester": ticket.email,
        "status": ticket.status,
        "messages": len(ticket.messages),
    }
    if ticket.external_id is not None:
        after["external_id"] = ticket.external_id
    return {"ticket_id": ticket_id, "after": after}


def _not_imported_yet(tickets: list[ImportedTicket]) -> list[ImportedTicket]:
    """Drops the tickets an earlier run already imported (same external_id): an import can be re-run, or
    resumed from the wrong line, without duplicating anything. A concurrent run of the same file is
    stopped by the unique constraint instead."""
    wanted = [str(t.external_id) for t in tickets if t.external_id is not None]
    if not wanted:
        return tickets
    present = set(Ticket.objects.filter(external_id__in=wanted).values_list("external_id", flat=True))
    return [t for t in tickets if t.external_id is None or str(t.external_id) not in present]


def batch_write(
    *,
    tenant: Tenant,
    tickets: list[ImportedTicket],
    now: datetime,
    after: Callable[[list[int]], None] | None = None,
) -> list[int]:
    """One transaction, as the tenant: RLS's WITH CHECK refuses any row of another tenant. Returns the
    new tickets' ids, in the order of `tickets`. `after` runs in the same transaction with those ids
    (the workflow starts the imported tickets' SLA clocks there)."""
    with tenant_context(tenant), connection.cursor() as cursor:
        tickets = _not_imported_yet(tickets)
        if not tickets:
            return []
        customers = _customers_resolve(cursor, tenant.pk, tickets, now)
        # Ids drawn up front, so messages and events can point at their tickets without a round trip
        # per ticket and without relying on the order of RETURNING.
        cursor.execute(TICKET_IDS, [len(tickets)])
        ids = [row[0] for row in cursor.fetchall()]
        pairs = list(zip(tickets, ids, strict=True))
        ticket_rows = _json([_ticket_row(ticket, pk, customers) for ticket, pk in pairs])
        cursor.execute(
            TICKETS_INSERT.sql, TICKETS_INSERT.params(tenant=tenant.pk, config=SEARCH_CONFIG, rows=ticket_rows)
        )
        message_rows = [row for ticket, pk in pairs for row in _message_rows(ticket, pk)]
        if message_rows:
            cursor.execute(MESSAGES_INSERT.sql, MESSAGES_INSERT.params(tenant=tenant.pk, rows=_json(message_rows)))
        event_rows = _json([_event_row(ticket, pk) for ticket, pk in pairs])
        params = EVENTS_INSERT.params(tenant=tenant.pk, now=now, kind=EVENT_KIND, label=ACTOR_LABEL, rows=event_rows)
        cursor.execute(EVENTS_INSERT.sql, params)
        if after is not None:
            after(ids)
    return ids


# --- the driver ---------------------------------------------------------------------------------


# A tenant export (manage.py export_tenant) interleaves ticket lines with lines that carry the rest of what the
# tenant owns, each an object whose first key is "record". The importer hands those to its `on_record` hook
# (the restore, above this app) instead of reading them as tickets.
RECORD_PREFIX = '{"record"'
ERR_RECORD = "a record line of a tenant export ({kind}): only a restore reads it"


def record_parse(raw: bytes | str) -> dict | None:
    """The record of a record line, or None for a ticket line."""
    head = raw[:16].lstrip()
    if (head.decode(errors="replace") if isinstance(head, bytes) else head).startswith(RECORD_PREFIX):
        data = _decode(raw)
        if type(data) is dict:
            return data
    return None


def chunk_prepare(
    chunk: list[tuple[int, bytes | str]], *, now: datetime
) -> tuple[list, list[LineError], list[tuple[int, dict]], int]:
    """(valid tickets with their computed fields, errors, record lines, last line number) for a chunk of
    numbered lines. Pure: no database, so it can run in a helper process."""
    tickets, errors, records = [], [], []
    for line, raw in chunk:
        try:
            record = record_parse(raw)
            if record is not None:
                records.append((line, record))
                continue
            ticket = ticket_parse(raw, line=line, now=now)
            conversation_replay(ticket)
        except LineInvalid as exc:
            errors.append(LineError(line, str(exc)))
            continue
        tickets.append(ticket)
    return tickets, errors, records, chunk[-1][0]


class TicketImporter:
    """Streams lines into batches; keeps `report` current, so a caller interrupted mid-way still knows
    what was committed.

    Parsing and the sentiment analysis are pure Python and about half the work, so by default they run
    one batch ahead in a helper process while this process waits on PostgreSQL for the previous batch:
    on two cores the halves overlap. (A thread measured little gain: the two halves then fight over
    the GIL.) Only this process touches the database.
    """

    def __init__(
        self,
        *,
        tenant: Tenant,
        batch_size: int = BATCH_SIZE,
        now: datetime | None = None,
        on_error: Callable[[LineError], None] | None = None,
        helper_process: bool = True,
        after_batch: Callable[[list[int]], None] | None = None,
        on_record: Callable[[int, dict], None] | None = None,
    ):
        self.tenant, self.batch_size, self.on_error = tenant, batch_size, on_error
        self.after_batch = after_batch
        self.on_record = on_record
        self.helper_process = helper_process
        self.now = now or timezone.now()
        self.report = ImportReport()
        self._external_ids: dict[str | int, int] = {}

    def run(self, lines: Iterable[bytes | str], *, start_line: int = 1) -> ImportReport:
        started = time.perf_counter()
        chunks = _chunks(_numbered(lines, start_line), self.batch_size)
        try:
            with self._executor() as ahead:
                preparing = self._submit(ahead, next(chunks, None))
                while preparing is not None:
                    tickets, errors, records, through_line = preparing.result()
                    self._records(records, errors)
                    try:
                        # Submitted before committing, so the next batch is prepared while this one is written.
                        preparing = self._submit(ahead, next(chunks, None))
                    finally:
                        # Even if reading the input fails, the batch in hand is committed before we stop.
                        self._commit(self._unique(tickets, errors), errors, through_line)
        finally:
            self.report.seconds = time.perf_counter() - started
        return self.report

    def _executor(self):
        # A daemonic process (a Celery prefork worker) may not have children: prepare in-process there.
        if self.helper_process and not multiprocessing.current_process().daemon:
            return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
        return _InlineExecutor()

    def _submit(self, executor, chunk) -> Future | None:
        return None if chunk is None else executor.submit(chunk_prepare, chunk, now=self.now)

    def _records(self, records: list[tuple[int, dict]], errors: list[LineError]) -> None:
        for line, record in records:
            if self.on_record is None:
                errors.append(LineError(line, ERR_RECORD.format(kind=record.get("record"))))
            else:
                self.on_record(line, record)

    def _unique(self, tickets: list[ImportedTicket], errors: list[LineError]) -> list[ImportedTicket]:
        """Drops (and reports) a ticket whose external_id an earlier line of the file already had."""
        kept = []
        for ticket in tickets:
            if ticket.external_id is not None:
                first = self._external_ids.setdefault(ticket.external_id, ticket.line)
                if first != ticket.line:
                    errors.append(LineError(ticket.line, ERR_DUPLICATE.format(value=ticket.external_id, line=first)))
                    continue
            kept.append(ticket)
        return kept

    def _commit(self, tickets: list[ImportedTicket], errors: list[LineError], through_line: int) -> None:
        if tickets:
            try:
                written = batch_write(tenant=self.tenant, tickets=tickets, now=self.now, after=self.after_batch)
                self.report.imported += len(written)
                self.report.already_imported += len(tickets) - len(written)
            except (IntegrityError, DataError):
                # Validation should make this unreachable; if the database still refuses the batch, retry
                # line by line so one bad row costs only itself. Connection errors are not caught: they
                # stop the import, and the batches already committed stay.
                self._commit_one_by_one(tickets, errors)
        for error in sorted(errors, key=lambda error: error.line):
            self._reject(error)
        self.report.last_committed_line = through_line

    def _commit_one_by_one(self, tickets: list[ImportedTicket], errors: list[LineError]) -> None:
        for ticket in tickets:
            try:
                written = batch_write(tenant=self.tenant, tickets=[ticket], now=self.now, after=self.after_batch)
                self.report.imported += len(written)
                self.report.already_imported += 1 - len(written)
            except (IntegrityError, DataError) as exc:
                errors.append(LineError(ticket.line, ERR_DATABASE.format(detail=str(exc).strip().splitlines()[0])))

    def _reject(self, error: LineError) -> None:
        self.report.errors.append(error)
        if self.on_error is not None:
            self.on_error(error)


class _InlineExecutor:
    """The executor interface, run synchronously in this process."""

    def submit(self, fn, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        return None


def _numbered(lines: Iterable[bytes | str], start_line: int) -> Iterator[tuple[int, bytes | str]]:
    """(line number, line) from start_line on; blank lines are not tickets and are passed over."""
    for number, raw in enumerate(lines, start=1):
        if number >= start_line and raw.strip():
            yield number, raw


def _chunks(numbered: Iterator[tuple[int, bytes | str]], size: int) -> Iterator[list[tuple[int, bytes | str]]]:
    while chunk := list(islice(numbered, size)):
        yield chunk


def tickets_import(*, tenant: Tenant, lines: Iterable[bytes | str], **options) -> ImportReport:
    """Import JSONL ticket lines into `tenant`; see the module docstring for the format."""
    return TicketImporter(tenant=tenant, **options).run(lines)
