"""Use cases that span apps. Each runs in one transaction and calls the apps' services in order.

Called by API views, UI views, management commands and Celery tasks; the apps themselves never import
each other upwards (callnotes -> escalation -> slas -> tickets -> helpdesk).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from callnotes import artifacts, knowledge, reminders, transcript
from callnotes import services as calls
from callnotes.errors import CallError
from callnotes.models import ActionItem, Attachment, Call, CallNote, CallNoteTemplate
from escalation import authority, batch, claim_reads, engine, watches
from escalation import reviews as post_escalation_reviews
from escalation import selectors as escalation_selectors
from escalation import services as escalations
from escalation.models import Escalation, EscalationRule, Review
from escalation.snapshot import TicketSnapshot, event_snapshot
from escalation.tasks import arm_after_commit
from helpdesk import bulk, config_cache, portability, share_reads
from helpdesk import services as tenancy
from helpdesk.audit import audit_record
from helpdesk.auth import Principal
from helpdesk.models import ApiToken, Membership, Tenant
from helpdesk.notifications import defaults as notification_defaults
from helpdesk.notifications import dispatcher
from helpdesk.notifications import services as notification_services
from helpdesk.notifications.models import NotificationChannel, NotificationTemplate, WebhookSubscription
from helpdesk.retirement import RETIRED
from helpdesk.retry import connection_lost
from helpdesk.tenancy import tenant_batch, tenant_context, tenant_reads, tenant_shares
from mail import imap, outbound, parsing
from mail import services as mail
from mail.models import InboundAddress, Mailbox, MailSetup
from metrics import csat, digest
from metrics import services as metrics_services
from slas import defaults as sla_defaults
from slas import services as slas
from slas.models import BusinessCalendar, SLAPolicy
from slas.tasks import recalculate_after_commit
from tickets import services as tickets
from tickets.models import Account, AuthorType, Customer, Message, ResolutionAttempt, Status, Ticket

logger = logging.getLogger(__name__)

# Due clocks per SLA transaction: the stage is set-based across tenants, one statement a batch, so a batch's cost is
# mostly its rows. Not larger: the first full batch's commit is what calls in the pool's joiners (helpdesk/tasks.py),
# and the joiners share the batches after it -- with 10,000 the storm's whole SLA stage was one batch in one process
# (full storm, 2 processes, quiet: 11.5-14.3 s with 10,000, 8.9-11.8 s with 2,500; one process the same, 15.6-15.9
# s; bench/SWEEP.md "Issue 17, fifth round"). Watch and reminder batches are small because their tickets stay
# locked while they run one at a time.
# The rules stage opens escalations set-based per tenant share (escalation/batch.py): a share costs a fixed
# number of statements whatever its size, so its batch is as large as its claim allows fewer, fuller shares.
SWEEP_BATCH = 2500
RULES_BATCH = 100
ESCALATION_BATCH = 1000
MAX_BATCHES = 100
Backlog = Callable[[datetime], None]  # called with the sweep's moment (the joiners take the same)
POLICY_FIELDS = ("priority", "category", "channel")
CLOSED_STATUSES = (Status.SOLVED, Status.CLOSED)


@transaction.atomic
def tenant_bootstrap(*, slug: str, name: str, timezone: str = "UTC") -> Tenant:
    """A new tenant, ready to work: its default business calendar, SLA policies, escalation matrix and
    notification templates (no channels or webhooks: where to send is the tenant's choice)."""
    tenant = tenancy.tenant_create(slug=slug, name=name, timezone=timezone)
    with tenant_context(tenant):
        sla_defaults.install(tenant=tenant)
        escalations.matrix_install(tenant=tenant)
        notification_defaults.install(tenant=tenant)
        calls.template_install(tenant=tenant)
    return tenant


# --- people ---------------------------------------------------------------------------------------


def api_token_create(*, tenant: Tenant, actor: Principal | None, role: str, label: str = "") -> tuple[ApiToken, str]:
    """An integration's token; the key is returned once and only its hash is stored."""
    return tenancy.api_token_create(tenant=tenant, role=role, label=label)


def member_add(*, tenant: Tenant, actor: Principal | None, **fields) -> Membership:
    """A new person with a seat (API, admin, create_member): validated by helpdesk.members, audited, and
    invited by e-mail after commit when no password is given. Raises members.MemberError."""
    return tenancy.member_add(tenant=tenant, actor=actor, **fields)


def member_update(*, membership: Membership, actor: Principal | None, **changes) -> Membership:
    """A seat's role, tier, skills, capacity, availability, teams, or the person's name and e-mail."""
    return tenancy.member_update(membership=membership, actor=actor, **changes)


def member_deactivate(*, membership: Membership, actor: Principal | None) -> Membership:
    """The seat switched off: no sign-in, no routed escalations, no notifications; history keeps the name."""
    return tenancy.member_deactivate(membership=membership, actor=actor)


def member_sign_in_unlock(*, actor: Principal, memberships: list) -> int:
    """The admin's "Unlock sign-in": the members' failed sign-ins are forgotten, so a username locked out by
    django-axes can sign in again at once. Audited with who did it."""
    removed = tenancy.membership_sign_in_unlock(memberships=memberships)
    for membership in memberships:
        audit_record(
            tenant_id=membership.tenant_id,
            kind="member.sign_in_unlocked",
            actor=actor,
            object_type="member",
            object_id=membership.pk,
            after={"records_removed": removed},
        )
    return removed


# --- configuration: DELETE retires what is in use, removes the rest (helpdesk/retirement.py) ---------


def calendar_delete(*, calendar: BusinessCalendar, actor: Principal | None) -> str:
    return slas.calendar_delete(calendar=calendar, actor=actor)


def policy_delete(*, policy: SLAPolicy, actor: Principal | None) -> str:
    return slas.policy_delete(policy=policy, actor=actor)


@transaction.atomic
def rule_delete(*, rule: EscalationRule, actor: Principal | None) -> str:
    """A time_open rule's pending watches go with it (after commit, as for a rule switched off)."""
    was_time_open = rule.active and rule.trigger == "time_open"
    outcome = escalations.rule_delete(rule=rule, actor=actor)
    if outcome == RETIRED:
        arm_after_commit(rule, was_time_open=was_time_open)
    return outcome


# --- notifications: where to send, and what --------------------------------------------------------------


def webhook_create(*, tenant: Tenant, actor: Principal | None, **fields) -> WebhookSubscription:
    return notification_services.webhook_create(tenant=tenant, **fields)


def webhook_update(*, subscription: WebhookSubscription, actor: Principal | None, **changes) -> WebhookSubscription:
    return notification_services.webhook_update(subscription=subscription, **changes)


def channel_save(*, channel: NotificationChannel, actor: Principal | None, url: str | None) -> NotificationChannel:
    """A channel created or changed; `url` None keeps the stored one (which must still pass today's rules)."""
    return notification_services.channel_save(channel=channel, url=url)


def template_save(*, template: NotificationTemplate, actor: Principal | None) -> NotificationTemplate:
    """A notification template, checked against the largest context an event can carry before it is stored."""
    return notification_services.template_save(template=template)


def deliveries_retry_now(*, delivery_ids: list[int], actor: Principal | None) -> int:
    return notification_services.deliveries_retry_now(delivery_ids=delivery_ids)


def webhook_delete(*, subscription: WebhookSubscription, actor: Principal | None) -> str:
    return notification_services.webhook_delete(subscription=subscription, actor=actor)


def team_create(*, tenant: Tenant, actor: Principal | None, name: str, skills=(), tier: int = 1, members=()):
    return tenancy.team_create(tenant=tenant, name=name, skills=list(skills), tier=tier, members=list(members))


def team_save(*, team, actor: Principal | None, members=None):
    return tenancy.team_save(team=team, members=members)


def tenant_update(*, tenant: Tenant, actor: Principal | None, **changes) -> Tenant:
    return tenancy.tenant_update(tenant=tenant, **changes)


def api_tokens_revoke(*, tokens, actor: Principal | None) -> int:
    return tenancy.api_tokens_revoke(tokens=tokens, at=timezone.now())


def api_token_relabel(*, token: ApiToken, actor: Principal | None, label: str) -> ApiToken:
    return tenancy.api_token_relabel(token=token, label=label)


# --- accounts and customers ------------------------------------------------------------------------


def account_create(*, tenant: Tenant, actor: Principal | None, **fields) -> Account:
    return tickets.account_create(tenant=tenant, **fields)


def account_update(*, account: Account, actor: Principal | None, **changes) -> Account:
    return tickets.account_update(account=account, **changes)


def customer_create(*, tenant: Tenant, actor: Principal | None, **fields) -> Customer:
    """A customer; placing one in a VIP account is a manager's call (tickets.validation)."""
    return tickets.customer_create(tenant=tenant, actor=actor, **fields)


def customer_update(*, customer: Customer, actor: Principal | None, **changes) -> Customer:
    """Changes to a customer; moving one into or out of a VIP account is a manager's call."""
    return tickets.customer_update(customer=customer, actor=actor, **changes)


# --- customers' personal data -------------------------------------------------------------------------


@transaction.atomic
def customer_erase(*, customer: Customer, actor: Principal | None) -> dict | None:
    """Erasure on request (GDPR art. 17; DELETE /customers/{id}/), in one transaction. Every place the
    customer's data is copied, and what happens there:

    - the customer row: a tombstone (name "Erased customer", address erased-<id>@erased.invalid, no
      phone, erased_at) — tickets point to it, and their counts and metrics stay;
    - their tickets: subject and description replaced ("[erased on request]": the customer wrote both, and
      a subject is as personal as a body), triage reasons masked, the full-text document rebuilt;
    - their own messages: replaced; staff and system messages, attempt notes: masked (helpdesk.redaction:
      their name, address, phone, and any sentence of theirs quoted);
    - the audit trail: each event's values masked in place (the trigger admits that one change, stamped
      redacted_at), and a `customer_erased` event on each ticket that names the fields, never the values;
    - escalations: drafted problem replaced, summaries, reasons, resolutions and firing reasons masked;
    - post-escalation reviews: what worked, what failed and the rule change masked;
    - notifications: outbox payloads (ticket_context, a milestone's text and address), deliveries (address,
      destination, errors; pending ones to them cancelled) and their attempts' errors;
    - stored Idempotency-Key responses, and Django's admin log;
    - e-mail records: the originals as received dropped, their addresses and subjects masked;
    - the tenant's audit trail: `customer.erased` with counts only.

    Clocks, escalation records, firings and every count stay, so metrics don't move. Not reached: data
    outside this database (sent e-mail, webhook receivers, logs, backups) and a paraphrase in staff text.
    Returns the counts, or None when the customer was erased before (nothing is written twice)."""
    erasure = tickets.customer_erase(customer=customer, actor=actor)
    if erasure is None:
        return None
    counts = dict(erasure.counts)
    counts["escalations"] = escalations.escalations_redact(ticket_ids=erasure.ticket_ids, redactor=erasure.redactor)
    counts["reviews"] = post_escalation_reviews.reviews_redact(ticket_ids=erasure.ticket_ids, redactor=erasure.redactor)
    event_ids = tenancy.outbox_redact(ticket_ids=erasure.ticket_ids, address=erasure.address, redactor=erasure.redactor)
    counts["outbox_events"] = len(event_ids)
    counts["deliveries"] = notification_services.deliveries_redact(
        event_ids=event_ids, address=erasure.address, redactor=erasure.redactor
    )
    counts["idempotency_keys"] = tenancy.idempotency_redact(redactor=erasure.redactor)
    counts["mail_originals"] = mail.records_erase(
        ticket_ids=erasure.ticket_ids, address=erasure.address, redactor=erasure.redactor
    )
    audit_record(
        tenant_id=customer.tenant_id,
        kind="customer.erased",
        actor=actor,
        object_type="customer",
        object_id=erasure.customer_id,
        after=counts,
    )
    return counts


# --- tickets --------------------------------------------------------------------------------------


def ticket_open(*, tenant: Tenant, actor: Principal | None, **fields) -> Ticket:
    """A ticket arrives (API, UI, inbound email): stored with its text analysis, its SLA clocks started
    from its created_at, the event rules evaluated — all in one transaction (ticket_open_with_clocks)."""
    return ticket_open_with_clocks(tenant=tenant, actor=actor, **fields)[0]


@transaction.atomic
@config_cache.pinned()
def ticket_open_with_clocks(*, tenant: Tenant, actor: Principal | None, **fields) -> tuple[Ticket, list]:
    """ticket_open, also returning the ticket's own clocks as stored. The evaluation is told the ticket is
    new: it has no thread, attempts or escalations to read, and its clocks are the ones started here. The
    services keep the returned instance current, so the pair is the ticket as committed and the API answers
    from it without a read. That holds while nothing here moves the ticket's own clocks after their start:
    today a priority raised by an escalation keeps the clocks of the policy the ticket opened under. Should
    it re-apply the policy, return the re-applied clocks (tests compare the answer with a read)."""
    ticket = tickets.ticket_open(tenant=tenant, actor=actor, classify=engine.triage_opening, **fields)
    timers = slas.timers_start(ticket=ticket)
    watches.watches_arm(ticket=ticket, since=ticket.created_at, new=True)
    snapshot = TicketSnapshot(ticket, new=True, timers=timers)
    engine.evaluate(
        ticket,
        text=f"{ticket.subject}\n{ticket.description}",
        time_based=False,
        at=ticket.created_at,
        snapshot=snapshot,
        added_tags=tuple(ticket.tags),  # the tags it arrives with are added by a person (or an integration)
    )
    _calls_wanted(snapshot, ticket.created_at)
    return ticket, timers


def _calls_wanted(snapshot: TicketSnapshot, at: datetime) -> None:
    """Rules with to_call that fired in this evaluation become call requests on their escalations."""
    if snapshot.calls_wanted:
        calls.call_requests_open(wanted=snapshot.calls_wanted, at=at)


@transaction.atomic
@config_cache.pinned()
def message_receive(*, ticket: Ticket, actor: Principal | None, **fields) -> Message:
    """A message on a ticket: stored and analysed, then the clocks move (a public agent reply meets the
    response targets; a customer reply starts the next-response clock or reopens the ticket)."""
    before = ticket.status
    message = tickets.message_post(ticket=ticket, actor=actor, **fields)
    at = message.created_at
    slas.timers_on_status(ticket=ticket, before=before, after=ticket.status, at=at, actor=actor)
    _knowledge_follow(ticket, before)
    if message.author_type == AuthorType.CUSTOMER:
        slas.timers_on_customer_message(ticket=ticket, at=at)
        snapshot = event_snapshot(ticket, at=at)
        engine.evaluate(ticket, text=message.body, time_based=False, at=at, snapshot=snapshot)
        _calls_wanted(snapshot, at)
    elif message.author_type == AuthorType.AGENT and not message.internal:
        slas.timers_on_agent_reply(ticket=ticket, at=at)
        escalations.escalations_on_agent_reply(ticket=ticket, at=at, author=message.author)
        outbound.message_mail(ticket=ticket, message=message, auto=False)
    return message


@transaction.atomic
def ticket_update(*, ticket: Ticket, actor: Principal | None, **changes) -> Ticket:
    """PATCH of a ticket: the change with its audit trail, then the clocks (pause on pending/on hold,
    resume, meet on solved) and, when priority/category/channel moved, the policy that now applies."""
    before_status = ticket.status
    before_keys = {name: getattr(ticket, name) for name in POLICY_FIELDS}
    before_tags = set(ticket.tags)
    tickets.ticket_update(ticket=ticket, actor=actor, **changes)
    at = ticket.updated_at
    slas.timers_on_status(ticket=ticket, before=before_status, after=ticket.status, at=at, actor=actor)
    if any(getattr(ticket, name) != value for name, value in before_keys.items()):
        slas.timers_reapply_policy(ticket=ticket, at=at, actor=actor)
    _escalations_follow(ticket, before_status, actor, at)
    _knowledge_follow(ticket, before_status)
    _csat_follow(ticket, before_status, at)
    _tags_follow(ticket, [tag for tag in ticket.tags if tag not in before_tags], at)
    return ticket


def _tags_follow(ticket: Ticket, added: list[str], at: datetime) -> None:
    """Tags a person added (PATCH, the agent page) fire the tag_added rules ("bug confirmed by reproduction"
    goes to engineering); nothing else of the matrix is asked, and nothing is read when no rule could fire."""
    if added and any(rule.trigger == "tag_added" for rule in engine.active_rules()):
        snapshot = event_snapshot(ticket, at=at)
        engine.evaluate(
            ticket, text="", time_based=False, at=at, snapshot=snapshot, only=TAG_TRIGGERS, added_tags=tuple(added)
        )
        _calls_wanted(snapshot, at)


TAG_TRIGGERS = frozenset({"tag_added"})
DISPUTE_TRIGGERS = frozenset({"dispute"})


@transaction.atomic
@config_cache.pinned()
def dispute_record(*, ticket: Ticket, actor: Principal | None, amount, currency: str, reason: str):
    """A billing dispute on the ticket (POST /tickets/{id}/disputes/): recorded, then the dispute rules decide
    ("a billing dispute above $Y goes to finance") in the same transaction."""
    dispute = tickets.dispute_record(ticket=ticket, actor=actor, amount=amount, currency=currency, reason=reason)
    at = dispute.created_at
    snapshot = event_snapshot(ticket, at=at)
    engine.evaluate(
        ticket,
        text="",
        time_based=False,
        at=at,
        snapshot=snapshot,
        only=DISPUTE_TRIGGERS,
        dispute=(dispute.amount, dispute.currency),
    )
    _calls_wanted(snapshot, at)
    return dispute


def ticket_review_clear(*, ticket: Ticket, actor: Principal | None, note: str = "") -> Ticket:
    """A person reviewed a flagged ticket: it leaves the "Needs review" queue."""
    return tickets.ticket_review_clear(ticket=ticket, actor=actor, note=note)


def _escalations_follow(ticket: Ticket, before: str, actor: Principal | None, at: datetime) -> None:
    """A ticket that becomes solved or closed ends its open escalations (escalation.services)."""
    if ticket.status in CLOSED_STATUSES and before not in CLOSED_STATUSES:
        escalations.escalations_end_with_ticket(ticket=ticket, actor=actor, at=at)


def _knowledge_follow(ticket: Ticket, before: str) -> None:
    """A ticket that becomes solved or closed is a resolved case (knowledge); reopened, it is one no more."""
    if ticket.status in CLOSED_STATUSES and before not in CLOSED_STATUSES:
        knowledge.index_ticket(ticket=ticket)
    elif before in CLOSED_STATUSES and ticket.status not in CLOSED_STATUSES:
        knowledge.unindex_ticket(ticket=ticket)


def _csat_follow(ticket: Ticket, before: str, at: datetime) -> None:
    """An escalated ticket solved: its requester is asked for a rating once (post-escalation CSAT)."""
    if ticket.status == Status.SOLVED and before not in CLOSED_STATUSES and ticket.escalation_count:
        csat.csat_request(ticket=ticket, at=at)


def ticket_assign(*, ticket: Ticket, actor: Principal | None, assignee, at: datetime | None = None) -> Ticket:
    """An assignment at a given moment (imports and back-dated histories: the demo's seed)."""
    return tickets.ticket_assign(ticket=ticket, actor=actor, assignee=assignee, team=ticket.team, at=at)


@transaction.atomic
def ticket_change_status(*, ticket: Ticket, actor: Principal | None, status: str, at: datetime | None = None) -> Ticket:
    """A status change at a given moment (imports and back-dated histories), with the clocks."""
    at = at or timezone.now()
    before = ticket.status
    tickets.ticket_change_status(ticket=ticket, actor=actor, status=status, at=at)
    slas.timers_on_status(ticket=ticket, before=before, after=ticket.status, at=at, actor=actor)
    _escalations_follow(ticket, before, actor, at)
    _knowledge_follow(ticket, before)
    _csat_follow(ticket, before, at)
    return ticket


@transaction.atomic
def ticket_reopen(*, ticket: Ticket, actor: Principal | None, reason: str = "") -> Ticket:
    before = ticket.status
    tickets.ticket_reopen(ticket=ticket, actor=actor, reason=reason)
    slas.timers_on_status(ticket=ticket, before=before, after=ticket.status, at=ticket.updated_at, actor=actor)
    _knowledge_follow(ticket, before)
    return ticket


@transaction.atomic
@config_cache.pinned()
def attempt_record(*, ticket: Ticket, actor: Principal | None, **fields) -> ResolutionAttempt:
    """A resolution attempt; failed ones at tier 0-1 may trip the failed_attempts rule."""
    attempt = tickets.attempt_record(ticket=ticket, actor=actor, **fields)
    snapshot = TicketSnapshot(ticket)
    engine.evaluate(ticket, text="", time_based=False, at=attempt.created_at, snapshot=snapshot)
    _calls_wanted(snapshot, attempt.created_at)
    return attempt


@transaction.atomic
def escalate_manually(
    *,
    ticket: Ticket,
    actor: Principal,
    kind: str,
    reason: str,
    summary: dict,
    target_team=None,
    target_tier=None,
    target_agent=None,
    target_role: str = "",
    to_call: bool = False,
) -> Escalation:
    """An agent hands the ticket up, with the five-field summary written by a person. The target is a team, a
    tier, a person, or authority (target_role: a manager or an admin, the agent pages' "A manager"); "escalate
    to a call" also opens a call request on the escalation."""
    escalation = escalations.escalation_create(
        ticket=ticket,
        actor=actor,
        kind=kind,
        trigger="manual",
        reason=reason,
        summary_fields=summary,
        target_team=target_team,
        target_tier=target_tier,
        target_agent=target_agent,
        target_role=target_role,
        to_call=to_call,
    )
    if to_call:
        calls.call_request_open(escalation=escalation, trigger="manual", reason=reason, at=escalation.created_at)
    return escalation


# --- configuration: the escalation matrix ---------------------------------------------------------


def _is_time_open(rule: EscalationRule) -> bool:
    """As stored: a form or a PATCH may already have changed the instance."""
    return rule.pk is not None and EscalationRule.objects.filter(pk=rule.pk, trigger="time_open").exists()


@transaction.atomic
def rule_create(*, tenant: Tenant, actor: Principal | None, **fields) -> EscalationRule:
    """A rule of the matrix; a time_open rule arms its watches for the open tickets after commit."""
    rule = escalations.rule_create(tenant=tenant, **fields)
    arm_after_commit(rule, was_time_open=False)
    return rule


@transaction.atomic
def rule_update(*, rule: EscalationRule, actor: Principal | None, **changes) -> EscalationRule:
    """A changed rule; watches follow when it becomes, or stops being, a time_open rule."""
    was_time_open = _is_time_open(rule)
    rule = escalations.rule_update(rule=rule, **changes)
    arm_after_commit(rule, was_time_open=was_time_open)
    return rule


# --- configuration: business calendars and SLA policies ----------------------------------------------


@transaction.atomic
def calendar_create(*, tenant: Tenant, actor: Principal | None, **fields) -> BusinessCalendar:
    return slas.calendar_create(tenant=tenant, **fields)


@transaction.atomic
def calendar_update(*, calendar: BusinessCalendar, actor: Principal | None, **changes) -> BusinessCalendar:
    """A changed calendar; the running clocks on it are recomputed after commit."""
    calendar = slas.calendar_update(calendar=calendar, **changes)
    recalculate_after_commit(calendar.tenant_id, calendar_id=calendar.pk)
    return calendar


@transaction.atomic
def policy_create(*, tenant: Tenant, actor: Principal | None, **fields) -> SLAPolicy:
    return slas.policy_create(tenant=tenant, **fields)


@transaction.atomic
def policy_update(*, policy: SLAPolicy, actor: Principal | None, **changes) -> SLAPolicy:
    """A changed policy; the running clocks under it are recomputed after commit."""
    policy = slas.policy_update(policy=policy, **changes)
    recalculate_after_commit(policy.tenant_id, policy_id=policy.pk)
    return policy


def authority_request(*, ticket: Ticket, actor: Principal, action: str, amount, reason: str):
    """A refund, credit or contract change within the caller's cap is recorded; above it the ticket is
    escalated for sign-off (escalation/authority.py)."""
    return authority.authority_request(ticket=ticket, actor=actor, action=action, amount=amount, reason=reason)


def refund_request(*, ticket: Ticket, actor: Principal, amount, reason: str):
    return authority_request(ticket=ticket, actor=actor, action=authority.REFUND, amount=amount, reason=reason)


# --- an escalation's lifecycle (the API, the admin's buttons and the agent pages alike) -------------------


def escalation_roles_set(*, escalation: Escalation, actor: Principal | None, **member_ids) -> Escalation:
    """The seeds' roles of an escalation (resolver, customer updater, overseer): escalation/roles.py."""
    return escalations.escalation_roles_set(escalation=escalation, actor=actor, **member_ids)


def escalation_acknowledge(*, escalation: Escalation, actor: Principal | None) -> Escalation:
    return escalations.escalation_acknowledge(escalation=escalation, actor=actor)


def escalation_resolve(*, escalation: Escalation, actor: Principal | None, resolution: str, root_cause: str = ""):
    return escalations.escalation_resolve(
        escalation=escalation, actor=actor, resolution=resolution, root_cause=root_cause
    )


def escalation_return(*, escalation: Escalation, actor: Principal | None, reason: str) -> Escalation:
    return escalations.escalation_return(escalation=escalation, actor=actor, reason=reason)


def escalation_de_escalate(*, escalation: Escalation, actor: Principal | None, reason: str, to_tier: int) -> Escalation:
    return escalations.escalation_de_escalate(escalation=escalation, actor=actor, reason=reason, to_tier=to_tier)


def review_update(*, review: Review, actor: Principal | None, **changes) -> Review:
    """A manager's post-escalation review (opened by the resolution: escalation/reviews.py)."""
    return post_escalation_reviews.review_update(review=review, actor=actor, **changes)


# --- calls: scheduling, the call's life, notes, artifacts, templates, feeds ------------------------------


def call_schedule(*, ticket: Ticket, actor: Principal | None, **fields) -> Call:
    """Schedules a call on the ticket (its open request, or a new one), routed like an escalation when no
    agent is given; the invite (.ics) leaves through the outbox after commit."""
    return calls.call_schedule(ticket=ticket, actor=actor, **fields)


def call_reschedule(*, call: Call, actor: Principal | None, scheduled_start, duration_minutes: int) -> Call:
    return calls.call_reschedule(
        call=call, actor=actor, scheduled_start=scheduled_start, duration_minutes=duration_minutes
    )


def call_cancel(*, call: Call, actor: Principal | None, reason: str) -> Call:
    return calls.call_cancel(call=call, actor=actor, reason=reason)


def call_start(*, call: Call, actor: Principal | None) -> Call:
    return calls.call_start(call=call, actor=actor)


def call_no_show(*, call: Call, actor: Principal | None) -> Call:
    return calls.call_no_show(call=call, actor=actor)


def call_complete(*, call: Call, actor: Principal | None, **fields) -> Call:
    return calls.call_complete(call=call, actor=actor, **fields)


@transaction.atomic
def call_summary_send(*, call: Call, actor: Principal | None, body: str = "") -> Message:
    """A person approved the customer-facing summary: it is posted on the ticket as a public reply (so it
    counts as an answer and a customer update, like any agent reply)."""
    call, message = calls.call_summary_approve(call=call, actor=actor, body=body)
    return message_receive(ticket=call.ticket, actor=actor, **message)


def call_note_update(*, call: Call, actor: Principal | None, changes: dict) -> CallNote:
    return calls.note_update(call=call, actor=actor, changes=changes)


def call_transcript_draft(*, call: Call, actor: Principal | None, text: str) -> CallNote:
    """A transcript becomes a draft of the live notes (key sentences, action items, sentiment), stored for
    review beside the notes; nothing is sent. The summarizer is settings.TRANSCRIPT_SUMMARIZER."""
    tenant_zone = call.ticket.tenant.timezone or "UTC"
    today = timezone.now().astimezone(ZoneInfo(tenant_zone)).date()
    summarizer = import_string(settings.TRANSCRIPT_SUMMARIZER)()
    draft = transcript.draft(text, today=today, summarizer=summarizer)
    return calls.note_draft_store(call=call, actor=actor, draft=draft.as_dict())


def action_item_done(*, item: ActionItem, actor: Principal | None) -> ActionItem:
    return calls.action_item_done(item=item, actor=actor)


@transaction.atomic
def attachment_add(
    *, ticket: Ticket, actor: Principal | None, upload, message=None, call: Call | None = None, field: str = ""
) -> Attachment:
    """A file on the ticket (a message's, a call's); given a call and one of its note's artifact fields, the
    file also fills that field (what scheduling may require)."""
    attachment = artifacts.attachment_create(ticket=ticket, actor=actor, upload=upload, message=message, call=call)
    if call is not None and field:
        calls.note_attach(call=call, field_key=field, attachment_id=attachment.pk)
    return attachment


def attachment_remove(*, attachment: Attachment, actor: Principal | None) -> None:
    artifacts.attachment_delete(attachment=attachment, actor=actor)


def call_template_create(*, tenant: Tenant, actor: Principal | None, **fields) -> CallNoteTemplate:
    return calls.template_create(tenant=tenant, **fields)


def call_template_update(*, template: CallNoteTemplate, actor: Principal | None, **changes) -> CallNoteTemplate:
    return calls.template_update(template=template, **changes)


def call_template_delete(*, template: CallNoteTemplate, actor: Principal | None) -> str:
    return calls.template_delete(template=template)


def calendar_feed_create(*, member, actor: Principal | None):
    return calls.feed_create(member=member)


def calendar_feed_revoke(*, member, actor: Principal | None) -> int:
    return calls.feed_revoke(member=member)


# --- e-mail: addresses, mailboxes, and mail in (mail/; mail out leaves with the messages above) ----------


def mail_setup_save(*, setup: MailSetup, actor: Principal | None, webhook_secret: str | None = None) -> MailSetup:
    return mail.setup_save(setup=setup, webhook_secret=webhook_secret)


def inbound_address_save(*, address: InboundAddress, actor: Principal | None) -> InboundAddress:
    return mail.address_save(address=address)


def mailbox_save(*, mailbox: Mailbox, actor: Principal | None, password: str | None = None) -> Mailbox:
    return mail.mailbox_save(mailbox=mailbox, password=password)


@dataclass(frozen=True)
class MailReceipt:
    """What became of an inbound mail (API.md, "Inbound e-mail")."""

    outcome: str
    ticket: int | None = None
    message: int | None = None
    reason: str = ""


@transaction.atomic
def email_receive(
    *, tenant: Tenant, actor: Principal | None, raw: bytes, source: str, default_address=None
) -> MailReceipt:
    """One inbound mail, whichever way it came (the raw endpoint, a provider's webhook, an IMAP mailbox), in one
    transaction: its record claims the Message-ID (a second delivery is a `duplicate`), noise is `ignored`, a
    new thread opens a ticket through ticket_open and a reply goes through message_receive — the same analysis,
    clocks and rules as the API. A forged reply is kept as an internal note; attachments go through the
    artifacts' checks and limit, and what they refuse is named on the record. Runs in the tenant's context."""
    parsed = parsing.parse(raw)
    record = mail.record_claim(tenant=tenant, parsed=parsed, raw=raw, source=source)
    if record is None:
        earlier = mail.duplicate_of(tenant=tenant, parsed=parsed, raw=raw)
        return MailReceipt("duplicate", earlier and earlier.ticket_id, earlier and earlier.message_id)
    found = mail.intake(tenant=tenant, record=record, parsed=parsed, default_address=default_address)
    if found.outcome == "ignored":
        mail.record_finish(found=found, ticket=None)
        return MailReceipt("ignored", reason=found.reason)
    body = parsed.reply_text or parsed.text or "(empty message)"
    message = None
    if found.ticket is None:
        with mail.opening(record):
            ticket = _email_ticket_open(tenant, actor, parsed, body, found)
    else:
        ticket = found.ticket
        if found.forged:
            fields = {"body": mail.forged_note(parsed=parsed, body=body), "author_type": "system", "internal": True}
        else:
            fields = {"body": body, "author_type": AuthorType.CUSTOMER}
        message = message_receive(ticket=ticket, actor=actor, **fields)
    skipped = _email_attachments(ticket, actor, parsed, message)
    mail.record_finish(found=found, ticket=ticket, message=message, skipped=skipped)
    return MailReceipt(found.outcome, ticket.pk, message and message.pk, found.reason)


def _email_ticket_open(tenant: Tenant, actor: Principal | None, parsed, body: str, found) -> Ticket:
    ticket = ticket_open(
        tenant=tenant,
        actor=actor,
        subject=parsing.subject_of(parsed),
        description=body,
        requester_email=parsed.from_address,
        requester_name=parsed.from_name,
        channel="email",
        category=found.category,
    )
    if found.team is not None:
        tickets.ticket_assign(ticket=ticket, actor=None, assignee=None, team=found.team)
    if found.follows is not None:
        mail.follow_up_link(ticket=ticket, follows=found.follows)
    return ticket


def _email_attachments(ticket: Ticket, actor: Principal | None, parsed, message) -> list[dict]:
    """The mail's files on the ticket, each through the artifacts' type check and the tenant's size limit (each
    in its own savepoint); the ones refused are returned with the reason, and the original keeps them all."""
    skipped = []
    for part in parsed.attachments:
        try:
            upload = SimpleUploadedFile(part.name, part.data, content_type=part.content_type)
            artifacts.attachment_create(ticket=ticket, actor=actor, upload=upload, message=message)
        except CallError as exc:
            skipped.append({"name": part.name[:255], "size": len(part.data), "reason": str(exc)[:200]})
    return skipped


def mailbox_poll(*, mailbox: Mailbox, limit: int | None = None) -> imap.PollReport:
    """Reads a mailbox's new mail. Call it outside any transaction: each message is received in a transaction of
    its own (its tenant's context) and counted as read — its UID stored, then flagged \\Seen — only after that
    commit. Killed in between, the next poll reads it again, and its Message-ID makes it a duplicate: nothing
    is lost, nothing is doubled."""
    tenant, default_address = mailbox.tenant, mailbox.address

    def receive(raw: bytes) -> str:
        with tenant_context(tenant):
            receipt = email_receive(
                tenant=tenant, actor=None, raw=raw, source=f"imap:{mailbox.pk}", default_address=default_address
            )
        return receipt.outcome

    return imap.poll(mailbox=mailbox, receive=receive, limit=limit or settings.MAIL_POLL_BATCH)


def mail_poll_all() -> list[imap.PollReport]:
    """Every active mailbox of every tenant, each read as its tenant (mailbox_poll: outside a transaction)."""
    reports = []
    for mailbox_id, tenant_id in imap.mailboxes_active():
        tenant = Tenant.objects.get(pk=tenant_id)
        with tenant_context(tenant):
            mailbox = Mailbox.objects.select_related("address__team", "tenant").filter(pk=mailbox_id).first()
        if mailbox is not None:
            reports.append(mailbox_poll(mailbox=mailbox))
    return reports


def tenant_export(*, tenant: Tenant, out) -> portability.ExportReport:
    """`manage.py export_tenant`: everything the tenant owns that a restore brings back, as JSONL in the
    format import_tickets reads (helpdesk/portability.py, docs/BACKUP.md)."""
    return portability.tenant_export(tenant=tenant, out=out)


def tenant_restore(*, tenant: Tenant) -> portability.Restore:
    """The import's partner for an export file: collects its record lines, then `finish()` writes them.
    Its `after_batch` starts the SLA clocks of imported tickets, as a plain import does, unless the file is
    an export (the exported clocks are restored instead)."""
    return portability.Restore(tenant=tenant, after_plain_batch=import_batch_started)


def import_batch_started(ticket_ids: list[int]) -> None:
    """Called by the bulk importer inside each batch's transaction: the imported open tickets get their
    SLA clocks (and so their breaches, at the next sweep) like tickets that arrived one by one."""
    slas.timers_start_many(ticket_ids=ticket_ids)


@dataclass
class SweepReport:
    """What one sweep did."""

    claimed: int = 0
    warned: int = 0
    breached: int = 0
    escalated: int = 0
    failed_tenants: int = 0
    tenants: int = 0
    tickets: int = 0
    batches: int = 0
    seconds: float = 0.0
    # A stage's batch came back full: more was due than one batch, and the sweep asked for help (sweep's on_backlog).
    backlog: bool = False
    # Wall time per stage: the SLA clocks, the time rules of the tickets they handed over, time watches.
    stage_seconds: dict[str, float] = field(default_factory=dict)
    tenant_ids: set[int] = field(default_factory=set, repr=False)
    notifications: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("tenant_ids")
        return data


def _tenant_share(tenant: Tenant, stage: str, work, report: SweepReport):
    """One tenant's share of a batch, in its own savepoint: a failure there (a broken rule, an absurd
    calendar) is logged and rolled back for that tenant alone; its rows stay due, the others go on."""
    try:
        with tenant_context(tenant):
            return work()
    except Exception as exc:  # isolation is the point: any failure of one tenant is contained and reported
        if connection_lost(exc):
            raise  # not this tenant's fault: the task retries the whole sweep (helpdesk/retry.py)
        logger.exception("sweep: %s of tenant %s failed; its due work stays due", stage, tenant.slug)
        report.failed_tenants += 1
        return None


def _fire_all(claimed: dict[int, list[int]], now: datetime) -> list:
    """The fast path: the whole batch, every tenant at once, set-based, in one savepoint, under RLS's
    batch policy for exactly the claimed tenants (tenancy.tenant_batch): a handful of statements whether
    the batch spans one tenant or a thousand. Tickets are locked in id order, as in every sweep. A failure
    rolls back tenant_batch's own savepoint, and the claim stays for the slow path."""
    with tenant_batch(list(claimed)):
        return [slas.timers_fire_batch(timer_ids=[pk for ids in claimed.values() for pk in ids], now=now)]


def _fire_each(tenants: dict, claimed: dict[int, list[int]], now: datetime, report: SweepReport) -> list:
    """The slow path, after the fast one failed: a failing tenant is rolled back alone and reported."""
    reports = []
    for tenant_id, timer_ids in sorted(claimed.items()):
        fired = _tenant_share(
            tenants[tenant_id],
            "SLA timers",
            lambda ids=timer_ids, tid=tenant_id: slas.timers_fire(tenant_id=tid, timer_ids=ids, now=now),
            report,
        )
        if fired is not None:
            reports.append(fired)
    return reports


def _sweep_timers(now: datetime, report: SweepReport) -> int:
    """SLA stage, one transaction: claim a batch of due timers across tenants, fire each tenant's share
    inside that tenant's context. The locks (SKIP LOCKED) hold until commit, so a concurrent sweep takes
    other rows or none. Tickets whose clocks fired are marked for the escalation stage in the same
    transaction, so the hand-over can't be lost."""
    with transaction.atomic():
        claimed = slas.timers_claim_due(now=now, limit=SWEEP_BATCH)
        if not claimed:
            return 0
        try:
            reports = _fire_all(claimed, now)
        except Exception as exc:  # find the culprit: the same work again, each tenant in its own savepoint
            if connection_lost(exc):
                raise
            logger.warning("sweep: the SLA batch failed; retrying it tenant by tenant", exc_info=True)
            reports = _fire_each(Tenant.objects.in_bulk(list(claimed)), claimed, now, report)
        for fired in reports:
            report.warned += fired.warned
            report.breached += fired.breached
            report.tickets += len(fired.ticket_ids)
        count = sum(len(ids) for ids in claimed.values())
        report.claimed += count
        report.tenant_ids |= set(claimed)
    return count


def _per_tenant(claimed: dict[int, list[int]], stage: str, work, report: SweepReport) -> int:
    """Runs `work(ids)` for each tenant's claimed rows, each in its own savepoint (_tenant_share), in tenant
    order; adds the escalations it opened to the report. Returns how many rows were claimed."""
    tenants = Tenant.objects.in_bulk(list(claimed))
    for tenant_id, ids in sorted(claimed.items()):
        report.escalated += _tenant_share(tenants[tenant_id], stage, lambda ids=ids: work(ids), report) or 0
    report.tenant_ids |= set(claimed)
    return sum(len(ids) for ids in claimed.values())


def _sweep_rules(now: datetime, report: SweepReport) -> int:
    """Escalation stage: tickets whose clocks moved get their time-based rules (and escalations whose
    clock ran out climb the ladder). The claim's tenants in one pass (_rules_all); if it fails, tenant by
    tenant, each in its own savepoint (a failing tenant rolled back alone and reported)."""

    def run(ids: list[int]) -> int:
        created = engine.rules_run_due(ticket_ids=ids, at=now)
        calls.call_requests_for_tickets(ticket_ids=ids, at=now)  # time rules with to_call ask for a call
        return created

    with transaction.atomic(), config_cache.pinned():
        claimed = engine.rules_claim_due(now=now, limit=ESCALATION_BATCH)
        if not claimed:
            return 0
        try:
            report.escalated += _rules_all(claimed, run, now)
        except Exception as exc:  # find the culprit: the same work again, each tenant in its own savepoint
            if connection_lost(exc):
                raise
            logger.warning("sweep: the escalation batch failed; retrying it tenant by tenant", exc_info=True)
            return _per_tenant(claimed, "time rules", run, report)
        report.tenant_ids |= set(claimed)
        return sum(len(ids) for ids in claimed.values())


def _rules_all(claimed: dict[int, list[int]], run, now: datetime) -> int:
    """The escalation stage's fast path: every tenant share of the claim in one savepoint under the batch policy
    (tenancy.tenant_batch). Each share decides in its own tenant (tenancy.tenant_shares: entered in the database
    only for a statement of its own that needs it, then behind that tenant's RLS). What the shares read is read
    before them for the whole claim, one statement per kind (escalation.claim_reads, callnotes' calls_across: the
    tickets, facts, escalations, boards, managers, mail senders, calls), each share handed its own
    (helpdesk.share_reads); the claimed tenants' configuration versions, matrices and SLA policies likewise (those
    not cached yet). The shares' writes — escalations, tickets, audit events, clocks, messages, outbox rows, the
    firings' links, stale watches, call requests — are gathered (helpdesk.bulk.gathered) and written for the whole
    claim with one statement per table; ids come from the sequences in chunks. What a share still costs on its own:
    its firings' claim, which decides exactly-once what it opens (tests/escalation/test_batch.py counts them)."""
    tenants = Tenant.objects.in_bulk(list(claimed))
    created = 0
    with tenant_batch(list(claimed)), tenant_shares() as share:
        config_cache.pin_many(list(claimed))
        escalation_selectors.matrices_preload(list(claimed))  # what a cold worker would read once per share
        slas.policies_preload(list(claimed))
        with tenant_reads(list(claimed)):  # the claim's reads: other tenants' rows of their tables closed after
            reads = claim_reads.claim_read(claimed, now)
            calls.calls_across(claimed, reads)
        with bulk.gathered(id_chunk=bulk.ID_CHUNK):
            for tenant_id, ids in sorted(claimed.items()):
                with share(tenants[tenant_id]), share_reads.handed(tenant_id, reads.pop(tenant_id)):
                    created += run(ids)
    return created


def _sweep_watches(now: datetime, report: SweepReport) -> int:
    """time_open rules that came due (a ticket open N business hours at its tier)."""

    def fire(watch_ids: list[int]) -> int:
        return batch.open_due(ticket_ids=sorted(watches.watches_fire(watch_ids=watch_ids, now=now)), at=now)

    with transaction.atomic(), config_cache.pinned():
        return _per_tenant(watches.watches_claim_due(now=now, limit=RULES_BATCH), "time watches", fire, report)


def _sweep_reminders(now: datetime, report: SweepReport) -> int:
    """Calls about to start and action items come due: their reminders (claimed, then fired once)."""
    with transaction.atomic():
        calls_due = reminders.calls_claim_due(now=now, limit=RULES_BATCH)
        items_due = reminders.items_claim_due(now=now, limit=RULES_BATCH)
        claimed = {tid: [("call", i) for i in ids] for tid, ids in calls_due.items()}
        for tid, ids in items_due.items():
            claimed.setdefault(tid, []).extend(("item", i) for i in ids)

        def fire(rows: list[tuple[str, int]]) -> int:
            reminders.calls_remind(call_ids=[i for kind, i in rows if kind == "call"], at=now)
            reminders.items_remind(item_ids=[i for kind, i in rows if kind == "item"], at=now)
            return 0

        _per_tenant(claimed, "reminders", fire, report)
        return max(sum(len(ids) for ids in calls_due.values()), sum(len(ids) for ids in items_due.values()))


def _drain(name: str, stage, batch: int, now: datetime, report: SweepReport, on_backlog: Backlog | None) -> None:
    started = time.perf_counter()
    # Bounded: a tenant whose rows keep failing stays due, and must not keep one sweep looping forever.
    for _ in range(MAX_BATCHES):
        report.batches += 1
        if stage(now, report) < batch:
            break
        _backlog_found(report, on_backlog, now)
    report.stage_seconds[name] = round(time.perf_counter() - started, 4)


def _backlog_found(report: SweepReport, on_backlog: Backlog | None, now: datetime) -> None:
    """A batch came back full: the first time in this sweep, tell the caller (once the batch's commit is done: the
    stage committed it already, unless a caller's outer transaction holds it — then at that one's commit). Robust:
    a hook that fails (the broker away) is logged, and the sweep goes on with its own work."""
    if report.backlog:
        return
    report.backlog = True
    if on_backlog is not None:

        def tell() -> None:
            on_backlog(now)

        transaction.on_commit(tell, robust=True)


def _sweep_notifications(now: datetime | None, report: SweepReport) -> None:
    """Last, after the stages' commits: fan out what this sweep emitted and deliver what is due, including
    stragglers (a dispatch task lost with Redis, a worker killed mid-delivery, retries come due)."""
    started = time.perf_counter()
    report.notifications = dispatcher.dispatch(now=now).as_dict()
    report.stage_seconds["notifications"] = round(time.perf_counter() - started, 4)


# The young generation's allocation threshold while a sweep runs (Python's default: 700). See _collector_paced.
SWEEP_GC_THRESHOLD = 20_000


@dataclass
class _Pacing:
    """The collector's settings the outermost sweep found, and how many sweeps of the process are inside."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    depth: int = 0
    thresholds: tuple = ()
    froze: bool = False


_PACING = _Pacing()


@contextmanager
def _collector_paced():
    """The garbage collector paced for a storm while the block runs, as it was after. A storm allocates millions
    of short-lived objects; with the defaults, the collections they trigger walked the worker's whole heap (Django,
    the apps, the configuration caches) and every survivor of the sweep so far, over and over. So the objects
    alive when the block starts are left out of every pass (gc.freeze; gc.unfreeze after moves them back to the
    oldest generation, collected at its next pass like any other), and the young generation is collected every
    SWEEP_GC_THRESHOLD allocations instead of 700. Measured on the full storm's shape (10,000 escalations over 1,000
    tenants): 18 full collections, 1.8-2.2 CPU-s, became 2 (0.07 CPU-s); on 2,000 over 200 tenants freezing alone
    took them from 0.47-0.54 to 0.15-0.20. A process that froze its heap itself (e.g. before forking workers) keeps
    it so. The settings are the process's: sweeps overlapping in threads (a threads pool) share one pacing, set by
    the first to enter and restored by the last to leave."""
    with _PACING.lock:
        if _PACING.depth == 0:
            _PACING.thresholds = gc.get_threshold()
            _PACING.froze = gc.get_freeze_count() == 0
            if _PACING.froze:
                gc.freeze()  # two list splices: nothing is walked
            if _PACING.thresholds[0]:  # 0: automatic collection switched off, and left so
                gc.set_threshold(max(_PACING.thresholds[0], SWEEP_GC_THRESHOLD), *_PACING.thresholds[1:])
        _PACING.depth += 1
    try:
        yield
    finally:
        with _PACING.lock:
            _PACING.depth -= 1
            if _PACING.depth == 0:
                gc.set_threshold(*_PACING.thresholds)
                # Nothing of this sweep's kept: a process that froze its heap itself would otherwise find one of
                # its frozen objects (the thresholds the previous sweep saved) freed by the next.
                _PACING.thresholds = ()
                if _PACING.froze:
                    gc.unfreeze()


def sweep(
    *, now: datetime | None = None, on_backlog: Backlog | None = None, joining: datetime | None = None
) -> SweepReport:
    """One pass over due work. Safe to run concurrently and repeatedly: every step claims its rows
    (SKIP LOCKED, then a status change), so nothing fires twice; the escalation and watch stages' claims hold
    whole tenants (escalation/0021, 0022), so one tenant's routing is decided by one sweep at a time, as in
    sequence. `on_backlog` is called once, after the commit of the first batch that came back full (more due than
    one batch), with the sweep's moment: the Celery task asks the pool for sweeps that join this one
    (helpdesk/tasks.py). A joiner passes that moment as `joining`: its stages take what was due then, as the sweep's
    do — a ticket one of them marks for the escalation stage is due for the other's claims too (with moments of
    their own, the later one's marks were invisible to the earlier one's claims, which came back short and ended
    its stage: one process did the rest alone) — and it delivers on the real clock."""
    with _collector_paced():
        return _sweep(now, on_backlog, joining)


def _sweep(now: datetime | None, on_backlog: Backlog | None, joining: datetime | None) -> SweepReport:
    started = timezone.now()
    given = now
    now = now or joining or started
    report = SweepReport()
    _drain("sla", _sweep_timers, SWEEP_BATCH, now, report, on_backlog)
    _drain("rules", _sweep_rules, ESCALATION_BATCH, now, report, on_backlog)
    _drain("watches", _sweep_watches, RULES_BATCH, now, report, on_backlog)
    _drain("reminders", _sweep_reminders, RULES_BATCH, now, report, on_backlog)
    # Delivery runs on the real clock (retries, leases) unless the caller fixed the moment: the stages
    # before it may have taken long, and a start-of-sweep time would schedule retries in the past.
    _sweep_notifications(given, report)
    report.tenants = len(report.tenant_ids)
    report.seconds = round((timezone.now() - started).total_seconds(), 4)
    logger.info("sweep done: %s", report.as_dict())
    return report


# --- metrics: satisfaction scores and health ranges ---------------------------------------------------------


def csat_record(*, ticket: Ticket, score: int, source: str = "api", at: datetime | None = None):
    """A customer's satisfaction with a ticket (API or their e-mail link): one per ticket, the latest wins."""
    return metrics_services.csat_record(ticket=ticket, score=score, source=source, at=at)


def health_threshold_save(*, threshold, actor: Principal | None):
    return metrics_services.threshold_save(threshold=threshold)


def health_threshold_delete(*, threshold, actor: Principal | None) -> None:
    metrics_services.threshold_delete(threshold=threshold)


def metrics_ticket_days_compact(*, limit: int = metrics_services.TICKET_DAYS_BATCH, budget_s: float = 30.0) -> int:
    """The daily ticket counts' delta rows folded into one row per key (beat, every few minutes: the metrics read
    every row of a period's days, so fewer rows is faster reads; the counts are exact either way)."""
    return metrics_services.ticket_days_compact(limit=limit, budget_s=budget_s)


def metrics_digests(*, now: datetime | None = None) -> int:
    """Every tenant's weekly digest of the escalation metrics to its managers (outbox), each in its own
    tenant and transaction; returns how many were written (a second run in the same week writes none)."""
    now = now or timezone.now()
    written = 0
    for tenant in Tenant.objects.order_by("pk"):
        with tenant_context(tenant):
            written += bool(digest.weekly_digest(tenant=tenant, now=now))
    return written
