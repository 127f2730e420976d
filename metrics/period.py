"""What a metrics request asks for: a half-open period of whole local days in the tenant's time zone, and
the filters. Bad input is a PeriodError naming each field (the API answers 400 with those names)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from escalation.models import Kind
from helpdesk.models import Team
from slas import clock
from tickets.models import Channel, Priority

# The longest window one request may ask for: the dashboard's default is 30 days and the matrix audit's too;
# half a year still answers within the benchmark's budget (bench/METRICS.md), a year does not need to.
MAX_DAYS = 186
DEFAULT_DAYS = 30
TICKET_FILTERS = ("team", "channel", "priority", "category")
ESCALATION_FILTERS = ("kind", "trigger")
FILTERS = TICKET_FILTERS + ESCALATION_FILTERS
SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,60}$")


class PeriodError(ValueError):
    def __init__(self, fields: dict[str, list[str]]):
        super().__init__("; ".join(f"{name}: {' '.join(messages)}" for name, messages in fields.items()))
        self.fields = fields


@dataclass(frozen=True)
class Query:
    start_day: date  # first local day, included
    end_day: date  # local day after the last one (excluded)
    timezone: str
    filters: dict = field(default_factory=dict)

    @property
    def start(self) -> datetime:
        return clock.day_start(self.start_day, self.timezone)

    @property
    def end(self) -> datetime:
        return clock.day_start(self.end_day, self.timezone)

    def bucket_starts(self, interval: str) -> list[datetime]:
        """The instants each day (or ISO week, from Monday) of the period begins: DST-correct, from the clock."""
        step = 1 if interval == "day" else 7
        first = self.start_day if interval == "day" else self.start_day - timedelta(days=self.start_day.weekday())
        days = []
        day = first
        while day < self.end_day:
            days.append(day)
            day += timedelta(days=step)
        return [clock.day_start(d, self.timezone) for d in days]

    def bucket_days(self, interval: str) -> list[date]:
        step = 1 if interval == "day" else 7
        first = self.start_day if interval == "day" else self.start_day - timedelta(days=self.start_day.weekday())
        return [first + timedelta(days=step * i) for i in range(len(self.bucket_starts(interval)))]


def _day(name: str, text: str, errors: dict) -> date | None:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        errors[name] = ["Must be a date, YYYY-MM-DD (a day in the tenant's time zone)."]
        return None


def parse(params, *, tenant, now: datetime) -> Query:
    """`start`/`end` (YYYY-MM-DD, end excluded; default: the last 30 days through today) and the filters."""
    errors: dict[str, list[str]] = {}
    today = clock.local_today(now, tenant.timezone)
    end = _day("end", params["end"], errors) if params.get("end") else today + timedelta(days=1)
    start = _day("start", params["start"], errors) if params.get("start") else None
    if start is None and "start" not in errors and end is not None:
        start = end - timedelta(days=DEFAULT_DAYS)
    if start is not None and end is not None:
        if end <= start:
            errors["end"] = ["Must be after start (the period is [start, end), end excluded)."]
        elif (end - start).days > MAX_DAYS:
            errors["end"] = [f"The period may span at most {MAX_DAYS} days."]
    filters = _filters(params, errors)
    if errors:
        raise PeriodError(errors)
    return Query(start_day=start, end_day=end, timezone=tenant.timezone, filters=filters)


def _filters(params, errors: dict) -> dict:
    filters = {}
    choices = {"channel": Channel.values, "priority": Priority.values, "kind": Kind.values}
    for name in FILTERS:
        value = params.get(name)
        if value in (None, ""):
            continue
        if name in choices:
            if value not in choices[name]:
                errors[name] = [f"Must be one of: {', '.join(choices[name])}."]
                continue
        elif name == "team":
            if not (value.isdigit() and len(value) <= 18) or not Team.objects.filter(pk=int(value)).exists():
                errors[name] = ["No such team."]
                continue
            value = int(value)
        elif not SLUG.match(value):
            errors[name] = ["Must be a slug (letters, digits, - and _; up to 60)."]
            continue
        filters[name] = value
    return filters
