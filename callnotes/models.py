"""Calls and their notes: call-note templates (versioned), calls (requested by a rule or a person, scheduled,
held, completed), the structured notes of a call, action items, attachments (artifacts), the agents'
calendar feeds and the knowledge index of resolved cases."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models

from escalation.models import Escalation
from helpdesk.models import Membership
from helpdesk.tenancy import TenantModel
from helpdesk.validation import clean_or_raise
from tickets.models import Message, Ticket

SECTIONS = ("pre_call", "live", "post_call")
MAX_CALL_MINUTES = 8 * 60  # a call longer than a working day is a typo
MAX_ATTENDEES = 50


class FieldType(models.TextChoices):
    TEXT = "text"
    LIST = "list"
    CHOICE = "choice"
    LINK = "link"
    ARTIFACT = "artifact"


class Required(models.TextChoices):
    NO = "", "not required"
    SCHEDULING = "scheduling", "before the call is scheduled"
    COMPLETION = "completion", "before the call is completed"


class Visibility(models.TextChoices):
    INTERNAL = "internal"
    CUSTOMER = "customer", "customer-facing"


class CallNoteTemplate(TenantModel):
    """The structure of a call's notes: per section (pre_call, live, post_call) a list of fields
    `{"key", "label", "type", "required", "visibility", "choices"}`. Editing the fields raises `version`;
    a note keeps the fields and version it was written with (CallNote.fields, template_version)."""

    name = models.CharField(max_length=100)
    sections = models.JSONField(default=dict)
    version = models.PositiveIntegerField(default=1)
    is_default = models.BooleanField(default=False, help_text="used when a call names no template")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="callnotetemplate_unique_name"),
            models.UniqueConstraint(
                fields=["tenant"], condition=models.Q(is_default=True), name="callnotetemplate_one_default"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})"

    def clean(self):
        # The one validation of a template (callnotes/validation.py); forms reach it through full_clean.
        from callnotes.validation import template_problems

        clean_or_raise(self, template_problems)


class CallStatus(models.TextChoices):
    REQUESTED = "requested"  # suggested by a rule or a person, not scheduled yet
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


# A call that holds its agent's time: the double-booking check looks at these.
BOOKED_STATUSES = (CallStatus.SCHEDULED, CallStatus.IN_PROGRESS)
OPEN_STATUSES = (CallStatus.REQUESTED, CallStatus.SCHEDULED, CallStatus.IN_PROGRESS)


class Call(TenantModel):
    """A call about a ticket, usually on one of its escalations. Times are stored in UTC; `timezone` is the
    customer's zone (the tenant's when unknown), in which invites and pages also show the window."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="calls")
    escalation = models.ForeignKey(Escalation, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls")
    status = models.CharField(max_length=16, choices=CallStatus.choices, default=CallStatus.REQUESTED)
    template = models.ForeignKey(CallNoteTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # Why a call was suggested: the rule's slug (or "manual") and the facts that fired it.
    suggested_trigger = models.CharField(max_length=60, blank=True)
    suggested_reason = models.TextField(blank=True)
    scheduled_start = models.DateTimeField(null=True, blank=True)
    duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    timezone = models.CharField(max_length=64, blank=True, help_text="the customer's time zone")
    agent = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    routing = models.CharField(max_length=300, blank=True, help_text="how the agent was chosen")
    attendees = ArrayField(models.EmailField(max_length=254), default=list, blank=True)
    stakeholders = ArrayField(models.BigIntegerField(), default=list, blank=True, help_text="member ids")
    # The invite's identity (RFC 5545): the UID never changes; each reschedule or cancel raises SEQUENCE.
    uid = models.UUIDField(default=uuid.uuid4, editable=False)
    sequence = models.PositiveIntegerField(default=0)
    reminder_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField()
    scheduled_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True)
    # Escalation created -> call started, for the metrics (handoff delay).
    handoff_seconds = models.PositiveIntegerField(null=True, blank=True)
    root_cause = models.CharField(max_length=300, blank=True)
    resolution = models.TextField(blank=True)
    customer_summary = models.TextField(blank=True)
    summary_sent_at = models.DateTimeField(null=True, blank=True)
    summary_approved_by = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "-created_at", "-id"], name="call_tenant_created"),
            models.Index(fields=["tenant", "ticket", "status"], name="call_tenant_ticket"),
            models.Index(fields=["tenant", "agent", "scheduled_start"], name="call_tenant_agent_start"),
            models.Index(
                fields=["reminder_due_at"], name="call_reminder_due", condition=models.Q(reminder_due_at__isnull=False)
            ),
        ]
        constraints = [
            # One open request per escalation, whoever asks (a rule and a person at once included).
            models.UniqueConstraint(
                fields=["tenant", "escalation"],
                condition=models.Q(status="requested"),
                name="call_one_request_per_escalation",
            ),
            models.CheckConstraint(
                condition=models.Q(duration_minutes__isnull=True)
                | models.Q(duration_minutes__gte=1, duration_minutes__lte=MAX_CALL_MINUTES),
                name="call_duration_range",
            ),
        ]

    def __str__(self) -> str:
        return f"call #{self.pk} on ticket {self.ticket_id} ({self.status})"

    @property
    def scheduled_end(self):
        if self.scheduled_start is None or self.duration_minutes is None:
            return None
        from datetime import timedelta

        return self.scheduled_start + timedelta(minutes=self.duration_minutes)


class CallNote(TenantModel):
    """The notes of one call, in the template's three sections. `fields` is the template's field list as it
    was when the note was opened, with its `template_version`: a template edited later leaves it alone."""

    call = models.OneToOneField(Call, on_delete=models.CASCADE, related_name="note")
    template = models.ForeignKey(CallNoteTemplate, on_delete=models.PROTECT, related_name="+")
    template_version = models.PositiveIntegerField()
    fields = models.JSONField(default=dict)
    values = models.JSONField(default=dict)
    # The pre-call brief as drafted when the note was opened (thread summary, attempts, escalations, ...).
    brief = models.JSONField(default=dict)
    # A transcript's draft of the live notes, waiting for a person to review it; never sent anywhere.
    live_draft = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField()
    updated_by = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "call"], name="callnote_unique_call")]


class ActionItemStatus(models.TextChoices):
    OPEN = "open"
    DONE = "done"


class ActionItem(TenantModel):
    """A follow-up a call agreed on: who does what by when. Listed on the ticket until done; its owner is
    reminded on the due date (reminder_due_at, claimed by the sweep)."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="action_items")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    description = models.CharField(max_length=1000)
    owner = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    due = models.DateField()
    status = models.CharField(max_length=8, choices=ActionItemStatus.choices, default=ActionItemStatus.OPEN)
    reminder_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "ticket", "status"], name="actionitem_tenant_ticket"),
            models.Index(fields=["tenant", "owner", "status", "due"], name="actionitem_tenant_owner"),
            models.Index(
                fields=["reminder_due_at"],
                name="actionitem_reminder_due",
                condition=models.Q(reminder_due_at__isnull=False),
            ),
        ]


class Attachment(TenantModel):
    """An artifact (log, screenshot, document) on a ticket, optionally on one of its messages or calls.
    Stored through Django's storage API under a name we make (never the uploader's), served only to members
    of the tenant, as a download."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    call = models.ForeignKey(Call, null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments")
    file = models.FileField(max_length=300)
    name = models.CharField(max_length=255, help_text="the uploader's file name, shown, never used as a path")
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    uploaded_by_label = models.CharField(max_length=200)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["tenant", "ticket", "created_at"], name="attachment_tenant_ticket")]


class CalendarFeed(TenantModel):
    """A member's private calendar URL (their calls, for their own calendar app). Only a hash of the key
    is stored; revoking it ends the URL."""

    member = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "member"], name="calendarfeed_tenant_member")]


class KnowledgeKind(models.TextChoices):
    TICKET = "ticket", "resolved ticket"
    CALL = "call", "call summary"


class KnowledgeEntry(TenantModel):
    """A resolved case, searchable: a solved ticket or a completed call, with its root cause and resolution
    weighted highest in the full-text document."""

    kind = models.CharField(max_length=8, choices=KnowledgeKind.choices)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    call = models.ForeignKey(Call, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=500)
    category = models.SlugField(max_length=50, blank=True)
    root_cause = models.CharField(max_length=500, blank=True)
    resolution = models.TextField(blank=True)
    tags = ArrayField(models.SlugField(max_length=50), default=list, blank=True)
    resolved_by = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    resolved_at = models.DateTimeField()
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        verbose_name_plural = "knowledge entries"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "ticket"], condition=models.Q(kind="ticket"), name="knowledge_one_per_ticket"
            ),
            models.UniqueConstraint(
                fields=["tenant", "call"], condition=models.Q(kind="call"), name="knowledge_one_per_call"
            ),
        ]
        indexes = [
            GinIndex(fields=["search_vector"], name="knowledge_search"),
            models.Index(fields=["tenant", "-resolved_at"], name="knowledge_tenant_resolved"),
        ]
