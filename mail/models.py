"""E-mail: a tenant's addresses and sender identity, its IMAP mailboxes, and a record of every mail in and out.

A MailRecord is kept for each mail that reached us (whatever became of it) and for each one we sent: its
Message-ID is unique per tenant, which is what makes a second delivery of the same mail one message and
what threads a customer's reply to the ticket our mail came from.
"""

from __future__ import annotations

from django.db import models

from helpdesk.models import Team
from helpdesk.tenancy import TenantModel
from helpdesk.validation import clean_or_raise


class ClosedReply(models.TextChoices):
    FOLLOW_UP = "follow_up", "open a follow-up ticket linked to it"
    REOPEN = "reopen", "reopen it"


class MailSetup(TenantModel):
    """The tenant's sender identity and inbound rules (one per tenant)."""

    from_address = models.EmailField(max_length=254, help_text="the From of the mail we send")
    from_name = models.CharField(max_length=100, blank=True, help_text="the display name beside it")
    closed_reply = models.CharField(max_length=16, choices=ClosedReply.choices, default=ClosedReply.FOLLOW_UP)
    sender_limit_per_hour = models.PositiveIntegerField(
        default=30, help_text="mails one sender may open or add per hour; more are ignored (a mail storm)"
    )
    # SHA-256 of the provider webhook's basic-auth "user:password": checked, never shown again.
    webhook_secret_hash = models.CharField(max_length=64, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="mailsetup_one_per_tenant")]

    def __str__(self) -> str:
        return f"{self.from_name} <{self.from_address}>" if self.from_name else self.from_address

    def clean(self):
        from mail.validation import setup_problems

        clean_or_raise(self, setup_problems)


class InboundAddress(TenantModel):
    """support@, billing@, legal@ …: mail to it opens tickets for its team and category. An address belongs to
    one tenant only (unique across tenants): the provider webhooks and mailboxes find the tenant by it."""

    address = models.EmailField(max_length=254, unique=True)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    category = models.SlugField(max_length=50, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "active"], name="inboundaddress_tenant_active")]
        verbose_name_plural = "inbound addresses"

    def __str__(self) -> str:
        return self.address

    def clean(self):
        from mail.validation import address_problems

        clean_or_raise(self, address_problems)


class Mailbox(TenantModel):
    """An IMAP mailbox the poller reads (fetch_mail, the beat task). `uidvalidity`/`last_uid` say what was read:
    a message counts as read only once its ticket committed."""

    name = models.CharField(max_length=100)
    host = models.CharField(max_length=253)
    port = models.PositiveIntegerField(default=993)
    use_ssl = models.BooleanField(default=True, help_text="IMAPS (port 993); off only for a local test server")
    username = models.CharField(max_length=254)
    password_encrypted = models.TextField(help_text="Fernet token of the password")
    folder = models.CharField(max_length=200, default="INBOX")
    address = models.ForeignKey(
        InboundAddress, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="the address its mail was sent to, when the headers don't say (team and category)",
    )  # fmt: skip
    uidvalidity = models.BigIntegerField(null=True, blank=True, editable=False)
    last_uid = models.BigIntegerField(default=0, editable=False)
    active = models.BooleanField(default=True)
    last_polled_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="mailbox_unique_name")]
        verbose_name_plural = "mailboxes"

    def __str__(self) -> str:
        return f"{self.name} ({self.username}@{self.host})"

    def clean(self):
        from mail.validation import mailbox_problems

        clean_or_raise(self, mailbox_problems)


class Direction(models.TextChoices):
    IN = "in"
    OUT = "out"


class Outcome(models.TextChoices):
    CREATED = "created"
    APPENDED = "appended"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    SENT = "sent"


class MailRecord(TenantModel):
    """One mail, in or out. Inbound: the original as received (raw), what became of it (outcome, reason) and
    its flags — `auto` (an auto-reply or a bounce: never a ticket, never answered) and `forged` (From is not
    a party of the thread it claims: kept as an internal note, not counted as the customer's)."""

    direction = models.CharField(max_length=3, choices=Direction.choices)
    # As sent (angle brackets stripped); one longer than 250 is stored as its SHA-256 (mail/parsing.py).
    mail_id = models.CharField("Message-ID", max_length=255)
    ticket = models.ForeignKey("tickets.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    message = models.ForeignKey("tickets.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    from_address = models.CharField(max_length=254, blank=True)
    to_address = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    reason = models.CharField(max_length=200, blank=True)
    auto = models.BooleanField(default=False)
    forged = models.BooleanField(default=False)
    source = models.CharField(max_length=40, blank=True, help_text="raw, a provider's name, or imap:<mailbox id>")
    raw = models.BinaryField(editable=False)
    skipped_attachments = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "mail_id"], name="mailrecord_unique_message_id")]
        indexes = [
            models.Index(fields=["tenant", "ticket", "created_at"], name="mailrecord_tenant_ticket"),
            models.Index(fields=["tenant", "from_address", "-created_at"], name="mailrecord_tenant_from"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.mail_id} ({self.outcome})"
