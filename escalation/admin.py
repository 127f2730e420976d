"""The escalation matrix as an editable table for managers; escalations and firings to read."""

from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import path

from escalation import dryrun, services, triggers
from escalation.models import Escalation, EscalationRule, RuleFiring
from escalation.tasks import arm_after_commit
from helpdesk.admin import TenantModelForm, TenantScopedAdmin, tenant_admin_site


class RuleForm(TenantModelForm):
    """Conditions are checked against their trigger's shape by the same code the API uses."""

    def clean(self):
        data = super().clean()
        trigger = data.get("trigger")
        if trigger not in triggers.TRIGGERS:
            self.add_error("trigger", f"Unknown trigger. Use one of: {', '.join(triggers.TRIGGERS)}.")
            return data
        try:
            data["conditions"] = services.rule_conditions_clean(trigger, data.get("conditions") or {})
        except triggers.ConditionError as exc:
            self.add_error("conditions", f"{exc.field}: {exc.message}")
        return data


@admin.register(EscalationRule, site=tenant_admin_site)
class EscalationRuleAdmin(TenantScopedAdmin):
    form = RuleForm
    fields = [
        "name",
        "slug",
        "trigger",
        "conditions",
        "kind",
        "target_team",
        "target_tier",
        "target_role",
        "target_skill",
        "response_minutes",
        "notify",
        "to_call",
        "priority_override",
        "active",
        "position",
    ]
    list_display = [
        "name",
        "trigger",
        "kind",
        "target_team",
        "target_tier",
        "target_role",
        "target_skill",
        "to_call",
        "active",
        "position",
    ]
    list_editable = ["active", "position"]
    list_filter = ["trigger", "kind", "active"]
    ordering = ["position", "id"]
    change_list_template = "admin/escalation/escalationrule/change_list.html"

    def save_model(self, request, obj, form, change):
        was_time_open = change and EscalationRule.objects.filter(pk=obj.pk, trigger="time_open").exists()
        super().save_model(request, obj, form, change)
        arm_after_commit(obj, was_time_open=was_time_open)

    def get_urls(self):
        extra = [path("dry-run/", self.admin_site.admin_view(self.dry_run_view), name="escalation_dry_run")]
        return extra + super().get_urls()

    def dry_run_view(self, request):
        """The seeds' audit as a button: the last 30 days against the current matrix, nothing written."""
        days = int(request.GET.get("days", "30")) if request.GET.get("days", "30").isdigit() else 30
        result = dryrun.dry_run(days=max(1, min(days, 365)))
        context = {
            **self.admin_site.each_context(request),
            "title": "Escalation matrix dry run",
            "report": result.as_dict(),
            "rows": result.rows(),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/escalation/dry_run.html", context)


@admin.register(Escalation, site=tenant_admin_site)
class EscalationAdmin(TenantScopedAdmin):
    allow_add = False
    list_display = ["id", "ticket", "kind", "status", "trigger", "from_tier", "to_tier", "team", "agent", "created_at"]
    list_filter = ["status", "kind", "trigger"]
    list_select_related = ["ticket", "team", "agent__user"]
    readonly_fields = [
        "ticket",
        "kind",
        "status",
        "trigger",
        "rule",
        "cycle",
        "level",
        "from_tier",
        "to_tier",
        "from_agent",
        "team",
        "agent",
        "requested_by",
        "requested_by_label",
        "summary_drafted",
        "created_at",
        "acknowledged_at",
        "resolved_at",
        "returned_at",
        "de_escalated_at",
        "response_due_at",
    ]
    fields = [*readonly_fields, "summary", "reason", "resolution", "root_cause", "return_reason"]


@admin.register(RuleFiring, site=tenant_admin_site)
class RuleFiringAdmin(TenantScopedAdmin):
    allow_add = False
    allow_change = False
    list_display = ["ticket", "rule", "cycle", "escalation", "created_at"]
    readonly_fields = ["ticket", "rule", "cycle", "escalation", "reason", "created_at"]
