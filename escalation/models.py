"""The escalation matrix (rules), escalations (the handoff records) and rule firings (exactly once)."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from escalation.triggers import ACTIONS, TRIGGERS
from helpdesk.models import MAX_TIER, Membership, Role, Team
from helpdesk.tenancy import TenantModel
from helpdesk.validation import clean_or_raise
from tickets.models import Priority, Ticket

SUMMARY_FIELDS = ("problem", "tried", "emotional_state", "desired_outcome", "account_context")


class Kind(models.TextChoices):
    FUNCTIONAL = "functional", "functional (needs a skill)"
    HIERARCHICAL = "hierarchical", "hierarchical (needs authority)"


class EscalationStatus(models.TextChoices):
    REQUESTED = "requested"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    RETURNED = "returned"
    DE_ESCALATED = "de_escalated"


ACTIVE_STATUSES = (EscalationStatus.REQUESTED, EscalationStatus.ACKNOWLEDGED)
# The resolution written when a solved or closed ticket ends its open escalations (escalation.services):
# no person resolved them, so what they say is no root cause or resolution to learn from (knowledge).
ENDED_WITH_TICKET = "Ended with the ticket: {status} by {who}."
ENDED_WITH_TICKET_PREFIX = ENDED_WITH_TICKET.split("{")[0]

# Who a hierarchical rule may ask for: authority above an agent's.
TARGET_ROLES = [(Role.MANAGER.value, "manager"), (Role.EXECUTIVE.value, "executive"), (Role.ADMIN.value, "admin")]
MAX_RESPONSE_MINUTES = 366 * 24 * 60  # over a year is a typo, not a target
MAX_POSITION = 1_000_000


class EscalationRule(TenantModel):
    """One row of the matrix: when (trigger + conditions), what kind, to whom, how fast."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60)
    trigger = models.CharField(max_length=32, choices=[(t, t) for t in TRIGGERS])
    conditions = models.JSONField(default=dict, blank=True)
    # Required for an escalating rule (escalation/validation.py); a tag or flag rule escalates nothing.
    kind = models.CharField(max_length=16, choices=Kind.choices, blank=True)
    # What the rule does when it fires: escalate (the handoff below), tag (adds `tags` at once) or flag (the
    # ticket joins the "Needs review" queue with the reason).
    action = models.CharField(
        max_length=16, choices=[(a, a) for a in ACTIONS], default="escalate", db_default="escalate"
    )
    tags = models.JSONField(default=list, blank=True, db_default=[], help_text="the tags a tag rule adds")
    target_team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    target_tier = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(MAX_TIER)])
    target_role = models.CharField(max_length=16, blank=True, choices=TARGET_ROLES)
    target_skill = models.SlugField(max_length=50, blank=True)
    response_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(MAX_RESPONSE_MINUTES)]
    )
    notify = models.JSONField(default=list, blank=True)
    to_call = models.BooleanField(default=False)
    priority_override = models.CharField(max_length=16, blank=True, choices=Priority.choices)
    # Slugs of the rules this one supersedes: fired in the same evaluation, they join its escalation instead of
    # opening their own (escalation.triggers.merge, which also knows the implicit cases).
    supersedes = models.JSONField(default=list, blank=True, db_default=[])
    active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=100, validators=[MaxValueValidator(MAX_POSITION)])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "slug"], name="escalationrule_unique_slug")]
        indexes = [models.Index(fields=["tenant", "active", "position"], name="escalationrule_matrix")]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        # The one validation of a rule (escalation/validation.py); forms reach it through full_clean.
        from escalation.validation import rule_problems

        clean_or_raise(self, rule_problems)


class Escalation(TenantModel):
    """A vertical handoff of a ticket, with the summary that spares the customer from repeating themselves."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="escalations")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=EscalationStatus.choices, default=EscalationStatus.REQUESTED)
    trigger = models.CharField(max_length=60, help_text='the rule slug, or "manual"')
    rule = models.ForeignKey(EscalationRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.TextField(blank=True)
    cycle = models.PositiveIntegerField(default=0, help_text="how many escalations of the ticket had resolved before")
    level = models.PositiveSmallIntegerField(default=1, help_text="rung of the ladder (a breached escalation climbs)")
    from_tier = models.PositiveSmallIntegerField()
    to_tier = models.PositiveSmallIntegerField()
    from_agent = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    agent = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    requested_by = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    requested_by_label = models.CharField(max_length=200)
    summary = models.JSONField(default=dict)
    summary_drafted = models.BooleanField(default=False, help_text="drafted from the thread, not written by a person")
    to_call = models.BooleanField(default=False)
    response_due_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)
    de_escalated_at = models.DateTimeField(null=True, blank=True)
    # Set once when a breached response target sent it up the ladder: the claim that makes climbing
    # happen once, however many sweeps see the breach.
    climbed_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)
    root_cause = models.CharField(max_length=500, blank=True)
    return_reason = models.TextField(blank=True)
    # Set when its target could not be served at all (stale configuration, e.g. "no active member with skill
    # 'legal'"): the escalation went to the managers' queue instead.
    fallback_reason = models.CharField(max_length=300, blank=True, default="", db_default="")
    # The seeds' three roles of a handoff (escalation/roles.py): who resolves it, who keeps the customer
    # updated (owner of the hourly customer-update clock and its reminders), who oversees it (the ladder's
    # notices). Empty: the receiver resolves and updates, the managers oversee.
    resolver = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    customer_updater = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    overseer = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "-created_at", "-id"], name="escalation_tenant_created"),
            models.Index(fields=["tenant", "ticket", "status"], name="escalation_tenant_ticket"),
            models.Index(fields=["tenant", "agent", "status"], name="escalation_tenant_agent"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk}: {self.kind} escalation of ticket #{self.ticket_id} ({self.status})"

    def clean(self):
        # The one validation of the roles (escalation/roles.py): every door reaches it.
        from escalation.roles import role_problems

        clean_or_raise(self, role_problems)


class RuleFiring(TenantModel):
    """A rule fired for a ticket in an escalation cycle. The unique constraint — not a check before the
    insert — is what makes a rule fire at most once per cycle, whatever runs concurrently."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(EscalationRule, on_delete=models.CASCADE, related_name="firings")
    cycle = models.PositiveIntegerField()
    escalation = models.ForeignKey(Escalation, null=True, blank=True, on_delete=models.SET_NULL, related_name="firings")
    reason = models.TextField(blank=True)
    # db_default: the firing claim is a hand-written INSERT that names only the columns it decides.
    fallback_reason = models.CharField(
        max_length=300, blank=True, default="", db_default="", help_text="why its target could not be served"
    )
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "ticket", "rule", "cycle"], name="rulefiring_once_per_cycle")
        ]

    def __str__(self) -> str:
        return f"{self.rule} on ticket #{self.ticket_id} (cycle {self.cycle})"


class TimeWatch(TenantModel):
    """When a time_open rule comes due for a ticket: an indexed moment the sweep claims (SKIP LOCKED), so
    time rules cost what is due, not what is open. Re-armed when the ticket changes tier."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(EscalationRule, on_delete=models.CASCADE, related_name="+")
    due_at = models.DateTimeField()
    fired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "ticket", "rule"], name="timewatch_unique")]
        indexes = [models.Index(fields=["due_at"], name="timewatch_due", condition=models.Q(fired_at__isnull=True))]


class ReviewStatus(models.TextChoices):
    OPEN = "open"
    DONE = "done"


class Review(TenantModel):
    """A post-escalation review (seeds: "after high-priority or repeated escalations, conduct quick reviews to
    evaluate what worked and what didn't"), opened by the escalation's resolution (escalation/reviews.py).
    One per escalation, by constraint: a resolution that runs twice opens it once."""

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="+")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(
        EscalationRule,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="the rule that fired",
    )
    rule_to_change = models.ForeignKey(
        EscalationRule,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="the matrix row to change (the rule that fired, unless the reviewer names another)",
    )
    reasons = models.JSONField(default=list, help_text='why it is reviewed: "high_priority", "repeated"')
    priority = models.CharField(max_length=16, choices=Priority.choices, help_text="the ticket's at the resolution")
    status = models.CharField(max_length=8, choices=ReviewStatus.choices, default=ReviewStatus.OPEN)
    what_worked = models.TextField(blank=True, max_length=5000)
    what_failed = models.TextField(blank=True, max_length=5000)
    rule_change = models.TextField(blank=True, max_length=5000, help_text="the change to the matrix it proposes")
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "escalation"], name="review_once_per_escalation")]
        indexes = [models.Index(fields=["tenant", "status", "-created_at"], name="review_tenant_status")]

    def __str__(self) -> str:
        return f"Review of escalation #{self.escalation_id} (ticket #{self.ticket_id}, {self.status})"

    def clean(self):
        from escalation.validation import review_problems  # the one validation of a review

        clean_or_raise(self, review_problems)
