"""The escalation rule's admin form: a manager picks a trigger and fills in its own fields — keyword chips,
thresholds, plans, categories — instead of typing the conditions as JSON, and picks the rule's target among the
tenant's real teams, tiers, roles and skills, and whom it notifies among its roles, teams, people and channels.

Built from the trigger definitions (escalation/triggers.py: CONDITION_KEYS, what each key is and how it is
asked for; TRIGGER_DOCS, when each trigger fires, API.md's example and the seeds' words), never from a list of
its own. The form assembles the `conditions` object the API would receive and leaves the judging to the rule's
one validation (EscalationRule.clean -> escalation.validation.rule_problems); its errors come back next to the
field that holds the offending key ("conditions.keywords" -> the Keywords field of the keyword trigger)."""

from __future__ import annotations

import json

from django import forms
from django.db.models import Q
from django.utils.html import format_html

from escalation import triggers
from escalation.models import EscalationRule
from helpdesk.admin import TenantModelForm
from helpdesk.models import MAX_TIER, Membership, Role, Team
from helpdesk.notifications.models import NotificationChannel
from helpdesk.notifications.recipients import EVENT_SPECS
from helpdesk.selectors import skills_in_use
from helpdesk.tenancy import current_tenant
from helpdesk.widgets import (
    ADMIN_FORMS_MEDIA,
    ErrorsByPath,
    ListField,
    NumberField,
    OfferedChoicesField,
    given,
    keep_stored_order,
)
from slas.selectors import policy_list
from tickets.selectors import categories_in_use

# What the model stores from this form, for the workflow that creates a rule (conditions come from the
# trigger's fields).
STORED_FIELDS = (
    "name", "slug", "trigger", "conditions", "action", "tags", "kind", "target_team", "target_tier", "target_role",
    "target_skill",
    "response_minutes", "notify", "to_call", "priority_override", "active", "position",
)  # fmt: skip
# Of the recipients that the escalation itself names, those a rule's notification can mean (not the customer,
# not a rule's own list).
NOTIFY_EVENT_SPECS = ("agent", "assignee", "team", "on_call")
TIER_NAMES = {0: "tier 0 (self-service, bot)"}


def condition_field(trigger: str, key: str) -> str:
    """The form field that asks for one key of one trigger's conditions."""
    return f"{trigger}__{key}"


def _example_text(value, most: int | None = None) -> str:
    if isinstance(value, list | tuple):
        shown = list(value)[:most] if most else list(value)
        more = f" and {len(value) - len(shown)} more" if len(shown) < len(value) else ""
        return ", ".join(map(str, shown)) + more
    return "yes" if value is True else str(value)


def describe(trigger: str, conditions, *, most: int | None = None) -> str:
    """Conditions in words, by their keys' labels: "Keywords: refund, lawsuit" (lists cut after `most` items)."""
    labels = {key.key: key.label for key in triggers.CONDITION_KEYS.get(trigger, ())}
    if not isinstance(conditions, dict):
        return str(conditions)
    parts = [f"{labels.get(key, key)}: {_example_text(value, most)}" for key, value in conditions.items()]
    return "; ".join(parts) or "no conditions"


def _field_for(trigger: str, key: triggers.ConditionKey) -> forms.Field:
    example = triggers.TRIGGER_DOCS[trigger].example.get(key.key)
    common = {"label": key.label, "help_text": key.help}
    if key.kind in ("phrases", "slugs"):
        field: forms.Field = ListField(**common)
    elif key.kind == "choices":
        field = OfferedChoicesField(choices=[(choice, choice) for choice in key.choices], **common)
    elif key.kind == "flag":
        field = forms.BooleanField(required=False, **common)
    elif key.kind == "currency":
        # One code of the offered list; left empty, the validation stores its default.
        field = forms.ChoiceField(
            choices=[("", "—"), *((code, code) for code in key.choices)], required=False, **common
        )
    else:  # number, whole
        field = NumberField(choices=[(choice, choice) for choice in key.choices], **common)
        if key.kind == "whole" and not key.choices:
            field.widget.attrs["step"] = "1"
    if example is not None and key.kind not in ("choices", "flag", "currency") and not key.choices:
        field.widget.attrs["placeholder"] = f"e.g. {_example_text(example)}"
    return field


CONDITION_FIELDS: dict[str, forms.Field] = {
    condition_field(trigger, key.key): _field_for(trigger, key)
    for trigger, keys in triggers.CONDITION_KEYS.items()
    for key in keys
}


def _example_values(trigger: str) -> dict:
    """The example by form field, for the "Use the example" button: lists stay lists (chips, ticked boxes),
    a flag stays true, a number becomes the text of its box."""
    values = {}
    for key, value in triggers.TRIGGER_DOCS[trigger].example.items():
        if isinstance(value, list | tuple):
            value = list(value)
        values[condition_field(trigger, key)] = value if isinstance(value, bool | list) else str(value)
    return values


def _description(trigger: str) -> str:
    doc = triggers.TRIGGER_DOCS[trigger]
    return format_html(
        '<p>Fires when {}.</p><p>Example: <b>{}</b> <button type="button" class="button" data-fill-example="{}">'
        'Use the example</button></p><p class="help">From the seeds: {}</p>',
        doc.fires_when,
        describe(trigger, dict(doc.example)),
        json.dumps(_example_values(trigger)),
        doc.seeds,
    )


RULE_FIELDSETS = [
    (None, {"fields": ["name", "slug", "trigger", "active", "position"]}),
    *[
        (
            f"When: {trigger}",
            {
                "fields": [condition_field(trigger, key.key) for key in keys],
                "classes": ["trigger-conditions", f"trigger-{trigger}"],
                "description": _description(trigger),
            },
        )
        for trigger, keys in triggers.CONDITION_KEYS.items()
    ],
    (
        "Do",
        {
            "fields": ["action", "tags"],
            "description": "escalate (below); tag: add these tags at once and escalate nothing (auto-tagging); flag: "
            "put the ticket in the Needs review queue with the reason.",
        },
    ),
    (
        "Escalate to",
        {
            "fields": ["kind", "target_team", "target_tier", "target_role", "target_skill", "response_minutes"],
            "description": "One target: a team, a tier, a role (authority) or a skill (whoever has it).",
        },
    ),
    ("Then", {"fields": ["priority_override", "to_call", "notify"]}),
]


def team_label(team: Team) -> str:
    details = [f"tier {team.tier}", *team.skills] + ([] if team.active else ["inactive"])
    return f"{team.name} ({', '.join(details)})"


class _TeamChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Team) -> str:
        return team_label(obj)


class RuleAdminFormBase(ErrorsByPath, TenantModelForm):
    # No Meta: a ModelForm class with a foreign key builds its choices when the class is made, and the scoped
    # manager has no tenant at import time. The admin adds the Meta (model, RULE_FIELDSETS' fields) per request.
    notify = OfferedChoicesField(label="Notify", help_text="besides the receiver's usual notifications")
    tags = ListField(
        label="Tags", required=False, help_text="a tag rule adds these, one per line (e.g. billing_dispute)"
    )
    # Left out (a form from before actions existed), a rule escalates, as through the API.
    action = forms.ChoiceField(choices=[(a, a) for a in triggers.ACTIONS], required=False, initial="escalate")

    @property
    def media(self):
        return super().media + ADMIN_FORMS_MEDIA

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        tenant = current_tenant()
        rule = self.instance
        self.fields["trigger"].choices = [("", "—")] + [
            (trigger, f"{trigger}: {triggers.TRIGGER_DOCS[trigger].fires_when}") for trigger in triggers.TRIGGERS
        ]
        for key in triggers.CONDITION_KEYS.get(rule.trigger, ()):
            if isinstance(rule.conditions, dict) and key.key in rule.conditions:
                self.initial[condition_field(rule.trigger, key.key)] = rule.conditions[key.key]
        categories = categories_in_use(tenant=tenant)
        for trigger, keys in triggers.CONDITION_KEYS.items():
            for key in keys:
                if key.kind == "slugs":
                    self.fields[condition_field(trigger, key.key)].widget.suggestions = tuple(categories)
        self._offer_targets(tenant, rule)
        warnings = policy_list(tenant=tenant).filter(active=True).values_list("warn_percent", flat=True)
        thresholds = sorted({percent for percents in warnings for percent in percents})
        if thresholds:
            field = self.fields[condition_field("sla_risk", "percent")]
            field.help_text = f"{field.help_text} (this desk's: {', '.join(map(str, thresholds))})"
        self.fields["notify"].choices = _notify_choices(rule.notify)

    def _offer_targets(self, tenant, rule: EscalationRule) -> None:
        teams = Team.objects.filter(tenant=tenant).filter(Q(active=True) | Q(pk=rule.target_team_id)).order_by("name")
        self.fields["target_team"] = _TeamChoice(queryset=teams, required=False, label="Target team")
        tiers = [(tier, TIER_NAMES.get(tier, f"tier {tier}")) for tier in range(MAX_TIER + 1)]
        self.fields["target_tier"].widget = forms.Select(choices=[("", "—"), *tiers])
        skills = [(skill, skill) for skill in skills_in_use(tenant=tenant)]
        if rule.target_skill and (rule.target_skill, rule.target_skill) not in skills:
            skills.append((rule.target_skill, f"{rule.target_skill} (nobody active has it)"))
        self.fields["target_skill"].widget = forms.Select(choices=[("", "—"), *skills])

    def clean_action(self):
        return self.cleaned_data.get("action") or "escalate"

    def clean(self):
        data = super().clean()
        keep_stored_order(self)
        trigger = data.get("trigger")
        keys = triggers.CONDITION_KEYS.get(trigger, ())
        self.instance.conditions = given({key.key: data.get(condition_field(trigger, key.key)) for key in keys})
        return data

    def fields_by_path(self) -> dict[str, str]:
        trigger = self.cleaned_data.get("trigger")
        keys = triggers.CONDITION_KEYS.get(trigger, ())
        return {f"conditions.{key.key}": condition_field(trigger, key.key) for key in keys}


def _notify_choices(current) -> list:
    """Whom a rule may notify, grouped; a stored value no longer offered stays, so saving keeps it (and the
    validation says what is wrong with it)."""
    people = Membership.objects.filter(active=True).select_related("user").order_by("user__username")
    groups = [
        ("Named by the escalation", [(spec, f"{spec}: {EVENT_SPECS[spec]}") for spec in NOTIFY_EVENT_SPECS]),
        (
            "Roles",
            [(Role.MANAGER.value, "managers"), (Role.EXECUTIVE.value, "executives"), (Role.ADMIN.value, "admins")],
        ),
        ("Teams", [(f"team:{team.pk}", team.name) for team in Team.objects.filter(active=True).order_by("name")]),
        ("People", [(f"user:{member.pk}", str(member)) for member in people]),
        ("Channels", [(str(c.pk), f"{c.name} ({c.kind})") for c in NotificationChannel.objects.order_by("name")]),
    ]
    offered = {value for _, choices in groups for value, _ in choices}
    stale = [str(value) for value in current or [] if str(value) not in offered]
    if stale:
        groups.append(("No longer offered", [(value, value) for value in stale]))
    return [(group, choices) for group, choices in groups if choices]


RuleAdminForm = type("RuleAdminForm", (RuleAdminFormBase,), dict(CONDITION_FIELDS))
RuleAdminForm.__doc__ = "The rule form with one field per key of every trigger's conditions (CONDITION_FIELDS)."
