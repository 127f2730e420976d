"""Use cases that span apps. Each runs in one transaction and calls the apps' services in order.

Called by API views, UI views, management commands and Celery tasks; the apps themselves never import
each other upwards (callnotes -> escalation -> slas -> tickets -> helpdesk).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from escalation import engine, watches
from escalation import services as escalations
from escalation.models import Escalation
from helpdesk.auth import Principal
from helpdesk.models import Tenant
from helpdesk.services import tenant_create
from helpdesk.tenancy import tenant_context
from slas import defaults as sla_defaults
from slas import services as slas
from tickets import services as tickets
from tickets.models import AuthorType, Message, ResolutionAttempt, Ticket

logger = logging.getLogger(__name__)

SWEEP_BATCH = 1000
MAX_BATCHES = 100
POLICY_FIELDS = ("priority", "category", "channel")


@transaction.atomic
def tenant_bootstrap(*, slug: str, name: str, timezone: str = "UTC") -> Tenant:
    """A new tenant, ready to work: its default business calendar and SLA policies (and, with the
    escalation engine, its default matrix)."""
    tenant = tenant_create(slug=slug, name=name, timezone=timezone)
    with tenant_context(tenant):
        sla_defaults.install(tenant=tenant)
        escalations.matrix_install(tenant=tenant)
    return tenant


@transaction.atomic
def ticket_open(*, tenant: Tenant, actor: Principal | None, **fields) -> Ticket:
    """A ticket arrives (API, UI, inbound email): stored with its text analysis, its SLA clocks started
    from its created_at — all in one transaction."""
    ticket = tickets.ticket_open(tenant=tenant, actor=actor, **fields)
    slas.timers_start(ticket=ticket)
    watches.watches_arm(ticket=ticket, since=ticket.created_at, new=True)
    engine.evaluate(ticket, text=f"{ticket.subject}\n{ticket.description}", time_based=False, at=ticket.created_at)
    ticket.refresh_from_db()
    return ticket


@transaction.atomic
def message_receive(*, ticket: Ticket, actor: Principal | None, **fields) -> Message:
    """A message on a ticket: stored and analysed, then the clocks move (a public agent reply meets the
    response targets; a customer reply starts the next-response clock or reopens the ticket)."""
    before = ticket.status
    message = tickets.message_post(ticket=ticket, actor=actor, **fields)
    at = message.created_at
    slas.timers_on_status(ticket=ticket, before=before, after=ticket.status, at=at, actor=actor)
    if message.author_type == AuthorType.CUSTOMER:
        slas.timers_on_customer_message(ticket=ticket, at=at)
        engine.evaluate(ticket, text=message.body, time_based=False, at=at)
    elif message.author_type == AuthorType.AGENT and not message.internal:
        slas.timers_on_agent_reply(ticket=ticket, at=at)
        escalations.escalations_on_agent_reply(ticket=ticket, at=at)
    return message


@transaction.atomic
def ticket_update(*, ticket: Ticket, actor: Principal | None, **changes) -> Ticket:
    """PATCH of a ticket: the change with its audit trail, then the clocks (pause on pending/on hold,
    resume, meet on solved) and, when priority/category/channel moved, the policy that now applies."""
    before_status = ticket.status
    before_keys = {name: getattr(ticket, name) for name in POLICY_FIELDS}
    tickets.ticket_update(ticket=ticket, actor=actor, **changes)
    at = ticket.updated_at
    slas.timers_on_status(ticket=ticket, before=before_status, after=ticket.status, at=at, actor=actor)
    if any(getattr(ticket, name) != value for name, value in before_keys.items()):
        slas.timers_reapply_policy(ticket=ticket, at=at, actor=actor)
    return ticket


@transaction.atomic
def ticket_change_status(*, ticket: Ticket, actor: Principal | None, status: str, at: datetime | None = None) -> Ticket:
    """A status change at a given moment (imports and back-dated histories), with the clocks."""
    at = at or timezone.now()
    before = ticket.status
    tickets.ticket_change_status(ticket=ticket, actor=actor, status=status, at=at)
    slas.timers_on_status(ticket=ticket, before=before, after=ticket.status, at=at, actor=actor)
    return ticket


@transaction.atomic
def ticket_reopen(*, ticket: Ticket, actor: Principal | None, reason: str = "") -> Ticket:
    before = ticket.status
    tickets.ticket_reopen(ticket=ticket, actor=actor, reason=reason)
    slas.timers_on_status(ticket=ticket, before=before, after=ticket.status, at=ticket.updated_at, actor=actor)
    return ticket


@transaction.atomic
def attempt_record(*, ticket: Ticket, actor: Principal | None, **fields) -> ResolutionAttempt:
    """A resolution attempt; failed ones at tier 0-1 may trip the failed_attempts rule."""
    attempt = tickets.attempt_record(ticket=ticket, actor=actor, **fields)
    engine.evaluate(ticket, text="", time_based=False, at=attempt.created_at)
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
    to_call: bool = False,
) -> Escalation:
    """An agent hands the ticket up, with the five-field summary written by a person."""
    return escalations.escalation_create(
        ticket=ticket,
        actor=actor,
        kind=kind,
        trigger="manual",
        reason=reason,
        summary_fields=summary,
        target_team=target_team,
        target_tier=target_tier,
        target_agent=target_agent,
        to_call=to_call,
    )


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
    tenant_ids: set[int] = field(default_factory=set, repr=False)

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("tenant_ids")
        return data


def _sweep_watches(now: datetime, report: SweepReport) -> int:
    """Time rules that came due (a ticket open N business hours at its tier), one batch per transaction."""
    with transaction.atomic():
        claimed = watches.watches_claim_due(now=now, limit=SWEEP_BATCH)
        tenants = Tenant.objects.in_bulk(list(claimed))
        for tenant_id, watch_ids in sorted(claimed.items()):
            try:
                with tenant_context(tenants[tenant_id]):
                    ticket_ids = watches.watches_fire(watch_ids=watch_ids, now=now)
                    report.escalated += engine.evaluate_time_rules(ticket_ids=ticket_ids, at=now)
            except Exception:  # as in _fire_tenant: one tenant's failure stays that tenant's
                logger.exception("sweep: time rules of tenant %s failed; its watches stay due", tenant_id)
                report.failed_tenants += 1
        report.tenant_ids |= set(claimed)
    return sum(len(ids) for ids in claimed.values())


def _fire_tenant(tenant: Tenant, timer_ids: list[int], now: datetime, report: SweepReport):
    """One tenant's share of a batch, in its own savepoint: a failure there (a broken rule, an absurd
    calendar) is logged and rolled back for that tenant alone, and never stops the others' clocks."""
    try:
        with tenant_context(tenant):
            fired = slas.timers_fire(tenant_id=tenant.pk, timer_ids=timer_ids, now=now)
            report.escalated += engine.evaluate_time_rules(ticket_ids=fired.ticket_ids, at=now)
            for escalation_id in sorted(fired.breached_escalation_ids):
                report.escalated += escalations.escalation_climb(escalation_id=escalation_id, at=now) is not None
        return fired
    except Exception:  # isolation is the point: any failure of one tenant is contained and reported
        logger.exception("sweep: tenant %s failed; its due work stays due", tenant.slug)
        report.failed_tenants += 1
        return None


def _sweep_batch(now: datetime, report: SweepReport) -> int:
    """One transaction: claim a batch of due timers across tenants, fire each tenant's share inside
    that tenant's context. The locks (SKIP LOCKED) hold until commit, so a concurrent sweep takes
    other rows or none."""
    with transaction.atomic():
        claimed = slas.timers_claim_due(now=now, limit=SWEEP_BATCH)
        tenants = Tenant.objects.in_bulk(list(claimed))
        ticket_ids: set[int] = set()
        # Tenants (and, inside, tickets) in a fixed order: concurrent sweeps lock in the same order.
        for tenant_id, timer_ids in sorted(claimed.items()):
            fired = _fire_tenant(tenants[tenant_id], timer_ids, now, report)
            if fired is None:
                continue
            report.warned += fired.warned
            report.breached += fired.breached
            ticket_ids |= {(tenant_id, t) for t in fired.ticket_ids}
        count = sum(len(ids) for ids in claimed.values())
        report.claimed += count
        report.tickets += len(ticket_ids)
        report.tenant_ids |= set(claimed)
    return count


def sweep(*, now: datetime | None = None) -> SweepReport:
    """One pass over due work. Safe to run concurrently and repeatedly: every step claims its rows
    (SKIP LOCKED, then a status change), so nothing fires twice."""
    started = timezone.now()
    now = now or started
    report = SweepReport()
    # Bounded: a tenant whose rows keep failing stays due, and must not keep one sweep looping forever.
    for _ in range(MAX_BATCHES):
        report.batches += 1
        if _sweep_batch(now, report) < SWEEP_BATCH:
            break
    for _ in range(MAX_BATCHES):
        if _sweep_watches(now, report) < SWEEP_BATCH:
            break
    report.tenants = len(report.tenant_ids)
    report.seconds = round((timezone.now() - started).total_seconds(), 4)
    logger.info("sweep done: %s", report.as_dict())
    return report
