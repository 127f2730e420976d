"""The escalation matrix (rules), escalations (the handoff records) and rule firings (exactly once)."""

from django.core.validators import MaxValueValidator
from django.db import models

from helpdesk.models import MAX_TIER, Membership, Team
from helpdesk.tenancy import TenantModel
from tickets.models import Ticket

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


class EscalationRule(TenantModel):
    """One row of the matrix: when (trigger + conditions), what kind, to whom, how fast."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60)
    trigger = models.CharField(max_length=32)
    conditions = models.JSONField(default=dict, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    target_team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    target_tier = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(MAX_TIER)])
    target_role = models.CharField(max_length=16, blank=True)
    target_skill = models.SlugField(max_length=50, blank=True)
    response_minutes = models.PositiveIntegerField(null=True, blank=True)
    notify = models.JSONField(default=list, blank=True)
    to_call = models.BooleanField(default=False)
    priority_override = models.CharField(max_length=16, blank=True)
    active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=100)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "slug"], name="escalationrule_unique_slug")]
        indexes = [models.Index(fields=["tenant", "active", "position"], name="escalationrule_matrix")]

    def __str__(self) -> str:
        return self.name


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

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "-created_at", "-id"], name="escalation_tenant_created"),
            models.Index(fields=["tenant", "ticket", "status"], name="escalation_tenant_ticket"),
            models.Index(fields=["tenant", "agent", "status"], name="escalation_tenant_agent"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} escalation of ticket {self.ticket_id} ({self.status})"


class RuleFiring(TenantModel):
    """A rule fired for a ticket in an escalation cycle. The unique constraint — not a check before the
    insert — is what makes a rule fire at most once per cycle, whatever runs concurrently."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(EscalationRule, on_delete=models.CASCADE, related_name="firings")
    cycle = models.PositiveIntegerField()
    escalation = models.ForeignKey(Escalation, null=True, blank=True, on_delete=models.SET_NULL, related_name="firings")
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "ticket", "rule", "cycle"], name="rulefiring_once_per_cycle")
        ]


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
