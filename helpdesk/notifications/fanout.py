"""Fan-out: one outbox event becomes one Delivery per destination.

Runs on claimed events (SKIP LOCKED, see dispatcher.fan_out_pending) inside the event's tenant. The
unique (event, destination) makes it idempotent: a second fan-out of the same event adds nothing.
"""

from __future__ import annotations

import math
from datetime import datetime

from django.db.models import Q

from helpdesk.models import OutboxEvent
from helpdesk.notifications import recipients
from helpdesk.notifications.models import (
    ChannelKind,
    Delivery,
    NotificationChannel,
    NotificationTemplate,
    WebhookSubscription,
)


def is_immediate(event_type: str, payload: dict) -> bool:
    """VIP or critical work is never held back for a digest: a VIP's ticket, an urgent one, a
    hierarchical escalation (authority is needed now), a breached SLA."""
    facts = payload.get("ticket_context") or {}
    return (
        bool(facts.get("vip"))
        or facts.get("priority") == "urgent"
        or payload.get("kind") == "hierarchical"
        or event_type == "sla.breached"
    )


def digest_until(now: datetime, minutes: int) -> datetime:
    """The end of the digest window `now` falls in: windows are aligned, so every routine message of a
    recipient in the same window is sent together."""
    width = minutes * 60
    return datetime.fromtimestamp(math.floor(now.timestamp() / width) * width + width, tz=now.tzinfo)


def _row(event: OutboxEvent, destination: str, now: datetime, **fields) -> Delivery:
    due = fields.pop("digest_until", None)
    return Delivery(
        tenant_id=event.tenant_id,
        event=event,
        event_type=event.type,
        destination=destination,
        created_at=now,
        retry_from=now,
        next_attempt_at=due or now,
        digest_until=due,
        **fields,
    )


def webhook_rows(event: OutboxEvent, now: datetime) -> list[Delivery]:
    subscriptions = WebhookSubscription.objects.filter(active=True, events__contains=[event.type])
    return [_row(event, f"webhook:{sub.pk}", now, webhook=sub) for sub in subscriptions]


def _channels(event: OutboxEvent) -> list[NotificationChannel]:
    named = recipients.notify_channel_ids(event.payload)
    listening = Q(events=[]) | Q(events__contains=[event.type]) | Q(pk__in=named)
    return list(NotificationChannel.objects.filter(listening, active=True).order_by("pk"))


def notification_rows(event: OutboxEvent, now: datetime) -> list[Delivery]:
    template = NotificationTemplate.objects.filter(event_type=event.type, active=True).first()
    if template is None:
        return []
    immediate = is_immediate(event.type, event.payload)
    rows = []
    for channel in _channels(event):
        due = None if immediate or not channel.digest_minutes else digest_until(now, channel.digest_minutes)
        if channel.kind == ChannelKind.EMAIL:
            specs = [*template.recipients, *channel.recipients]
            for address in recipients.email_addresses(specs, event.payload):
                rows.append(
                    _row(
                        event, f"email:{channel.pk}:{address}", now, channel=channel, address=address, digest_until=due
                    )
                )
        else:
            rows.append(_row(event, f"channel:{channel.pk}", now, channel=channel, digest_until=due))
    return rows


def fan_out(event: OutboxEvent, now: datetime) -> int:
    """Creates the event's deliveries (those not there yet) and marks it dispatched; returns the number of
    destinations."""
    rows = webhook_rows(event, now) + notification_rows(event, now)
    created = Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    OutboxEvent.objects.filter(pk=event.pk).update(dispatched_at=now)
    return len(created)
