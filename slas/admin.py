"""SLA settings in the managers' admin: calendars (validated by the clock itself), policies with a
deadline preview, and the timers, read-only. Saving a calendar or policy recalculates running clocks."""

from zoneinfo import ZoneInfo

from django.contrib import admin
from django.db.models import Q
from django.utils import timezone
from django.utils.html import format_html_join

from helpdesk.admin import TenantModelForm, TenantScopedAdmin, tenant_admin_site
from slas import clock, services
from slas.models import BusinessCalendar, SLAPolicy, SlaTimer
from slas.tasks import recalculate_after_commit

PREVIEW_LIMIT_MINUTES = 366 * 24 * 60


# No Meta on these forms: a Meta naming a foreign key builds its choices at import, outside any tenant.
# The ModelAdmin's `fields` say which fields the form has.
class CalendarForm(TenantModelForm):
    def clean(self):
        data = super().clean()
        try:
            clock.validate(
                clock.Calendar(
                    timezone=data.get("timezone") or "UTC",
                    hours=data.get("hours") or {},
                    holidays=frozenset(data.get("holidays") or []),
                    country=data.get("country") or None,
                    subdivision=data.get("subdivision") or None,
                    always_open=bool(data.get("always_open")),
                )
            )
        except clock.CalendarError as exc:
            field = exc.field.split(".")[0]
            self.add_error(field if field in self.fields else None, exc.message)
        return data


@admin.register(BusinessCalendar, site=tenant_admin_site)
class BusinessCalendarAdmin(TenantScopedAdmin):
    form = CalendarForm
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
    search_fields = ["name"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change:
            recalculate_after_commit(obj.tenant_id, calendar_id=obj.pk)


class PolicyForm(TenantModelForm):
    def clean(self):
        # The API's validation is the one truth about what a policy may say.
        from slas.api import PolicyInput

        data = super().clean()
        probe = {name: data.get(name) for name in ("applies_to", "targets", "warn_percent", "on_hold_pauses")}
        serializer = PolicyInput(
            data={**probe, "name": "-", "calendar": getattr(data.get("calendar"), "pk", None)},
            context={"instance": self.instance if self.instance.pk else None},
        )
        if not serializer.is_valid():
            for field, errors in serializer.errors.items():
                self.add_error(field if field in self.fields else None, "; ".join(map(str, _flatten(errors))))
        return data


def _flatten(errors):
    if isinstance(errors, dict):
        return [f"{k}: {m}" for k, v in errors.items() for m in _flatten(v)]
    if isinstance(errors, list):
        return [m for e in errors for m in _flatten(e)]
    return [errors]


@admin.register(SLAPolicy, site=tenant_admin_site)
class SLAPolicyAdmin(TenantScopedAdmin):
    form = PolicyForm
    fields = [
        "name",
        "position",
        "active",
        "calendar",
        "clock_source",
        "applies_to",
        "targets",
        "warn_percent",
        "on_hold_pauses",
        "preview",
    ]
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
        calendar = services.calendar_to_clock(obj.calendar)
        zone = ZoneInfo(obj.calendar.timezone)
        rows = [
            (metric, minutes, f"{clock.deadline(now, minutes, calendar).astimezone(zone):%a %d %b %Y %H:%M %Z}")
            for metric, minutes in sorted(obj.targets.items())
            if isinstance(minutes, int) and 0 < minutes <= PREVIEW_LIMIT_MINUTES
        ]
        return format_html_join("", "<div><b>{}</b> ({} min): {}</div>", rows) or "No targets."

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change:
            recalculate_after_commit(obj.tenant_id, policy_id=obj.pk)


@admin.register(SlaTimer, site=tenant_admin_site)
class SlaTimerAdmin(TenantScopedAdmin):
    allow_add = False
    allow_change = False
    list_display = ["ticket", "metric", "status", "target_minutes", "due_at", "breached_at", "met_at"]
    list_filter = ["status", "metric"]
    list_select_related = ["ticket"]
    readonly_fields = [f.name for f in SlaTimer._meta.fields]
