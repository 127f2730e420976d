"""SLA settings in the managers' admin: calendars (validated by the clock itself), policies with a
deadline preview, and the timers, read-only. Saving a calendar or policy recalculates running clocks."""

from zoneinfo import ZoneInfo

from django.contrib import admin
from django.db.models import Q
from django.utils import timezone
from django.utils.html import format_html_join

from helpdesk import workflows
from helpdesk.admin import TenantScopedAdmin, adopt, tenant_admin_site
from slas import admin_forms, clock
from slas.models import BusinessCalendar, SLAPolicy, SlaTimer, calendar_to_clock

PREVIEW_LIMIT_MINUTES = 366 * 24 * 60


@admin.register(BusinessCalendar, site=tenant_admin_site)
class BusinessCalendarAdmin(TenantScopedAdmin):
    form = admin_forms.CalendarAdminForm
    fields = [
        "name",
        "timezone",
        "hours",
        "holidays",
        "country",
        "subdivision",
        "always_open",
        "team",
        "account",
        "active",
    ]
    list_display = ["name", "timezone", "always_open", "country", "team", "account", "active"]
    list_filter = ["active"]
    list_select_related = ["team", "account"]
    search_fields = ["name"]

    def save_model(self, request, obj, form, change):
        # Validated by the form through BusinessCalendar.clean(); stored (and its clocks recomputed) by the
        # same workflow as the API's.
        if change:
            workflows.calendar_update(calendar=obj, actor=request.principal)
        else:
            values = {name: getattr(obj, name) for name in self.fields}
            adopt(obj, workflows.calendar_create(tenant=request.principal.tenant, actor=request.principal, **values))


@admin.register(SLAPolicy, site=tenant_admin_site)
class SLAPolicyAdmin(TenantScopedAdmin):
    form = admin_forms.PolicyAdminForm
    fieldsets = admin_forms.POLICY_FIELDSETS
    list_display = ["name", "position", "active", "calendar", "clock_source"]
    list_editable = ["position", "active"]
    ordering = ["position", "id"]
    readonly_fields = ["preview"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if "calendar" in form.base_fields:
            # The API's rule (slas.api.OfferedCalendarField): retired calendars are not offered, except the
            # one this policy already has.
            current = obj.calendar_id if obj is not None else None
            form.base_fields["calendar"].queryset = BusinessCalendar.objects.filter(Q(active=True) | Q(pk=current))
        return form

    @admin.display(description="Deadlines for a ticket created now")
    def preview(self, obj: SLAPolicy) -> str:
        if obj is None or obj.pk is None:
            return "Save the policy to see its deadlines."
        now = timezone.now()
        calendar = calendar_to_clock(obj.calendar)
        zone = ZoneInfo(obj.calendar.timezone)
        rows = [
            (metric, minutes, f"{clock.deadline(now, minutes, calendar).astimezone(zone):%a %d %b %Y %H:%M %Z}")
            for metric, minutes in sorted(obj.targets.items())
            if isinstance(minutes, int) and 0 < minutes <= PREVIEW_LIMIT_MINUTES
        ]
        return format_html_join("", "<div><b>{}</b> ({} min): {}</div>", rows) or "No targets."

    def save_model(self, request, obj, form, change):
        if change:
            workflows.policy_update(policy=obj, actor=request.principal)
        else:
            values = {name: getattr(obj, name) for name in admin_forms.POLICY_STORED_FIELDS}
            adopt(obj, workflows.policy_create(tenant=request.principal.tenant, actor=request.principal, **values))


@admin.register(SlaTimer, site=tenant_admin_site)
class SlaTimerAdmin(TenantScopedAdmin):
    allow_add = False
    allow_change = False
    list_display = ["ticket", "metric", "status", "target_minutes", "due_at", "breached_at", "met_at"]
    list_filter = ["status", "metric"]
    list_select_related = ["ticket"]
    readonly_fields = [f.name for f in SlaTimer._meta.fields]
