"""A tenant's data out and back in: `manage.py export_tenant SLUG FILE.jsonl` and `manage.py import_tickets`.

The export is JSON Lines in the format `import_tickets` reads (tickets/importer.py): every ticket is an
ordinary ticket line (subject, requester, status, its conversation as `messages`, …), so the file is also
a plain ticket import for any helpdesk that reads that format. Around the ticket lines come *record
lines*, objects whose first key is "record", carrying the rest of what the tenant owns:

    {"record": "export", "version": 1, "tenant": {...}, "exported_at": ..., "counts": {...}}   first line
    {"record": "member", "id": 7, "username": ..., "role": ..., ...}                            seats
    {"record": "team" | "team_member" | "calendar" | "sla_policy" | "escalation_rule" |
               "notification_template" | "account" | "customer", "id": ..., "fields": {...}}  configuration
    ticket lines                                                                                 the tickets
    {"record": "ticket", "id": ..., "import_key": ..., "fields": {...}, "message_authors": [...]} their state
    {"record": "message" | "escalation" | "rule_firing" | "review" | "time_watch" | "clock" | "attempt" |
               "dispute" | "event", "id": ..., "fields": {...}}                                  history

`fields` holds a row's columns by attribute name, references as the exporting tenant's ids; a restore
maps them to the new rows' ids. The ticket lines carry `external_id` (the ticket's own, or
`export-<id>`), which the `ticket` records name as `import_key`.

A restore is `import_tickets NEW_SLUG FILE` into a tenant made with `create_tenant`: the importer writes
the ticket lines as for any import; the record lines come to `Restore`, which, once the tickets are in,
writes the configuration (matched by name, slug or e-mail where the new tenant already has one, e.g. the
default calendar and matrix `create_tenant` installs), brings every ticket back to its exported state
(assignee, team, flags, counters, original external_id), and adds its history with the exporter's
timestamps. The imported tickets' clocks are the exported ones, not new ones.

Not carried (docs/BACKUP.md): API tokens, channels and webhooks (their secrets are encrypted with the
installation's SECRET_KEY), the outbox and deliveries, idempotency keys, the tenant audit trail, calls,
call notes, attachments (files) and the knowledge index; ids inside JSON values (a rule's `notify`) are
copied as they are. Passwords never leave: a person restored onto an installation where they have no
account gets one without a usable password (an invitation or a password reset sets it).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import TextIO
from uuid import UUID

from django.contrib.postgres.search import SearchVectorField
from django.db import connection, models, transaction
from django.utils import timezone

from escalation.models import Escalation, EscalationRule, Review, RuleFiring, TimeWatch
from helpdesk.models import Membership, Team, TeamMember, Tenant
from helpdesk.notifications.models import NotificationTemplate
from helpdesk.services import membership_create
from helpdesk.tenancy import tenant_context
from slas.models import BusinessCalendar, SLAPolicy, SlaTimer
from tickets.models import Account, AuthorType, Customer, Dispute, Message, ResolutionAttempt, Ticket, TicketEvent

FORMAT_VERSION = 1
BATCH = 500
IMPORT_KEY = "export-{id}"

# (record kind, model, natural key): configuration in the order its references need. A natural key matches
# a row the new tenant already has (create_tenant's defaults), which is then overwritten, not duplicated.
CONFIGURATION = [
    ("team", Team, ("name",)),
    ("team_member", TeamMember, ("team_id", "membership_id")),
    ("calendar", BusinessCalendar, ("name",)),
    ("sla_policy", SLAPolicy, ("name",)),
    ("escalation_rule", EscalationRule, ("slug",)),
    ("notification_template", NotificationTemplate, ("event_type",)),
    ("account", Account, None),
    ("customer", Customer, ("email",)),
]
# After the tickets, in the order their references need.
HISTORY = [
    ("message", Message),  # only system messages: the others are the ticket lines' conversation
    ("escalation", Escalation),
    ("rule_firing", RuleFiring),
    ("review", Review),  # post-escalation reviews: their escalation, ticket, rules and who completed them
    ("time_watch", TimeWatch),
    ("clock", SlaTimer),
    ("attempt", ResolutionAttempt),
    ("dispute", Dispute),  # billing disputes: what `dispute` rules read
    ("event", TicketEvent),
]
MODELS = {kind: model for kind, model, _ in CONFIGURATION} | dict(HISTORY) | {"ticket": Ticket}
MEMBER_FIELDS = ("role", "tier", "skills", "capacity", "available", "active")
# Integer columns that hold another row's id without a foreign key (slas may not import escalation).
LOOSE_REFERENCES = {SlaTimer: {"escalation_id": Escalation}}


# --- values ---------------------------------------------------------------------------------------


def _row_fields(model) -> list[models.Field]:
    return [
        f
        for f in model._meta.concrete_fields
        if not f.primary_key
        and f.name != "tenant"
        and not isinstance(f, SearchVectorField | models.BinaryField)
        and not f.generated
    ]


def _plain(value):
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    return value


def _row(obj, model) -> dict:
    return {f.attname: _plain(getattr(obj, f.attname)) for f in _row_fields(model)}


# --- export ---------------------------------------------------------------------------------------


@dataclass
class ExportReport:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lines: int = 0

    def summary(self) -> str:
        parts = ", ".join(f"{n} {kind}" for kind, n in sorted(self.counts.items()))
        return f"exported {self.lines} lines: {parts}"


class _Writer:
    def __init__(self, out: TextIO, report: ExportReport):
        self.out, self.report = out, report

    def line(self, data: dict, kind: str) -> None:
        self.out.write(json.dumps(data, ensure_ascii=False, default=_plain) + "\n")
        self.report.lines += 1
        self.report.counts[kind] += 1


def tenant_export(*, tenant: Tenant, out: TextIO) -> ExportReport:
    """Everything `tenant` owns that a restore brings back, as one consistent snapshot (one read-only,
    repeatable-read transaction), streamed to `out`."""
    report = ExportReport()
    writer = _Writer(out, report)
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:  # the first statement of its own transaction (inside a caller's, as in a test, it can't be)
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        with tenant_context(tenant):
            writer.line(_header(tenant), "export")
            for membership in Membership.objects.select_related("user").order_by("pk"):
                writer.line(_member(membership), "member")
            for kind, model, _ in CONFIGURATION:
                for obj in model.objects.order_by("pk").iterator(chunk_size=BATCH):
                    writer.line({"record": kind, "id": obj.pk, "fields": _row(obj, model)}, kind)
            ticket_ids = list(Ticket.objects.order_by("pk").values_list("pk", flat=True))
            for start in range(0, len(ticket_ids), BATCH):
                _export_tickets(writer, ticket_ids[start : start + BATCH])
            for kind, model in HISTORY:
                rows = model.objects.order_by("pk")
                if model is Message:
                    rows = rows.filter(author_type=AuthorType.SYSTEM)
                for obj in rows.iterator(chunk_size=BATCH):
                    writer.line({"record": kind, "id": obj.pk, "fields": _row(obj, model)}, kind)
    return report


def _header(tenant: Tenant) -> dict:
    return {
        "record": "export",
        "version": FORMAT_VERSION,
        "tenant": {"slug": tenant.slug, "name": tenant.name, "timezone": tenant.timezone},
        "exported_at": timezone.now().isoformat(),
    }


def _member(membership: Membership) -> dict:
    user = membership.user
    return {
        "record": "member",
        "id": membership.pk,
        "username": user.get_username(),
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        **{name: getattr(membership, name) for name in MEMBER_FIELDS},
    }


def _export_tickets(writer: _Writer, ids: list[int]) -> None:
    tickets = Ticket.objects.filter(pk__in=ids).select_related("requester").order_by("pk")
    threads: dict[int, list[Message]] = defaultdict(list)
    for message in (
        Message.objects.filter(ticket_id__in=ids).exclude(author_type=AuthorType.SYSTEM).order_by("created_at", "pk")
    ):
        threads[message.ticket_id].append(message)
    for ticket in tickets:
        key = ticket.external_id or IMPORT_KEY.format(id=ticket.pk)
        thread = threads[ticket.pk]
        writer.line(_ticket_line(ticket, key, thread), "ticket_line")
        # Its state, right after it: a restore applies it once every ticket line is in.
        state = {
            "record": "ticket",
            "id": ticket.pk,
            "import_key": key,
            "fields": _row(ticket, Ticket),
            "message_authors": [message.author_id for message in thread],
        }
        writer.line(state, "ticket")


def _ticket_line(ticket: Ticket, key: str, thread: list[Message]) -> dict:
    """A line of import_tickets' format (tickets/importer.py), nothing more: another helpdesk reads it too."""
    line = {
        "subject": ticket.subject,
        "description": ticket.description,
        "requester": {"email": ticket.requester.email, "name": ticket.requester.name},
        "created_at": ticket.created_at.isoformat(),
        "updated_at": max([ticket.updated_at, *(m.created_at for m in thread)]).isoformat(),
        "priority": ticket.priority,
        "channel": ticket.channel,
        "category": ticket.category or None,
        "tags": ticket.tags,
        "status": ticket.status,
        "external_id": key,
        "messages": [
            {
                "author_type": message.author_type,
                "body": message.body,
                "internal": message.internal,
                "created_at": message.created_at.isoformat(),
            }
            for message in thread
        ],
    }
    return line


# --- restore --------------------------------------------------------------------------------------


class RestoreError(ValueError):
    """The file is not an export this version can restore."""


@dataclass
class RestoreReport:
    restored: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    matched: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = ", ".join(f"{n} {kind}" for kind, n in sorted(self.restored.items()))
        matched = ", ".join(f"{n} {kind}" for kind, n in sorted(self.matched.items()))
        return (
            f"restored {parts}"
            + (f"; matched existing {matched}" if matched else "")
            + (f"; skipped {len(self.skipped)} rows" if self.skipped else "")
        )


class Restore:
    """Collects the record lines the importer hands over (`record`), and writes them (`finish`) once the
    ticket lines are in. Without an export header first, nothing is restored and the import is plain."""

    def __init__(self, *, tenant: Tenant, after_plain_batch=None):
        self.tenant = tenant
        self.after_plain_batch = after_plain_batch
        self.header: dict | None = None
        self.records: dict[str, list[dict]] = defaultdict(list)
        self.report = RestoreReport()
        self.maps: dict[type, dict[int, int]] = defaultdict(dict)

    @property
    def restoring(self) -> bool:
        return self.header is not None

    def after_batch(self, ticket_ids: list[int]) -> None:
        """The importer's per-batch hook: a plain import starts the tickets' clocks; a restore brings the
        exported ones in `finish`."""
        if not self.restoring and self.after_plain_batch is not None:
            self.after_plain_batch(ticket_ids)

    def record(self, line: int, data: dict) -> None:
        kind = data.get("record")
        if kind == "export":
            if data.get("version") != FORMAT_VERSION:
                raise RestoreError(f"line {line}: export format version {data.get('version')!r}, expected 1")
            self.header = data
            return
        if self.header is None:
            raise RestoreError(f"line {line}: a {kind!r} record before the export header")
        if kind != "member" and kind not in MODELS:
            raise RestoreError(f"line {line}: unknown record {kind!r}")
        self.records[kind].append(data)

    def finish(self) -> RestoreReport:
        """One transaction: every record, in the order references need."""
        if not self.restoring:
            return self.report
        with tenant_context(self.tenant):
            self._members()
            for kind, model, natural in CONFIGURATION:
                for record in self.records[kind]:
                    self._restore_row(kind, model, record, natural=natural)
            self._tickets()
            for kind, model in HISTORY:
                for record in self.records[kind]:
                    self._restore_row(kind, model, record)
        return self.report

    def _members(self) -> None:
        seats = {m.user.get_username(): m for m in Membership.objects.select_related("user")}
        for record in self.records["member"]:
            seat = seats.get(record["username"])
            if seat is None:
                seat = membership_create(
                    tenant=self.tenant,
                    username=record["username"],
                    email=record["email"],
                    first_name=record["first_name"],
                    last_name=record["last_name"],
                    **{name: record[name] for name in ("role", "tier", "skills", "capacity")},
                )
                Membership.objects.filter(pk=seat.pk).update(available=record["available"], active=record["active"])
                self.report.restored["member"] += 1
            else:
                self.report.matched["member"] += 1
            self.maps[Membership][record["id"]] = seat.pk

    def _values(self, model, record: dict) -> dict | None:
        """The record's fields for this tenant: references mapped to the new ids; None when a required one
        has nothing to map to (its row was not in the export)."""
        values = {}
        loose = LOOSE_REFERENCES.get(model, {})
        for f in _row_fields(model):
            if f.attname not in record["fields"]:
                continue
            value = record["fields"][f.attname]
            if f.is_relation:
                value = None if value is None else self.maps[f.related_model].get(value)
                if value is None and record["fields"][f.attname] is not None and not f.null:
                    self.report.skipped.append(f"{model.__name__} {record['id']}: {f.name} not in the export")
                    return None
            elif f.attname in loose:
                value = self.maps[loose[f.attname]].get(value, 0) if value else value
            elif value is not None:
                value = f.to_python(value)
            values[f.attname] = value
        return values

    def _restore_row(self, kind: str, model, record: dict, *, natural: tuple | None = None) -> None:
        values = self._values(model, record)
        if values is None:
            return
        if natural:
            existing = model.objects.filter(**{key: values[key] for key in natural}).first()
            if existing is not None:
                model.objects.filter(pk=existing.pk).update(**values)
                self.maps[model][record["id"]] = existing.pk
                self.report.matched[kind] += 1
                return
        obj = model(tenant=self.tenant, **values)
        # raw: the exported timestamps are kept (auto_now_add would stamp them now), as loaddata does.
        obj.save_base(raw=True, force_insert=True)
        self.maps[model][record["id"]] = obj.pk
        self.report.restored[kind] += 1

    def _tickets(self) -> None:
        records = self.records["ticket"]
        keys = [record["import_key"] for record in records]
        new_ids = dict(Ticket.objects.filter(external_id__in=keys).values_list("external_id", "pk"))
        for record in records:
            new_id = new_ids.get(record["import_key"])
            if new_id is None:  # its ticket line was refused (and reported) by the importer
                self.report.skipped.append(f"ticket {record['id']}: its ticket line was not imported")
                continue
            self.maps[Ticket][record["id"]] = new_id
            values = self._values(Ticket, record)
            if values is None:
                continue
            Ticket.objects.filter(pk=new_id).update(**values)
            self._message_authors(new_id, record.get("message_authors", []))
            self.report.restored["ticket"] += 1

    def _message_authors(self, ticket_id: int, authors: list[int | None]) -> None:
        """The importer's format has no author; the thread is in the same order (created_at, then id)."""
        thread = Message.objects.filter(ticket_id=ticket_id).exclude(author_type=AuthorType.SYSTEM)
        message_ids = thread.order_by("created_at", "pk").values_list("pk", flat=True)
        for message_id, author in zip(message_ids, authors, strict=False):
            if author is not None and author in self.maps[Membership]:
                Message.objects.filter(pk=message_id).update(author_id=self.maps[Membership][author])
