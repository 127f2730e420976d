"""slas.clock benchmark: `deadline()` calls per second for typical SLA targets (30 min - 3 days), with the two
reference points that make the figure mean something, measured in the same run:

- ceiling: `start + timedelta(minutes=m)` -- what a 24/7 clock costs with no function call at all;
- naive: a minute-by-minute stepping implementation (below) on the first --naive calls, extrapolated; its
  answers are also compared with `deadline()`'s, so the speed-up is between two implementations that agree.

Workload: a Berlin split-shift calendar (Mon-Fri 09:00-12:00, 13:00-17:00, German public holidays), starts at
random whole minutes of 2026 (seeded), targets drawn from 30 min, 1 h, 2 h, 4 h, 8 h, 1 d, 2 d, 3 d.
"cold" is the first pass after clearing every cache (it builds the year's blocks of working time);
"warm" is the best of --repeat passes afterwards. Pure Python, one core, no database.

    .venv/bin/python bench/clock_bench.py            # results and how to read them: bench/CLOCK.md
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays as pyholidays

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slas import clock
from slas.clock import ALWAYS_OPEN, Calendar, business_minutes_between, deadline

TARGETS = [30, 60, 120, 240, 480, 1440, 2880, 4320]
CALENDAR = Calendar(
    "Europe/Berlin",
    {day: [("09:00", "12:00"), ("13:00", "17:00")] for day in ("mon", "tue", "wed", "thu", "fri")},
    country="DE",
)


def workload(calls: int, seed: int) -> list[tuple[datetime, int]]:
    rng = random.Random(seed)
    year = datetime(2026, 1, 1, tzinfo=UTC)
    return [(year + timedelta(minutes=rng.randrange(365 * 24 * 60)), rng.choice(TARGETS)) for _ in range(calls)]


# --- the naive baseline: step minute by minute ------------------------------------------------------------


class NaiveClock:
    """What a first attempt looks like: ask "is this minute open?" for every minute until the target is used up."""

    def __init__(self, tz: str, intervals: list[tuple[int, int]], weekdays: set[int], country: str) -> None:
        self.tz = ZoneInfo(tz)
        self.intervals = intervals  # minutes after local midnight, same every working day
        self.weekdays = weekdays
        self.holidays = pyholidays.country_holidays(country)

    def minute_is_open(self, t: datetime) -> bool:
        local = t.astimezone(self.tz)
        if local.weekday() not in self.weekdays or local.date() in self.holidays:
            return False
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.intervals)

    def deadline(self, start: datetime, minutes: int) -> datetime:
        t, left = start, minutes
        while left:
            if self.minute_is_open(t):
                left -= 1
            t += timedelta(minutes=1)
        return t


NAIVE = NaiveClock("Europe/Berlin", [(9 * 60, 12 * 60), (13 * 60, 17 * 60)], {0, 1, 2, 3, 4}, "DE")


# --- timing -----------------------------------------------------------------------------------------------


def timed(function, calls: list[tuple[datetime, int]]) -> float:
    """Seconds for one pass of `function(start, minutes)` over the workload."""
    began = time.perf_counter()
    for start, minutes in calls:
        function(start, minutes)
    return time.perf_counter() - began


def best_of(repeat: int, function, calls: list[tuple[datetime, int]]) -> float:
    return min(timed(function, calls) for _ in range(repeat))


def clear_caches() -> None:
    clock._compiled.cache_clear()
    clock._country_holidays.cache_clear()


def check_agreement(calls: list[tuple[datetime, int]]) -> int:
    """How many of the naive answers differ from deadline()'s (expected: 0)."""
    return sum(NAIVE.deadline(start, minutes) != deadline(start, minutes, CALENDAR) for start, minutes in calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--naive", type=int, default=300, help="calls timed with the naive baseline")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    calls = workload(args.calls, args.seed)
    naive_calls = calls[: args.naive]

    clear_caches()
    cold = timed(lambda s, m: deadline(s, m, CALENDAR), calls)
    warm = best_of(args.repeat, lambda s, m: deadline(s, m, CALENDAR), calls)
    ceiling = best_of(args.repeat, lambda s, m: s + timedelta(minutes=m), calls)
    always_open = best_of(args.repeat, lambda s, m: deadline(s, m, ALWAYS_OPEN), calls)
    pauses = [(datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 2, tzinfo=UTC))] * 2
    paused = best_of(args.repeat, lambda s, m: deadline(s, m, CALENDAR, pauses), calls)
    between = best_of(args.repeat, lambda s, m: business_minutes_between(s, s + timedelta(days=3), CALENDAR), calls)
    naive = timed(NAIVE.deadline, naive_calls)
    disagreements = check_agreement(naive_calls)

    rate = args.calls / warm
    naive_rate = len(naive_calls) / naive
    rows = [
        ("ceiling: start + timedelta(minutes=m)", args.calls / ceiling),
        ("deadline(), ALWAYS_OPEN (API overhead)", args.calls / always_open),
        ("deadline(), business calendar, warm", rate),
        ("deadline(), business calendar, cold (first pass)", args.calls / cold),
        ("deadline() with 2 pauses, warm", args.calls / paused),
        ("business_minutes_between(s, s + 3 days), warm", args.calls / between),
        (f"naive minute stepping ({len(naive_calls)} calls)", naive_rate),
    ]
    print(
        f"date {datetime.now(UTC):%Y-%m-%d}, {platform.processor() or platform.machine()}, nproc {os.cpu_count()}, "
        f"Python {platform.python_version()}, holidays {pyholidays.__version__}, {args.calls} calls"
    )
    for name, per_second in rows:
        print(f"  {name:<52} {per_second:>14,.0f} calls/s")
    print(
        f"  warm deadline() vs naive: x{rate / naive_rate:,.0f}; vs ceiling: {rate / (args.calls / ceiling):.2f} "
        f"of its rate; naive answers differing from deadline(): {disagreements} of {len(naive_calls)}"
    )
    print(f"  target >= 50,000 calls/s: {'met' if rate >= 50_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
