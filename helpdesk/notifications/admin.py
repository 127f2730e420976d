"""Notifications in the tenant admin (managers): channels, templates, webhooks (admins edit them), and
the delivery log with a "retry now" action for failed and dead-lettered deliveries."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from helpdesk import workflows
from helpdesk.admin import TenantInline, TenantModelForm, TenantScopedAdmin, principal_has_role, tenant_admin_site
from helpdesk.models import Role
from helpdesk.notifications import channel_urls, validation
from helpdesk.notifications.models import (
    WEBHOOK_EVENTS,
    Delivery,
    DeliveryAttempt,
    NotificationChannel,
    NotificationTemplate,
    WebhookSubscription,
)

MSG_RETRIED = "{count} deliver(ies) queued for a new attempt now."
HELP_URL_KEPT = "Stored encrypted and never shown. Leave empty to keep the stored URL."


class ChannelForm(TenantModelForm):
    url = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.PasswordInput(render_value=False),
        help_text="An apprise URL of the channel's kind. " + channel_urls.help_text() + " " + HELP_URL_KEPT,
    )

    class Meta:
        model = NotificationChannel
        fields = ("name", "kind", "url", "events", "recipients", "digest_minutes", "active")

    def clean(self):
        data = super().clean()
        self.instance.kind = data.get("kind") or self.instance.kind
        try:  # the check channel_save makes: a stored URL that no longer passes must be entered again
            validation.channel_url_check(channel=self.instance, url=data.get("url") or None)
        except validation.NotificationInputError as exc:
            self.add_error("url", exc.fields["url"][0])
        return data


@admin.register(NotificationChannel, site=tenant_admin_site)
class NotificationChannelAdmin(TenantScopedAdmin):
    form = ChannelForm
    secret_fields = ("url_encrypted",)
    list_display = ("name", "kind", "event_list", "digest_minutes", "active")
    list_filter = ("kind", "active")
    allow_delete = True

    @admin.display(description="events")
    def event_list(self, obj: NotificationChannel) -> str:
        return ", ".join(obj.events) or "all"

    def save_model(self, request, obj, form, change):
        if not change:
            obj.tenant = request.principal.tenant
        workflows.channel_save(channel=obj, actor=request.principal, url=form.cleaned_data.get("url") or None)


class TemplateForm(TenantModelForm):
    class Meta:
        model = NotificationTemplate
        fields = ("event_type", "subject", "body", "recipients", "active")

    def clean(self):
        data = super().clean()
        try:
            validation.template_check(subject=data.get("subject") or "", body=data.get("body") or "")
        except validation.NotificationInputError as exc:
            for field, errors in exc.fields.items():
                self.add_error(field, errors[0])
        return data


@admin.register(NotificationTemplate, site=tenant_admin_site)
class NotificationTemplateAdmin(TenantScopedAdmin):
    form = TemplateForm
    list_display = ("event_type", "subject", "active")
    list_filter = ("active",)
    ordering = ("event_type",)
    allow_delete = True

    def save_model(self, request, obj, form, change):
        if not change:
            obj.tenant = request.principal.tenant
        workflows.template_save(template=obj, actor=request.principal)


class WebhookForm(TenantModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")
    secret = forms.CharField(
        required=False,
        min_length=16,
        max_length=200,
        widget=forms.PasswordInput(render_value=False),
        help_text="The HMAC key (16+ characters). Write-only: never shown; leave empty to keep the stored one.",
    )
    events = forms.MultipleChoiceField(choices=[(e, e) for e in WEBHOOK_EVENTS], widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookSubscription
        fields = ("url", "events", "active")

    def clean(self):
        data = super().clean()
        if self.instance._state.adding and not data.get("secret"):
            self.add_error("secret", "A secret is required for a new subscription.")
        if "url" in self.changed_data and data.get("url"):
            try:
                validation.check_webhook_url(data["url"])
            except validation.NotificationInputError as exc:
                self.add_error("url", exc.fields["url"][0])
        return data


@admin.register(WebhookSubscription, site=tenant_admin_site)
class WebhookSubscriptionAdmin(TenantScopedAdmin):
    """Managers see subscriptions and their deliveries; only admins add or change them (as in the API)."""

    form = WebhookForm
    secret_fields = ("secret_encrypted",)
    list_display = ("url", "event_list", "active", "created_at")
    list_filter = ("active",)
    allow_delete = True

    @admin.display(description="events")
    def event_list(self, obj: WebhookSubscription) -> str:
        return ", ".join(obj.events)

    def has_add_permission(self, request, obj=None) -> bool:
        return principal_has_role(request, Role.ADMIN)

    def has_change_permission(self, request, obj=None) -> bool:
        return principal_has_role(request, Role.ADMIN)

    def has_delete_permission(self, request, obj=None) -> bool:
        return principal_has_role(request, Role.ADMIN)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            changes = {"url": data["url"], "events": data["events"], "active": data["active"]}
            workflows.webhook_update(
                subscription=obj, actor=request.principal, secret=data.get("secret") or "", **changes
            )
            return
        created = workflows.webhook_create(
            tenant=request.principal.tenant,
            actor=request.principal,
            url=data["url"],
            events=data["events"],
            secret=data["secret"],
            active=data["active"],
        )
        obj.pk, obj.tenant_id, obj._state.adding = created.pk, created.tenant_id, False


class AttemptInline(TenantInline, admin.TabularInline):
    model = DeliveryAttempt
    fields = ("number", "started_at", "ok", "status_code", "latency_ms", "error")
    readonly_fields = fields
    extra = 0
    allow_add = False
    allow_change = False
    can_delete = False


@admin.register(Delivery, site=tenant_admin_site)
class DeliveryAdmin(TenantScopedAdmin):
    """The delivery log. Dead-lettered deliveries (retried for the whole window) and failed ones wait
    here for a person: fix the receiver, then "Retry now"."""

    allow_add = False
    allow_change = False
    list_display = (
        "created_at",
        "event_type",
        "destination",
        "status",
        "attempts",
        "last_status_code",
        "last_latency_ms",
        "next_attempt_at",
    )
    list_filter = ("status", "event_type", "webhook", "channel")
    search_fields = ("destination", "delivery_id")
    ordering = ("-created_at", "-id")
    list_select_related = ("webhook", "channel")
    readonly_fields = (
        "delivery_id",
        "event_type",
        "destination",
        "status",
        "attempts",
        "next_attempt_at",
        "digest_until",
        "created_at",
        "retry_from",
        "delivered_at",
        "last_status_code",
        "last_latency_ms",
        "last_error",
    )
    fields = readonly_fields
    inlines = (AttemptInline,)
    actions = ("retry_now",)

    @admin.action(description="Retry now")
    def retry_now(self, request, queryset):
        count = workflows.deliveries_retry_now(
            actor=request.principal, delivery_ids=list(queryset.values_list("pk", flat=True))
        )
        self.message_user(request, MSG_RETRIED.format(count=count), messages.SUCCESS)
