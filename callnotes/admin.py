"""Calls in the managers' admin: call-note templates to edit (validated by the template's own check, stored
by the same workflow as the API's: editing the fields raises the version), calls, action items, attachments
and knowledge to read, calendar feeds to revoke."""

from django.contrib import admin, messages

from callnotes.models import ActionItem, Attachment, CalendarFeed, Call, CallNoteTemplate, KnowledgeEntry
from helpdesk import workflows
from helpdesk.admin import TenantScopedAdmin, adopt, tenant_admin_site

MSG_TEMPLATES = "{deleted} template(s) removed, {retired} retired (in use: kept for history)."


@admin.register(CallNoteTemplate, site=tenant_admin_site)
class CallNoteTemplateAdmin(TenantScopedAdmin):
    fields = ["name", "sections", "is_default", "active", "version"]
    readonly_fields = ["version"]
    list_display = ["name", "version", "is_default", "active", "updated_at"]
    list_filter = ["active"]
    actions = ["remove_or_retire"]

    def save_model(self, request, obj, form, change):
        # The form validated the sections through CallNoteTemplate.clean(); the workflow stores them with the
        # same check and raises the version when the fields changed (open notes keep theirs).
        if change:
            workflows.call_template_update(template=obj, actor=request.principal)
        else:
            values = {name: getattr(obj, name) for name in ("name", "sections", "is_default", "active")}
            tenant = request.principal.tenant
            adopt(obj, workflows.call_template_create(tenant=tenant, actor=request.principal, **values))

    @admin.action(description="Remove (or retire, if in use) the selected templates")
    def remove_or_retire(self, request, queryset):
        outcomes = [workflows.call_template_delete(template=t, actor=request.principal) for t in queryset]
        text = MSG_TEMPLATES.format(deleted=outcomes.count("deleted"), retired=outcomes.count("retired"))
        self.message_user(request, text, messages.SUCCESS)


class ReadOnlyAdmin(TenantScopedAdmin):
    allow_add = False
    allow_change = False


@admin.register(Call, site=tenant_admin_site)
class CallAdmin(ReadOnlyAdmin):
    list_display = ["id", "ticket", "status", "agent", "scheduled_start", "duration_minutes", "suggested_trigger"]
    list_filter = ["status", "suggested_trigger"]
    list_select_related = ["ticket", "agent__user"]
    ordering = ["-created_at"]


@admin.register(ActionItem, site=tenant_admin_site)
class ActionItemAdmin(ReadOnlyAdmin):
    list_display = ["description", "owner", "due", "status", "ticket", "call"]
    list_filter = ["status"]
    list_select_related = ["owner__user", "ticket"]
    ordering = ["due", "id"]
    actions = ["mark_done"]

    @admin.action(description="Mark the selected action items done")
    def mark_done(self, request, queryset):
        for item in queryset:
            workflows.action_item_done(item=item, actor=request.principal)
        self.message_user(request, f"{queryset.count()} action item(s) done.", messages.SUCCESS)


@admin.register(Attachment, site=tenant_admin_site)
class AttachmentAdmin(ReadOnlyAdmin):
    list_display = ["name", "content_type", "size", "ticket", "call", "uploaded_by_label", "created_at"]
    exclude = ["file"]  # downloads go through the API (attachment, nosniff), never a media URL
    ordering = ["-created_at"]


@admin.register(CalendarFeed, site=tenant_admin_site)
class CalendarFeedAdmin(ReadOnlyAdmin):
    list_display = ["member", "prefix", "created_at", "revoked_at"]
    exclude = ["key_hash"]
    actions = ["revoke"]

    @admin.action(description="Revoke the selected calendar feeds")
    def revoke(self, request, queryset):
        for feed in queryset.filter(revoked_at=None).select_related("member"):
            workflows.calendar_feed_revoke(member=feed.member, actor=request.principal)
        self.message_user(request, "Revoked.", messages.SUCCESS)


@admin.register(KnowledgeEntry, site=tenant_admin_site)
class KnowledgeEntryAdmin(ReadOnlyAdmin):
    list_display = ["title", "kind", "root_cause", "resolved_by", "resolved_at"]
    list_filter = ["kind"]
    search_fields = ["title", "root_cause", "resolution"]
    ordering = ["-resolved_at"]
