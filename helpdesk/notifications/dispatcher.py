"""The dispatcher: fan out new outbox events, then deliver what is due, with retries.

Two claims, both cross-tenant SECURITY DEFINER functions (migration helpdesk 0005):
1. helpdesk_claim_outbox: events not yet fanned out, locked SKIP LOCKED for the fan-out transaction.
2. helpdesk_claim_deliveries: due deliveries, leased (next_attempt_at pushed past the attempt's timeout,
   a fresh lease token set) in a transaction of its own, so no transaction stays open during network
   I/O. The result is recorded only if the row still carries our lease — a dispatcher that outlived
   its lease can't overwrite the work of the one that took over.

A worker killed mid-delivery leaves its row pending with the lease's end as next_attempt_at: the next
dispatch after that takes it again. Retries never use Celery countdowns: next_attempt_at in PostgreSQL
is the truth, and every sweep dispatches.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from helpdesk import invitations
from helpdesk.models import OutboxEvent, Tenant
from helpdesk.notifications import crypto, defaults, fanout, rendering, senders, services
from helpdesk.notifications.bounds import RenderLimitExceeded
from helpdesk.notifications.models import ChannelKind, Delivery, DeliveryAttempt, DeliveryStatus
from helpdesk.retry import connection_lost
from helpdesk.tenancy import claim_by_tenant, tenant_batch, tenant_context

logger = logging.getLogger(__name__)

# Events claimed per fan-out transaction. A burst (a sweep's breaches) spans many tenants, and each tenant
# a batch touches costs a visit (its context, its events, its deliveries): 10,000 events spread over 1,000
# tenants took 6,310 visits in batches of 1,000 and 1,985 in batches of 5,000 (profiled, see SWEEP.md).
FAN_OUT_BATCH = 5000
MAX_FAN_OUT_BATCHES = 50
BACKOFF_BASE_S = 30
BACKOFF_CAP_S = 6 * 3600
ERR_GONE = "The destination was deleted or deactivated."
ERR_SETTLED = "Nothing left to send: the invitation was accepted, or the seat was deactivated."
# The renderers of account mail (fanout.DIRECT_EMAIL_EVENTS): each returns None when the mail is moot.
DIRECT_RENDERERS = {invitations.INVITED: invitations.render}


@dataclass
class DispatchReport:
    events: int = 0
    deliveries: int = 0
    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    dead: int = 0
    failed_tenants: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Job:
    """What one attempt needs, read inside the tenant and then used outside any transaction."""

    tenant: Tenant
    lease: uuid.UUID
    ids: list[int]
    kind: str  # "webhook" | "email" | "thread_mail" | "apprise" | "gone" | "broken"
    target: str = ""  # URL or e-mail address
    channel_kind: str = ""  # a channel's kind: its URL must still pass that kind's rule when sent
    secret: str = ""
    subject: str = ""
    body: str = ""
    ics: str = ""
    mail: dict | None = None  # a threaded customer mail, as its outbox row carries it
    error: str = ""
    webhook: senders.WebhookRequest | None = None
    window_start: dict[int, datetime] = field(default_factory=dict)  # each row's retry window start
    attempts: dict[int, int] = field(default_factory=dict)


# --- backoff ------------------------------------------------------------------------------------


def backoff_seconds(attempts: int) -> float:
    """Exponential (30 s, 1 min, 2 min … capped at 6 h) with jitter, so receivers that failed together
    are not hit again all at the same instant."""
    delay = min(BACKOFF_BASE_S * 2 ** max(attempts - 1, 0), BACKOFF_CAP_S)
    return delay / 2 + random.uniform(0, delay / 2)


def next_attempt(*, now: datetime, window_start: datetime, attempts: int, retry_after: float | None) -> datetime | None:
    """When to try again, or None when the retry window (DELIVERY_RETRY_HOURS from the delivery's
    creation or its last "retry now") is over. The last attempt lands at the window's end, so every
    delivery gets the full window."""
    deadline = window_start + timedelta(hours=settings.DELIVERY_RETRY_HOURS)
    if now >= deadline:
        return None
    delay = max(backoff_seconds(attempts), retry_after or 0)
    return min(now + timedelta(seconds=delay), deadline)


# --- fan-out ------------------------------------------------------------------------------------


# Of the claimed events' tenants, those with something to fan out: an active webhook or channel, or an event of
# the account mail sent whatever the channels (fanout.direct_rows). Read across the tenants in one statement
# under the batch policy (helpdesk.tenancy.tenant_batch, FAN_OUT_READ_TABLES).
TENANTS_WITH_DESTINATIONS = """
SELECT tenant_id FROM helpdesk_webhooksubscription WHERE active AND tenant_id = ANY(%(tenants)s)
UNION SELECT tenant_id FROM helpdesk_notificationchannel WHERE active AND tenant_id = ANY(%(tenants)s)
UNION SELECT tenant_id FROM helpdesk_outboxevent WHERE id = ANY(%(events)s) AND type = ANY(%(direct)s)
"""
MARK_DISPATCHED = "UPDATE helpdesk_outboxevent SET dispatched_at = %s WHERE id = ANY(%s)"


def _fan_out_silent(by_tenant: dict[int, list[int]], now: datetime, report: DispatchReport) -> dict[int, list[int]]:
    """The events of tenants with no destination at all become no deliveries: they are marked dispatched in one
    statement, across those tenants, instead of a visit to each (a storm's 40,000 events span a thousand
    tenants, most of them without a channel). Returns the claimed events of the tenants still to visit."""
    with tenant_batch(list(by_tenant)), connection.cursor() as cursor:
        events = [pk for ids in by_tenant.values() for pk in ids]
        params = {"tenants": list(by_tenant), "events": events, "direct": sorted(fanout.DIRECT_EMAIL_EVENTS)}
        cursor.execute(TENANTS_WITH_DESTINATIONS, params)
        busy = {row[0] for row in cursor.fetchall()}
        silent = [pk for tenant_id, ids in by_tenant.items() if tenant_id not in busy for pk in ids]
        if silent:
            cursor.execute(MARK_DISPATCHED, [now, silent])
    report.events += len(silent)
    return {tenant_id: ids for tenant_id, ids in by_tenant.items() if tenant_id in busy}


def _fan_out_batch(now: datetime, report: DispatchReport) -> int:
    with transaction.atomic():
        by_tenant = claim_by_tenant("SELECT event_id, tenant_id FROM helpdesk_claim_outbox(%s)", [FAN_OUT_BATCH])
        claimed = sum(len(ids) for ids in by_tenant.values())
        if by_tenant:
            try:
                by_tenant = _fan_out_silent(by_tenant, now, report)
            except Exception as exc:  # tenant_batch rolled its savepoint back: every tenant is visited instead
                if connection_lost(exc):
                    raise
                logger.exception("dispatch: the fan-out across tenants failed; visiting each tenant")
        tenants = Tenant.objects.in_bulk(list(by_tenant))
        for tenant_id, event_ids in sorted(by_tenant.items()):
            try:
                with tenant_context(tenants[tenant_id]):
                    events = list(OutboxEvent.objects.filter(pk__in=event_ids).order_by("pk"))
                    report.deliveries += fanout.fan_out(events, now)
                    report.events += len(events)
            except Exception as exc:  # one tenant's broken data must not hold back the others' notifications
                if connection_lost(exc):
                    raise  # the database went away, not this tenant's data: the task retries (helpdesk/retry.py)
                logger.exception("dispatch: fan-out of tenant %s failed; its events stay pending", tenant_id)
                report.failed_tenants += 1
    return claimed


def fan_out_pending(now: datetime, report: DispatchReport) -> None:
    for _ in range(MAX_FAN_OUT_BATCHES):
        if _fan_out_batch(now, report) < FAN_OUT_BATCH:
            break


# --- delivery -----------------------------------------------------------------------------------


def lease_seconds() -> int:
    return settings.WEBHOOK_TIMEOUT_S * 2 + settings.DELIVERY_LEASE_MARGIN_S


def lease_until(now: datetime) -> datetime:
    """When a lease taken now ends. From the real clock even when `now` is given (a sweep's start, a
    test's moment): a lease that ended before it began would let another dispatcher send the same row."""
    return max(now, timezone.now()) + timedelta(seconds=lease_seconds())


def claim_due(now: datetime, lease: uuid.UUID) -> tuple[int, int] | None:
    """One due delivery, leased to us. Its own short transaction: the lease is visible at once."""
    until = lease_until(now)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT * FROM helpdesk_claim_deliveries(%s, 1, %s, %s)", [now, until, lease])
        return cursor.fetchone()


def _render(delivery: Delivery, tenant: Tenant) -> rendering.Rendered:
    # The tenant's active templates as fan-out saw them: one cached map (fanout.Destinations).
    template = fanout.Destinations.load().template_of(delivery.event_type, delivery.event.payload)
    if template is None:
        return rendering.Rendered(subject=delivery.event_type, body="")
    context = rendering.event_context(
        event_type=delivery.event_type,
        payload=delivery.event.payload,
        tenant_name=tenant.name,
        timezone=tenant.timezone,
    )
    try:
        return rendering.render(subject=template.subject, body=template.body, context=context)
    except RenderLimitExceeded as exceeded:
        return _render_built_in(template, exceeded, context)


def _render_built_in(template, exceeded: RenderLimitExceeded, context: dict) -> rendering.Rendered:
    """A template that crossed a render bound (one saved before the save-time check, or a payload larger
    than the check's sample): the message still goes out, with the built-in text, and the admins hear of
    it once (services.template_over_limit)."""
    logger.warning("dispatch: template %s (%s) uses the built-in: %s", template.pk, template.event_type, exceeded)
    if template.pk is not None:
        services.template_over_limit(template=template, exceeded=exceeded)
    built_in = defaults.built_in(template.event_type)
    if built_in is None:
        return rendering.Rendered(subject=template.event_type, body="")
    return rendering.render(subject=built_in.subject, body=built_in.body, context=context)


def _digest(messages: list[rendering.Rendered]) -> rendering.Rendered:
    if len(messages) == 1:
        return messages[0]
    body = "\n\n---\n\n".join(f"{m.subject}\n\n{m.body}" for m in messages)
    return rendering.Rendered(subject=f"{len(messages)} helpdesk notifications", body=body)


def _digest_siblings(delivery: Delivery, lease: uuid.UUID, now: datetime) -> list[Delivery]:
    """The other routine messages of the same recipient whose window is over, sent as one."""
    siblings = list(
        Delivery.objects.select_for_update(skip_locked=True)
        .filter(
            channel_id=delivery.channel_id,
            address=delivery.address,
            status=DeliveryStatus.PENDING,
            digest_until__isnull=False,
            next_attempt_at__lte=now,
        )
        .exclude(pk=delivery.pk)
        .select_related("event")
        .order_by("created_at", "pk")
    )
    until = lease_until(now)
    Delivery.objects.filter(pk__in=[s.pk for s in siblings]).update(lease=lease, next_attempt_at=until)
    return siblings


def _webhook_job(job: Job, delivery: Delivery) -> None:
    subscription = delivery.webhook
    if subscription is None or not subscription.active:
        job.kind = "gone"
        return
    timestamp = int(time.time())
    body = senders.webhook_body(
        delivery_id=str(delivery.delivery_id),
        event_type=delivery.event_type,
        event_id=delivery.event_id,
        tenant=job.tenant.slug,
        created_at=delivery.event.created_at.isoformat(),
        data=delivery.event.payload,
        timestamp=timestamp,
    )
    job.kind = "webhook"
    job.webhook = senders.WebhookRequest(
        url=subscription.url,
        secret=crypto.decrypt(subscription.secret_encrypted),
        event_type=delivery.event_type,
        delivery_id=str(delivery.delivery_id),
        body=body,
        timestamp=timestamp,
    )


def _channel_job(job: Job, delivery: Delivery, now: datetime) -> None:
    channel = delivery.channel
    if channel is None or not channel.active:
        job.kind = "gone"
        return
    batch = [delivery]
    if delivery.digest_until is not None:
        batch += _digest_siblings(delivery, job.lease, now)
    message = _digest([_render(d, job.tenant) for d in batch])
    job.ids = [d.pk for d in batch]
    job.window_start = {d.pk: d.retry_from for d in batch}
    job.attempts = {d.pk: d.attempts for d in batch}
    job.subject, job.body = message.subject, message.body
    if channel.kind == ChannelKind.EMAIL:
        job.kind, job.target = "email", delivery.address
        job.ics = str(delivery.event.payload.get("ics") or "") if len(batch) == 1 else ""
    else:
        job.kind, job.target, job.channel_kind = "apprise", crypto.decrypt(channel.url_encrypted), channel.kind


def _direct_job(job: Job, delivery: Delivery) -> None:
    if delivery.event_type == senders.THREAD_MAIL:
        job.kind, job.target, job.mail = "thread_mail", delivery.address, delivery.event.payload
        return
    message = DIRECT_RENDERERS[delivery.event_type](payload=delivery.event.payload, tenant=job.tenant)
    if message is None:
        job.kind, job.error = "gone", ERR_SETTLED
        return
    job.kind, job.target = "email", delivery.address
    job.subject, job.body = message.subject, message.body


def load_job(tenant: Tenant, delivery_id: int, lease: uuid.UUID, now: datetime) -> Job | None:
    delivery = (
        Delivery.objects.select_related("event", "webhook", "channel")
        .filter(pk=delivery_id, lease=lease, status=DeliveryStatus.PENDING)
        .first()
    )
    if delivery is None:
        return None  # the world moved on (retried by hand, taken over after our lease ran out)
    job = Job(
        tenant=tenant,
        lease=lease,
        ids=[delivery.pk],
        kind="",
        window_start={delivery.pk: delivery.retry_from},
        attempts={delivery.pk: delivery.attempts},
    )
    try:
        if delivery.destination.startswith("webhook:"):
            _webhook_job(job, delivery)
        elif delivery.destination.startswith(fanout.DIRECT_PREFIX):
            _direct_job(job, delivery)
        else:
            _channel_job(job, delivery, now)
    except (crypto.SecretUnreadable, rendering.TemplateInvalid) as exc:
        # Retrying can't fix a key that changed or a template that no longer parses: fail it visibly.
        job.kind, job.error = "broken", str(exc)
    return job


def send(job: Job) -> senders.Outcome:
    if job.kind == "webhook":
        return senders.send_webhook(job.webhook)
    if job.kind == "email":
        return senders.send_email(to=job.target, subject=job.subject, body=job.body, ics=job.ics)
    if job.kind == "thread_mail":
        return senders.send_thread_mail(job.mail)
    if job.kind == "apprise":
        return senders.send_apprise(job.channel_kind, job.target, title=job.subject, body=job.body)
    return senders.Outcome(ok=False, error=job.error or ERR_GONE, permanent=True)


def _final_state(job: Job, delivery_id: int, outcome: senders.Outcome, now: datetime) -> dict:
    if outcome.ok:
        return {"status": DeliveryStatus.DELIVERED, "delivered_at": now, "next_attempt_at": None}
    if outcome.permanent:
        return {"status": DeliveryStatus.FAILED, "next_attempt_at": None}
    attempts = job.attempts[delivery_id] + 1
    due = next_attempt(
        now=now, window_start=job.window_start[delivery_id], attempts=attempts, retry_after=outcome.retry_after_s
    )
    if due is None:
        return {"status": DeliveryStatus.DEAD, "next_attempt_at": None}
    return {"status": DeliveryStatus.PENDING, "next_attempt_at": due}


def record(job: Job, outcome: senders.Outcome, started: datetime, now: datetime, report: DispatchReport) -> None:
    """The attempt's result, for the rows we still hold (the conditional UPDATE on our lease)."""
    for delivery_id in job.ids:
        state = _final_state(job, delivery_id, outcome, now)
        updated = Delivery.objects.filter(pk=delivery_id, lease=job.lease, status=DeliveryStatus.PENDING).update(
            attempts=job.attempts[delivery_id] + 1,
            lease=None,
            last_status_code=outcome.status_code,
            last_latency_ms=outcome.latency_ms,
            last_error=outcome.error,
            **state,
        )
        if updated != 1:
            logger.warning("dispatch: delivery %s changed hands during its attempt; result dropped", delivery_id)
            continue
        DeliveryAttempt.objects.create(
            tenant=job.tenant,
            delivery_id=delivery_id,
            number=job.attempts[delivery_id] + 1,
            started_at=started,
            status_code=outcome.status_code,
            latency_ms=outcome.latency_ms,
            ok=outcome.ok,
            error=outcome.error,
        )
        report.attempted += 1
        key = {"pending": "retrying", "delivered": "delivered", "failed": "failed", "dead": "dead"}[state["status"]]
        setattr(report, key, getattr(report, key) + 1)


def deliver_one(now: datetime, report: DispatchReport) -> bool:
    """Claims one due delivery and makes one attempt. False when nothing is due."""
    lease = uuid.uuid4()
    claimed = claim_due(now, lease)
    if claimed is None:
        return False
    delivery_id, tenant_id = claimed
    tenant = Tenant.objects.get(pk=tenant_id)
    try:
        with tenant_context(tenant):
            job = load_job(tenant, delivery_id, lease, now)
    except Exception:  # a broken template or key: logged; the row comes due again after its lease
        logger.exception("dispatch: delivery %s could not be prepared", delivery_id)
        report.failed_tenants += 1
        return True
    if job is None:
        return True
    started = timezone.now()
    try:
        outcome = send(job)  # outside any transaction
    except Exception as exc:  # a library's surprise is a failed attempt, retried like any other
        logger.exception("dispatch: delivery %s raised while sending", delivery_id)
        outcome = senders.Outcome(ok=False, error=f"{type(exc).__name__}: {exc}"[:1000])
    with tenant_context(tenant):
        record(job, outcome, started, now, report)
    return True


def dispatch(*, now: datetime | None = None, budget_s: float | None = None) -> DispatchReport:
    """Fan out new events, then deliver due deliveries until none is left or the time budget is spent.
    Safe to run concurrently (several workers, the sweep): every row is claimed before it is worked on."""
    clock = time.monotonic()
    fixed_now = now
    report = DispatchReport()
    fan_out_pending(fixed_now or timezone.now(), report)
    budget = settings.DISPATCH_BUDGET_S if budget_s is None else budget_s
    while time.monotonic() - clock < budget:
        if not deliver_one(fixed_now or timezone.now(), report):
            break
    report.seconds = round(time.monotonic() - clock, 4)
    if report.events or report.attempted:
        logger.info("dispatch done: %s", report.as_dict())
    return report
