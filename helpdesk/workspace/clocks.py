"""SLA clocks as the pages show them: business time left (or overdue) on the clock's own calendar, its share
of the target, and the working windows ahead, so the browser counts down in business time without knowing the
calendar (static/workspace.js): it subtracts the business time that passed since the page was rendered, and
says "paused until …" while the calendar is closed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from slas import clock
from slas.models import Metric, SlaTimer, TimerStatus, calendar_to_clock

NAMES = {
    Metric.FIRST_RESPONSE: "First response",
    Metric.NEXT_RESPONSE: "Next response",
    Metric.RESOLUTION: "Resolution",
    Metric.ESCALATION_ACKNOWLEDGE: "Acknowledge",
    Metric.ESCALATION_FIRST_RESPONSE: "First substantive response",
    Metric.CUSTOMER_UPDATE: "Customer update",
    Metric.MANAGER_RESPONSE: "Manager response",
}
# How far past the deadline (or past now, for an overdue clock) the page gets working windows: the countdown
# is exact for a day after rendering, and the page's own refresh re-renders long before that.
WINDOW_HORIZON = timedelta(days=1)
WARN_SHARE = 0.25  # under a quarter of the target left: amber


@dataclass(frozen=True)
class ClockView:
    metric: str
    name: str
    status: str  # running | paused | met | breached
    due_at: datetime | None
    target_minutes: int
    left_minutes: float | None  # business minutes; negative once overdue; None when not running
    paused_until: datetime | None  # running, but the calendar is closed now: when it opens
    windows: tuple[tuple[datetime, datetime], ...]
    misses: int = 0
    overdue_minutes: float | None = None  # breached: business minutes past the deadline, at rendering

    @property
    def urgency(self) -> float | None:
        """Business minutes left, negative when overdue (a breached clock's overdue time); None when neither
        is known (paused, met)."""
        if self.left_minutes is not None:
            return self.left_minutes
        return -self.overdue_minutes if self.overdue_minutes is not None else None

    @property
    def share_left(self) -> float | None:
        if self.left_minutes is None or not self.target_minutes:
            return None
        return self.left_minutes / self.target_minutes

    @property
    def tone(self) -> str:
        """ok, warn or bad: the colour of the share left (breached is bad, met is ok)."""
        if self.status == TimerStatus.BREACHED or (self.left_minutes is not None and self.left_minutes < 0):
            return "bad"
        share = self.share_left
        return "warn" if share is not None and share < WARN_SHARE else "ok"

    @property
    def text(self) -> str:
        """What the clock says, after its name (the accessible name is "<name>: <text>")."""
        if self.status == TimerStatus.MET:
            return "met"
        if self.status == TimerStatus.PAUSED:
            return "paused while the ticket waits"
        if self.left_minutes is None:
            if self.overdue_minutes is None:
                return "breached"
            return f"breached, overdue by {duration(self.overdue_minutes)}"
        amount = duration(abs(self.left_minutes))
        state = f"overdue by {amount}" if self.left_minutes < 0 else f"{amount} left"
        if self.paused_until is not None:
            # In the zone of the page (the tenant's, views.render), as every time the page shows; the countdown
            # says it in the same zone (data-zone, static/workspace.js), not in the browser's.
            return f"{state}, paused until {timezone.localtime(self.paused_until):%a %H:%M} (outside business hours)"
        return state

    @property
    def label(self) -> str:
        return f"{self.name}: {self.text}"

    # What templates/workspace/_clock.html prints, formatted here once rather than by Django's `date`,
    # `stringformat` and custom filters in the template: a queue page shows 50 clocks.

    @property
    def due_iso(self) -> str:
        return self.due_at.astimezone(UTC).isoformat() if self.due_at else ""

    @property
    def due_title(self) -> str:
        """The hover text, e.g. "due Mon Dec 7, 09:00 CET", in the page's zone."""
        if not self.due_at:
            return ""
        due = timezone.localtime(self.due_at)
        return f"due {due:%a %b} {due.day}, {due:%H:%M} {due.tzname()}"

    @property
    def zone(self) -> str:
        """The page's zone, in which the countdown says "paused until …" (the browser's may differ)."""
        return timezone.get_current_timezone_name()

    @property
    def left_text(self) -> str:
        return f"{self.left_minutes:.3f}" if self.left_minutes is not None else ""

    @property
    def windows_json(self) -> str:
        """The working windows as [[start_ms, end_ms], …] for the countdown (static/workspace.js)."""
        return json.dumps([[int(a.timestamp() * 1000), int(b.timestamp() * 1000)] for a, b in self.windows])


def duration(minutes: float) -> str:
    """Business time in words: "45 min", "3 h 5 min", "26 h" — hours, not days: a business day's length
    depends on the calendar."""
    whole = round(minutes)
    hours, rest = divmod(whole, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def clock_view(timer: SlaTimer, now: datetime, calendars: dict | None = None) -> ClockView:
    """The clock as a page shows it. `calendars` caches the clocks' calendars by id across the clocks of one
    page (converting a calendar for each of a queue's ~60 clocks was a tenth of its rendering time)."""
    base = {
        "metric": timer.metric,
        "name": NAMES.get(timer.metric, timer.metric.replace("_", " ").capitalize()),
        "status": timer.status,
        "due_at": timer.due_at,
        "target_minutes": timer.target_minutes,
        "misses": getattr(timer, "misses", 0) or 0,
    }
    if timer.status == TimerStatus.BREACHED and timer.due_at is not None:
        overdue = clock.business_minutes_between(timer.due_at, now, _calendar(timer, calendars))
        return ClockView(**base, left_minutes=None, paused_until=None, windows=(), overdue_minutes=overdue)
    if timer.status != TimerStatus.RUNNING or timer.due_at is None:
        return ClockView(**base, left_minutes=None, paused_until=None, windows=())
    calendar = _calendar(timer, calendars)
    due = timer.due_at
    if due > now:
        left = clock.business_minutes_between(now, due, calendar)
    else:
        left = -clock.business_minutes_between(due, now, calendar)
    opening = clock.next_opening(now, calendar)
    windows = clock.open_windows(now, max(due, now) + WINDOW_HORIZON, calendar)
    return ClockView(**base, left_minutes=left, paused_until=opening if opening > now else None, windows=tuple(windows))


def _calendar(timer: SlaTimer, calendars: dict | None) -> clock.Calendar:
    if calendars is None:
        return calendar_to_clock(timer.calendar)
    if timer.calendar_id not in calendars:
        calendars[timer.calendar_id] = calendar_to_clock(timer.calendar)
    return calendars[timer.calendar_id]


def most_urgent(views: list[ClockView]) -> ClockView | None:
    """The clock with the least business time left, or the longest overdue (the queue's SLA column)."""
    timed = [v for v in views if v.urgency is not None]
    return min(timed, key=lambda v: v.urgency) if timed else None
