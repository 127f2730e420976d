"""The metrics app's own rows: a tenant's health ranges and the customers' satisfaction scores. Every other
number is read from the facts of the apps below (tickets, clocks, escalations, calls)."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from escalation.models import Escalation
from helpdesk.tenancy import TenantModel
from helpdesk.validation import clean_or_raise
from metrics.health import DEFAULTS
from tickets.models import Ticket

METRIC_CHOICES = [(name, name.replace("_", " ")) for name in DEFAULTS]


class HealthThreshold(TenantModel):
    """A tenant's own boundaries for one metric; a metric without a row keeps the seeds' (metrics/health.py)."""

    metric = models.CharField(max_length=40, choices=METRIC_CHOICES)
    warn = models.FloatField(help_text="past this, warn")
    bad = models.FloatField(help_text="past this, bad")
    low = models.FloatField(null=True, blank=True, help_text="escalation rate only: under this, warn")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "metric"], name="healththreshold_unique_metric")]

    def __str__(self) -> str:
        return f"{self.metric}: warn {self.warn:g}, bad {self.bad:g}"

    def clean(self):
        from metrics.validation import threshold_problems  # the one validation of a range

        clean_or_raise(self, threshold_problems)


class CsatSource(models.TextChoices):
    API = "api"
    EMAIL = "email", "the customer's e-mail link"


class CsatResponse(TenantModel):
    """The customer's satisfaction with a ticket, 1 to 5. One per ticket: answering again replaces it."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    score = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    source = models.CharField(max_length=16, choices=CsatSource.choices, default=CsatSource.API)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "ticket"], name="csat_one_per_ticket"),
            models.CheckConstraint(condition=models.Q(score__gte=1, score__lte=5), name="csat_score_range"),
        ]
        verbose_name = "CSAT response"

    def __str__(self) -> str:
        return f"ticket {self.ticket_id}: {self.score}"


class EscalationAudit(Escalation):
    """No table: the admin's entry for the 30-day escalation audit (metrics/audit.py, metrics/admin.py), a report
    over the escalations with its CSV download."""

    class Meta:
        proxy = True
        verbose_name = "escalation audit (last 30 days)"
        verbose_name_plural = "escalation audit (last 30 days)"


class TicketDay(TenantModel):
    """How many of a tenant's tickets were created on one UTC day with one combination of the metrics' ticket
    filters, and how many of them are solved or closed: the escalation metrics' denominator, read instead of
    counting a million tickets (metrics_ticket_counts, bench/METRICS.md). Written only by the database's
    triggers on tickets_ticket (migration metrics/0006), as the owner, in every write path; never by Django.

    A key's counts are the sums of its rows: the triggers only append delta rows (a ticket's INSERT never waits
    on a counter another transaction holds), and metrics_ticket_days_compact folds them into one merged row per
    key (workflows.metrics_ticket_days_compact, run by beat)."""

    day = models.DateField(help_text="the UTC day the tickets were created")
    channel = models.CharField(max_length=16)
    priority = models.CharField(max_length=16)
    category = models.CharField(max_length=50)
    team_id = models.BigIntegerField(default=0, help_text="0: no team")
    tickets = models.IntegerField(default=0)
    finished = models.IntegerField(default=0, help_text="of them, solved or closed now")
    delta = models.BooleanField(
        db_default=True, help_text="one statement's change, not yet folded into its key's merged row"
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["tenant", "day", "channel", "priority", "category", "team_id"],
                include=("tickets", "finished"),
                name="ticketday_key",
            ),
            models.Index(fields=["id"], condition=models.Q(delta=True), name="ticketday_deltas"),
        ]

    def __str__(self) -> str:
        return f"{self.day}: {self.tickets} tickets"
