"""Business calendars, SLA policies and the timers they drive.

The due columns of SlaTimer are the truth about time: the sweep claims the rows whose `next_check_at`
has passed. Nothing waits in Celery ETA/countdown tasks (Redis redelivers those in loops)."""

from django.contrib.postgres.fields import ArrayField
from django.db import models

from helpdesk.models import Team, validate_timezone
from helpdesk.tenancy import TenantModel, tenant_key
from helpdesk.validation import clean_or_raise
from slas import clock
from tickets.models import Account, Ticket


class Metric(models.TextChoices):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"
    ESCALATION_ACKNOWLEDGE = "escalation_acknowledge"
    ESCALATION_FIRST_RESPONSE = "escalation_first_response"
    CUSTOMER_UPDATE = "customer_update"
    MANAGER_RESPONSE = "manager_response"


TICKET_METRICS = (Metric.FIRST_RESPONSE, Metric.NEXT_RESPONSE, Metric.RESOLUTION)
# Clocks that start over instead of stopping: while an escalation is open the customer is owed an update
# every period, not once (slas/schedule.py rolls the periods and says why they run on the policy's calendar).
RECURRING_METRICS = (Metric.CUSTOMER_UPDATE,)


class TimerStatus(models.TextChoices):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"


class ClockSource(models.TextChoices):
    POLICY = "policy", "the policy's calendar"
    ACCOUNT = "account", "the customer's account calendar, if it has one"
    TEAM = "team", "the ticket team's calendar, if it has one"


class BusinessCalendar(TenantModel):
    """Working time: weekly hours in a timezone, minus holidays. Owned by the tenant, a team or an account."""

    name = models.CharField(max_length=100)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    hours = models.JSONField(default=dict, blank=True, help_text='{"mon": [["09:00", "17:00"]], ...}')
    holidays = ArrayField(models.DateField(), default=list, blank=True)
    country = models.CharField(max_length=8, blank=True, help_text="holidays of this country (ISO code)")
    subdivision = models.CharField(max_length=16, blank=True)
    always_open = models.BooleanField(default=False, help_text="24/7: every minute counts")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    # False: retired (DELETE of a calendar in use). Kept for the clocks and policies that run on it; never
    # offered to a new policy, nor picked as an account's or team's own calendar for a new clock.
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="calendar_unique_name_per_tenant")]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        from slas.validation import calendar_problems  # the one validation of a calendar

        clean_or_raise(self, calendar_problems)


def calendar_to_clock(calendar: BusinessCalendar) -> clock.Calendar:
    """The stored calendar as the clock's pure value (slas/clock.py does the arithmetic)."""
    return clock.Calendar(
        timezone=calendar.timezone,
        hours={day: [tuple(interval) for interval in intervals] for day, intervals in calendar.hours.items()},
        holidays=frozenset(calendar.holidays),
        country=calendar.country or None,
        subdivision=calendar.subdivision or None,
        always_open=calendar.always_open,
    )


class SLAPolicy(TenantModel):
    """Targets for the tickets it applies to. The first active policy by position that matches wins."""

    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.PROTECT, related_name="policies")
    clock_source = models.CharField(max_length=16, choices=ClockSource.choices, default=ClockSource.POLICY)
    applies_to = models.JSONField(default=dict, blank=True)
    targets = models.JSONField(default=dict)
    warn_percent = ArrayField(models.PositiveSmallIntegerField(), default=list, blank=True)
    on_hold_pauses = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="slapolicy_unique_name_per_tenant")]
        indexes = [models.Index(fields=["tenant", "active", "position"], name="slapolicy_tenant_position")]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"

    def __str__(self) -> str:
        return self.name

    def clean(self):
        from slas.validation import policy_problems  # the one validation of a policy

        clean_or_raise(self, policy_problems)


class SlaTimer(TenantModel):
    """One clock of one ticket (or of one escalation of it) against one target."""

    # No index of its own: slatimer_unique_clock leads with it (and with the ticket: it also serves what
    # slatimer_tenant_ticket did); a storm inserts 30,000 clocks and updates 10,000, each writing every index.
    tenant = tenant_key(db_index=False)

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="sla_timers")
    # Escalations live in an app above this one; the link is kept as a plain id (0 = the ticket's own).
    escalation_id = models.BigIntegerField(default=0)
    policy = models.ForeignKey(SLAPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The calendar the clock runs on (the policy's, the account's or the team's): kept so the sweep and
    # recalculation need no policy resolution, and a calendar edit finds exactly the timers it moves.
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.PROTECT, related_name="+")
    metric = models.CharField(max_length=32, choices=Metric.choices)
    target_minutes = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    pauses = models.JSONField(default=list, blank=True, help_text="closed pauses: [[start, end], ...] (ISO 8601)")
    paused_at = models.DateTimeField(null=True, blank=True)
    warn_percents = ArrayField(models.PositiveSmallIntegerField(), default=list, blank=True)
    warned_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    warn_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    # min(warn_at, due_at) while running: the one column the sweep's partial index covers.
    next_check_at = models.DateTimeField(null=True, blank=True)
    warned_at = models.DateTimeField(null=True, blank=True)
    met_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=TimerStatus.choices, default=TimerStatus.RUNNING)
    # The history of a recurring clock (RECURRING_METRICS), whose started_at is its current period's start and
    # whose breached_at is its latest miss; a one-shot clock keeps both at 0.
    # A database default as well: hand-written INSERTs (bench/sweep_bench.py) need not name them.
    misses = models.PositiveIntegerField(default=0, db_default=0, help_text="periods that passed with no update")
    met_periods = models.PositiveIntegerField(default=0, db_default=0, help_text="periods ended by an update in time")
    # Stored when the clock stops (met, or met late), so the metrics read numbers instead of recomputing
    # calendars: the business minutes it ran (pauses excluded; a recurring clock: its last period) and the
    # target minus that (negative: late). Null while it runs, and for a clock the sweep breached that never
    # stopped.
    business_minutes = models.FloatField(null=True, blank=True, editable=False)
    margin_minutes = models.FloatField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "ticket", "escalation_id", "metric"], name="slatimer_unique_clock"
            ),
        ]
        indexes = [
            models.Index(fields=["next_check_at"], name="slatimer_due", condition=models.Q(status="running")),
            models.Index(
                fields=["tenant", "ticket"], name="slatimer_breached", condition=models.Q(breached_at__isnull=False)
            ),
            # The escalation metrics (metrics/queries.py) read the clocks of 150,000 tickets or escalations by
            # probes: from these indexes alone, not from the table (a hash of all its rows took seconds).
            models.Index(
                fields=["tenant", "ticket"],
                include=["status"],
                name="slatimer_ticket_clocks",
                condition=models.Q(escalation_id=0),
            ),
            models.Index(
                fields=["tenant", "escalation_id"],
                include=[
                    "ticket",
                    "metric",
                    "status",
                    "met_at",
                    "met_periods",
                    "misses",
                    "business_minutes",
                    "margin_minutes",
                ],
                name="slatimer_escalation_clocks",
                condition=~models.Q(escalation_id=0),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric} of ticket {self.ticket_id} ({self.status})"
