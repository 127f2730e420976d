"""Tenancy: Tenant, Membership (user <-> tenant with role, tier, skills), Team, ApiToken."""

import zoneinfo

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models

from helpdesk.tenancy import TenantModel


class Role(models.TextChoices):
    AGENT = "agent", "Agent"
    MANAGER = "manager", "Manager"
    EXECUTIVE = "executive", "Executive"
    ADMIN = "admin", "Admin"


# Access grows left to right; role checks compare ranks, never names. An executive holds the business's
# authority (the top of the hierarchical ladder, the largest approval caps: escalation/authority.py) and may
# do everything a manager may; an admin administers the tenant (members, tokens, webhooks, channels) and
# ranks above for access, so every admin-only door stays admin-only and an executive is not handed the keys.
# Authority is not rank: the ladder asks for an executive, and only a tenant without one falls to its admins.
ROLE_RANK = {Role.AGENT: 1, Role.MANAGER: 2, Role.EXECUTIVE: 3, Role.ADMIN: 4}
MAX_TIER = 3


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone")


class Tenant(models.Model):
    """A customer organisation of the helpdesk. Not tenant-scoped itself: it *is* the scope."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    settings = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.slug


class Membership(TenantModel):
    """A user's seat in a tenant: role, tier (0 = self-service/bot .. 3), skills and capacity for routing."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENT)
    tier = models.PositiveSmallIntegerField(default=1, validators=[MaxValueValidator(MAX_TIER)])
    skills = ArrayField(models.SlugField(max_length=50), default=list, blank=True)
    capacity = models.PositiveIntegerField(default=20, help_text="open tickets this agent can carry")
    available = models.BooleanField(default=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_user_per_tenant"),
            models.CheckConstraint(condition=models.Q(tier__lte=MAX_TIER), name="membership_tier_range"),
        ]

    def __str__(self) -> str:
        """ "Sam Billing (agent, tier 2, billing, refunds)": the person's name and what routing sees. Reads the
        user: load memberships with select_related("user") wherever several are shown."""
        user = self.user
        details = [self.role, f"tier {self.tier}", *self.skills] + ([] if self.active else ["inactive"])
        return f"{user.get_full_name() or user.get_username()} ({', '.join(details)})"


class Team(TenantModel):
    """A group that receives work: its skills route functional escalations, its tier hierarchical ones."""

    name = models.CharField(max_length=100)
    skills = ArrayField(models.SlugField(max_length=50), default=list, blank=True)
    tier = models.PositiveSmallIntegerField(default=1, validators=[MaxValueValidator(MAX_TIER)])
    members = models.ManyToManyField(Membership, through="TeamMember", related_name="teams", blank=True)
    on_call = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="paged first"
    )
    # A deactivated team keeps its history but receives nothing: rules aiming at it use the managers' queue.
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="team_unique_name_per_tenant"),
            models.CheckConstraint(condition=models.Q(tier__lte=MAX_TIER), name="team_tier_range"),
        ]

    def __str__(self) -> str:
        return self.name


class TeamMember(TenantModel):
    team = models.ForeignKey(Team, on_delete=models.CASCADE)
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE)

    def __str__(self) -> str:
        return str(self.membership)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "team", "membership"], name="teammember_unique"),
        ]


class ApiToken(TenantModel):
    """An integration's credential: one tenant, one role. Only a SHA-256 of the key is stored."""

    label = models.CharField(max_length=100, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENT)
    # The first characters of the key, to recognise a token in lists without storing it.
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.role}{', revoked' if self.revoked_at else ''})"


class IdempotencyKey(TenantModel):
    """A POST's Idempotency-Key and the response it got, replayed for 24 h (see helpdesk/idempotency.py)."""

    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of method, path and body")
    status_code = models.PositiveSmallIntegerField(null=True)
    content_type = models.CharField(max_length=100, blank=True)
    response_body = models.BinaryField(default=b"")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="idempotencykey_unique_per_tenant")]
        indexes = [models.Index(fields=["tenant", "created_at"], name="idempotencykey_tenant_created")]


class OutboxEvent(TenantModel):
    """Something that must leave the system (webhook, notification), written in the same transaction as
    the change that caused it. The dedupe key makes emitting idempotent: a sweep that runs twice, or two
    sweeps at once, produce one event. Delivery to destinations is the notifications issue's job."""

    type = models.CharField(max_length=64)
    dedupe_key = models.CharField(max_length=200)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "dedupe_key"], name="outboxevent_unique_dedupe")]
        indexes = [
            models.Index(
                fields=["created_at"], name="outboxevent_pending", condition=models.Q(dispatched_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.dedupe_key}"


class AuditEvent(TenantModel):
    """The tenant's own audit trail: what happened to things that belong to no ticket — people's seats,
    configuration retired or removed, a customer's data erased. Append-only in the database (a trigger,
    migration 0008), like the tickets' TicketEvent; written only by helpdesk.audit.audit_record."""

    kind = models.CharField(max_length=64, help_text='e.g. "member.added", "calendar.retired", "customer.erased"')
    actor = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+")
    actor_label = models.CharField(max_length=200, help_text="who, as shown at the time (user, token, system)")
    object_type = models.CharField(max_length=64)
    object_id = models.BigIntegerField()
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "-created_at", "-id"], name="auditevent_tenant_created"),
            models.Index(fields=["tenant", "object_type", "object_id"], name="auditevent_tenant_object"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_type} {self.object_id}"


# The notification tables live in their own module but belong to this app (and so to its migrations).
from helpdesk.notifications.models import (  # noqa: E402
    Delivery,
    DeliveryAttempt,
    NotificationChannel,
    NotificationTemplate,
    WebhookSubscription,
)

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Delivery",
    "DeliveryAttempt",
    "IdempotencyKey",
    "Membership",
    "NotificationChannel",
    "NotificationTemplate",
    "OutboxEvent",
    "Role",
    "Team",
    "TeamMember",
    "Tenant",
    "WebhookSubscription",
]
