"""SLA settings' admin forms: a calendar's weekly hours as a week grid, a policy's `applies_to` and `targets` as
fields of their own (ticked priorities, plans and channels, category chips, VIP or not, minutes per clock)
instead of JSON boxes.

The choices come from the policy's one validation (slas/validation.py: APPLIES_TO) and the models (Metric,
slas.clock.DAYS); the forms assemble the JSON the API would receive and leave the judging to the models'
clean() (calendar_problems, policy_problems), whose errors come back on the grid or on the form."""

from __future__ import annotations

import calendar
from collections.abc import Mapping

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join

from helpdesk.admin import TenantModelForm
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
from slas import clock
from slas.models import TICKET_METRICS, Metric
from slas.validation import APPLIES_TO
from tickets.selectors import categories_in_use

# --- the week grid --------------------------------------------------------------------------------------

DAY_NAMES = dict(zip(clock.DAYS, calendar.day_name, strict=True))
MIN_SLOTS = 2  # intervals offered per day (one more than a day already has)
PLACEHOLDERS = {"start": "09:00", "end": "17:00"}
HOURS_HELP = (
    'Working intervals per day, as "HH:MM": an end at or before its start runs overnight into the next day '
    '(22:00 to 06:00), "24:00" ends at midnight. A day left empty is closed.'
)


def _pairs(value) -> list[tuple[str, str]]:
    """A day's stored intervals as (from, to) texts; whatever else is stored is shown as it is, to be mended."""
    if not isinstance(value, list | tuple):
        return []
    out = []
    for pair in value:
        if isinstance(pair, list | tuple) and len(pair) == 2:
            out.append((str(pair[0]), str(pair[1])))
        else:
            out.append((str(pair), ""))
    return out


class WeekHoursWidget(forms.Widget):
    """The week as a grid: a row per day (clock.DAYS), each with its intervals as from/to text boxes, and a
    free pair more. Posts `<name>-<day>-<n>-start|end`; reads them back into the calendar's hours object."""

    def value_from_datadict(self, data, files, name) -> dict:
        hours = {}
        for day in clock.DAYS:
            pairs, index = [], 0
            while f"{name}-{day}-{index}-start" in data or f"{name}-{day}-{index}-end" in data:
                start = str(data.get(f"{name}-{day}-{index}-start", "")).strip()
                end = str(data.get(f"{name}-{day}-{index}-end", "")).strip()
                if start or end:
                    pairs.append([start, end])  # a half-filled pair goes to the clock's check as it is
                index += 1
            if pairs:
                hours[day] = pairs
        return hours

    def value_omitted_from_data(self, data, files, name) -> bool:
        return not any(key.startswith(f"{name}-") for key in data)

    def render(self, name, value, attrs=None, renderer=None):
        hours = value if isinstance(value, Mapping) else {}
        days = {day: _pairs(hours.get(day)) for day in clock.DAYS}
        slots = max(MIN_SLOTS, *(len(pairs) + 1 for pairs in days.values()))
        first_id = (attrs or {}).get("id", "")
        header = format_html_join("", "<th scope='col'>{}</th><th scope='col'>{}</th>", [("From", "To")] * slots)
        rows = format_html_join(
            "",
            "<tr><th scope='row'>{}</th>{}</tr>",
            ((DAY_NAMES[day], self._cells(name, day, pairs, slots, first_id)) for day, pairs in days.items()),
        )
        return format_html(
            '<table class="week-hours" data-week-hours="{}"><thead><tr><th scope="col">Day</th>{}</tr></thead>'
            "<tbody>{}</tbody></table>",
            name,
            header,
            rows,
        )

    @staticmethod
    def _cells(name, day, pairs, slots, first_id):
        boxes = []
        for index in range(slots):
            start, end = pairs[index] if index < len(pairs) else ("", "")
            for part, text in (("start", start), ("end", end)):
                attrs = {
                    "type": "text",
                    "name": f"{name}-{day}-{index}-{part}",
                    "value": text,
                    "size": "5",
                    "placeholder": PLACEHOLDERS[part],
                    "aria-label": f"{DAY_NAMES[day]}, interval {index + 1}, {'from' if part == 'start' else 'to'}",
                }
                if first_id and (day, index, part) == (clock.DAYS[0], 0, "start"):
                    attrs["id"] = first_id  # the label "Hours" points at the grid's first box
                boxes.append((flatatt(attrs),))
        return format_html_join("", "<td><input{}></td>", boxes)


class WeekHoursField(forms.Field):
    widget = WeekHoursWidget

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", HOURS_HELP)
        super().__init__(**kwargs)

    def to_python(self, value) -> dict:
        return value if isinstance(value, dict) else {}


class CalendarAdminForm(TenantModelForm):
    # No Meta: the admin adds it per request (a foreign key's choices need the request's tenant).
    hours = WeekHoursField()

    @property
    def media(self):
        return super().media + ADMIN_FORMS_MEDIA


# --- the policy -------------------------------------------------------------------------------------------

VIP_CHOICES = [("", "any account"), ("true", "VIP accounts only"), ("false", "accounts that are not VIP")]
VIP_VALUES = {"": None, "true": True, "false": False}
ESCALATION_METRICS = tuple(metric for metric in Metric.values if metric not in TICKET_METRICS)
POLICY_STORED_FIELDS = (
    "name", "position", "active", "calendar", "clock_source", "applies_to", "targets", "warn_percent",
    "on_hold_pauses",
)  # fmt: skip


def _applies_field(key: str) -> str:
    return f"applies_to__{key}"


def _target_field(metric: str) -> str:
    return f"targets__{metric}"


def _metric_label(metric: str) -> str:
    return metric.replace("_", " ").capitalize()


class VipField(forms.Field):
    """true / false / any (left out); anything else goes to the policy's validation as sent."""

    def __init__(self, **kwargs):
        super().__init__(required=False, widget=forms.Select(choices=VIP_CHOICES), **kwargs)

    def to_python(self, value):
        return VIP_VALUES.get(value or "", value)

    def prepare_value(self, value):
        return {True: "true", False: "false", None: ""}.get(value, value)


def _applies_to_fields() -> dict[str, forms.Field]:
    fields: dict[str, forms.Field] = {}
    for key, choices in APPLIES_TO.items():
        label = key.capitalize()
        if choices is None:
            fields[_applies_field(key)] = ListField(label=label, help_text="slugs, e.g. billing")
        else:
            fields[_applies_field(key)] = OfferedChoicesField(label=label, choices=[(c, c) for c in choices])
    fields[_applies_field("vip")] = VipField(label="VIP")
    return fields


APPLIES_TO_FIELDS = _applies_to_fields()
POLICY_CONDITION_FIELDS: dict[str, forms.Field] = {
    **APPLIES_TO_FIELDS,
    **{_target_field(metric): NumberField(label=_metric_label(metric)) for metric in Metric.values},
}

POLICY_FIELDSETS = [
    (None, {"fields": ["name", "position", "active", "calendar", "clock_source"]}),
    (
        "Applies to",
        {
            "fields": list(APPLIES_TO_FIELDS),
            "description": "A ticket gets the first active policy, by position, whose conditions all hold; a "
            "condition left empty matches any ticket.",
        },
    ),
    (
        "Ticket targets",
        {
            "fields": [_target_field(metric) for metric in TICKET_METRICS],
            "description": "Minutes of business time on the clock's calendar; leave one empty for no such clock.",
        },
    ),
    (
        "Escalation targets",
        {
            "fields": [_target_field(metric) for metric in ESCALATION_METRICS],
            "description": "The clocks of an escalation of the ticket, in minutes (a rule's response minutes "
            "replace the acknowledge target); the customer update recurs every period while it is open.",
        },
    ),
    ("Warnings and pauses", {"fields": ["warn_percent", "on_hold_pauses"]}),
    ("Deadlines for a ticket created now", {"fields": ["preview"]}),
]


class PolicyAdminFormBase(ErrorsByPath, TenantModelForm):
    # No Meta: the admin adds it per request (model, POLICY_FIELDSETS' fields).
    on_hold_pauses = OfferedChoicesField(
        label="On hold pauses",
        choices=[(metric, _metric_label(metric)) for metric in Metric.values],
        help_text="the clocks that stop while the ticket is on hold",
    )

    @property
    def media(self):
        return super().media + ADMIN_FORMS_MEDIA

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        policy = self.instance
        applies_to = policy.applies_to if isinstance(policy.applies_to, dict) else {}
        targets = policy.targets if isinstance(policy.targets, dict) else {}
        for key in (*APPLIES_TO, "vip"):
            if key in applies_to:
                self.initial[_applies_field(key)] = applies_to[key]
        for metric, minutes in targets.items():
            self.initial[_target_field(metric)] = minutes
        suggestions = categories_in_use(tenant=current_tenant())
        self.fields[_applies_field("categories")].widget.suggestions = tuple(suggestions)

    def fields_by_path(self) -> dict[str, str]:
        routes = {f"applies_to.{key}": _applies_field(key) for key in (*APPLIES_TO, "vip")}
        routes.update({f"targets.{metric}": _target_field(metric) for metric in Metric.values})
        return {**routes, "on_hold_pauses": "on_hold_pauses"}

    def clean(self):
        data = super().clean()
        keep_stored_order(self)
        applies_to = given({key: data.get(_applies_field(key)) for key in APPLIES_TO})
        vip = data.get(_applies_field("vip"))
        if vip is not None:
            applies_to["vip"] = vip  # false is a condition here (accounts that are not VIP)
        self.instance.applies_to = applies_to
        self.instance.targets = given({metric: data.get(_target_field(metric)) for metric in Metric.values})
        return data


PolicyAdminForm = type("PolicyAdminForm", (PolicyAdminFormBase,), dict(POLICY_CONDITION_FIELDS))
PolicyAdminForm.__doc__ = "The policy form with a field per applies_to condition and per target (POLICY_FIELDSETS)."
