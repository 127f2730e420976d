"""Admin of the tickets app, registered into the tenant-aware site (helpdesk/admin.py).

Writes that the services own go through them, so the admin leaves the same audit trail as the API:
opening a ticket, changing its status/priority/assignee/team/tags/category (and subject, tier),
posting a message, recording a resolution attempt. Messages, attempts and events are history: they
are added, never edited; nothing here is deleted (tickets and the append-only audit refer to it).
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from helpdesk import workflows
from helpdesk.admin import TenantModelForm, TenantScopedAdmin, adopt, tenant_admin_site
from helpdesk.auth import Principal
from tickets.errors import TicketError
from tickets.models import Account, AuthorType, Customer, Message, ResolutionAttempt, Ticket, TicketEvent
from tickets.validation import check_status_change, normalise_email

BODY_EXCERPT_CHARS = 80


@admin.register(Account, site=tenant_admin_site)
class AccountAdmin(TenantScopedAdmin):
    list_display = ("name", "plan", "vip", "annual_contract_value", "customer_since", "account_manager")
    list_select_related = ("account_manager__user",)
    list_filter = ("plan", "vip")
    search_fields = ("name",)
    ordering = ("name",)
    fields = (
        "name",
        "plan",
        "vip",
        "annual_contract_value",
        "lifetime_value",
        "customer_since",
        "account_manager",
        "created_at",
    )
    readonly_fields = ("created_at",)

    def save_model(self, request, obj, form, change):
        values = {name: getattr(obj, name) for name in form.changed_data if name in form.fields}
        if change:
            workflows.account_update(account=obj, actor=request.principal, **values)
        else:
            values = {name: getattr(obj, name) for name in form.fields}
            adopt(obj, workflows.account_create(tenant=request.principal.tenant, actor=request.principal, **values))


class CustomerForm(TenantModelForm):
    # No Meta here: a ModelForm class with a foreign key builds its choices when the class is made, and
    # the scoped manager has no tenant at import time. The admin adds the Meta per request.

    def clean_email(self):
        # Stored lower-cased, as the services do, so the per-tenant unique check is case-insensitive.
        return normalise_email(self.cleaned_data["email"])


@admin.register(Customer, site=tenant_admin_site)
class CustomerAdmin(TenantScopedAdmin):
    form = CustomerForm
    list_display = ("email", "name", "phone", "account")
    list_select_related = ("account",)
    search_fields = ("email", "name")
    ordering = ("email",)
    autocomplete_fields = ("account",)
    fields = ("email", "name", "phone", "account", "created_at")
    readonly_fields = ("created_at",)

    def save_model(self, request, obj, form, change):
        if change:
            values = {name: getattr(obj, name) for name in form.changed_data if name in form.fields}
            workflows.customer_update(customer=obj, actor=request.principal, **values)
        else:
            values = {name: getattr(obj, name) for name in form.fields}
            adopt(obj, workflows.customer_create(tenant=request.principal.tenant, actor=request.principal, **values))


# --- tickets ------------------------------------------------------------------------------------


class TicketAddForm(TenantModelForm):
    requester_email = forms.EmailField(label="requester email")
    requester_name = forms.CharField(label="requester name", max_length=200, required=False)

    class Meta:
        model = Ticket
        fields = ("subject", "description", "priority", "channel", "category", "tags")


class TicketChangeForm(TenantModelForm):
    """Refuses, as a form error, the changes the services would refuse (see tickets.services)."""

    principal: Principal | None = None  # set per request by TicketAdmin.get_form

    def clean_status(self):
        status = self.cleaned_data["status"]
        # The services' own check (tickets/validation.py) on the stored ticket: the instance is updated only
        # after cleaning.
        try:
            check_status_change(ticket=self.instance, status=status, actor=self.principal)
        except TicketError as exc:
            raise forms.ValidationError(str(exc)) from None
        return status


TICKET_ADD_FIELDS = ("subject", "description", "requester_email", "requester_name", "priority", "channel")
TICKET_STATE_FIELDS = (
    "sentiment",
    "escalated",
    "escalation_count",
    "follow_up_count",
    "exchange_count",
    "failed_attempt_count",
    "last_author_type",
    "first_response_at",
    "last_customer_message_at",
    "last_agent_reply_at",
    "solved_at",
    "closed_at",
    "created_at",
    "updated_at",
)


@admin.register(Ticket, site=tenant_admin_site)
class TicketAdmin(TenantScopedAdmin):
    form = TicketChangeForm
    list_display = ("id", "subject", "status", "priority", "tier", "assignee", "escalated", "created_at")
    list_display_links = ("id", "subject")
    list_filter = ("status", "priority", "tier", "escalated")
    list_select_related = ("assignee__user",)
    search_fields = ("subject",)
    ordering = ("-created_at", "-id")
    # search_vector is not editable and not shown: it is the full-text index, maintained by the services.
    readonly_fields = ("requester", "account", "channel", "description", *TICKET_STATE_FIELDS, "audit_trail")
    fieldsets = (
        (None, {"fields": ("subject", "status", "priority", "tier", "category", "tags", "assignee", "team")}),
        ("Requester", {"fields": ("requester", "account", "channel", "description")}),
        ("State", {"fields": TICKET_STATE_FIELDS, "classes": ("collapse",)}),
        ("Audit trail", {"fields": ("audit_trail",)}),
    )
    add_fieldsets = ((None, {"fields": (*TICKET_ADD_FIELDS, "category", "tags")}),)

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = TicketAddForm
        form = super().get_form(request, obj, change, **kwargs)
        form.principal = request.principal  # a fresh class per call, so this stays with this request
        return form

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            # `obj` already carries the new values; the service must compare against the stored row.
            ticket = Ticket.objects.select_for_update().get(pk=obj.pk)
            changes = {name: data[name] for name in form.changed_data}
            ticket = workflows.ticket_update(ticket=ticket, actor=request.principal, **changes)
        else:
            ticket = workflows.ticket_open(
                tenant=request.principal.tenant,
                actor=request.principal,
                subject=data["subject"],
                description=data["description"],
                requester_email=data["requester_email"],
                requester_name=data["requester_name"],
                priority=data["priority"],
                channel=data["channel"],
                category=data["category"],
                tags=data["tags"],
            )
        adopt(obj, ticket)

    @admin.display(description="events")
    def audit_trail(self, obj: Ticket):
        events = obj.events.order_by("created_at", "id")
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (e.created_at.isoformat(timespec="seconds"), e.kind, e.actor_label, _json(e.before), _json(e.after))
                for e in events
            ),
        )
        header = mark_safe("<tr><th>at</th><th>kind</th><th>by</th><th>before</th><th>after</th></tr>")
        return format_html("<table>{}{}</table>", header, rows)


def _json(value: dict) -> str:
    return json.dumps(value, sort_keys=True, default=str) if value else ""


# --- conversation and history -------------------------------------------------------------------


class HistoryAdmin(TenantScopedAdmin):
    """Rows that record what happened: added (through the services), read, never edited."""

    allow_change = False
    add_fields: tuple[str, ...] = ()
    autocomplete_fields = ("ticket",)
    list_select_related = ("ticket",)
    ordering = ("-created_at", "-id")

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else self.fields


@admin.register(Message, site=tenant_admin_site)
class MessageAdmin(HistoryAdmin):
    list_display = ("id", "ticket", "author_type", "internal", "excerpt", "created_at")
    list_filter = ("author_type", "internal")
    fields = ("ticket", "author_type", "author", "body", "internal", "sentiment", "created_at")
    add_fields = ("ticket", "author_type", "body", "internal")

    @admin.display(description="body")
    def excerpt(self, obj: Message) -> str:
        return Truncator(obj.body).chars(BODY_EXCERPT_CHARS)

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "author_type":
            # System messages come from the rules, not from a person in the admin.
            kwargs["choices"] = [(AuthorType.CUSTOMER, "Customer"), (AuthorType.AGENT, "Agent")]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        ticket = Ticket.objects.select_for_update().get(pk=data["ticket"].pk)
        message = workflows.message_receive(
            ticket=ticket,
            actor=request.principal,
            body=data["body"],
            author_type=data["author_type"],
            internal=data["internal"],
        )
        adopt(obj, message)


@admin.register(ResolutionAttempt, site=tenant_admin_site)
class ResolutionAttemptAdmin(HistoryAdmin):
    list_display = ("id", "ticket", "tier", "outcome", "actor", "created_at")
    list_filter = ("outcome", "tier")
    list_select_related = ("ticket", "actor__user")
    fields = ("ticket", "tier", "outcome", "note", "actor", "created_at")
    add_fields = ("ticket", "tier", "outcome", "note")

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        ticket = Ticket.objects.select_for_update().get(pk=data["ticket"].pk)
        attempt = workflows.attempt_record(
            ticket=ticket, actor=request.principal, outcome=data["outcome"], tier=data["tier"], note=data["note"]
        )
        adopt(obj, attempt)


@admin.register(TicketEvent, site=tenant_admin_site)
class TicketEventAdmin(HistoryAdmin):
    """The append-only audit trail (a database trigger refuses UPDATE and DELETE): read-only here."""

    allow_add = False
    list_display = ("id", "ticket", "kind", "actor_label", "created_at")
    list_filter = ("kind",)
    fields = ("ticket", "kind", "actor_label", "actor", "before", "after", "created_at")
    readonly_fields = fields
