"""The e-mail set-up in the tenant's admin (admins): the sender identity, inbound addresses, IMAP mailboxes;
and the mail records, read only. Writes go through helpdesk.workflows; the models' clean() is the one
validation (mail/validation.py)."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from helpdesk import workflows
from helpdesk.admin import TenantModelForm, TenantScopedAdmin, tenant_admin_site
from helpdesk.models import Role, Team
from mail.models import InboundAddress, Mailbox, MailRecord, MailSetup

HELP_KEPT = "Leave empty to keep the stored one."


class SetupForm(TenantModelForm):
    webhook_secret = forms.CharField(
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False),
        help_text='The providers\' inbound webhook credential, "user:password" (basic auth). ' + HELP_KEPT,
    )

    class Meta:
        model = MailSetup
        fields = ("from_address", "from_name", "closed_reply", "sender_limit_per_hour", "webhook_secret")


@admin.register(MailSetup, site=tenant_admin_site)
class MailSetupAdmin(TenantScopedAdmin):
    form = SetupForm
    required_role = Role.ADMIN
    secret_fields = ("webhook_secret_hash",)
    list_display = ("from_address", "from_name", "closed_reply", "sender_limit_per_hour")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.tenant = request.principal.tenant
        secret = form.cleaned_data.get("webhook_secret") or None
        workflows.mail_setup_save(setup=obj, actor=request.principal, webhook_secret=secret)


@admin.register(InboundAddress, site=tenant_admin_site)
class InboundAddressAdmin(TenantScopedAdmin):
    required_role = Role.ADMIN
    list_display = ("address", "team", "category", "active")
    list_filter = ("active",)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Team:
            kwargs["queryset"] = Team.objects.all()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.tenant = request.principal.tenant
        workflows.inbound_address_save(address=obj, actor=request.principal)


class MailboxForm(TenantModelForm):
    password = forms.CharField(
        required=False, max_length=500, widget=forms.PasswordInput(render_value=False), help_text=HELP_KEPT
    )
    # The tenant's addresses, read when the form is made (inside the request's tenant), not at import.
    address = forms.ModelChoiceField(queryset=InboundAddress.objects.none(), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["address"].queryset = InboundAddress.objects.all()

    class Meta:
        model = Mailbox
        fields = ("name", "host", "port", "use_ssl", "username", "password", "folder", "address", "active")

    def clean(self):
        data = super().clean()
        if self.instance._state.adding and not data.get("password"):
            self.add_error("password", "A new mailbox needs its password.")
        return data


@admin.register(Mailbox, site=tenant_admin_site)
class MailboxAdmin(TenantScopedAdmin):
    form = MailboxForm
    required_role = Role.ADMIN
    secret_fields = ("password_encrypted",)
    list_display = ("name", "host", "username", "folder", "last_uid", "last_polled_at", "last_error", "active")
    readonly_fields = ("uidvalidity", "last_uid", "last_polled_at", "last_error")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.tenant = request.principal.tenant
        workflows.mailbox_save(mailbox=obj, actor=request.principal, password=form.cleaned_data.get("password") or None)


@admin.register(MailRecord, site=tenant_admin_site)
class MailRecordAdmin(TenantScopedAdmin):
    """What came in and went out, and why a mail made no ticket (ignored: an auto-reply, a bounce, a storm)."""

    required_role = Role.ADMIN
    allow_add = False
    allow_change = False
    secret_fields = ("raw",)
    list_display = ("created_at", "direction", "from_address", "subject", "outcome", "reason", "auto", "forged")
    list_filter = ("direction", "outcome", "auto", "forged")
    search_fields = ("mail_id", "from_address", "subject")
    exclude = ("raw",)
    readonly_fields = ("skipped_attachments",)
