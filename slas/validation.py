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


def _targets_problems(targets) -> list[str]:
    if not isinstance(targets, Mapping) or not targets:
        return [ERR_TARGETS]
    unknown = sorted(set(targets) - set(Metric.values))
    if unknown:
        return [f"Unknown metrics: {', '.join(unknown)}. Use {', '.join(Metric.values)}."]
    wrong = sorted(m for m, v in targets.items() if not (_whole(v) and 1 <= v <= MAX_TARGET_MINUTES))
    if wrong:
        return [f"{', '.join(wrong)}: a whole number of minutes from 1 to {MAX_TARGET_MINUTES}."]
    return []


def _applies_to_problems(applies_to) -> list[str]:
    if not isinstance(applies_to, Mapping):
        return ["must be an object with any of priorities, plans, channels, categories, vip"]
    problems = [f"{key}: unknown condition" for key in applies_to if key not in (*APPLIES_TO, "vip")]
    for key, choices in APPLIES_TO.items():
        values = applies_to.get(key)
        if values is None:
            continue
        if not isinstance(values, list):
            problems.append(f"{key}: must be a list")
            continue
        wrong = [v for v in values if not (isinstance(v, str) and (v in choices if choices else SLUG.match(v)))]
        if wrong:
            allowed = ", ".join(choices) if choices else "slugs"
            problems.append(f"{key}: {', '.join(map(repr, wrong))} not allowed (use {allowed})")
    if applies_to.get("vip") not in (None, True, False):
        problems.append("vip: must be true, false or null")
    return problems


def _warn_problems(warn_percent) -> list[str]:
    if not isinstance(warn_percent, list | tuple) or not all(_whole(v) and 1 <= v <= 99 for v in warn_percent):
        return ["Give a whole percentage from 1 to 99, or a list of them."]
    return []


def _far_targets(policy) -> list[str]:
    """Targets no deadline can reach within the clock's horizon on this calendar (e.g. a year of minutes on a
    calendar open one hour a week)."""
    calendar = policy.calendar if policy.calendar_id else None
    if calendar is None or calendar_problems(calendar) or not isinstance(policy.targets, Mapping):
        return []
    week = clock.weekly_minutes(calendar_to_clock(calendar))
    limit = week * 52 * clock.MAX_DEADLINE_YEARS
    far = sorted(metric for metric, minutes in policy.targets.items() if _whole(minutes) and minutes > limit)
    if not far:
        return []
    return [
        f"{', '.join(far)}: over {clock.MAX_DEADLINE_YEARS} years on calendar {calendar.name!r} "
        f"({week} working minutes a week); lower the target or widen the hours."
    ]


def _calendar_problems_of(policy) -> list[str]:
    """A retired calendar is given to no policy, though one that has it keeps it (a PUT that repeats it)."""
    if not policy.calendar_id or policy.calendar.active:
        return []
    from slas.models import SLAPolicy

    kept = policy.pk is not None and SLAPolicy.objects.filter(pk=policy.pk, calendar_id=policy.calendar_id).exists()
    return [] if kept else [ERR_RETIRED_CALENDAR]


def policy_problems(policy) -> dict[str, list[str]]:
    """What is wrong with the policy as it stands, by field. Normalises warn_percent (sorted, distinct)."""
    problems = {
        "calendar": _calendar_problems_of(policy),
        "targets": _targets_problems(policy.targets) or _far_targets(policy),
        "applies_to": _applies_to_problems(policy.applies_to if policy.applies_to is not None else {}),
        "warn_percent": _warn_problems(policy.warn_percent),
        "on_hold_pauses": [f"{m!r} is not a metric" for m in policy.on_hold_pauses or [] if m not in Metric.values],
    }
    if not problems["warn_percent"]:
        policy.warn_percent = sorted(set(policy.warn_percent))
    return {field: messages for field, messages in problems.items() if messages}
