"""Writes of the notification objects: one function per use case. URLs are checked by the SSRF guard
here (the API and the admin both come through), secrets and channel URLs are stored encrypted."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from helpdesk.models import Tenant
from helpdesk.notifications import crypto, defaults, rendering, senders, ssrf
from helpdesk.notifications.bounds import RenderLimitExceeded
from helpdesk.notifications.models import (
    ChannelKind,
    Delivery,
    DeliveryStatus,
    NotificationChannel,
    NotificationTemplate,
    WebhookSubscription,
)
from helpdesk.outbox import dispatch_on_commit, outbox_emit

ERR_URL_REQUIRED = "A URL is required for this kind of channel."
ERR_WORST_CASE = "With the largest context an event can carry: {problem} Loop over fewer or shorter values."


class NotificationInputError(Exception):
    """Bad input for a field: {"field": ["message"]} like a form error."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.fields = {field: [message]}


def check_webhook_url(url: str) -> str:
    """The URL, if the SSRF guard lets it through; else NotificationInputError naming `url`."""
    try:
        ssrf.check_url(url)
    except ssrf.UrlRefused as exc:
        raise NotificationInputError("url", str(exc)) from None
    return url


def check_channel_url(kind: str, url: str) -> str:
    """The URL to store for a channel of `kind` (none for e-mail), checked by apprise and the SSRF guard."""
    if kind == ChannelKind.EMAIL:
        return ""  # e-mail goes through Django's mail settings, to the template's recipients
    if not url:
        raise NotificationInputError("url", ERR_URL_REQUIRED)
    try:
        senders.check_channel_url(url)
    except ssrf.UrlRefused as exc:
        raise NotificationInputError("url", str(exc)) from None
    return url


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
def channel_save(*, channel: NotificationChannel, url: str | None) -> NotificationChannel:
    """Creates or updates a channel; `url` None keeps the stored one (forms never show it back)."""
    if url is not None or channel._state.adding:
        channel.url_encrypted = crypto.encrypt(check_channel_url(channel.kind, url or ""))
    elif channel.kind != ChannelKind.EMAIL:
        check_channel_url(channel.kind, crypto.decrypt(channel.url_encrypted))
    channel.save()
    return channel


def template_check(*, subject: str, body: str) -> None:
    """The one validation of a template (the admin's form and template_save): it compiles, reaches nothing
    outside its context, and renders within the bounds against the largest context an event can carry."""
    for name, source in (("subject", subject), ("body", body)):
        try:
            rendering.check_worst_case(source)
        except rendering.TemplateInvalid as exc:
            raise NotificationInputError(name, str(exc)) from None
        except RenderLimitExceeded as exc:
            raise NotificationInputError(name, ERR_WORST_CASE.format(problem=exc)) from None


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
