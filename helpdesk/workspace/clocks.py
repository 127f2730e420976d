"""SLA clocks as the pages show them: business time left (or overdue) on the clock's own calendar, its share
of the target, and the working windows ahead, so the browser counts down in business time without knowing the
calendar (static/workspace.js): it subtracts the business time that passed since the page was rendered, and
says "paused until …" while the calendar is closed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

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
            return "breached"
        amount = duration(abs(self.left_minutes))
        state = f"{amount} overdue" if self.left_minutes < 0 else f"{amount} left"
        if self.paused_until is not None:
            return f"{state}, paused until {self.paused_until:%a %H:%M} (outside business hours)"
        return state

    @property
    def label(self) -> str:
        return f"{self.name}: {self.text}"


def duration(minutes: float) -> str:
    """Business time in words: "45 min", "3 h 5 min", "26 h" — hours, not days: a business day's length
    depends on the calendar."""
    whole = round(minutes)
    hours, rest = divmod(whole, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def clock_view(timer: SlaTimer, now: datetime) -> ClockView:
    base = {
        "metric": timer.metric,
        "name": NAMES.get(timer.metric, timer.metric.replace("_", " ").capitalize()),
        "status": timer.status,
        "due_at": timer.due_at,
        "target_minutes": timer.target_minutes,
        "misses": getattr(timer, "misses", 0) or 0,
    }
    if timer.status != TimerStatus.RUNNING or timer.due_at is None:
        return ClockView(**base, left_minutes=None, paused_until=None, windows=())
    calendar = calendar_to_clock(timer.calendar)
    due = timer.due_at
    if due > now:
        left = clock.business_minutes_between(now, due, calendar)
    else:
        left = -clock.business_minutes_between(due, now, calendar)
    opening = clock.next_opening(now, calendar)
    windows = clock.open_windows(now, max(due, now) + WINDOW_HORIZON, calendar)
    return ClockView(**base, left_minutes=left, paused_until=opening if opening > now else None, windows=tuple(windows))


def most_urgent(views: list[ClockView]) -> ClockView | None:
    """The running clock with the least business time left (the queue's SLA column)."""
    running = [v for v in views if v.left_minutes is not None]
    return min(running, key=lambda v: v.left_minutes) if running else None
