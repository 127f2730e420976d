"""The escalation matrix as an editable table for managers; escalations and firings to read."""

from datetime import timedelta

from django.contrib import admin, messages
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from escalation import admin_forms, advice, dryrun
from escalation.errors import EscalationError
from escalation.forms import DeEscalateForm, ReasonForm, ResolveForm
from escalation.models import ACTIVE_STATUSES, Escalation, EscalationRule, EscalationStatus, Review, RuleFiring
from helpdesk import workflows
from helpdesk.admin import TenantScopedAdmin, adopt, tenant_admin_site


@admin.register(EscalationRule, site=tenant_admin_site)
class EscalationRuleAdmin(TenantScopedAdmin):
    form = admin_forms.RuleAdminForm
    fieldsets = admin_forms.RULE_FIELDSETS
    prepopulated_fields = {"slug": ("name",)}
    list_display = [
        "name",
        "trigger",
        "when",
        "action",
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
    list_filter = ["trigger", "action", "kind", "active"]
    list_select_related = ["target_team"]
    ordering = ["position", "id"]
    change_list_template = "admin/escalation/escalationrule/change_list.html"

    @admin.display(description="conditions")
    def when(self, obj: EscalationRule) -> str:
        return admin_forms.describe(obj.trigger, obj.conditions, most=4)

    def save_model(self, request, obj, form, change):
        # The form validated the rule through EscalationRule.clean(); the workflow stores it with the same
        # check and re-arms time_open watches, as the API does.
        if change:
            workflows.rule_update(rule=obj, actor=request.principal)
        else:
            values = {name: getattr(obj, name) for name in admin_forms.STORED_FIELDS}
            adopt(obj, workflows.rule_create(tenant=request.principal.tenant, actor=request.principal, **values))

    def get_urls(self):
        extra = [path("dry-run/", self.admin_site.admin_view(self.dry_run_view), name="escalation_dry_run")]
        return extra + super().get_urls()

    def dry_run_view(self, request):
        """The seeds' audit as a button: the last 30 days against the current matrix, nothing written."""
        days = int(request.GET.get("days", "30")) if request.GET.get("days", "30").isdigit() else 30
        days = max(1, min(days, 365))
        result = dryrun.dry_run(days=days)
        now = timezone.now()
        context = {
            "advice": advice.rule_advice(
                tenant_id=request.principal.tenant.pk, start=now - timedelta(days=days), end=now
            ),
            **self.admin_site.each_context(request),
            "title": "Escalation matrix dry run",
            "report": result.as_dict(),
            "rows": result.rows(),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/escalation/dry_run.html", context)


# action (in the URL) -> the form of its inputs and the workflow that runs it, with the API's checks.
LIFECYCLE = {
    "acknowledge": (None, workflows.escalation_acknowledge),
    "resolve": (ResolveForm, workflows.escalation_resolve),
    "return": (ReasonForm, workflows.escalation_return),
    "de-escalate": (DeEscalateForm, workflows.escalation_de_escalate),
}
LABELS = {"acknowledge": "Acknowledge", "resolve": "Resolve", "return": "Return", "de-escalate": "De-escalate"}
MSG_DONE = "Escalation #{pk}: {action} done."


@admin.register(Escalation, site=tenant_admin_site)
class EscalationAdmin(TenantScopedAdmin):
    """Escalations to read, and their lifecycle as buttons (Acknowledge, Resolve, Return, De-escalate) that run
    the same workflows as the API, with the same checks. No field is edited here: a typed resolution once said
    "changed successfully" while the status stayed requested."""

    allow_add = False
    allow_change = False
    change_form_template = "admin/escalation/escalation/change_form.html"
    list_display = ["id", "ticket", "kind", "status", "trigger", "from_tier", "to_tier", "team", "agent", "created_at"]
    list_filter = ["status", "kind", "trigger"]
    list_select_related = ["ticket", "team", "agent__user"]
    fields = [
        "ticket",
        "kind",
        "status",
        "trigger",
        "rule",
        "reason",
        "fallback_reason",
        "summary",
        "cycle",
        "level",
        "from_tier",
        "to_tier",
        "from_agent",
        "team",
        "agent",
        "resolver",
        "customer_updater",
        "overseer",
        "requested_by_label",
        "summary_drafted",
        "to_call",
        "created_at",
        "response_due_at",
        "acknowledged_at",
        "resolved_at",
        "returned_at",
        "de_escalated_at",
        "resolution",
        "root_cause",
        "return_reason",
    ]
    readonly_fields = fields

    def get_urls(self):
        lifecycle = path(
            "<int:object_id>/lifecycle/<str:action>/",
            self.admin_site.admin_view(self.lifecycle_view),
            name="escalation_escalation_lifecycle",
        )
        return [lifecycle, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        escalation = self.get_object(request, object_id)
        extra = {**(extra_context or {}), "lifecycle": self._actions_for(escalation)} if escalation else extra_context
        return super().change_view(request, object_id, form_url, extra)

    @staticmethod
    def _actions_for(escalation: Escalation) -> list[dict]:
        """The buttons its status allows (the workflow checks again, and who may act, when one is pressed)."""
        if escalation.status not in ACTIVE_STATUSES:
            return []
        names = ["resolve", "return", "de-escalate"]
        if escalation.status == EscalationStatus.REQUESTED:
            names.insert(0, "acknowledge")
        forms_by_name = {name: LIFECYCLE[name][0] for name in names}
        return [
            {"name": name, "label": LABELS[name], "form": form(prefix=name) if form else None}
            for name, form in forms_by_name.items()
        ]

    def lifecycle_view(self, request, object_id: int, action: str):
        escalation = self.get_object(request, str(object_id))
        if escalation is None or action not in LIFECYCLE:
            raise Http404("No such escalation or action.")
        change_url = reverse("admin:escalation_escalation_change", args=[escalation.pk])
        if request.method != "POST":
            return HttpResponseRedirect(change_url)
        form_class, run = LIFECYCLE[action]
        form = form_class(request.POST, prefix=action) if form_class else None
        if form is not None and not form.is_valid():
            for field, errors in form.errors.items():
                self.message_user(request, f"{action}: {field}: {' '.join(errors)}", messages.ERROR)
            return HttpResponseRedirect(change_url)
        try:
            run(escalation=escalation, actor=request.principal, **(form.cleaned_data if form else {}))
        except EscalationError as exc:
            self.message_user(request, f"{action}: {exc}", messages.ERROR)
        else:
            self.message_user(request, MSG_DONE.format(pk=escalation.pk, action=action), messages.SUCCESS)
        return HttpResponseRedirect(change_url)


@admin.register(RuleFiring, site=tenant_admin_site)
class RuleFiringAdmin(TenantScopedAdmin):
    allow_add = False
    allow_change = False
    list_display = ["ticket", "rule", "cycle", "escalation", "fallback_reason", "created_at"]
    list_select_related = ["ticket", "rule", "escalation"]
    readonly_fields = ["ticket", "rule", "cycle", "escalation", "reason", "fallback_reason", "created_at"]


REVIEW_ANSWERS = ("status", "what_worked", "what_failed", "rule_change", "rule_to_change")


@admin.register(Review, site=tenant_admin_site)
class ReviewAdmin(TenantScopedAdmin):
    """Post-escalation reviews: opened by resolutions (escalation/reviews.py), answered here or at /reviews/.
    The form validates through Review.clean() (done needs what worked and what failed); the workflow stores."""

    allow_add = False
    list_display = ["id", "ticket", "escalation", "trigger", "rule", "reasons", "priority", "status", "created_at"]
    list_filter = ["status", "priority"]
    list_select_related = ["ticket", "escalation", "rule"]
    ordering = ["-created_at", "-id"]
    fields = [
        "ticket",
        "escalation",
        "trigger",
        "rule_link",
        "reasons",
        "priority",
        "created_at",
        *REVIEW_ANSWERS,
        "completed_at",
        "completed_by",
    ]
    readonly_fields = [
        "ticket",
        "escalation",
        "trigger",
        "rule_link",
        "reasons",
        "priority",
        "created_at",
        "completed_at",
        "completed_by",
    ]

    @admin.display(description="trigger")
    def trigger(self, obj: Review) -> str:
        return obj.escalation.trigger

    @admin.display(description="rule that fired")
    def rule_link(self, obj: Review) -> str:
        if obj.rule_id is None:
            return "— (escalated by a person)"
        url = reverse("admin:escalation_escalationrule_change", args=[obj.rule_id])
        return format_html('<a href="{}">{}</a>', url, obj.rule)

    def save_model(self, request, obj, form, change):
        changes = {name: form.cleaned_data[name] for name in REVIEW_ANSWERS if name in form.changed_data}
        stored = Review.objects.get(pk=obj.pk)  # the workflow applies the changes to the stored row
        adopt(obj, workflows.review_update(review=stored, actor=request.principal, **changes))
