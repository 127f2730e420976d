"""Fan-out: one outbox event becomes one Delivery per destination.

Runs on claimed events (SKIP LOCKED, see dispatcher.fan_out_pending) inside the event's tenant. The
unique (event, destination) makes it idempotent: a second fan-out of the same event adds nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from helpdesk import invitations
from helpdesk.config_cache import tenant_config
from helpdesk.models import OutboxEvent
from helpdesk.notifications import defaults, recipients
from helpdesk.notifications.models import (
    ChannelKind,
    Delivery,
    NotificationChannel,
    NotificationTemplate,
    WebhookSubscription,
)
from helpdesk.notifications.senders import THREAD_MAIL


def _read_destinations():
    return (
        tuple(WebhookSubscription.objects.filter(active=True).order_by("pk")),
        MappingProxyType({t.event_type: t for t in NotificationTemplate.objects.filter(active=True)}),
        tuple(NotificationChannel.objects.filter(active=True).order_by("pk")),
    )


def is_immediate(event_type: str, payload: dict) -> bool:
    """VIP or critical work is never held back for a digest: a VIP's ticket, an urgent one, a
    hierarchical escalation (authority is needed now), a breached SLA, and anything its emitter marks
    `immediate` (a call's invite: it must arrive before the call, with its .ics, not inside a digest)."""
    facts = payload.get("ticket_context") or {}
    return (
        bool(facts.get("vip"))
        or facts.get("priority") == "urgent"
        or payload.get("kind") == "hierarchical"
        or event_type == "sla.breached"
        or bool(payload.get("immediate"))
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
        urgent=due is None and is_immediate(event.type, event.payload),
        **fields,
    )


@dataclass
class Destinations:
    """A tenant's active subscriptions, templates and channels, from the per-process configuration cache
    (helpdesk.config_cache: database triggers on the three tables bump the tenant's version, migration
    helpdesk 0007), so fan-out reads them only after they changed: a sweep's burst of events spans a
    thousand tenants, and three reads per tenant visit were a third of its statements. The cached rows
    are shared by a worker's threads and only read. Recipients are remembered per batch only: they come
    from memberships and teams, which the version does not follow."""

    webhooks: tuple[WebhookSubscription, ...]
    templates: Mapping[str, NotificationTemplate]
    channels: tuple[NotificationChannel, ...]
    addresses: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls) -> Destinations:
        webhooks, templates, channels = tenant_config("notification_destinations", _read_destinations)
        return cls(webhooks=webhooks, templates=templates, channels=channels)

    def template_for(self, event_type: str) -> NotificationTemplate | None:
        """The tenant's active template of the event, or the built-in one for the notification system's own
        events (defaults.SYSTEM_EVENTS), which tenants do not edit."""
        if event_type in defaults.SYSTEM_EVENTS:
            return defaults.built_in(event_type)
        return self.templates.get(event_type)

    def template_of(self, event_type: str, payload: dict) -> NotificationTemplate | None:
        """The template of an event as its emitter asked for it: the tenant's "<type>.<variant>" when the payload
        names a variant and the tenant has that template active (escalation.created by trigger family, the
        seeds' three messages), else the event type's own. Fan-out and the dispatcher both ask here."""
        variant = payload.get("variant")
        if isinstance(variant, str) and variant:
            found = self.template_for(f"{event_type}.{variant}")
            if found is not None:
                return found
        return self.template_for(event_type)

    def email_addresses(self, specs: list, payload: dict) -> list[str]:
        """recipients.email_addresses, remembered for the batch: events of one ticket name the same people."""
        facts = payload.get("ticket_context") or {}
        read = {k: payload.get(k) for k in RECIPIENT_KEYS} | {k: facts.get(k) for k in RECIPIENT_FACTS}
        key = json.dumps([specs, read], sort_keys=True, default=str)
        if key not in self.addresses:
            self.addresses[key] = recipients.email_addresses(specs, payload)
        return self.addresses[key]


# What recipient resolution reads from a payload and from its ticket_context: the cache key of
# Destinations.email_addresses (the whole context, subject and all, would make every event a miss).
RECIPIENT_KEYS = ("agent", "recipient", "team", "to", "notify", "attendees", "mailed", "overseer")
RECIPIENT_FACTS = ("team", "assignee", "customer_email")


def webhook_rows(event: OutboxEvent, now: datetime, destinations: Destinations) -> list[Delivery]:
    return [
        _row(event, f"webhook:{sub.pk}", now, webhook=sub) for sub in destinations.webhooks if event.type in sub.events
    ]


def _listening(event: OutboxEvent, destinations: Destinations) -> list[NotificationChannel]:
    named = set(recipients.notify_channel_ids(event.payload))
    return [c for c in destinations.channels if not c.events or event.type in c.events or c.pk in named]


def notification_rows(event: OutboxEvent, now: datetime, destinations: Destinations) -> list[Delivery]:
    template = destinations.template_of(event.type, event.payload)
    if template is None:
        return []
    immediate = is_immediate(event.type, event.payload)
    rows = []
    for channel in _listening(event, destinations):
        due = None if immediate or not channel.digest_minutes else digest_until(now, channel.digest_minutes)
        if channel.kind == ChannelKind.EMAIL:
            specs = [*template.recipients, *channel.recipients]
            for address in destinations.email_addresses(specs, event.payload):
                destination = f"email:{channel.pk}:{address}"
                rows.append(_row(event, destination, now, channel=channel, address=address, digest_until=due))
        else:
            rows.append(_row(event, f"channel:{channel.pk}", now, channel=channel, digest_until=due))
    return rows


# Account mail: sent to the address in the payload whatever channels the tenant has set up (a desk with
# no e-mail channel must still be able to invite its people), rendered by code, never by a template.
DIRECT_EMAIL_EVENTS = frozenset({invitations.INVITED, THREAD_MAIL})
DIRECT_PREFIX = "direct:"


def direct_rows(event: OutboxEvent, now: datetime) -> list[Delivery]:
    address = str(event.payload.get("to") or "").strip().lower()
    if event.type not in DIRECT_EMAIL_EVENTS or not address:
        return []
    return [_row(event, f"{DIRECT_PREFIX}{address}", now, address=address)]


def fan_out(events: list[OutboxEvent], now: datetime) -> int:
    """Creates the events' deliveries (those not there yet) and marks the events dispatched, in a few
    statements; returns the number of destinations."""
    if not events:
        return 0
    destinations = Destinations.load()
    rows = [
        row
        for event in events
        for row in (
            webhook_rows(event, now, destinations)
            + notification_rows(event, now, destinations)
            + direct_rows(event, now)
        )
    ]
    Delivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    OutboxEvent.objects.filter(pk__in=[event.pk for event in events]).update(dispatched_at=now)
    return len(rows)
