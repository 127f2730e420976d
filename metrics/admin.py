"""The tenant's health ranges in the admin (managers and admins): one row per metric whose seeds' range it
overrides; deleting a row goes back to the seeds'. Writes go through the workflows. Also the CSAT responses (read
only) and the 30-day escalation audit (metrics/audit.py) as a page with its CSV download."""

from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils import timezone

from helpdesk import workflows
from helpdesk.admin import TenantScopedAdmin, tenant_admin_site
from metrics import audit
from metrics.health import DEFAULTS
from metrics.models import CsatResponse, EscalationAudit, HealthThreshold
from metrics.period import PeriodError, parse


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


AUDIT_SHOWN = 200


@admin.register(EscalationAudit, site=tenant_admin_site)
class EscalationAuditAdmin(TenantScopedAdmin):
    """The seeds' 30-day audit as a page (the recurring issue types, then the escalations) with its CSV: the same
    report as GET /api/v1/metrics/escalations/audit/, for the period's `start` and `end` (local days)."""

    allow_add = False
    allow_change = False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        tenant = request.principal.tenant
        params = request.GET.copy()
        wants_csv = params.pop("format", [""])[-1] == "csv"
        errors = {}
        try:
            query = parse(params, tenant=tenant, now=timezone.now())
        except PeriodError as exc:
            errors, query = exc.fields, parse({}, tenant=tenant, now=timezone.now())
        summary = audit.recurring_issue_types(query, tenant_id=tenant.pk)
        if wants_csv and not errors:
            return audit.csv_response(query, summary, audit.audit_rows(query, tenant=tenant))
        rows = []
        for row in audit.audit_rows(query, tenant=tenant):
            rows.append(row)
            if len(rows) == AUDIT_SHOWN:
                break
        context = {
            **self.admin_site.each_context(request),
            "title": "Escalation audit",
            "opts": self.model._meta,
            "query": query,
            "summary": summary,
            "rows": rows,
            "shown": AUDIT_SHOWN,
            "errors": errors,
            "csv_query": urlencode({"start": query.start_day, "end": query.end_day, **query.filters, "format": "csv"}),
        }
        return TemplateResponse(request, "admin/metrics/escalation_audit.html", context, status=400 if errors else 200)
