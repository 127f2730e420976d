"""Channels, templates, webhook subscriptions, and the deliveries made to them.

Imported by helpdesk/models.py, so the tables belong to the `helpdesk` app.
"""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models

from helpdesk.tenancy import TenantModel

# The events integrations may subscribe to (API.md, "Webhooks"). Fixed names.
WEBHOOK_EVENTS = (
    "ticket.created",
    "ticket.updated",
    "escalation.created",
    "escalation.acknowledged",
    "escalation.resolved",
    "escalation.returned",
    "sla.warning",
    "sla.breached",
    "call.scheduled",
    "call.completed",
)


class ChannelKind(models.TextChoices):
    EMAIL = "email", "E-mail (Django mail)"
    SLACK = "slack", "Slack incoming webhook"
    TEAMS = "teams", "Microsoft Teams incoming webhook"
    SMS = "sms", "SMS provider"
    JSON = "json", "Generic JSON webhook"


class NotificationChannel(TenantModel):
    """Where people are told: an e-mail channel sends to the recipients the template names; the other
    kinds post each message once to an apprise URL (stored encrypted: it carries tokens)."""

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    url_encrypted = models.TextField(blank=True, help_text="Fernet token of the apprise URL")
    events = ArrayField(models.CharField(max_length=64), default=list, blank=True, help_text="empty: every event")
    recipients = models.JSONField(default=list, blank=True, help_text="extra recipients (e-mail channels)")
    digest_minutes = models.PositiveIntegerField(
        default=0, help_text="0: send at once; otherwise routine messages are batched per recipient"
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="channel_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class NotificationTemplate(TenantModel):
    """The text of a notification, per tenant and event type, and who receives it by e-mail."""

    event_type = models.CharField(max_length=64)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    recipients = models.JSONField(default=list, blank=True, help_text='e.g. ["agent", "role:manager", "on_call"]')
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "event_type"], name="template_unique_event")]

    def __str__(self) -> str:
        return self.event_type


class WebhookSubscription(TenantModel):
    """An integration's endpoint: signed POSTs of the events it chose (API.md, /webhooks/)."""

    url = models.URLField(max_length=2000)
    events = ArrayField(models.CharField(max_length=64), default=list)
    secret_encrypted = models.TextField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "active"], name="webhook_tenant_active")]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"  # waiting for its first or next attempt
    DELIVERED = "delivered"
    FAILED = "failed"  # will not be retried by itself (refused address, destination gone)
    DEAD = "dead"  # retried for the whole retry window: dead-lettered


class Delivery(TenantModel):
    """One event to one destination. The unique (event, destination) makes fan-out idempotent; the
    pending index on next_attempt_at is how the dispatcher finds due work (and stragglers)."""

    event = models.ForeignKey("helpdesk.OutboxEvent", on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=64)
    destination = models.CharField(max_length=400)
    webhook = models.ForeignKey(
        WebhookSubscription, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    channel = models.ForeignKey(
        NotificationChannel, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    address = models.CharField(max_length=254, blank=True, help_text="the e-mail address, for e-mail channels")
    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Set by each claim; a result is recorded only by the claim that still holds the row.
    lease = models.UUIDField(null=True, blank=True, editable=False)
    digest_until = models.DateTimeField(null=True, blank=True, help_text="batched into a digest sent then")
    # VIP or critical work (fanout.is_immediate): claimed ahead of every other due delivery, so a backlog of
    # routine ones never holds it back (migration helpdesk 0010, docs/SCALING.md).
    urgent = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    # Start of the retry window (DELIVERY_RETRY_HOURS): the creation, or the last "retry now".
    retry_from = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "event", "destination"], name="delivery_unique_destination")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], name="delivery_due", condition=models.Q(status=DeliveryStatus.PENDING)
            ),
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_due_urgent",
                condition=models.Q(status=DeliveryStatus.PENDING, urgent=True),
            ),
            models.Index(fields=["tenant", "webhook", "-created_at"], name="delivery_tenant_webhook"),
            models.Index(fields=["tenant", "status", "-created_at"], name="delivery_tenant_status"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} -> {self.destination} ({self.status})"


class DeliveryAttempt(TenantModel):
    """One try of a delivery: what the receiver answered and how long it took."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "delivery", "number"], name="attempt_tenant_delivery")]
