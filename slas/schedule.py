"""When a clock is next looked at: its deadline, its warnings, and the periods of a recurring clock. No
queries and no clock of its own: the functions set a timer's schedule columns from its start, target,
pauses and business calendar (slas/clock.py does the maths).

Recurring clocks (models.RECURRING_METRICS: an escalation's customer-update clock)
    The seeds want the customer told "within 1 hour of escalation with a status message, even if there's
    no resolution yet" (001) and kept informed with "regular updates" while it lasts (002). So the clock
    does not stop when met. An update — a public agent reply, or a routine escalation's milestone message —
    ends the current period (counted in `met_periods`) and the next one starts at the update. A deadline
    that passes with no update is a miss (counted in `misses`, the latest stamped in `breached_at`) and the
    next period starts at that deadline, so every further period of silence is one more miss.
    The periods follow from when updates were given, not from when the sweep ran: a late sweep counts
    every deadline it passed (`catch_up`), and an update that arrives after a deadline the sweep has not
    reached yet counts that miss first. Closing the clock (the escalation resolved, returned or
    de-escalated; the ticket solved) ends the current period, counted neither way.
    Boundaries: an update at the very moment of a deadline is in time (as `services._meet` decides for a
    one-shot clock); a sweep that reaches a deadline counts it (as it breaches a one-shot clock).

Business time or wall time for the hourly update
    Decision: the recurring clock runs on the calendar of the ticket's SLA policy, like every escalation
    clock. With the default policies (slas/defaults.py) an urgent or VIP escalation runs on "24/7", so its
    hour is a wall-clock hour, day and night; a high or standard one runs on "Business hours", so its hour
    is a working hour and nights and weekends count no misses.
    Why: the hour is a promise made by the people working the escalation ("Ticket owner updates the
    customer", seed 001), and the policy already says when they are on the clock for this customer —
    around the clock for the seeds' VIP accounts and critical issues ("these alerts should go out
    immediately", 000), office hours for the rest. A wall clock on a standard ticket would count sixteen
    misses every night that nobody on shift could have prevented, and the number would measure staffing,
    not communication. A tenant that wants wall-clock updates for a class of tickets gives that class a
    policy on a 24/7 calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from django.utils.dateparse import parse_datetime

from slas import clock
from slas.models import RECURRING_METRICS, SlaTimer, TimerStatus


def timer_pauses(timer: SlaTimer) -> list[tuple[datetime, datetime]]:
    return [(parse_datetime(start), parse_datetime(end)) for start, end in timer.pauses]


def next_threshold(timer: SlaTimer) -> int | None:
    done = timer.warned_percent or 0
    return min((p for p in timer.warn_percents if done < p < 100), default=None)


@lru_cache(maxsize=4096)
def _deadline(start: datetime, minutes: int, calendar: clock.Calendar, pauses: tuple) -> datetime:
    # clock.deadline is pure and its inputs are values (Calendar is frozen and hashable), so one answer serves
    # every clock of the same start, target and calendar: a storm's escalations all start at the sweep's `at`
    # on a handful of policies (profiled: 14,000 deadlines for 2,000 escalations, ~0.2 ms each, before).
    return clock.deadline(start, minutes, calendar, pauses)


def schedule(timer: SlaTimer, calendar: clock.Calendar) -> None:
    """Sets due_at, warn_at and next_check_at of a running timer from its start, target and pauses. A
    target the calendar cannot meet within clock.MAX_DEADLINE_YEARS (a sparse account or team calendar
    under a long target) leaves the clock running with no deadline, rather than failing the ticket."""
    pauses = tuple(timer_pauses(timer))
    try:
        timer.due_at = _deadline(timer.started_at, timer.target_minutes, calendar, pauses)
    except clock.UnreachableDeadline:
        clear_schedule(timer)
        return
    threshold = next_threshold(timer)
    timer.warn_at = None
    if threshold is not None:
        warn_minutes = timer.target_minutes * threshold // 100
        warn_at = _deadline(timer.started_at, warn_minutes, calendar, pauses)
        timer.warn_at = warn_at if warn_at < timer.due_at else None
    timer.next_check_at = min(t for t in (timer.warn_at, timer.due_at) if t is not None)


def clear_schedule(timer: SlaTimer) -> None:
    timer.warn_at = timer.due_at = timer.next_check_at = None


# --- recurring clocks ---------------------------------------------------------------------------


def is_recurring(timer: SlaTimer) -> bool:
    return timer.metric in RECURRING_METRICS


def restart(timer: SlaTimer, at: datetime, calendar: clock.Calendar) -> None:
    """The next period of a recurring clock starts at `at`, with a fresh deadline and fresh warnings. Its
    pauses stay as they are: escalation clocks never pause (only a ticket's own clocks do)."""
    timer.started_at = at
    timer.warned_percent = timer.warned_at = None
    timer.status = TimerStatus.RUNNING
    schedule(timer, calendar)


@dataclass(frozen=True)
class Miss:
    """A period of a recurring clock that ended with no update."""

    started_at: datetime
    due_at: datetime
    count: int  # the clock's misses, this one included


def catch_up(timer: SlaTimer, at: datetime, calendar: clock.Calendar, *, reached: bool = False) -> list[Miss]:
    """Counts every deadline of a running recurring clock that passed before `at` (or, `reached`, at it too:
    the sweep) as a miss, each next period starting at the deadline it missed; returns the misses, oldest
    first. A clock without a deadline, or one that is not running, has none."""
    missed: list[Miss] = []
    while timer.status == TimerStatus.RUNNING and timer.due_at is not None:
        due = timer.due_at
        # A period always ends after it starts (targets are at least a minute): the loop moves forward.
        if due <= timer.started_at or due > at or (due == at and not reached):
            break
        timer.misses += 1
        timer.breached_at = due
        missed.append(Miss(started_at=timer.started_at, due_at=due, count=timer.misses))
        restart(timer, due, calendar)
    return missed
