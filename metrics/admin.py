"""The tenant's health ranges in the admin (managers and admins): one row per metric whose seeds' range it
overrides; deleting a row goes back to the seeds'. Writes go through the workflows."""

from django.contrib import admin

from helpdesk import workflows
from helpdesk.admin import TenantScopedAdmin, tenant_admin_site
from metrics.health import DEFAULTS
from metrics.models import CsatResponse, HealthThreshold


@admin.register(HealthThreshold, site=tenant_admin_site)
class HealthThresholdAdmin(TenantScopedAdmin):
    list_display = ("metric", "warn", "bad", "low", "default_range", "updated_at")
    fields = ("metric", "warn", "bad", "low")
    allow_delete = True

    @admin.display(description="seeds' default")
    def default_range(self, obj: HealthThreshold) -> str:
        base = DEFAULTS.get(obj.metric)
        if base is None:
            return "—"
        low = f", warn under {base.low:g}" if base.low is not None else ""
        return f"warn {base.warn:g}, bad {base.bad:g} {base.unit} ({base.direction.replace('_', ' ')}{low})"

    def save_model(self, request, obj, form, change):
        if not change:
            obj.tenant = request.principal.tenant
        workflows.health_threshold_save(threshold=obj, actor=request.principal)

    def delete_model(self, request, obj):
        workflows.health_threshold_delete(threshold=obj, actor=request.principal)

    def delete_queryset(self, request, queryset):
        for threshold in queryset:
            workflows.health_threshold_delete(threshold=threshold, actor=request.principal)


@admin.register(CsatResponse, site=tenant_admin_site)
class CsatResponseAdmin(TenantScopedAdmin):
    """Read-only: scores come from customers (their link) and integrations (the API)."""

    list_display = ("ticket", "score", "source", "created_at")
    list_filter = ("score", "source")
    allow_add = False
    allow_change = False
