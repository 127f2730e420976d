"""What a business calendar and an SLA policy may say: the one validation every door uses.

Forms reach it through the models' clean() (Django's ModelForm calls full_clean); the API and every other
writer through `slas.services` (calendar_create/update, policy_create/update), which call `*_validate`. The
API's serializers only parse JSON types. Errors are keyed by path ("hours.mon", "targets"), as the API
reports them (helpdesk/validation.py adapts them to forms).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from slas import clock
from slas.models import Metric, calendar_to_clock
from tickets.models import Channel, Plan, Priority

MAX_TARGET_MINUTES = 366 * 24 * 60  # over a year is a typo, not a target
APPLIES_TO = {
    "priorities": Priority.values,
    "plans": Plan.values,
    "channels": Channel.values,
    "categories": None,  # free slugs
}
SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,50}$")
ERR_TARGETS = "Give at least one target: an object of metric: minutes."
ERR_RETIRED_CALENDAR = "This calendar is retired; pick an active one."


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- calendars -----------------------------------------------------------------------------------


def calendar_problems(calendar) -> dict[str, list[str]]:
    """What is wrong with the calendar as it stands, by path: the clock's own check of a usable calendar."""
    holidays = calendar.holidays
    try:
        clock.validate(
            clock.Calendar(
                timezone=calendar.timezone,
                hours=calendar.hours,
                holidays=frozenset(holidays) if isinstance(holidays, list | tuple) else holidays,
                country=calendar.country or None,
                subdivision=calendar.subdivision or None,
                always_open=bool(calendar.always_open),
            )
        )
    except clock.CalendarError as exc:
        return {exc.field: [exc.message]}
    except TypeError:  # a holiday list holding lists or objects: not hashable, so no date either
        return {"holidays": ["must be a list of dates"]}
    return {}


# --- policies ------------------------------------------------------------------------------------


Problems = dict[str, list[str]]


def _targets_problems(targets) -> Problems:
    if not isinstance(targets, Mapping) or not targets:
        return {"targets": [ERR_TARGETS]}
    problems: Problems = {}
    for metric, minutes in targets.items():
        if metric not in Metric.values:
            problems[f"targets.{metric}"] = [f"Unknown metric. Use one of: {', '.join(Metric.values)}."]
        elif not (_whole(minutes) and 1 <= minutes <= MAX_TARGET_MINUTES):
            problems[f"targets.{metric}"] = [f"A whole number of minutes from 1 to {MAX_TARGET_MINUTES}."]
    return problems


def _applies_to_problems(applies_to) -> Problems:
    if not isinstance(applies_to, Mapping):
        return {"applies_to": ["Must be an object with any of priorities, plans, channels, categories, vip."]}
    problems: Problems = {
        f"applies_to.{key}": ["Unknown condition."] for key in applies_to if key not in (*APPLIES_TO, "vip")
    }
    for key, choices in APPLIES_TO.items():
        values = applies_to.get(key)
        if values is None:
            continue
        if not isinstance(values, list):
            problems[f"applies_to.{key}"] = ["Must be a list."]
            continue
        allowed = ", ".join(choices) if choices else "slugs of letters, digits, - and _"
        for i, value in enumerate(values):
            if not (isinstance(value, str) and (value in choices if choices else SLUG.match(value))):
                problems[f"applies_to.{key}.{i}"] = [f"{value!r} is not allowed: use {allowed}."]
    if applies_to.get("vip") not in (None, True, False):
        problems["applies_to.vip"] = ["Must be true, false or null."]
    return problems


def _warn_problems(warn_percent) -> Problems:
    if not isinstance(warn_percent, list | tuple) or not all(_whole(v) and 1 <= v <= 99 for v in warn_percent):
        return {"warn_percent": ["Give a whole percentage from 1 to 99, or a list of them."]}
    return {}


def _far_targets(policy) -> Problems:
    """Targets no deadline can reach within the clock's horizon on this calendar (e.g. a year of minutes on a
    calendar open one hour a week)."""
    calendar = policy.calendar if policy.calendar_id else None
    if calendar is None or calendar_problems(calendar) or not isinstance(policy.targets, Mapping):
        return {}
    week = clock.weekly_minutes(calendar_to_clock(calendar))
    limit = week * 52 * clock.MAX_DEADLINE_YEARS
    return {
        f"targets.{metric}": [
            f"Over {clock.MAX_DEADLINE_YEARS} years on calendar {calendar.name!r} ({week} working minutes a "
            "week): lower the target or widen the hours."
        ]
        for metric, minutes in policy.targets.items()
        if _whole(minutes) and minutes > limit
    }


def _calendar_problems_of(policy) -> list[str]:
    """A retired calendar is given to no policy, though one that has it keeps it (a PUT that repeats it)."""
    if not policy.calendar_id or policy.calendar.active:
        return []
    from slas.models import SLAPolicy

    kept = policy.pk is not None and SLAPolicy.objects.filter(pk=policy.pk, calendar_id=policy.calendar_id).exists()
    return [] if kept else [ERR_RETIRED_CALENDAR]


def policy_problems(policy) -> Problems:
    """What is wrong with the policy as it stands, by path. Normalises warn_percent (sorted, distinct)."""
    problems: Problems = {}
    calendar = _calendar_problems_of(policy)
    if calendar:
        problems["calendar"] = calendar
    problems.update(_targets_problems(policy.targets) or _far_targets(policy))
    problems.update(_applies_to_problems(policy.applies_to if policy.applies_to is not None else {}))
    warn = _warn_problems(policy.warn_percent)
    problems.update(warn)
    if not warn:
        policy.warn_percent = sorted(set(policy.warn_percent))
    for i, metric in enumerate(policy.on_hold_pauses or []):
        if metric not in Metric.values:
            problems[f"on_hold_pauses.{i}"] = [f"{metric!r} is not a metric."]
    return problems
