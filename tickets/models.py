"""Accounts, customers, tickets and their conversation, resolution attempts and audit trail."""

from datetime import UTC, datetime, timedelta

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from helpdesk.models import MAX_TIER, Membership, Team
from helpdesk.tenancy import TenantModel, tenant_key
from helpdesk.validation import clean_or_raise

# Back-dated tickets (imports, admin API) are accepted from here on: nothing older is a helpdesk ticket,
# and it bounds how much business time a clock may have to count. A little clock skew is tolerated.
EARLIEST_CREATED_AT = datetime(1990, 1, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(minutes=5)


class Plan(models.TextChoices):
    FREE = "free"
    STANDARD = "standard"
    BUSINESS = "business"
    ENTERPRISE = "enterprise"


class Priority(models.TextChoices):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


# Priorities in order: an escalation may raise a ticket's priority, never lower it.
PRIORITY_RANK = {priority: rank for rank, priority in enumerate(Priority.values)}
# The rank in SQL, to sort by (the queues' "Priority" sort, and the index that serves it).
PRIORITY_ORDER = models.Case(
    *[models.When(priority=name, then=models.Value(rank)) for name, rank in PRIORITY_RANK.items()],
    output_field=models.IntegerField(),
)


def raises_priority(wanted: str | None, current: str) -> bool:
    """Whether `wanted` (a rule's override; empty for none) is above `current`."""
    return PRIORITY_RANK.get(wanted or "", -1) > PRIORITY_RANK[current]


class Channel(models.TextChoices):
    EMAIL = "email"
    CHAT = "chat"
    PHONE = "phone"
    WEB = "web"
    API = "api"
    SOCIAL = "social"


class Status(models.TextChoices):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on_hold"
    SOLVED = "solved"
    CLOSED = "closed"


# Work still to do: the workspace's queues (but All) list only these, and partial indexes hold only these.
UNSOLVED_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD)
UNSOLVED = models.Q(status__in=UNSOLVED_STATUSES)
# The queue filters carried in the queue indexes (see Ticket.Meta.indexes).
QUEUE_FILTER_COLUMNS = ["status", "priority", "account"]


class AuthorType(models.TextChoices):
    CUSTOMER = "customer"
    AGENT = "agent"
    SYSTEM = "system"


class Outcome(models.TextChoices):
    FAILED = "failed"
    SUCCEEDED = "succeeded"


class Account(TenantModel):
    name = models.CharField(max_length=200)
    plan = models.CharField(max_length=16, choices=Plan.choices, default=Plan.STANDARD)
    vip = models.BooleanField(default=False)
    annual_contract_value = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    lifetime_value = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    customer_since = models.DateField(null=True, blank=True)
    # Who owns the relationship (the high-value escalation message names them): a member of the same tenant.
    account_manager = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="managed_accounts"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "name"], name="account_tenant_name")]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        # The one validation of an account (tickets/validation.py), for the admin's form and the services.
        from tickets.validation import account_problems

        clean_or_raise(self, account_problems)


class Customer(TenantModel):
    # Stored lower-cased by the services, so the per-tenant unique constraint is case-insensitive.
    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="customers")
    # Set by an erasure (DELETE /customers/{id}/): the row stays as a tombstone, since tickets point to it.
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "email"], name="customer_unique_email_per_tenant")]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


class Ticket(TenantModel):
    # No index of its own: the sweep updates thousands of tickets in a storm, none of those updates can be HOT, and
    # each writes one entry in every index; every query by tenant has a composite index leading with it
    # (ticket_tenant_created first). The category's two (btree and pattern ops, across tenants) are one composite
    # too, ticket_tenant_category: the queues' filter and the collaborators' similar tickets filter it in a tenant.
    tenant = tenant_key(db_index=False)
    subject = models.CharField(max_length=500)
    description = models.TextField()
    requester = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="tickets")
    # Copied from the requester when the ticket opens: the account at the time is what the SLA,
    # routing and the audit trail must refer to, even if the customer later moves.
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    priority = models.CharField(max_length=16, choices=Priority.choices, default=Priority.NORMAL)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.API)
    category = models.SlugField(max_length=50, blank=True, db_index=False)
    tags = ArrayField(models.SlugField(max_length=50), default=list, blank=True)
    tier = models.PositiveSmallIntegerField(default=1, validators=[MaxValueValidator(MAX_TIER)])
    assignee = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sentiment = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(-1.0), MaxValueValidator(1.0)],
        help_text="customer sentiment over the thread, -1 (angry) .. 1 (happy)",
    )
    # The score of the subject and description, taken once when the ticket opened: the ticket page plots it first
    # and must not run VADER on a long description at every render. Null for tickets answered before it was kept.
    opening_sentiment = models.FloatField(null=True, blank=True, editable=False)
    escalated = models.BooleanField(default=False)
    escalation_count = models.PositiveIntegerField(default=0)
    follow_up_count = models.PositiveIntegerField(
        default=0, help_text="customer messages since the last agent reply (or since opening)"
    )
    exchange_count = models.PositiveIntegerField(
        default=0, help_text="alternations between customer and agent (back-and-forth)"
    )
    failed_attempt_count = models.PositiveIntegerField(default=0)
    # Kept by the SLA engine (slas/services.py) so that lists can filter on them with an index, without
    # this app knowing what a timer is.
    sla_breached = models.BooleanField(default=False)
    sla_at_risk = models.BooleanField(default=False)
    # Set by the SLA sweep when one of the ticket's clocks warned or breached: the time-based escalation
    # rules must look at the ticket again. The escalation stage of the sweep claims it and clears it, so
    # the hand-over is part of the SLA transaction and survives a crash between the two.
    rules_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Kept by the escalation engine: who may work the ticket (autonomous | guardrailed | human_first), and why.
    triage = models.CharField(max_length=16, default="autonomous")
    triage_reasons = models.JSONField(default=list, blank=True)
    # Set by a rule whose action is `flag` (escalation/services.py): the ticket waits in the "Needs review" queue
    # with the reason until a person clears it.
    review_reason = models.CharField(max_length=500, blank=True, default="", db_default="")
    review_flagged_at = models.DateTimeField(null=True, blank=True)
    last_author_type = models.CharField(max_length=16, choices=AuthorType.choices, default=AuthorType.CUSTOMER)
    first_response_at = models.DateTimeField(null=True, blank=True)
    last_customer_message_at = models.DateTimeField(null=True, blank=True)
    last_agent_reply_at = models.DateTimeField(null=True, blank=True)
    solved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The ticket's id in the helpdesk it was imported from: a re-run of an import skips what it already brought.
    external_id = models.CharField(max_length=255, null=True, blank=True, editable=False)
    search_vector = SearchVectorField(null=True, editable=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "-created_at", "-id"], name="ticket_tenant_created"),
            models.Index(fields=["tenant", "category"], name="ticket_tenant_category"),
            # The escalation metrics' ticket counts (metrics/queries.py): the tickets created in a period, by the
            # filters' columns and status, read from the index alone instead of a million table rows.
            models.Index(
                fields=["tenant", "created_at"],
                include=["status", "priority", "channel", "category", "team"],
                name="ticket_tenant_created_facts",
            ),
            # The queues' default order (recently updated first), cut by a keyset cursor.
            models.Index(fields=["tenant", "-updated_at", "-id"], name="ticket_tenant_updated"),
            models.Index(fields=["tenant", "status", "-created_at"], name="ticket_tenant_status"),
            models.Index(fields=["tenant", "requester", "-created_at"], name="ticket_tenant_requester"),
            models.Index(fields=["tenant", "assignee", "status"], name="ticket_tenant_assignee"),
            models.Index(
                fields=["tenant", "-created_at"],
                name="ticket_tenant_sla_breached",
                condition=models.Q(sla_breached=True),
            ),
            GinIndex(fields=["search_vector"], name="ticket_search"),
            # The workspace's queues (helpdesk/workspace/queues.py): each view of unsolved work in its default
            # order, so a page is an index walk cut by the cursor and a capped count stops after 1,001 entries.
            # The filters agents combine most (status, priority, VIP through the account) ride along in the
            # entries: a filtered view's count then checks them in the index instead of fetching every ticket
            # of the view from the table (bench/WORKSPACE.md: `team, priority=high, vip=true` 119 ms p95 before).
            models.Index(
                fields=["tenant", "assignee", "-updated_at", "-id"],
                include=QUEUE_FILTER_COLUMNS,
                name="ticket_unsolved_assignee",
                condition=UNSOLVED,
            ),
            models.Index(
                fields=["tenant", "team", "-updated_at", "-id"],
                include=QUEUE_FILTER_COLUMNS,
                name="ticket_unsolved_team",
                condition=UNSOLVED,
            ),
            models.Index(
                fields=["tenant", "-updated_at", "-id"],
                include=QUEUE_FILTER_COLUMNS,
                name="ticket_unsolved_at_risk",
                condition=UNSOLVED & models.Q(sla_at_risk=True),
            ),
            # The "Priority" sort (urgent first, then recently updated) as an index: sorted at each request, it
            # was a sort of every ticket of the tenant. The expression is queues.PRIORITY_ORDER's, literally.
            models.Index(
                models.F("tenant"),
                PRIORITY_ORDER.desc(),
                models.F("updated_at").desc(),
                models.F("id").desc(),
                name="ticket_tenant_priority",
            ),
            models.Index(
                fields=["tenant", "-updated_at", "-id"],
                include=QUEUE_FILTER_COLUMNS,
                name="ticket_unsolved_breached",
                condition=UNSOLVED & models.Q(sla_breached=True),
            ),
            models.Index(
                fields=["rules_due_at"], name="ticket_rules_due", condition=models.Q(rules_due_at__isnull=False)
            ),
            models.Index(
                fields=["tenant", "-updated_at", "-id"],
                name="ticket_needs_review",
                condition=models.Q(review_flagged_at__isnull=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="ticket_unique_external_id",
            ),
            models.CheckConstraint(condition=models.Q(tier__lte=MAX_TIER), name="ticket_tier_range"),
            models.CheckConstraint(
                condition=models.Q(sentiment__gte=-1.0, sentiment__lte=1.0), name="ticket_sentiment_range"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"


class Message(TenantModel):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    author_type = models.CharField(max_length=16, choices=AuthorType.choices)
    author = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField()
    internal = models.BooleanField(default=False)
    sentiment = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["tenant", "ticket", "created_at"], name="message_tenant_ticket")]


class ResolutionAttempt(TenantModel):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attempts")
    tier = models.PositiveSmallIntegerField(validators=[MaxValueValidator(MAX_TIER)])
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    note = models.TextField(blank=True)
    actor = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["tenant", "ticket", "created_at"], name="attempt_tenant_ticket")]


class Dispute(TenantModel):
    """A billing dispute recorded on a ticket (POST /tickets/{id}/disputes/); `dispute` rules read its amount."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="disputes")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, help_text="ISO 4217 code, e.g. USD")
    reason = models.TextField()
    actor = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["tenant", "ticket", "created_at"], name="dispute_tenant_ticket")]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="dispute_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} on ticket #{self.ticket_id}"


class TicketEvent(TenantModel):
    """Append-only audit trail: a database trigger refuses UPDATE and DELETE (migrations 0002, 0007), but for
    one change: a customer's erasure may mask the values of `before`/`after`, once, stamping `redacted_at`
    (which event, on which ticket, by whom, when, and the keys it recorded stay)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.DO_NOTHING, related_name="events", db_constraint=True)
    kind = models.SlugField(max_length=50)
    actor = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+")
    actor_label = models.CharField(max_length=200, help_text="who, as shown at the time (user, token, system)")
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    redacted_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "ticket", "created_at", "id"], name="event_tenant_ticket"),
            # The tenant's newest event in one probe: a queue page's poll finds nothing new with it.
            models.Index(fields=["tenant", "-id"], name="event_tenant_latest"),
            # The escalation metrics' priority mistranslation (metrics/queries.py): the few events that changed a
            # priority, or de-escalated, in a period -- not every update of every ticket.
            models.Index(
                fields=["tenant", "created_at"],
                name="event_priority_changed",
                condition=models.Q(kind="updated", before__has_key="priority"),
            ),
            models.Index(
                fields=["tenant", "created_at"],
                name="event_de_escalated",
                condition=models.Q(kind="escalation_de_escalated"),
            ),
        ]
