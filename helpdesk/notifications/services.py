"""Writes of the notification objects: one function per use case. URLs are checked here (the API and
the admin both come through): webhooks by the SSRF guard (ssrf.py), channels by their kind's rule
(channel_urls.py, which applies the guard too). Secrets and channel URLs are stored encrypted."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from helpdesk import redaction
from helpdesk.erasure import BATCH, mask_rows
from helpdesk.models import Tenant
from helpdesk.notifications import crypto, defaults
from helpdesk.notifications.bounds import RenderLimitExceeded
from helpdesk.notifications.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    NotificationChannel,
    NotificationTemplate,
    WebhookSubscription,
)
from helpdesk.notifications.validation import (
    channel_url_check,
    check_webhook_url,
    template_check,
)
from helpdesk.outbox import dispatch_on_commit, outbox_emit
from helpdesk.retirement import retire_or_remove

ERR_RECIPIENT_ERASED = "Not sent: the recipient's data was erased on request."


@transaction.atomic
def webhook_create(*, tenant: Tenant, url: str, events: list[str], secret: str, active: bool = True):
    return WebhookSubscription.objects.create(
        tenant=tenant,
        url=check_webhook_url(url),
        events=sorted(set(events)),
        secret_encrypted=crypto.encrypt(secret),
        active=active,
    )


@transaction.atomic
def webhook_update(*, subscription: WebhookSubscription, **changes) -> WebhookSubscription:
    if "url" in changes:
        subscription.url = check_webhook_url(changes["url"])
    if "events" in changes:
        subscription.events = sorted(set(changes["events"]))
    if changes.get("secret"):
        subscription.secret_encrypted = crypto.encrypt(changes["secret"])
    if "active" in changes:
        subscription.active = changes["active"]
    subscription.save()
    return subscription


@transaction.atomic
def webhook_delete(*, subscription: WebhookSubscription, actor=None) -> str:
    """In use: a delivery was made to it (its delivery log is history the admin reads, at
    /webhooks/{id}/deliveries/). Retired, it receives no new deliveries (fan-out reads active subscriptions)
    and its pending retries fail as gone. One that never received anything is removed."""
    subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
    in_use = Delivery.objects.filter(webhook=subscription).exists()
    facts = {"url": subscription.url, "events": list(subscription.events)}
    return retire_or_remove(subscription, in_use=in_use, actor=actor, object_type="webhook", facts=facts)


@transaction.atomic
def channel_save(*, channel: NotificationChannel, url: str | None) -> NotificationChannel:
    """Creates or updates a channel; `url` None keeps the stored one."""
    channel.url_encrypted = crypto.encrypt(channel_url_check(channel=channel, url=url))
    channel.save()
    return channel


@transaction.atomic
def template_save(*, template: NotificationTemplate) -> NotificationTemplate:
    template_check(subject=template.subject, body=template.body)
    template.save()
    return template


def template_over_limit(*, template: NotificationTemplate, exceeded: RenderLimitExceeded) -> bool:
    """Tells the tenant's admins that a template of theirs crossed a render bound and that its messages go
    out with the built-in text. Once per version of the template, however many messages it spoils: the
    outbox's (tenant, dedupe key) decides, also between two dispatchers. Returns whether this call wrote
    the alert. Runs in the caller's transaction (the dispatcher's, inside the tenant)."""
    return outbox_emit(
        tenant_id=template.tenant_id,
        type=defaults.TEMPLATE_OVER_LIMIT,
        dedupe_key=f"{defaults.TEMPLATE_OVER_LIMIT}:{template.pk}:{template.updated_at.isoformat()}",
        payload={
            "template": template.pk,
            "template_event": template.event_type,
            "bound": exceeded.bound,
            "iterations": exceeded.iterations,
            "output": exceeded.output,
            "text": str(exceeded),
        },
    )


@transaction.atomic
def deliveries_retry_now(*, delivery_ids: list[int]) -> int:
    """The admin's "retry now": failed and dead-lettered (and waiting) deliveries come due at once, with
    a fresh retry window; a dispatch is queued after commit. Delivered ones are left alone."""
    now = timezone.now()
    count = (
        Delivery.objects.filter(pk__in=delivery_ids)
        .exclude(status=DeliveryStatus.DELIVERED)
        .update(status=DeliveryStatus.PENDING, next_attempt_at=now, retry_from=now, lease=None)
    )
    if count:
        dispatch_on_commit()
    return count


def deliveries_redact(*, event_ids: list[int], address: str, redactor: redaction.Redactor) -> int:
    """A customer's erasure: deliveries of the events about them, and any to their address. Those still
    waiting to go to that address are cancelled (failed, with the reason); the address, destination and
    recorded errors of all of them are masked, their attempts' errors too. Returns the deliveries changed."""
    address = address.strip().lower()
    deliveries = list(Delivery.objects.filter(Q(event_id__in=event_ids) | Q(address__iexact=address)))
    changed = []
    for delivery in deliveries:
        before = (delivery.address, delivery.destination, delivery.last_error, delivery.status)
        if delivery.address.lower() == address and delivery.status == DeliveryStatus.PENDING:
            delivery.status, delivery.next_attempt_at, delivery.lease = DeliveryStatus.FAILED, None, None
            delivery.last_error = ERR_RECIPIENT_ERASED
        delivery.address = redactor.text(delivery.address)
        delivery.destination = redactor.text(delivery.destination)
        delivery.last_error = redactor.text(delivery.last_error)
        if (delivery.address, delivery.destination, delivery.last_error, delivery.status) != before:
            changed.append(delivery)
    fields = ["address", "destination", "last_error", "status", "next_attempt_at", "lease"]
    Delivery.objects.bulk_update(changed, fields, batch_size=BATCH)
    mask_rows(DeliveryAttempt.objects.filter(delivery__in=deliveries), ("error",), redactor)
    return len(changed)
