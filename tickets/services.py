"""Writes of the tickets app. Every state change writes its TicketEvent in the same transaction.

`actor` is the helpdesk.auth.Principal acting (a user's membership or an API token), or None for the
system itself (rules, sweeps, imports). Services know nothing of SLAs or escalation: the workflows in
helpdesk/workflows.py call them, then the apps above, in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.search import SearchVector
from django.db import connection, transaction
from django.db.models import Q, Value
from django.utils import timezone

from helpdesk import bulk, redaction
from helpdesk.audit import actor_label as _label
from helpdesk.audit import actor_membership as _membership
from helpdesk.auth import Principal
from helpdesk.erasure import mask_rows
from helpdesk.models import Membership, Team, Tenant
from helpdesk.outbox import outbox_emit
from helpdesk.validation import full_check
from tickets import analysis
from tickets.errors import TicketError
from tickets.models import (
    Account,
    AuthorType,
    Customer,
    Dispute,
    Message,
    Outcome,
    ResolutionAttempt,
    Status,
    Ticket,
    TicketEvent,
    raises_priority,
)
from tickets.selectors import ticket_context
from tickets.validation import (
    account_problems,
    check_customer_move,
    check_status_change,
    normalise_email,
)

TICKET_UPDATE_FIELDS = ("status", "priority", "assignee_id", "team_id", "tags", "category")
SEARCH_CONFIG = "english"

ERR_NOT_CLOSED = "Only a solved or closed ticket can be reopened."
ERR_FOREIGN_ASSIGNEE = "No such agent in this tenant."
ERR_CUSTOMER_ERASED = "This customer's data was erased on request; the record can't be edited."


def event_record(
    *,
    ticket: Ticket,
    kind: str,
    actor: Principal | None,
    before: dict | None = None,
    after: dict | None = None,
    at: datetime | None = None,
) -> TicketEvent:
    return TicketEvent.objects.create(
        tenant_id=ticket.tenant_id,
        ticket=ticket,
        kind=kind,
        actor=_membership(actor),
        actor_label=_label(actor),
        before=before or {},
        after=after or {},
        created_at=at or timezone.now(),
    )


# --- accounts and customers ---------------------------------------------------------------------

ACCOUNT_FIELDS = ("name", "plan", "vip", "annual_contract_value", "lifetime_value", "customer_since")
CUSTOMER_FIELDS = ("email", "name", "phone", "account")


def _jsonable(value):
    if isinstance(value, Account | Customer | Membership | Team):
        return value.pk
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value.__class__.__name__ == "Decimal":
        return str(value)
    return value


@transaction.atomic
def account_create(*, tenant: Tenant, **fields) -> Account:
    account = Account(tenant=tenant, **fields)
    full_check(account, account_problems)
    account.save(force_insert=True)
    return account


@transaction.atomic
def account_update(*, account: Account, **changes) -> Account:
    """Changes by field name (`account_manager_id` names the account manager by member id)."""
    for name, value in changes.items():
        setattr(account, name, value)
    full_check(account, account_problems)
    account.save(update_fields=[*changes, "updated_at"])
    return account


@transaction.atomic
def customer_create(*, tenant: Tenant, actor: Principal | None, email: str, **fields) -> Customer:
    if fields.get("account") is not None:
        check_customer_move(customer=Customer(tenant=tenant), account=fields["account"], actor=actor)
    return Customer.objects.create(tenant=tenant, email=normalise_email(email), **fields)


@transaction.atomic
def customer_update(*, customer: Customer, actor: Principal | None, **changes) -> Customer:
    if customer.erased_at is not None:
        # Putting data back on a tombstone would tie a new person to the erased one's tickets: a returning
        # customer is a new customer (intake creates one for their address).
        raise TicketError(ERR_CUSTOMER_ERASED, code="erased", status=409)
    if "account" in changes:
        check_customer_move(customer=customer, account=changes["account"], actor=actor)
    if "email" in changes:
        changes["email"] = normalise_email(changes["email"])
    for name, value in changes.items():
        setattr(customer, name, value)
    customer.save(update_fields=[*changes, "updated_at"])
    return customer


def customer_find_or_create(*, tenant: Tenant, email: str, name: str = "") -> Customer:
    email = normalise_email(email)
    customer = Customer.objects.filter(tenant=tenant, email=email).first()
    if customer is None:
        customer = _customer_insert(tenant=tenant, email=email, name=name)
    if customer is None:
        # Another request inserted this address first and has committed (our INSERT waited for it).
        customer = Customer.objects.get(tenant=tenant, email=email)
    if name and not customer.name:
        customer.name = name
        customer.save(update_fields=["name", "updated_at"])
    return customer


# Every column of tickets_customer (a test holds this to the model's fields).
CUSTOMER_INSERT = """
INSERT INTO tickets_customer (tenant_id, email, name, phone, account_id, erased_at, created_at, updated_at)
VALUES (%s, %s, %s, '', NULL, NULL, %s, %s)
ON CONFLICT (tenant_id, email) DO NOTHING
RETURNING id
"""


def _customer_insert(*, tenant: Tenant, email: str, name: str) -> Customer | None:
    """A first ticket from a new address; None when another request's INSERT of it won. ON CONFLICT
    instead of get_or_create's savepoint around an INSERT: two first tickets from one address at the same
    moment still end with one customer, and the usual case costs one statement, not three."""
    at = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(CUSTOMER_INSERT, [tenant.pk, email, name, at, at])
        row = cursor.fetchone()
    if row is None:
        return None
    customer = Customer(
        id=row[0],
        tenant=tenant,
        email=email,
        name=name,
        phone="",
        account=None,
        erased_at=None,
        created_at=at,
        updated_at=at,
    )
    customer._state.adding, customer._state.db = False, connection.alias
    return customer


# --- tickets ------------------------------------------------------------------------------------


def _search_append(ticket: Ticket, text: str, weight: str = "C") -> None:
    # tsvector concatenation: adding a message costs its own length, not the whole thread's.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE tickets_ticket SET search_vector = coalesce(search_vector, ''::tsvector) "
            "|| setweight(to_tsvector(%s::regconfig, %s), %s) WHERE tenant_id = %s AND id = %s",
            [SEARCH_CONFIG, text, weight, ticket.tenant_id, ticket.pk],
        )


def _search_document(subject: str, description: str) -> SearchVector:
    """A new ticket's full-text document, computed in its INSERT: the same vector as appending subject
    (A) and description (B) one after the other, without two UPDATEs that would each write a new
    version of the fresh row and of all its index entries."""
    return SearchVector(Value(subject), weight="A", config=SEARCH_CONFIG) + SearchVector(
        Value(description), weight="B", config=SEARCH_CONFIG
    )


# No savepoint: the ticket_open use case calls it inside its own transaction (a savepoint of the request's),
# and nothing catches its errors to go on in the same transaction.
@transaction.atomic(savepoint=False)
def ticket_open(
    *,
    tenant: Tenant,
    actor: Principal | None,
    subject: str,
    description: str,
    requester_email: str,
    requester_name: str = "",
    priority: str = "normal",
    channel: str = "api",
    category: str = "",
    tags: list[str] | None = None,
    created_at: datetime | None = None,
    classify: Callable[[Ticket], tuple[str, list[str]]] | None = None,
) -> Ticket:
    """`classify` gives the triage class (level, reasons) of the ticket about to be stored; the use case passes the
    engine's (a layer above): stored by the INSERT, with its triage_changed event beside the created one, instead
    of an UPDATE and an INSERT of their own right after (ticket_set_triage), which every create paid."""
    at = created_at or timezone.now()
    requester = customer_find_or_create(tenant=tenant, email=requester_email, name=requester_name)
    opening = analysis.opening_sentiment(subject, description)
    ticket = Ticket(
        tenant=tenant,
        subject=subject,
        description=description,
        requester=requester,
        account_id=requester.account_id,
        priority=priority,
        channel=channel,
        category=category,
        tags=normalized_tags(tags or []),
        sentiment=opening,
        opening_sentiment=opening,
        last_author_type=AuthorType.CUSTOMER,
        last_customer_message_at=at,
        created_at=at,
        updated_at=at,
        search_vector=_search_document(subject, description),
    )
    unclassified = ticket.triage
    if classify is not None:
        ticket.triage, ticket.triage_reasons = classify(ticket)
    # Through the tenant-scoped manager, as Ticket.objects.create: without a current tenant it raises TenantNotSet.
    ticket.save(force_insert=True, using=Ticket.objects.all().db)
    # The document lives in the database only (messages append to it there): with the attribute gone the
    # field counts as deferred, so no later save() of this instance can write the expression back.
    ticket.__dict__.pop("search_vector", None)
    after = {"subject": subject, "priority": priority, "channel": channel, "category": category,
             "requester": requester.email}  # fmt: skip
    events = [_event(ticket, "created", actor, {}, after, at)]
    if ticket.triage != unclassified:
        # The trail ticket_set_triage writes for a change of level, as if the class had been stored after the row.
        after = {"triage": ticket.triage, "reasons": ticket.triage_reasons}
        events.append(_event(ticket, "triage_changed", None, {"triage": unclassified}, after, at))
    TicketEvent.objects.bulk_create(events)
    _emit(ticket, "ticket.created", at, changed=[])
    return ticket


def _event(ticket: Ticket, kind: str, actor: Principal | None, before: dict, after: dict, at: datetime) -> TicketEvent:
    """An audit event as event_record writes it, unsaved (for one INSERT of several)."""
    return TicketEvent(
        tenant_id=ticket.tenant_id, ticket=ticket, kind=kind, actor=_membership(actor), actor_label=_label(actor),
        before=before, after=after, created_at=at,
    )  # fmt: skip


def _emit(ticket: Ticket, event: str, at: datetime, *, changed: list[str]) -> None:
    """The webhook events of the ticket itself (API.md: ticket.created, ticket.updated)."""
    outbox_emit(
        tenant_id=ticket.tenant_id,
        type=event,
        dedupe_key=f"{event}:{ticket.pk}:{at.isoformat()}",
        at=at,
        payload={"ticket": ticket.pk, "changed": changed, "ticket_context": ticket_context(ticket)},
    )


def _save(ticket: Ticket, fields: list[str], at: datetime) -> None:
    ticket.updated_at = at
    ticket.save(update_fields=[*fields, "updated_at"])


def _set_status(ticket: Ticket, status: str, at: datetime) -> list[str]:
    """Moves the status and its timestamps; returns the fields touched."""
    ticket.status = status
    if status == Status.SOLVED:
        ticket.solved_at = at
    elif status == Status.CLOSED:
        ticket.closed_at = at
        ticket.solved_at = ticket.solved_at or at
    else:
        ticket.solved_at = ticket.closed_at = None
    return ["status", "solved_at", "closed_at"]


@transaction.atomic
def ticket_change_status(*, ticket: Ticket, actor: Principal | None, status: str, at: datetime | None = None) -> Ticket:
    at = at or timezone.now()
    before = ticket.status
    if status == before:
        return ticket
    check_status_change(ticket=ticket, status=status, actor=actor)
    _save(ticket, _set_status(ticket, status, at), at)
    event_record(
        ticket=ticket, kind="status_changed", actor=actor, before={"status": before}, after={"status": status}, at=at
    )
    return ticket


@transaction.atomic
def ticket_reopen(*, ticket: Ticket, actor: Principal | None, reason: str = "", at: datetime | None = None) -> Ticket:
    at = at or timezone.now()
    if ticket.status not in (Status.SOLVED, Status.CLOSED):
        raise TicketError(ERR_NOT_CLOSED, field="status")
    before = ticket.status
    _save(ticket, _set_status(ticket, Status.OPEN, at), at)
    event_record(
        ticket=ticket,
        kind="reopened",
        actor=actor,
        before={"status": before},
        after={"status": Status.OPEN, "reason": reason},
        at=at,
    )
    return ticket


@transaction.atomic
def ticket_assign(
    *,
    ticket: Ticket,
    actor: Principal | None,
    assignee: Membership | None,
    team: Team | None = None,
    at: datetime | None = None,
) -> Ticket:
    """First assignment, or a lateral reassignment (same level, another person or team). Recorded as
    `assigned` or `reassigned` — never as an escalation, which is vertical and lives in escalation/."""
    at = at or timezone.now()
    before = {"assignee": ticket.assignee_id, "team": ticket.team_id}
    after = {"assignee": assignee.pk if assignee else None, "team": team.pk if team else None}
    if before == after:
        return ticket
    kind = "reassigned" if before["assignee"] or before["team"] else "assigned"
    ticket.assignee, ticket.team = assignee, team
    _save(ticket, ["assignee", "team"], at)
    event_record(ticket=ticket, kind=kind, actor=actor, before=before, after=after, at=at)
    return ticket


@transaction.atomic
def ticket_update(*, ticket: Ticket, actor: Principal | None, **changes) -> Ticket:
    """PATCH: status, priority, assignee, team, tags, category — each change audited."""
    at = timezone.now()
    before = {name: getattr(ticket, name) for name in TICKET_UPDATE_FIELDS}
    if "status" in changes:
        ticket_change_status(ticket=ticket, actor=actor, status=changes.pop("status"), at=at)
    if "assignee" in changes or "team" in changes:
        assignee = changes.pop("assignee", ticket.assignee)
        team = changes.pop("team", ticket.team)
        ticket_assign(ticket=ticket, actor=actor, assignee=assignee, team=team, at=at)
    if "tags" in changes:
        changes["tags"] = normalized_tags(changes["tags"])
    plain = {name: value for name, value in changes.items() if getattr(ticket, name) != value}
    if plain:
        previous = {name: getattr(ticket, name) for name in plain}
        for name, value in plain.items():
            setattr(ticket, name, value)
        _save(ticket, list(plain), at)
        event_record(ticket=ticket, kind="updated", actor=actor, before=previous, after=plain, at=at)
    changed = [name.removesuffix("_id") for name in TICKET_UPDATE_FIELDS if getattr(ticket, name) != before[name]]
    if changed:
        _emit(ticket, "ticket.updated", at, changed=changed)
    return ticket


# No savepoint: it runs inside the evaluation of the rules, in the event's transaction.
@transaction.atomic(savepoint=False)
def normalized_tags(tags: list[str]) -> list[str]:
    """Tags compare case-insensitively (the page lowercases what a person types; rules name them in lower case):
    "Bug_Confirmed" from the API is the `bug_confirmed` a tag_added rule listens for."""
    return sorted({tag.lower() for tag in tags})


def ticket_tags_add(*, ticket: Ticket, taggings: list[tuple[str, str, list[str]]], at: datetime) -> list[str]:
    """Tag rules fired (the seeds' auto-tagging on intake): (rule slug, reason, tags) each. Their tags join the
    ticket's at once, in one UPDATE, one INSERT of their audit events and one outbox row however many fired.
    Returns the tags that were new (a tag already there is not added twice, and is no news for tag_added)."""
    before = list(ticket.tags)
    events, added = [], []
    for rule, reason, tags in taggings:
        new = [tag for tag in dict.fromkeys(tags) if tag not in ticket.tags and tag not in added]
        if not new:
            continue
        added.extend(new)
        after = sorted({*before, *added})
        events.append(
            TicketEvent(
                tenant_id=ticket.tenant_id, ticket=ticket, kind="tagged", actor=None, actor_label=_label(None),
                before={"tags": before}, after={"tags": after, "added": new, "rule": rule, "reason": reason},
                created_at=at,
            )
        )  # fmt: skip
    if not added:
        return []
    ticket.tags = sorted({*before, *added})
    _save(ticket, ["tags"], at)
    TicketEvent.objects.bulk_create(events)
    _emit(ticket, "ticket.updated", at, changed=["tags"])
    return added


@transaction.atomic(savepoint=False)
def ticket_flag_for_review(*, ticket: Ticket, rule: str, reason: str, at: datetime) -> bool:
    """A flag rule fired: the ticket joins the "Needs review" queue with the reason ("flagged for review, not
    silently missed"). A ticket already waiting there keeps its first reason; the new one joins the audit trail."""
    first = ticket.review_flagged_at is None
    text = f"{rule}: {reason}"[:500]
    if first:
        ticket.review_reason, ticket.review_flagged_at = text, at
        _save(ticket, ["review_reason", "review_flagged_at"], at)
    event_record(ticket=ticket, kind="flagged_for_review", actor=None, at=at, after={"rule": rule, "reason": reason})
    return first


@transaction.atomic
def ticket_review_clear(*, ticket: Ticket, actor: Principal | None, note: str = "") -> Ticket:
    """A person looked at a flagged ticket: it leaves the "Needs review" queue (the reason stays in the trail)."""
    if ticket.review_flagged_at is None:
        return ticket
    at = timezone.now()
    before = {"review_reason": ticket.review_reason, "review_flagged_at": ticket.review_flagged_at.isoformat()}
    ticket.review_reason, ticket.review_flagged_at = "", None
    _save(ticket, ["review_reason", "review_flagged_at"], at)
    event_record(ticket=ticket, kind="review_cleared", actor=actor, before=before, after={"note": note}, at=at)
    return ticket


@transaction.atomic
def dispute_record(*, ticket: Ticket, actor: Principal | None, amount, currency: str, reason: str) -> Dispute:
    """A billing dispute on the ticket, with its audit event (the workflow then runs the dispute rules)."""
    at = timezone.now()
    dispute = Dispute.objects.create(
        tenant_id=ticket.tenant_id,
        ticket=ticket,
        amount=amount,
        currency=currency,
        reason=reason,
        actor=_membership(actor),
        created_at=at,
    )
    event_record(
        ticket=ticket,
        kind="dispute_recorded",
        actor=actor,
        at=at,
        after={"dispute": dispute.pk, "amount": str(amount), "currency": currency, "reason": reason},
    )
    return dispute


# --- conversation -------------------------------------------------------------------------------


def _apply_customer_message(ticket: Ticket, message: Message, at: datetime, actor) -> list[str]:
    fields = ["sentiment", "follow_up_count", "exchange_count", "last_author_type", "last_customer_message_at"]
    ticket.sentiment = analysis.blend_sentiment(ticket.sentiment, message.sentiment)
    # A follow-up is a customer message nobody has answered yet: the counter restarts at each agent reply.
    ticket.follow_up_count += 1
    if ticket.last_author_type == AuthorType.AGENT:
        ticket.exchange_count += 1
    ticket.last_author_type = AuthorType.CUSTOMER
    ticket.last_customer_message_at = at
    if ticket.status in (Status.PENDING, Status.SOLVED, Status.CLOSED):
        before = ticket.status
        fields += _set_status(ticket, Status.OPEN, at)
        kind = "reopened" if before in (Status.SOLVED, Status.CLOSED) else "status_changed"
        event_record(
            ticket=ticket,
            kind=kind,
            actor=actor,
            before={"status": before},
            after={"status": Status.OPEN, "reason": "customer replied"},
            at=at,
        )
    return fields


def _apply_agent_reply(ticket: Ticket, at: datetime) -> list[str]:
    fields = ["follow_up_count", "exchange_count", "last_author_type", "last_agent_reply_at", "first_response_at"]
    ticket.follow_up_count = 0
    if ticket.last_author_type == AuthorType.CUSTOMER:
        ticket.exchange_count += 1
    ticket.last_author_type = AuthorType.AGENT
    ticket.last_agent_reply_at = at
    ticket.first_response_at = ticket.first_response_at or at
    if ticket.status == Status.NEW:
        fields += _set_status(ticket, Status.OPEN, at)
    return fields


# No savepoint: it runs inside a use case's transaction and raises nothing a caller catches and goes on from.
@transaction.atomic(savepoint=False)
def message_post(
    *,
    ticket: Ticket,
    actor: Principal | None,
    body: str,
    author_type: str,
    internal: bool = False,
    created_at: datetime | None = None,
) -> Message:
    """Stores a message and moves the ticket's conversation state (follow-ups, exchanges, sentiment,
    first response, reopen on a customer reply). Internal notes change nothing but the thread."""
    at = created_at or timezone.now()
    is_customer = author_type == AuthorType.CUSTOMER
    message = Message.objects.create(
        tenant_id=ticket.tenant_id,
        ticket=ticket,
        author_type=author_type,
        author=None if is_customer else _membership(actor),
        body=body,
        internal=internal and not is_customer,
        sentiment=analysis.sentiment(body) if is_customer else None,
        created_at=at,
    )
    fields: list[str] = []
    if is_customer:
        fields = _apply_customer_message(ticket, message, at, actor)
    elif author_type == AuthorType.AGENT and not message.internal:
        fields = _apply_agent_reply(ticket, at)
    if fields or ticket.updated_at != at:
        # A note or system message in the moment of the change that caused it (an escalation's milestone)
        # finds the ticket already written as of `at`: nothing left to save.
        _save(ticket, fields, at)
    _search_append(ticket, body)
    event_record(
        ticket=ticket,
        kind="message_posted",
        actor=actor,
        at=at,
        after={"message": message.pk, "author_type": author_type, "internal": message.internal},
    )
    return message


@transaction.atomic
def attempt_record(
    *,
    ticket: Ticket,
    actor: Principal | None,
    outcome: str,
    tier: int,
    note: str = "",
    created_at: datetime | None = None,
) -> ResolutionAttempt:
    at = created_at or timezone.now()
    attempt = ResolutionAttempt.objects.create(
        tenant_id=ticket.tenant_id,
        ticket=ticket,
        tier=tier,
        outcome=outcome,
        note=note,
        actor=_membership(actor),
        created_at=at,
    )
    fields: list[str] = []
    if outcome == Outcome.FAILED:
        ticket.failed_attempt_count += 1
        fields.append("failed_attempt_count")
    _save(ticket, fields, at)
    event_record(
        ticket=ticket,
        kind="attempt_recorded",
        actor=actor,
        at=at,
        after={"attempt": attempt.pk, "outcome": outcome, "tier": tier},
    )
    return attempt


# --- escalation bookkeeping (the escalation app decides; the ticket records) ----------------------


def ticket_escalation_move(
    *, ticket: Ticket, to_tier: int, team: Team | None, assignee: Membership | None, priority: str | None = None
) -> dict:
    """Vertical move of the ticket, on the instance only: a higher tier or authority takes it. Returns what
    it was before, for ticket_record_escalation, which stores it. In between, the escalation's clocks are
    planned against the moved ticket (its priority and team choose the policy and the calendar)."""
    before = {"tier": ticket.tier, "team": ticket.team_id, "assignee": ticket.assignee_id, "priority": ticket.priority}
    ticket.tier, ticket.team, ticket.assignee = to_tier, team, assignee
    if raises_priority(priority, ticket.priority):
        # A rule's override says "at least this": an urgent ticket escalated by a "raise to high" rule
        # stays urgent.
        ticket.priority = priority
    ticket.escalated = True
    ticket.escalation_count += 1
    return before


# No savepoint: it runs inside a use case's transaction and raises nothing a caller catches and goes on from.
@transaction.atomic(savepoint=False)
def ticket_record_escalation(
    *, ticket: Ticket, actor: Principal | None, escalation_id: int, kind: str, before: dict, at: datetime
) -> Ticket:
    """Stores the move of ticket_escalation_move, recorded as `escalated`, never as a reassignment (lateral
    moves are ticket_assign)."""
    _save(ticket, ["tier", "team", "assignee", "priority", "escalated", "escalation_count"], at)
    event_record(
        ticket=ticket,
        kind="escalated",
        actor=actor,
        at=at,
        before=before,
        after={
            "escalation": escalation_id,
            "kind": kind,
            "tier": ticket.tier,
            "team": ticket.team_id,
            "assignee": ticket.assignee_id,
            "priority": ticket.priority,
        },
    )
    return ticket


@transaction.atomic
def ticket_record_escalation_end(
    *,
    ticket: Ticket,
    actor: Principal | None,
    escalation_id: int,
    outcome: str,
    still_escalated: bool,
    tier: int | None = None,
    assignee: Membership | None = None,
    team: Team | None = None,
    move: bool = False,
    at: datetime | None = None,
) -> Ticket:
    """An escalation ended (resolved, returned, de-escalated). With `move`, the ticket goes back to the
    given tier/assignee/team (a bounceback or a de-escalation)."""
    at = at or timezone.now()
    before = {"tier": ticket.tier, "team": ticket.team_id, "assignee": ticket.assignee_id}
    fields = ["escalated"]
    ticket.escalated = still_escalated
    if move:
        ticket.tier, ticket.assignee, ticket.team = tier if tier is not None else ticket.tier, assignee, team
        fields += ["tier", "assignee", "team"]
    _save(ticket, fields, at)
    event_record(
        ticket=ticket,
        kind=f"escalation_{outcome}",
        actor=actor,
        at=at,
        before=before,
        after={
            "escalation": escalation_id,
            "tier": ticket.tier,
            "team": ticket.team_id,
            "assignee": ticket.assignee_id,
        },
    )
    return ticket


# No savepoint: it runs inside a use case's transaction and raises nothing a caller catches and goes on from.
@transaction.atomic(savepoint=False)
def ticket_set_triage(*, ticket: Ticket, level: str, reasons: list[str], at: datetime | None = None) -> bool:
    """Stores the triage class; a change of level is audited (who may act on a ticket is worth a trail)."""
    if ticket.triage == level and ticket.triage_reasons == reasons:
        return False
    at = at or timezone.now()
    before = ticket.triage
    Ticket.objects.filter(pk=ticket.pk).update(triage=level, triage_reasons=reasons)
    ticket.triage, ticket.triage_reasons = level, reasons
    if before != level:
        event_record(
            ticket=ticket,
            kind="triage_changed",
            actor=None,
            at=at,
            before={"triage": before},
            after={"triage": level, "reasons": reasons},
        )
    return True


# A ticket's search document with words appended (weight C, as message_post's): bulk.update_computed's expression.
SEARCH_APPEND = (
    "coalesce({old}, ''::tsvector) || setweight(to_tsvector('" + SEARCH_CONFIG + "'::regconfig, {value}), 'C')"
)


def system_messages_post_many(*, posts: list[tuple[Ticket, str]], at: datetime) -> list[Message]:
    """message_post of public system messages (an escalation's milestone to the customer) on many tickets, as
    the sweep's batch writes them: the messages in one INSERT, the tickets' search documents in one UPDATE (with
    the tickets' other changes inside bulk.gathered()),
    the audit events in one INSERT (helpdesk.bulk). A system message moves no conversation counter; the
    tickets were already written as of `at` by the change that caused the messages."""
    if not posts:
        return []
    messages = [
        bulk.new(Message, tenant_id=t.tenant_id, ticket=t, author_type=AuthorType.SYSTEM, author=None, body=body,
                 internal=False, sentiment=None, created_at=at)
        for t, body in posts
    ]  # fmt: skip
    for message, pk in zip(messages, bulk.ids_reserve(Message, len(messages)), strict=True):
        message.pk = pk
    bulk.insert_rows(Message, messages)
    texts: dict[int, list[str]] = {}
    for ticket, body in posts:
        texts.setdefault(ticket.pk, []).append(body)
    # Within the sweep's bulk.gathered(), folded into the one UPDATE of these tickets (triage, move, hand-over).
    bulk.update_computed(Ticket, "search_vector", SEARCH_APPEND, texts)
    bulk.insert_rows(
        TicketEvent,
        [
            bulk.new(TicketEvent, tenant_id=m.tenant_id, ticket_id=m.ticket_id, kind="message_posted", actor=None,
                     actor_label=_label(None), before={},
                     after={"message": m.pk, "author_type": AuthorType.SYSTEM, "internal": False}, created_at=at)
            for m in messages
        ],
    )  # fmt: skip
    return messages


def tickets_set_triage_many(*, changes: list[tuple[Ticket, str, list[str]]], at: datetime) -> int:
    """ticket_set_triage for many tickets (the sweep's batch), in two statements: the changed tickets' triage
    in one UPDATE, the level changes' audit events in one INSERT (helpdesk.bulk). Returns the tickets changed."""
    changed, events = [], []
    for ticket, level, reasons in changes:
        if ticket.triage == level and ticket.triage_reasons == reasons:
            continue
        before = ticket.triage
        ticket.triage, ticket.triage_reasons = level, reasons
        changed.append(ticket)
        if before != level:
            events.append(
                bulk.new(
                    TicketEvent,
                    tenant_id=ticket.tenant_id,
                    ticket_id=ticket.pk,
                    kind="triage_changed",
                    actor=None,
                    actor_label=_label(None),
                    before={"triage": before},
                    after={"triage": level, "reasons": reasons},
                    created_at=at,
                )
            )
    bulk.update_rows(Ticket, changed, ["triage", "triage_reasons"])
    bulk.insert_rows(TicketEvent, events)
    return len(changed)


# --- erasure of a customer's personal data (GDPR art. 17) -----------------------------------------------


@dataclass
class Erasure:
    """What the tickets app erased, for the workflow to finish the job in the layers it does not know
    (escalations, notifications): the tickets concerned, the customer's former address, and the redactor
    that masks the copies of their data."""

    customer_id: int
    address: str
    ticket_ids: list[int]
    redactor: redaction.Redactor
    counts: dict[str, int] = field(default_factory=dict)


def customer_erase(*, customer: Customer, actor: Principal | None) -> Erasure | None:
    """The customer's name, address and phone, the subject and description of their tickets and their own
    messages are replaced by tombstones; copies of them in the other rows of their tickets (agent replies,
    system messages, attempt notes, triage reasons, the audit trail's values, the admin's log) are masked.
    Tickets, clocks, counts and the audit trail's structure stay. None if the customer was erased before.
    Runs in the caller's transaction (workflows.customer_erase), with the customer and tickets locked."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.erased_at is not None:
        return None
    at = timezone.now()
    tickets = list(Ticket.objects.select_for_update().filter(requester=customer).order_by("pk"))
    ids = [ticket.pk for ticket in tickets]
    own = Message.objects.filter(ticket_id__in=ids, author_type=AuthorType.CUSTOMER)
    texts = [t for ticket in tickets for t in (ticket.subject, ticket.description)] + list(
        own.values_list("body", flat=True)
    )
    erasure = Erasure(
        customer_id=customer.pk,
        address=customer.email,
        ticket_ids=ids,
        redactor=redaction.redactor(
            email=customer.email,
            email_replacement=redaction.tombstone_email(customer.pk),
            name=customer.name,
            phone=customer.phone,
            texts=texts,
        ),
    )
    erasure.counts["messages"] = own.update(body=redaction.TOMBSTONE_TEXT)
    erasure.counts["masked"] = _mask_others(erasure)
    erasure.counts["events"] = _redact_events(erasure, at)
    _tombstone_tickets(tickets, erasure.redactor)
    _redact_admin_log(customer, ids, erasure.redactor)
    customer.email, customer.name, customer.phone = redaction.tombstone_email(customer.pk), redaction.TOMBSTONE_NAME, ""
    customer.erased_at = at
    customer.save(update_fields=["email", "name", "phone", "erased_at", "updated_at"])
    erasure.counts["tickets"] = len(tickets)
    for ticket in tickets:
        # Which fields, never their values.
        event_record(
            ticket=ticket,
            kind="customer_erased",
            actor=actor,
            at=at,
            after={"customer": customer.pk, "erased": list(ERASED_FIELDS)},
        )
    return erasure


ERASED_FIELDS = ("customer.email", "customer.name", "customer.phone", "subject", "description", "customer_messages")


def _mask_others(erasure: Erasure) -> int:
    """What staff and the system wrote on the tickets: kept, with the customer's data masked."""
    ids, redactor = erasure.ticket_ids, erasure.redactor
    others = Message.objects.filter(ticket_id__in=ids).exclude(author_type=AuthorType.CUSTOMER)
    attempts = ResolutionAttempt.objects.filter(ticket_id__in=ids)
    disputes = Dispute.objects.filter(ticket_id__in=ids)
    return (
        mask_rows(others, ("body",), redactor)
        + mask_rows(attempts, ("note",), redactor)
        + mask_rows(disputes, ("reason",), redactor)
    )


def _redact_events(erasure: Erasure, at: datetime) -> int:
    """The audit trail's values (the `created` event names the requester and the subject), masked in place:
    the one UPDATE its trigger admits (migration 0007), stamped with redacted_at."""
    events = TicketEvent.objects.filter(ticket_id__in=erasure.ticket_ids)
    return mask_rows(events, ("before", "after"), erasure.redactor, stamp={"redacted_at": at})


SEARCH_REBUILD = """
UPDATE tickets_ticket t SET search_vector =
    setweight(to_tsvector(%(config)s::regconfig, t.subject), 'A')
    || setweight(to_tsvector(%(config)s::regconfig, t.description), 'B')
    || setweight(to_tsvector(%(config)s::regconfig, coalesce((
        SELECT string_agg(m.body, ' ' ORDER BY m.created_at, m.id) FROM tickets_message m
        WHERE m.tenant_id = t.tenant_id AND m.ticket_id = t.id), '')), 'C')
WHERE t.tenant_id = %(tenant)s AND t.id = ANY(%(ids)s)
"""


def _tombstone_tickets(tickets: list[Ticket], redactor: redaction.Redactor) -> None:
    """Subject and description (the customer wrote both: a subject is as personal as a body), the triage
    reasons masked, and the full-text document rebuilt from what is left, so `q` finds none of it."""
    if not tickets:
        return
    for ticket in tickets:
        ticket.subject = ticket.description = redaction.TOMBSTONE_TEXT
        ticket.triage_reasons = redactor.json(ticket.triage_reasons)
    Ticket.objects.bulk_update(tickets, ["subject", "description", "triage_reasons"])
    with connection.cursor() as cursor:
        cursor.execute(
            SEARCH_REBUILD, {"config": SEARCH_CONFIG, "tenant": tickets[0].tenant_id, "ids": [t.pk for t in tickets]}
        )


def _redact_admin_log(customer: Customer, ticket_ids: list[int], redactor: redaction.Redactor) -> None:
    """Django's admin log (not tenant-owned) names the objects it changed: "Pat <pat@example.com>"."""
    customer_type = ContentType.objects.get_for_model(Customer)
    ticket_type = ContentType.objects.get_for_model(Ticket)
    entries = LogEntry.objects.filter(
        Q(content_type=customer_type, object_id=str(customer.pk))
        | Q(content_type=ticket_type, object_id__in=[str(pk) for pk in ticket_ids])
    )
    mask_rows(entries, ("object_repr", "change_message"), redactor)
