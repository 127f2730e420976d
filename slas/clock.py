"""Business-time arithmetic for SLA clocks: pure (no Django, no ORM, no clock — instants come in as arguments).

Vocabulary
    A *calendar* is a timezone, weekly working hours (several intervals per day; an interval whose end is at
    or before its start is an overnight shift that runs into the next day), holidays (explicit local dates
    and/or a country/subdivision of the `holidays` package), or `always_open` for 24/7.
    A *business minute* is a real elapsed minute inside working time and outside every pause.

Decisions (the model/engine authors rely on these)
    * Working intervals are half-open, [open, close): at 09:00 a 09:00-17:00 desk is open, at 17:00 it is closed.
      `is_open(17:00)` is False and `next_opening(17:00)` is the next morning.
    * A deadline that lands exactly on a closing time IS that closing instant: 60 minutes from 16:00 with
      close at 17:00 is 17:00, not the next opening at 09:00. The deadline is the instant the m-th business
      minute has elapsed, and at 17:00 it has. Reporting 09:00 instead would (a) fire breach notifications
      at the next morning's opening rather than while the team is still there, (b) put 16 wall-clock hours
      between two instants that are zero business minutes apart, so `warn_at`/`due_at` displays jump
      overnight. Some libraries (e.g. Python `businesstimedelta`) answer the next opening instead; both
      answers are zero business minutes apart, so `business_minutes_between` agrees with them either way.
      Consequence: for m > 0 the instant just before the deadline is always working time.
    * A clock started outside working time starts at the next opening. `minutes == 0` returns `start`
      itself, even when closed: a zero target is due at once.
    * DST: the weekly hours are wall-clock times. Each local date's intervals are turned into real
      instants through zoneinfo, so a 09:00-17:00 day is always 8 h, and a 00:00-24:00 day has 23 h
      (spring forward) or 25 h (fall back). A wall time that does not exist (inside the spring-forward gap)
      means the first instant after the gap — the moment the clocks jump to (a shift "from 02:30" on
      2026-03-29 in Berlin starts at 03:00 CEST); an interval wholly inside the gap is empty. An ambiguous
      wall time (the repeated hour of a fall-back) means its first occurrence (fold=0). Both rules keep
      the wall-to-real mapping monotonic, so no interval is ever inverted by a transition.
    * Holidays are local dates. A working interval belongs to the local date it starts on: an overnight
      shift that starts on the eve of a holiday runs to its end; a shift that starts on a holiday does not
      happen at all. Country holidays are the `holidays` package's default (public) category, observed
      days included as the package reports them (e.g. US 2026-07-03 for Independence Day on a Saturday);
      explicit dates are unioned in.
    * `always_open` counts every real minute: hours, holidays and country are ignored (but still validated),
      and the timezone does not matter.
    * Pauses are closed real-time intervals [start, end] during which the clock does not run, open or not.
      Overlapping or touching pauses are merged. An open-ended (still running) pause is not a pause this
      module can handle: the caller knows no deadline until it ends.
    * Precision: integer microseconds internally; `business_minutes_between` returns float minutes.
      Every returned instant is an aware UTC datetime.

Performance
    Working time is materialised per 28-day block of real time (UTC), as sorted, merged [open, close)
    instants with prefix sums of business time, cached per calendar (the calendar itself is hashable and
    compiled once per distinct value). `deadline` is then one or two bisections plus a walk over whole
    blocks for long targets — never minute by minute, never day by day once a block is built.
    Caches are idempotent, so concurrent threads at worst build the same block twice.
"""

from __future__ import annotations

import functools
import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as pyholidays

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_INDEX = {day: i for i, day in enumerate(DAYS)}
_DAY_MINUTES = 24 * 60
_WEEK_MINUTES = 7 * _DAY_MINUTES
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_SECOND_US = 1_000_000
_MINUTE_US = 60 * _SECOND_US
_BLOCK_US = 28 * 24 * 60 * _MINUTE_US
# Blocks are built from local dates one day either side; keep well inside datetime's year range.
_FIRST_BLOCK = (datetime(1900, 1, 1, tzinfo=UTC) - _EPOCH) // _ONE_US // _BLOCK_US
_LAST_BLOCK = (datetime(9990, 1, 1, tzinfo=UTC) - _EPOCH) // _ONE_US // _BLOCK_US
_HORIZON_US = (_LAST_BLOCK + 1) * _BLOCK_US
_RANGE_ERROR = "business time is only computed between the years 1900 and 9990"
_MAX_BLOCKS_PER_CALENDAR = 256  # ~20 years of blocks; typical clocks touch two or three


# A deadline further away than this is treated as unreachable: a calendar with a few minutes of working
# time a week and a long target would otherwise send the clock walking through centuries of weeks.
MAX_DEADLINE_YEARS = 10


class UnreachableDeadline(ValueError):
    """The target cannot be met on this calendar within MAX_DEADLINE_YEARS."""


class CalendarError(ValueError):
    """A calendar field is invalid. `.field` names it: timezone, hours, hours.<day>, holidays, country, subdivision."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class _Hours(Mapping):
    """Weekly hours as an immutable, hashable mapping (day -> tuple of (start, end)), so Calendar can be a cache key."""

    __slots__ = ("_data", "_hash", "_items")

    def __init__(self, items: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]) -> None:
        self._items = items
        self._data = dict(items)
        self._hash = hash(items)

    def __getitem__(self, day: str) -> tuple[tuple[str, str], ...]:
        return self._data[day]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Hours):
            return self._items == other._items
        if not isinstance(other, Mapping):
            return NotImplemented
        try:
            return self._items == _freeze_hours(other)._items
        except CalendarError:
            return False

    def __repr__(self) -> str:
        return repr({day: list(intervals) for day, intervals in self._items})


@dataclass(frozen=True)
class Calendar:
    """Working time. Plain dicts/lists are accepted and frozen; blank country/subdivision ("" from a form) mean none.

    Construction only fixes the shape (raising CalendarError when hours or holidays can't even be read);
    `validate()` checks the content, and every computation validates (once per distinct calendar).
    """

    timezone: str
    hours: Mapping[str, Sequence[tuple[str, str]]]
    holidays: frozenset[date] = frozenset()
    country: str | None = None
    subdivision: str | None = None
    always_open: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "hours", _freeze_hours(self.hours))
        object.__setattr__(self, "holidays", _freeze_holidays(self.holidays))
        object.__setattr__(self, "country", self.country or None)
        object.__setattr__(self, "subdivision", self.subdivision or None)


def _freeze_hours(hours: object) -> _Hours:
    if isinstance(hours, _Hours):
        return hours
    if not isinstance(hours, Mapping):
        raise CalendarError("hours", 'must be a mapping like {"mon": [("09:00", "17:00")]}')
    items = []
    for day, intervals in hours.items():
        try:
            frozen = tuple(tuple(interval) for interval in intervals)
        except TypeError:
            raise CalendarError(f"hours.{day}", 'must be a list of ("HH:MM", "HH:MM") pairs') from None
        items.append((day, frozen))
    items.sort(key=lambda item: (_DAY_INDEX.get(item[0], len(DAYS)), str(item[0])))
    return _Hours(tuple(items))


def _freeze_holidays(values: object) -> frozenset[date]:
    if isinstance(values, frozenset):
        return values
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise CalendarError("holidays", "must be a collection of dates")
    return frozenset(_as_date(value) for value in values)


def _as_date(value: object) -> object:
    # JSON carries dates as ISO strings; anything else is left for validate() to name.
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise CalendarError("holidays", f"{value!r} is not an ISO date (YYYY-MM-DD)") from None
    return value


ALWAYS_OPEN = Calendar(timezone="UTC", hours={}, always_open=True)


# --- validation -------------------------------------------------------------------------------------------


def validate(calendar: Calendar) -> None:
    """Raise CalendarError naming the first offending field; return None for a usable calendar."""
    _parse_calendar(calendar)


def _parse_calendar(calendar: Calendar) -> tuple[ZoneInfo, tuple[tuple[tuple[int, int], ...], ...]]:
    tz = _parse_timezone(calendar.timezone)
    weekly = _parse_week(calendar.hours)
    _check_overlaps(weekly)
    if not calendar.always_open and not any(weekly):
        raise CalendarError("hours", "no working time in the week (set hours, or always_open for 24/7)")
    _check_holidays(calendar.holidays)
    _check_country(calendar.country, calendar.subdivision)
    return tz, weekly


def _parse_timezone(name: object) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise CalendarError("timezone", "must be an IANA timezone name such as 'Europe/Berlin'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError("timezone", f"unknown timezone {name!r} (expected an IANA name)") from None


def _parse_week(hours: Mapping) -> tuple[tuple[tuple[int, int], ...], ...]:
    """Per weekday (mon=0), the intervals as minutes after that day's local midnight; end may exceed 1440.
    Any JSON may arrive here (an admin's text box), so every shape is checked before it is used."""
    if not isinstance(hours, Mapping):
        raise CalendarError("hours", 'must be an object such as {"mon": [["09:00", "17:00"]]}')
    unknown = [day for day in hours if day not in _DAY_INDEX]
    if unknown:
        raise CalendarError("hours", f"unknown day {unknown[0]!r} (expected one of {', '.join(DAYS)})")
    return tuple(tuple(_parse_interval(day, pair) for pair in _intervals(day, hours.get(day, ()))) for day in DAYS)


def _intervals(day: str, value: object) -> Sequence:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise CalendarError(f"hours.{day}", f'must be a list of ["HH:MM", "HH:MM"] pairs, not {value!r}')
    return value


def _parse_interval(day: str, pair: tuple) -> tuple[int, int]:
    field = f"hours.{day}"
    if isinstance(pair, str | bytes) or not isinstance(pair, Sequence) or len(pair) != 2:
        raise CalendarError(field, f'{pair!r} is not a ("HH:MM", "HH:MM") pair')
    start, end = _parse_time(field, pair[0]), _parse_time(field, pair[1])
    if start == _DAY_MINUTES:
        raise CalendarError(field, "an interval cannot start at 24:00")
    if start == end:
        raise CalendarError(field, f"{pair[0]}-{pair[1]} is empty (for a whole day use 00:00-24:00)")
    # end <= start: an overnight shift, ending on the next day.
    return (start, end) if end > start else (start, end + _DAY_MINUTES)


def _parse_time(field: str, text: object) -> int:
    match = _TIME_RE.match(text) if isinstance(text, str) else None
    if match is None:
        raise CalendarError(field, f'{text!r} is not a time "HH:MM"')
    hour, minute = int(match[1]), int(match[2])
    if (hour, minute) != (24, 0) and (hour > 23 or minute > 59):
        raise CalendarError(field, f"{text!r} is not a time of day (00:00-24:00)")
    return hour * 60 + minute


def _check_overlaps(weekly: tuple[tuple[tuple[int, int], ...], ...]) -> None:
    """Intervals on a minutes-of-the-week line; the one that starts while another still runs is named."""
    spans = sorted(
        (i * _DAY_MINUTES + start, i * _DAY_MINUTES + end, DAYS[i])
        for i, intervals in enumerate(weekly)
        for start, end in intervals
    )
    running_until = -1
    for start, end, day in spans:
        if start < running_until:
            raise CalendarError(f"hours.{day}", "intervals overlap (an overnight shift counts into the next day)")
        running_until = max(running_until, end)
    # Sunday's overnight shift runs into Monday of the next week.
    wrapped_until = running_until - _WEEK_MINUTES
    for start, _end, day in spans:
        if start < wrapped_until:
            raise CalendarError(f"hours.{day}", "intervals overlap (Sunday's overnight shift runs into Monday)")


def _check_holidays(values: frozenset) -> None:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise CalendarError("holidays", "must be a list of dates")
    for value in values:
        if isinstance(value, datetime) or not isinstance(value, date):
            raise CalendarError("holidays", f"{value!r} is not a date")


def _check_country(country: object, subdivision: object) -> None:
    if country is None:
        if subdivision is not None:
            raise CalendarError("subdivision", "a subdivision needs a country")
        return
    if not isinstance(country, str) or country not in pyholidays.list_supported_countries():
        raise CalendarError("country", f"unknown country {country!r} (expected a code like 'DE' or 'US')")
    if subdivision is None:
        return
    try:
        pyholidays.country_holidays(country, subdiv=subdivision)
    except (NotImplementedError, ValueError, TypeError):
        raise CalendarError("subdivision", f"unknown subdivision {subdivision!r} of {country}") from None


@functools.lru_cache(maxsize=4096)
def _country_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    # The package files an observed day under the year it falls in, but ask the neighbours too so a
    # New Year's Day observed on 31 December is found whichever year the package attributes it to.
    found = pyholidays.country_holidays(country, subdiv=subdivision, years=(year - 1, year, year + 1))
    return frozenset(day for day in found if day.year == year)


# --- wall clock to real instants ------------------------------------------------------------------------


def _to_us(moment: datetime) -> int:
    return (moment - _EPOCH) // _ONE_US


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _wall_to_us(day: date, minute: int, tz: ZoneInfo) -> int:
    """The real instant of a local wall time; `minute` may run past midnight into the next day."""
    naive = datetime(day.year, day.month, day.day) + timedelta(minutes=minute)
    # fold=0: an ambiguous wall time (fall-back's repeated hour) means its first occurrence.
    moment = naive.replace(tzinfo=tz).astimezone(UTC)
    if moment.astimezone(tz).replace(tzinfo=None) == naive:
        return _to_us(moment)
    # The wall time does not exist (spring-forward gap): it means the moment the clocks jump to.
    return _gap_end_us(naive, tz)


def _gap_end_us(naive: datetime, tz: ZoneInfo) -> int:
    """The transition instant of the gap containing `naive`, found by bisection to the second."""
    before = naive.replace(tzinfo=tz, fold=0).utcoffset()
    low = _to_us(naive.replace(tzinfo=tz, fold=1).astimezone(UTC)) // _SECOND_US  # still the old offset
    high = -(-_to_us(naive.replace(tzinfo=tz, fold=0).astimezone(UTC)) // _SECOND_US)  # already the new one
    while high - low > 1:
        middle = (low + high) // 2
        if _from_us(middle * _SECOND_US).astimezone(tz).utcoffset() == before:
            low = middle
        else:
            high = middle
    return high * _SECOND_US


def _local_date(us: int, tz: ZoneInfo) -> date:
    return _from_us(us).astimezone(tz).date()


# --- compiled calendars: blocks of working time ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Block:
    """Working time inside one 28-day block of real time: merged [open, close) instants and prefix sums."""

    starts: list[int]
    ends: list[int]
    before: list[int]  # business µs in this block before interval i
    through: list[int]  # business µs in this block up to the end of interval i
    total: int

    def offset(self, t: int) -> int:
        """Business µs in this block before instant t."""
        i = bisect_right(self.ends, t)
        if i == len(self.ends):
            return self.total
        start = self.starts[i]
        return self.before[i] + (t - start if t > start else 0)

    def instant_at(self, goal: int) -> int:
        """The instant at which `goal` (0 < goal <= total) business µs of this block have elapsed.

        bisect_left picks the interval in which the goal is reached *at or before its close*, so a goal
        reached exactly at a closing time answers the closing instant (see the module docstring)."""
        j = bisect_left(self.through, goal)
        return self.starts[j] + goal - self.before[j]


class _Compiled:
    """A validated calendar with its per-block cache of working time."""

    def __init__(self, calendar: Calendar) -> None:
        self.tz, self.weekly = _parse_calendar(calendar)
        self.always_open = calendar.always_open
        self.holidays = calendar.holidays
        self.country = calendar.country
        self.subdivision = calendar.subdivision
        self.blocks: dict[int, _Block] = {}

    def block(self, k: int) -> _Block:
        found = self.blocks.get(k)
        if found is None:
            if not _FIRST_BLOCK <= k <= _LAST_BLOCK:
                raise ValueError(_RANGE_ERROR)
            if len(self.blocks) >= _MAX_BLOCKS_PER_CALENDAR:
                self.blocks.clear()
            found = self.blocks[k] = self._build_block(k)
        return found

    def _build_block(self, k: int) -> _Block:
        low, high = k * _BLOCK_US, (k + 1) * _BLOCK_US
        # From the local day before: its overnight shift may still be running when the block begins.
        first, last = _local_date(low, self.tz) - timedelta(days=1), _local_date(high, self.tz)
        spans = []
        for day in _dates(first, last):
            for start, end in self._day_intervals(day):
                start, end = max(start, low), min(end, high)
                if start < end:
                    spans.append((start, end))
        return _make_block(_merge(spans))

    def _day_intervals(self, day: date) -> Iterator[tuple[int, int]]:
        # Holidays remove the intervals that *start* on that local date (a shift belongs to its start day).
        if self._is_holiday(day):
            return
        for start, end in self.weekly[day.weekday()]:
            start_us, end_us = _wall_to_us(day, start, self.tz), _wall_to_us(day, end, self.tz)
            if start_us < end_us:  # empty when wholly inside a spring-forward gap
                yield start_us, end_us

    def _is_holiday(self, day: date) -> bool:
        if day in self.holidays:
            return True
        return self.country is not None and day in _country_holidays(self.country, self.subdivision, day.year)

    # --- queries in integer microseconds (no pauses) ---

    def is_open_us(self, t: int) -> bool:
        if self.always_open:
            return True
        block = self.block(t // _BLOCK_US)
        i = bisect_right(block.ends, t)
        return i < len(block.ends) and block.starts[i] <= t

    def next_open_us(self, t: int) -> int:
        if self.always_open:
            return t
        k = t // _BLOCK_US
        block = self.block(k)
        i = bisect_right(block.ends, t)
        if i < len(block.ends):
            return max(t, block.starts[i])
        while True:
            k += 1
            block = self.block(k)
            if block.starts:
                return block.starts[0]

    def business_us(self, a: int, b: int) -> int:
        """Business µs in [a, b); a <= b."""
        if self.always_open:
            return b - a
        ka, kb = a // _BLOCK_US, b // _BLOCK_US
        first = self.block(ka)
        if ka == kb:
            return first.offset(b) - first.offset(a)
        total = first.total - first.offset(a)
        for k in range(ka + 1, kb):
            total += self.block(k).total
        return total + self.block(kb).offset(b)

    def deadline_us(self, t: int, amount: int) -> int:
        """The instant at which `amount` (> 0) business µs have elapsed since t."""
        if self.always_open:
            return t + amount
        k = t // _BLOCK_US
        block = self.block(k)
        goal = block.offset(t) + amount
        # Whole blocks are skipped by their totals: long targets cost one step per 28 days.
        while goal > block.total:
            goal -= block.total
            k += 1
            block = self.block(k)
        return block.instant_at(goal)


def _dates(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort and merge touching intervals (Monday 24:00 meets Tuesday 00:00; a split shift 12:00|12:00)."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _make_block(spans: list[tuple[int, int]]) -> _Block:
    starts, ends, before, through = [], [], [], []
    total = 0
    for start, end in spans:
        starts.append(start)
        ends.append(end)
        before.append(total)
        total += end - start
        through.append(total)
    return _Block(starts, ends, before, through, total)


@functools.lru_cache(maxsize=1024)
def _compiled(calendar: Calendar) -> _Compiled:
    return _Compiled(calendar)


# --- argument checks --------------------------------------------------------------------------------------


def _instant_us(moment: object, name: str) -> int:
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(moment).__name__}")
    if moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return _to_us(moment)


def _amount_us(minutes: object) -> int:
    if isinstance(minutes, bool) or not isinstance(minutes, int | float):
        raise TypeError(f"minutes must be a number, not {type(minutes).__name__}")
    if not math.isfinite(minutes) or minutes < 0:
        raise ValueError(f"minutes must be a finite number >= 0, not {minutes!r}")
    return minutes * _MINUTE_US if isinstance(minutes, int) else round(minutes * _MINUTE_US)


def _pause_spans(pauses: Sequence[tuple[datetime, datetime]]) -> list[tuple[int, int]]:
    spans = []
    for i, pause in enumerate(pauses):
        start, end = _instant_us(pause[0], f"pauses[{i}] start"), _instant_us(pause[1], f"pauses[{i}] end")
        if end < start:
            raise ValueError(f"pauses[{i}]: ends before it starts")
        if start < end:
            spans.append((start, end))
    return _merge(spans)


# --- public API -------------------------------------------------------------------------------------------


def deadline(
    start: datetime, minutes: int, calendar: Calendar, pauses: Sequence[tuple[datetime, datetime]] = ()
) -> datetime:
    """The UTC instant at which `minutes` business minutes have elapsed since `start`, pauses excluded."""
    t = _instant_us(start, "start")
    amount = _amount_us(minutes)
    compiled = _compiled(calendar)
    if t + amount > _HORIZON_US:
        # Business time never outruns real time, so this deadline is past the horizon: fail now, not after
        # building every block on the way there.
        raise ValueError(f"minutes: {_RANGE_ERROR}")
    if amount == 0:
        return _from_us(t)  # a zero target is due at once, open or not
    _check_reachable(minutes, compiled)
    for pause_start, pause_end in _pause_spans(pauses):
        if pause_end <= t:
            continue
        if pause_start > t:
            due = compiled.deadline_us(t, amount)
            if due <= pause_start:
                return _from_us(due)
            amount -= compiled.business_us(t, pause_start)
        t = pause_end  # the clock resumes when the pause ends
    return _from_us(compiled.deadline_us(t, amount))


def weekly_minutes(calendar: Calendar) -> int:
    """Working minutes in a week without holidays (10,080 for 24/7)."""
    compiled = _compiled(calendar)
    return _weekly_minutes(compiled)


def _weekly_minutes(compiled: _Compiled) -> int:
    if compiled.always_open:
        return 7 * _DAY_MINUTES
    return sum(end - start for day in compiled.weekly for start, end in day)


def _check_reachable(minutes: float, compiled: _Compiled) -> None:
    # Holidays only push a deadline later, so weeks of plain working time are a lower bound on its span.
    weeks = minutes / _weekly_minutes(compiled)
    if weeks > MAX_DEADLINE_YEARS * 52:
        raise UnreachableDeadline(
            f"{minutes:g} business minutes take over {MAX_DEADLINE_YEARS} years on this calendar "
            f"({_weekly_minutes(compiled)} working minutes a week)"
        )


def business_minutes_between(
    a: datetime, b: datetime, calendar: Calendar, pauses: Sequence[tuple[datetime, datetime]] = ()
) -> float:
    """Business minutes in [a, b), pauses excluded, to the microsecond; 0.0 if b <= a."""
    start, end = _instant_us(a, "a"), _instant_us(b, "b")
    compiled = _compiled(calendar)
    spans = _pause_spans(pauses)
    if end <= start:
        return 0.0
    total = compiled.business_us(start, end)
    for pause_start, pause_end in spans:
        low, high = max(start, pause_start), min(end, pause_end)
        if low < high:
            total -= compiled.business_us(low, high)
    return total / _MINUTE_US


def next_opening(t: datetime, calendar: Calendar) -> datetime:
    """`t` (in UTC) if the calendar is open at t, else the next instant working time starts."""
    return _from_us(_compiled(calendar).next_open_us(_instant_us(t, "t")))


def open_windows(
    start: datetime, end: datetime, calendar: Calendar, limit: int = 64
) -> list[tuple[datetime, datetime]]:
    """The working intervals that overlap [start, end), clipped to it, in order, at most `limit` of them: what
    a live countdown in the browser needs to count business time down (and to say when a closed clock opens
    again) without the calendar's rules. Adjacent blocks' intervals that touch are joined."""
    low, high = _instant_us(start, "start"), _instant_us(end, "end")
    if high <= low:
        return []
    compiled = _compiled(calendar)
    if compiled.always_open:
        return [(_from_us(low), _from_us(high))]
    windows: list[list[int]] = []
    for k in range(low // _BLOCK_US, high // _BLOCK_US + 1):
        block = compiled.block(k)
        for s, e in zip(block.starts, block.ends, strict=True):
            s, e = max(s, low), min(e, high)
            if s >= e:
                continue
            if windows and windows[-1][1] == s:
                windows[-1][1] = e  # one shift split by a block boundary
            elif len(windows) == limit:
                return [(_from_us(a), _from_us(b)) for a, b in windows]
            else:
                windows.append([s, e])
    return [(_from_us(a), _from_us(b)) for a, b in windows]


def is_open(t: datetime, calendar: Calendar) -> bool:
    """Whether t is inside working time ([open, close): open at the opening instant, closed at the closing one)."""
    return _compiled(calendar).is_open_us(_instant_us(t, "t"))


def day_start(day: date, timezone: str) -> datetime:
    """The instant (UTC) a local calendar day begins in `timezone`: its midnight, or the end of a DST gap
    that swallows midnight. The metrics' periods are whole local days, half-open [start, end)."""
    return _from_us(_wall_to_us(day, 0, _parse_timezone(timezone)))


def local_today(now: datetime, timezone: str) -> date:
    return now.astimezone(_parse_timezone(timezone)).date()
