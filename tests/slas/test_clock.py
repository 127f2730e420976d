"""slas/clock.py: business-time arithmetic. Pure: no database, no clock. Expected instants are worked out by hand
in the comments (local wall time first, UTC where a DST offset matters)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slas.clock import (
    ALWAYS_OPEN,
    DAYS,
    Calendar,
    CalendarError,
    business_minutes_between,
    deadline,
    is_open,
    next_opening,
    open_windows,
    validate,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def at(tz: str, text: str) -> datetime:
    """A local wall time (never an ambiguous one in these tables)."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz))


def berlin(text: str) -> datetime:
    return at("Europe/Berlin", text)


def new_york(text: str) -> datetime:
    return at("America/New_York", text)


def utc(text: str) -> datetime:
    return at("UTC", text)


def weekly(days, *intervals) -> dict:
    return {day: list(intervals) for day in days}


BERLIN_9_17 = Calendar("Europe/Berlin", weekly(WEEKDAYS, ("09:00", "17:00")))
BERLIN_SPLIT = Calendar("Europe/Berlin", weekly(WEEKDAYS, ("09:00", "12:00"), ("13:00", "17:00")))
BERLIN_DE = Calendar("Europe/Berlin", weekly(WEEKDAYS, ("09:00", "17:00")), country="DE")
BERLIN_BY = Calendar("Europe/Berlin", weekly(WEEKDAYS, ("09:00", "17:00")), country="DE", subdivision="BY")
BERLIN_TUESDAY_OFF = Calendar("Europe/Berlin", weekly(WEEKDAYS, ("09:00", "17:00")), holidays={date(2026, 3, 3)})
NY_US = Calendar("America/New_York", weekly(WEEKDAYS, ("09:00", "17:00")), country="US")
# Every day 09:00-17:00, so the Sunday DST transitions fall on a working day.
BERLIN_DAILY = Calendar("Europe/Berlin", weekly(DAYS, ("09:00", "17:00")))
NY_DAILY = Calendar("America/New_York", weekly(DAYS, ("09:00", "17:00")))
# "24/7" in local wall time: a transition day has 23 or 25 real hours.
BERLIN_ROUND_CLOCK = Calendar("Europe/Berlin", weekly(DAYS, ("00:00", "24:00")))
NY_ROUND_CLOCK = Calendar("America/New_York", weekly(DAYS, ("00:00", "24:00")))
# Night shifts Mon 22:00 -> Tue 06:00 ... Fri 22:00 -> Sat 06:00.
NIGHTS = Calendar("UTC", weekly(WEEKDAYS, ("22:00", "06:00")))
NIGHTS_WEDNESDAY_OFF = Calendar("UTC", weekly(WEEKDAYS, ("22:00", "06:00")), holidays={date(2026, 3, 4)})
# Wall times inside the spring-forward gap (02:00-03:00 on both zones' transition Sundays).
BERLIN_SUNDAY_GAP = Calendar("Europe/Berlin", {"sun": [("02:30", "04:00")]})
NY_SUNDAY_GAP = Calendar("America/New_York", {"sun": [("02:30", "04:00")]})


# --- deadline: table ---------------------------------------------------------------------------------------

DEADLINES = [
    # 2026-03-02 is a Monday.
    ("same day", BERLIN_9_17, berlin("2026-03-02 10:00"), 120, berlin("2026-03-02 12:00")),
    (
        "start before opening: clock starts at 09:00",
        BERLIN_9_17,
        berlin("2026-03-02 07:30"),
        30,
        berlin("2026-03-02 09:30"),
    ),
    (
        "start after closing: clock starts next morning",
        BERLIN_9_17,
        berlin("2026-03-02 18:00"),
        30,
        berlin("2026-03-03 09:30"),
    ),
    ("weekend skipped", BERLIN_9_17, berlin("2026-03-06 16:00"), 120, berlin("2026-03-09 10:00")),
    ("start on a Saturday", BERLIN_9_17, berlin("2026-03-07 12:00"), 60, berlin("2026-03-09 10:00")),
    (
        "exactly on closing time is the closing instant",
        BERLIN_9_17,
        berlin("2026-03-02 16:00"),
        60,
        berlin("2026-03-02 17:00"),
    ),
    ("one minute past closing rolls over", BERLIN_9_17, berlin("2026-03-02 16:00"), 61, berlin("2026-03-03 09:01")),
    (
        "minutes=0 is start itself, even when closed",
        BERLIN_9_17,
        berlin("2026-03-07 12:00"),
        0,
        berlin("2026-03-07 12:00"),
    ),
    ("lunch break skipped", BERLIN_SPLIT, berlin("2026-03-02 11:00"), 120, berlin("2026-03-02 14:00")),
    ("start inside the lunch break", BERLIN_SPLIT, berlin("2026-03-02 12:30"), 30, berlin("2026-03-02 13:30")),
    ("lands on the lunch break's start", BERLIN_SPLIT, berlin("2026-03-02 11:00"), 60, berlin("2026-03-02 12:00")),
    # Night shifts belong to the day they start on.
    ("overnight shift crosses midnight", NIGHTS, utc("2026-03-02 23:00"), 240, utc("2026-03-03 03:00")),
    ("overnight shift: start before it", NIGHTS, utc("2026-03-02 20:00"), 60, utc("2026-03-02 23:00")),
    ("overnight shift: morning part, then the evening", NIGHTS, utc("2026-03-03 05:00"), 120, utc("2026-03-03 23:00")),
    # Fri 23:00 -> Sat 06:00 is Friday's shift (420 min); the next shift is Monday 22:00.
    ("overnight shift runs into the weekend", NIGHTS, utc("2026-03-06 23:00"), 480, utc("2026-03-09 23:00")),
    # Tuesday's shift runs into the holiday Wednesday (worked); Wednesday's own shift is dropped.
    (
        "overnight shift runs into a holiday",
        NIGHTS_WEDNESDAY_OFF,
        utc("2026-03-03 23:00"),
        480,
        utc("2026-03-05 23:00"),
    ),
    ("explicit holiday skipped", BERLIN_TUESDAY_OFF, berlin("2026-03-02 16:00"), 120, berlin("2026-03-04 10:00")),
    # DE: 2026-12-24 (Thu) is a working day, 25 (Fri) is Christmas Day, 26 is a Saturday anyway.
    ("DE Christmas Day", BERLIN_DE, berlin("2026-12-24 16:00"), 120, berlin("2026-12-28 10:00")),
    # Epiphany (Tue 2026-01-06) is a holiday in Bavaria only.
    ("DE-BY Epiphany", BERLIN_BY, berlin("2026-01-05 16:00"), 120, berlin("2026-01-07 10:00")),
    ("DE without BY works on Epiphany", BERLIN_DE, berlin("2026-01-05 16:00"), 120, berlin("2026-01-06 10:00")),
    # Independence Day 2026 is a Saturday; the `holidays` package observes it on Friday 2026-07-03.
    ("US Independence Day observed on Friday", NY_US, new_york("2026-07-02 16:00"), 120, new_york("2026-07-06 10:00")),
    # 15 working days of 8 h from Monday 09:00 end on the third Friday's closing.
    ("three weeks", BERLIN_9_17, berlin("2026-03-02 09:00"), 15 * 480, berlin("2026-03-20 17:00")),
    ("six weeks", BERLIN_9_17, berlin("2026-06-01 09:00"), 30 * 480, berlin("2026-07-10 17:00")),
    # Mar 23-27 (5 days), DST, Mar 30-Apr 2 (4), Good Friday Apr 3 and Easter Monday Apr 6 off, Apr 7 (10th day).
    (
        "two weeks across DST and Easter",
        BERLIN_DE,
        berlin("2026-03-23 09:00"),
        10 * 480 + 10,
        berlin("2026-04-08 09:10"),
    ),
    # DST, 9-17 every day: Saturday 16:00 CET + 60 = 17:00; Sunday opens 09:00 CEST (07:00 UTC), + 60.
    ("Berlin spring forward, 9-17", BERLIN_DAILY, berlin("2026-03-28 16:00"), 120, utc("2026-03-29 08:00")),
    ("Berlin fall back, 9-17", BERLIN_DAILY, berlin("2026-10-24 16:00"), 120, utc("2026-10-25 09:00")),
    ("New York spring forward, 9-17", NY_DAILY, new_york("2026-03-07 16:00"), 120, utc("2026-03-08 14:00")),
    ("New York fall back, 9-17", NY_DAILY, new_york("2026-10-31 16:00"), 120, utc("2026-11-01 15:00")),
    # 00:00-24:00 every day: 1440 business minutes from local midnight are 24 real hours, not "the next midnight".
    (
        "Berlin spring forward, local 24/7",
        BERLIN_ROUND_CLOCK,
        berlin("2026-03-29 00:00"),
        1440,
        berlin("2026-03-30 01:00"),
    ),
    ("Berlin fall back, local 24/7", BERLIN_ROUND_CLOCK, berlin("2026-10-25 00:00"), 1440, berlin("2026-10-25 23:00")),
    ("NY spring forward, local 24/7", NY_ROUND_CLOCK, new_york("2026-03-08 00:00"), 1440, new_york("2026-03-09 01:00")),
    ("NY fall back, local 24/7", NY_ROUND_CLOCK, new_york("2026-11-01 00:00"), 1440, new_york("2026-11-01 23:00")),
    # A 02:30 start that doesn't exist begins when the clocks jump: 03:00 CEST / 03:00 EDT.
    (
        "Berlin gap: shift starts at the jump",
        BERLIN_SUNDAY_GAP,
        berlin("2026-03-29 00:00"),
        30,
        berlin("2026-03-29 03:30"),
    ),
    ("NY gap: shift starts at the jump", NY_SUNDAY_GAP, new_york("2026-03-08 00:00"), 30, new_york("2026-03-08 03:30")),
    # Ambiguous 02:30 on the fall-back day is its first occurrence: 02:30 CEST = 00:30 UTC.
    ("Berlin fold: first occurrence", BERLIN_SUNDAY_GAP, berlin("2026-10-25 00:00"), 30, utc("2026-10-25 01:00")),
    ("24/7 UTC constant", ALWAYS_OPEN, berlin("2026-03-28 16:00"), 24 * 60, berlin("2026-03-29 17:00")),
]


@pytest.mark.parametrize(
    ("calendar", "start", "minutes", "expected"), [case[1:] for case in DEADLINES], ids=[case[0] for case in DEADLINES]
)
def test_it_computes_the_deadline(calendar, start, minutes, expected):
    due = deadline(start, minutes, calendar)

    assert due == expected
    assert due.tzinfo is UTC
    assert business_minutes_between(start, due, calendar) == pytest.approx(minutes, abs=1e-9)


# --- pauses ------------------------------------------------------------------------------------------------

PAUSED = [
    ("inside open time", berlin("2026-03-02 10:00"), 120, [("10:30", "11:00")], berlin("2026-03-02 12:30")),
    ("spanning the night", berlin("2026-03-02 16:00"), 120, [("16:30", "+1 09:30")], berlin("2026-03-03 11:00")),
    (
        "overlapping each other",
        berlin("2026-03-02 10:00"),
        120,
        [("10:15", "10:45"), ("10:30", "11:00")],
        berlin("2026-03-02 12:45"),
    ),
    ("start inside a pause", berlin("2026-03-02 10:00"), 60, [("09:00", "10:30")], berlin("2026-03-02 11:30")),
    (
        "only over closed time: no effect",
        berlin("2026-03-02 16:00"),
        120,
        [("18:00", "+1 08:00")],
        berlin("2026-03-03 10:00"),
    ),
    ("after the deadline: no effect", berlin("2026-03-02 10:00"), 60, [("12:00", "13:00")], berlin("2026-03-02 11:00")),
    ("deadline on the pause's start", berlin("2026-03-02 10:00"), 60, [("11:00", "12:00")], berlin("2026-03-02 11:00")),
]


def monday_pause(start: str, end: str) -> tuple[datetime, datetime]:
    """("16:30", "+1 09:30"): Monday 2026-03-02 16:30 Berlin to Tuesday 09:30."""

    def resolve(text: str) -> datetime:
        days, _, clock = text.rpartition(" ")
        return berlin(f"2026-03-02 {clock}") + timedelta(days=int(days or 0))

    return resolve(start), resolve(end)


@pytest.mark.parametrize(
    ("start", "minutes", "pauses", "expected"), [case[1:] for case in PAUSED], ids=[case[0] for case in PAUSED]
)
def test_it_stops_the_clock_during_pauses(start, minutes, pauses, expected):
    spans = [monday_pause(*pause) for pause in pauses]

    due = deadline(start, minutes, BERLIN_9_17, spans)

    assert due == expected
    assert business_minutes_between(start, due, BERLIN_9_17, spans) == pytest.approx(minutes, abs=1e-9)


# --- business_minutes_between, is_open, next_opening: tables ---------------------------------------------

BETWEEN = [
    ("same day", BERLIN_9_17, berlin("2026-03-02 10:00"), berlin("2026-03-02 12:00"), 120),
    ("b before a is zero", BERLIN_9_17, berlin("2026-03-02 12:00"), berlin("2026-03-02 10:00"), 0),
    ("across the weekend", BERLIN_9_17, berlin("2026-03-06 16:00"), berlin("2026-03-09 10:00"), 120),
    ("to the second", BERLIN_9_17, berlin("2026-03-02 10:00:00"), berlin("2026-03-02 10:00:30"), 0.5),
    ("all closed", BERLIN_9_17, berlin("2026-03-07 00:00"), berlin("2026-03-09 09:00"), 0),
    ("split shift day", BERLIN_SPLIT, berlin("2026-03-02 00:00"), berlin("2026-03-03 00:00"), 420),
    (
        "night shift over a holiday",
        NIGHTS_WEDNESDAY_OFF,
        utc("2026-03-03 00:00"),
        utc("2026-03-06 00:00"),
        6 * 60 + 8 * 60 + 2 * 60,
    ),
    (
        "Berlin spring-forward day has 23 h",
        BERLIN_ROUND_CLOCK,
        berlin("2026-03-29 00:00"),
        berlin("2026-03-30 00:00"),
        23 * 60,
    ),
    (
        "Berlin fall-back day has 25 h",
        BERLIN_ROUND_CLOCK,
        berlin("2026-10-25 00:00"),
        berlin("2026-10-26 00:00"),
        25 * 60,
    ),
    (
        "NY spring-forward day has 23 h",
        NY_ROUND_CLOCK,
        new_york("2026-03-08 00:00"),
        new_york("2026-03-09 00:00"),
        23 * 60,
    ),
    ("NY fall-back day has 25 h", NY_ROUND_CLOCK, new_york("2026-11-01 00:00"), new_york("2026-11-02 00:00"), 25 * 60),
    (
        "Berlin 9-17 on spring-forward day is 8 h",
        BERLIN_DAILY,
        berlin("2026-03-29 00:00"),
        berlin("2026-03-30 00:00"),
        480,
    ),
    ("NY 9-17 on fall-back day is 8 h", NY_DAILY, new_york("2026-11-01 00:00"), new_york("2026-11-02 00:00"), 480),
    # 02:30 doesn't exist: the shift runs 03:00-04:00 CEST. On the fall-back day 02:30 CEST-04:00 CET is 2.5 h.
    ("Berlin gap shortens a shift", BERLIN_SUNDAY_GAP, berlin("2026-03-29 00:00"), berlin("2026-03-30 00:00"), 60),
    ("Berlin fold lengthens a shift", BERLIN_SUNDAY_GAP, berlin("2026-10-25 00:00"), berlin("2026-10-26 00:00"), 150),
    # Lord Howe Island moves its clocks by 30 minutes: 24.5 h on 2026-04-05, 23.5 h on 2026-10-04.
    (
        "half-hour DST fall-back day",
        Calendar("Australia/Lord_Howe", weekly(DAYS, ("00:00", "24:00"))),
        at("Australia/Lord_Howe", "2026-04-05 00:00"),
        at("Australia/Lord_Howe", "2026-04-06 00:00"),
        24.5 * 60,
    ),
    (
        "half-hour DST spring-forward day",
        Calendar("Australia/Lord_Howe", weekly(DAYS, ("00:00", "24:00"))),
        at("Australia/Lord_Howe", "2026-10-04 00:00"),
        at("Australia/Lord_Howe", "2026-10-05 00:00"),
        23.5 * 60,
    ),
    # Samoa skipped 2011-12-30 entirely (crossing the date line): that day's 09:00-17:00 never happened.
    (
        "a skipped calendar day has no working time",
        Calendar("Pacific/Apia", weekly(DAYS, ("09:00", "17:00"))),
        at("Pacific/Apia", "2011-12-29 00:00"),
        at("Pacific/Apia", "2012-01-01 00:00"),
        2 * 480,
    ),
    ("24/7 counts every real minute", ALWAYS_OPEN, berlin("2026-03-29 00:00"), berlin("2026-03-30 00:00"), 23 * 60),
]


@pytest.mark.parametrize(("calendar", "a", "b", "expected"), [c[1:] for c in BETWEEN], ids=[c[0] for c in BETWEEN])
def test_it_counts_business_minutes_between(calendar, a, b, expected):
    assert business_minutes_between(a, b, calendar) == pytest.approx(expected, abs=1e-9)


def test_it_subtracts_pauses_from_business_minutes():
    pauses = [monday_pause("10:30", "11:00"), monday_pause("16:30", "+1 10:00")]

    minutes = business_minutes_between(berlin("2026-03-02 10:00"), berlin("2026-03-03 12:00"), BERLIN_9_17, pauses)

    assert minutes == pytest.approx(7 * 60 - 30 - 30 + 2 * 60)


OPEN_AT = [
    ("at opening (half-open interval)", BERLIN_9_17, berlin("2026-03-02 09:00"), True),
    ("just before closing", BERLIN_9_17, berlin("2026-03-02 16:59:59.999999"), True),
    ("at closing", BERLIN_9_17, berlin("2026-03-02 17:00"), False),
    ("Saturday", BERLIN_9_17, berlin("2026-03-07 12:00"), False),
    ("lunch", BERLIN_SPLIT, berlin("2026-03-02 12:00"), False),
    ("night shift after midnight", NIGHTS, utc("2026-03-03 03:00"), True),
    ("holiday morning, shift started the evening before", NIGHTS_WEDNESDAY_OFF, utc("2026-03-04 05:59"), True),
    ("holiday evening", NIGHTS_WEDNESDAY_OFF, utc("2026-03-04 23:00"), False),
    ("DE Christmas Day", BERLIN_DE, berlin("2026-12-25 10:00"), False),
    ("24/7", ALWAYS_OPEN, utc("2026-12-25 03:00"), True),
]


@pytest.mark.parametrize(("calendar", "t", "expected"), [c[1:] for c in OPEN_AT], ids=[c[0] for c in OPEN_AT])
def test_it_tells_whether_the_calendar_is_open(calendar, t, expected):
    assert is_open(t, calendar) is expected


NEXT_OPENING = [
    ("open: t itself", BERLIN_9_17, berlin("2026-03-02 10:00"), berlin("2026-03-02 10:00")),
    ("before opening", BERLIN_9_17, berlin("2026-03-02 08:00"), berlin("2026-03-02 09:00")),
    ("at Friday's closing", BERLIN_9_17, berlin("2026-03-06 17:00"), berlin("2026-03-09 09:00")),
    ("lunch", BERLIN_SPLIT, berlin("2026-03-02 12:00"), berlin("2026-03-02 13:00")),
    ("over Christmas", BERLIN_DE, berlin("2026-12-24 17:00"), berlin("2026-12-28 09:00")),
    ("spring-forward gap", BERLIN_SUNDAY_GAP, berlin("2026-03-29 00:00"), berlin("2026-03-29 03:00")),
]


@pytest.mark.parametrize(("calendar", "t", "expected"), [c[1:] for c in NEXT_OPENING], ids=[c[0] for c in NEXT_OPENING])
def test_it_finds_the_next_opening(calendar, t, expected):
    opening = next_opening(t, calendar)

    assert opening == expected
    assert opening.tzinfo is UTC


# --- peer cases: published examples of business-hours maths ----------------------------------------------

# Zendesk's business-hours library `biz` (https://github.com/zendesk/biz, README "Configuration" and "Usage";
# the 1.7.0 README is vendored in zammad/zammad at vendor/bundle/ruby/2.4.0/gems/biz-1.7.0/README.md).
BIZ_README = Calendar(
    "America/Los_Angeles",
    {
        "mon": [("09:00", "17:00")],
        "tue": [("00:00", "24:00")],
        "wed": [("09:00", "17:00")],
        "thu": [("09:00", "12:00"), ("13:00", "17:00")],
        "sat": [("10:00", "14:00")],
    },
    holidays={date(2016, 1, 1), date(2016, 12, 25)},
)


def test_it_agrees_with_biz_readme_timeline_after():
    # Biz.periods.after(Time.utc(2015, 1, 10, 10)).timeline.until(Time.utc(2015, 1, 17, 10)) lists these segments.
    segments = [
        (utc("2015-01-10 18:00"), utc("2015-01-10 22:00")),
        (utc("2015-01-12 17:00"), utc("2015-01-13 01:00")),
        (utc("2015-01-13 08:00"), utc("2015-01-14 08:00")),
        (utc("2015-01-14 17:00"), utc("2015-01-15 01:00")),
        (utc("2015-01-15 17:00"), utc("2015-01-15 20:00")),
        (utc("2015-01-15 21:00"), utc("2015-01-16 01:00")),
    ]
    total = sum((end - start) / timedelta(minutes=1) for start, end in segments)

    assert business_minutes_between(utc("2015-01-10 10:00"), utc("2015-01-17 10:00"), BIZ_README) == total == 51 * 60
    assert next_opening(utc("2015-01-10 10:00"), BIZ_README) == segments[0][0]
    for start, end in segments:
        assert is_open(start, BIZ_README)
        assert not is_open(end, BIZ_README)
        assert next_opening(end, BIZ_README) in {s for s, _ in segments} | {utc("2015-01-17 18:00")}


def test_it_agrees_with_biz_readme_timeline_before():
    # Biz.periods.before(Time.utc(2015, 5, 5, 12, 34, 57)).timeline.for(Biz::Duration.minutes(3_598)): the
    # earliest segment starts 2015-04-27 20:36:57 UTC, so 3598 business minutes from there end at 12:34:57.
    start, end = utc("2015-04-27 20:36:57"), utc("2015-05-05 12:34:57")

    assert deadline(start, 3598, BIZ_README) == end
    assert business_minutes_between(start, end, BIZ_README) == 3598


# Python `businesstimedelta` (https://github.com/seppemans/businesstimedelta, README "Example Use"): Mon-Fri
# 09:00-18:00 UTC with a 12:00-13:00 lunch break.
BUSINESSTIMEDELTA_README = Calendar("UTC", weekly(WEEKDAYS, ("09:00", "12:00"), ("13:00", "18:00")))


def test_it_agrees_with_businesstimedelta_readme_difference():
    # businesshrs.difference(2016-01-18 09:00, 2016-01-25 09:00) -> <BusinessTimeDelta 40 hours 0 seconds>
    assert (
        business_minutes_between(utc("2016-01-18 09:00"), utc("2016-01-25 09:00"), BUSINESSTIMEDELTA_README) == 40 * 60
    )


def test_it_places_a_closing_time_deadline_where_businesstimedelta_places_the_next_opening():
    # 2016-01-18 08:00 + BusinessTimeDelta(hours=40) -> 2016-01-25 09:00 in the README: that library answers the
    # next opening. We answer Friday's closing (module docstring); the two are zero business minutes apart.
    ours = deadline(utc("2016-01-18 08:00"), 40 * 60, BUSINESSTIMEDELTA_README)

    assert ours == utc("2016-01-22 18:00")
    assert next_opening(ours, BUSINESSTIMEDELTA_README) == utc("2016-01-25 09:00")
    assert business_minutes_between(ours, utc("2016-01-25 09:00"), BUSINESSTIMEDELTA_README) == 0


def test_it_agrees_with_businesstimedelta_readme_holidays():
    # With holidays.US(state='CA'): 2015-12-21 09:00 -> 2015-12-28 09:00 is 32 hours (Christmas on Friday).
    calendar = Calendar("UTC", BUSINESSTIMEDELTA_README.hours, country="US", subdivision="CA")

    assert business_minutes_between(utc("2015-12-21 09:00"), utc("2015-12-28 09:00"), calendar) == 32 * 60


def test_it_agrees_with_seatgeek_businesstime_readme():
    # seatgeek `businesstime` (https://github.com/seatgeek/businesstime, README): 09:00-17:00 Mon-Fri, US federal
    # holidays; businesstimedelta(2013-12-23 12:00, 2013-12-26 05:00) == timedelta(1, 18000). That library counts a
    # whole business day as timedelta(days=1): one 8 h day (Tue 24th) + 5 h (Mon 12-17); the 25th is Christmas.
    calendar = Calendar("UTC", weekly(WEEKDAYS, ("09:00", "17:00")), country="US")

    assert business_minutes_between(utc("2013-12-23 12:00"), utc("2013-12-26 05:00"), calendar) == (8 + 5) * 60


# --- the Calendar value ----------------------------------------------------------------------------------


def test_it_accepts_json_shaped_calendars_and_freezes_them():
    from_json = Calendar("Europe/Berlin", {"mon": [["09:00", "17:00"]]}, holidays=["2026-12-25"], country="")
    from_code = Calendar("Europe/Berlin", {"mon": [("09:00", "17:00")]}, holidays=frozenset({date(2026, 12, 25)}))

    assert from_json == from_code
    assert hash(from_json) == hash(from_code)
    assert from_json.country is None
    assert from_json.hours["mon"] == (("09:00", "17:00"),)


def test_always_open_ignores_hours_and_holidays():
    calendar = Calendar("Europe/Berlin", {}, holidays={date(2026, 12, 25)}, always_open=True)

    assert deadline(berlin("2026-12-25 10:00"), 90, calendar) == berlin("2026-12-25 11:30")


# --- bad input ---------------------------------------------------------------------------------------------

INVALID = [
    ("unknown timezone", {"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ("empty timezone", {"timezone": ""}, "timezone"),
    ("hours not a mapping", {"hours": "mon-fri 9-5"}, "hours"),
    ("unknown day", {"hours": {"monday": [("09:00", "17:00")]}}, "hours"),
    ("not HH:MM", {"hours": {"mon": [("9am", "17:00")]}}, "hours.mon"),
    ("hour out of range", {"hours": {"tue": [("09:00", "25:00")]}}, "hours.tue"),
    ("minute out of range", {"hours": {"tue": [("09:60", "17:00")]}}, "hours.tue"),
    ("not a pair", {"hours": {"wed": [("09:00",)]}}, "hours.wed"),
    ("inverted: end == start", {"hours": {"thu": [("09:00", "09:00")]}}, "hours.thu"),
    ("starts at 24:00", {"hours": {"thu": [("24:00", "02:00")]}}, "hours.thu"),
    ("overlap within a day", {"hours": {"fri": [("09:00", "12:00"), ("11:00", "17:00")]}}, "hours.fri"),
    (
        "overnight overlaps the next day",
        {"hours": {"mon": [("22:00", "06:00")], "tue": [("05:00", "09:00")]}},
        "hours.tue",
    ),
    (
        "Sunday night overlaps Monday",
        {"hours": {"sun": [("22:00", "06:00")], "mon": [("05:00", "09:00")]}},
        "hours.mon",
    ),
    ("no working time at all", {"hours": {}}, "hours"),
    ("only closed days", {"hours": {"mon": [], "sun": []}}, "hours"),
    ("unknown country", {"country": "XX"}, "country"),
    ("unknown subdivision", {"country": "DE", "subdivision": "ZZ"}, "subdivision"),
    ("subdivision without country", {"subdivision": "BY"}, "subdivision"),
    ("holiday not a date", {"holidays": ["Christmas"]}, "holidays"),
    ("holiday is a datetime", {"holidays": [datetime(2026, 12, 25, tzinfo=UTC)]}, "holidays"),
]


@pytest.mark.parametrize(("overrides", "field"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_it_rejects_a_bad_calendar_naming_the_field(overrides, field):
    fields = {"timezone": "Europe/Berlin", "hours": {"mon": [("09:00", "17:00")]}} | overrides

    with pytest.raises(CalendarError) as error:
        validate(Calendar(**fields))

    assert error.value.field == field
    assert str(error.value).startswith(f"{field}: ")


def test_it_accepts_split_touching_and_overnight_hours():
    validate(Calendar("UTC", {"mon": [("09:00", "12:00"), ("12:00", "17:00")], "sun": [("22:00", "06:00")]}))
    validate(Calendar("UTC", {"mon": [("22:00", "06:00")], "tue": [("06:00", "09:00")]}))
    validate(ALWAYS_OPEN)


def test_it_refuses_to_compute_with_a_bad_calendar():
    with pytest.raises(CalendarError) as error:
        deadline(utc("2026-03-02 10:00"), 60, Calendar("Nowhere/City", {"mon": [("09:00", "17:00")]}))

    assert error.value.field == "timezone"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: deadline(datetime(2026, 3, 2, 10), 60, BERLIN_9_17), "start must be timezone-aware"),
        (lambda: deadline(utc("2026-03-02 10:00"), -1, BERLIN_9_17), "minutes must be"),
        (lambda: deadline(utc("2026-03-02 10:00"), 10**10, BERLIN_9_17), "minutes: business time is only computed"),
        (
            lambda: deadline(
                utc("2026-03-02 10:00"), 60, BERLIN_9_17, [(utc("2026-03-02 11:00"), utc("2026-03-02 10:00"))]
            ),
            "pauses[0]",
        ),
        (
            lambda: business_minutes_between(utc("2026-03-02 10:00"), datetime(2026, 3, 3), BERLIN_9_17),
            "b must be timezone-aware",
        ),
    ],
    ids=["naive start", "negative minutes", "beyond the horizon", "inverted pause", "naive b"],
)
def test_it_rejects_bad_arguments(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


# --- properties --------------------------------------------------------------------------------------------

TIMEZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "America/Santiago"]
FIXED_CALENDARS = [
    BERLIN_SPLIT,
    BERLIN_DE,
    NY_US,
    BERLIN_ROUND_CLOCK,
    NY_ROUND_CLOCK,
    NIGHTS_WEDNESDAY_OFF,
    ALWAYS_OPEN,
]
# Real transitions (UTC) to aim starts at, where off-by-an-hour mistakes live.
TRANSITIONS = [utc("2026-03-29 01:00"), utc("2026-10-25 01:00"), utc("2026-03-08 07:00"), utc("2026-11-01 06:00")]


def clock_text(quarter: int) -> str:
    return f"{quarter // 4:02d}:{quarter % 4 * 15:02d}"


@st.composite
def generated_calendars(draw) -> Calendar:
    hours = {}
    for day in DAYS:
        marks = sorted(draw(st.sets(st.integers(0, 96), max_size=6)))
        pairs = list(zip(marks[0::2], marks[1::2], strict=False))
        if pairs:
            hours[day] = [(clock_text(a), clock_text(b)) for a, b in pairs]
    if not hours:
        hours["wed"] = [("10:00", "11:00")]
    overnight_day = draw(st.sampled_from([None, "fri", "sun"]))
    if overnight_day and overnight_day not in hours and DAYS[(DAYS.index(overnight_day) + 1) % 7] not in hours:
        hours[overnight_day] = [("21:00", "05:00")]
    day_off = st.dates(min_value=date(2025, 1, 1), max_value=date(2028, 12, 31))
    return Calendar(
        draw(st.sampled_from(TIMEZONES)),
        hours,
        holidays=draw(st.frozensets(day_off, max_size=15)),
        country=draw(st.sampled_from([None, "DE", "US"])),
    )


calendars = st.one_of(st.sampled_from(FIXED_CALENDARS), generated_calendars())
instants = st.one_of(
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)),
    st.tuples(st.sampled_from(TRANSITIONS), st.integers(-6 * 3600, 6 * 3600)).map(
        lambda p: p[0] + timedelta(seconds=p[1])
    ),
)
targets = st.integers(min_value=0, max_value=6000)


@st.composite
def pauses_after(draw, start: datetime) -> list[tuple[datetime, datetime]]:
    offsets = st.tuples(st.integers(-600, 12000), st.integers(0, 3000))
    return [
        (start + timedelta(minutes=begin), start + timedelta(minutes=begin + length))
        for begin, length in draw(st.lists(offsets, max_size=4))
    ]


PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(calendar=calendars, start=instants, minutes=st.integers(1, 6000), data=st.data())
def test_a_deadline_never_falls_inside_closed_time(calendar, start, minutes, data):
    pauses = data.draw(pauses_after(start))

    due = deadline(start, minutes, calendar, pauses)

    just_before = due - timedelta(microseconds=1)
    assert due > start
    assert is_open(just_before, calendar)
    assert not any(pause_start <= just_before < pause_end for pause_start, pause_end in pauses)


@PROPERTY_SETTINGS
@given(calendar=calendars, start=instants, minutes=targets, data=st.data())
def test_business_minutes_to_the_deadline_are_the_target(calendar, start, minutes, data):
    pauses = data.draw(pauses_after(start))

    due = deadline(start, minutes, calendar, pauses)

    assert business_minutes_between(start, due, calendar, pauses) == pytest.approx(minutes, abs=1e-6)


@PROPERTY_SETTINGS
@given(calendar=calendars, start=instants, minutes=targets, data=st.data())
def test_pausing_never_makes_a_deadline_earlier(calendar, start, minutes, data):
    pauses = data.draw(pauses_after(start))
    extra = data.draw(pauses_after(start).filter(bool))

    assert deadline(start, minutes, calendar, pauses + extra[:1]) >= deadline(start, minutes, calendar, pauses)


@PROPERTY_SETTINGS
@given(calendar=calendars, start=instants, smaller=targets, larger=targets)
def test_the_deadline_is_monotonic_in_minutes(calendar, start, smaller, larger):
    smaller, larger = sorted((smaller, larger))

    assert deadline(start, smaller, calendar) <= deadline(start, larger, calendar)


@PROPERTY_SETTINGS
@given(calendar=calendars, t=instants)
def test_the_next_opening_is_open_and_nothing_is_skipped(calendar, t):
    opening = next_opening(t, calendar)

    assert opening >= t
    assert is_open(opening, calendar)
    assert business_minutes_between(t, opening, calendar) == 0


@PROPERTY_SETTINGS
@given(calendar=calendars, a=instants, gap1=st.integers(0, 20000), gap2=st.integers(0, 20000))
def test_business_minutes_add_up(calendar, a, gap1, gap2):
    b = a + timedelta(minutes=gap1)
    c = b + timedelta(minutes=gap2)

    whole = business_minutes_between(a, c, calendar)

    assert whole == pytest.approx(business_minutes_between(a, b, calendar) + business_minutes_between(b, c, calendar))
    assert 0 <= whole <= gap1 + gap2


# --- open windows: what a live countdown in the browser counts ------------------------------------------


def test_open_windows_clip_the_working_intervals_to_the_span():
    windows = open_windows(berlin("2026-03-02 16:00"), berlin("2026-03-04 10:00"), BERLIN_9_17)  # Mon 16:00 → Wed
    assert windows == [
        (berlin("2026-03-02 16:00"), berlin("2026-03-02 17:00")),
        (berlin("2026-03-03 09:00"), berlin("2026-03-03 17:00")),
        (berlin("2026-03-04 09:00"), berlin("2026-03-04 10:00")),
    ]


def test_open_windows_skip_holidays_and_weekends():
    # Friday 16:00 to Tuesday 10:00 with Tuesday 3 March a holiday: Friday's last hour, Monday, nothing on Tuesday.
    windows = open_windows(berlin("2026-02-27 16:00"), berlin("2026-03-03 10:00"), BERLIN_TUESDAY_OFF)
    assert windows == [
        (berlin("2026-02-27 16:00"), berlin("2026-02-27 17:00")),
        (berlin("2026-03-02 09:00"), berlin("2026-03-02 17:00")),
    ]


def test_open_windows_sum_to_the_business_minutes_between():
    start, end = berlin("2026-03-02 11:17"), berlin("2026-04-20 15:03")  # across a 28-day block boundary
    windows = open_windows(start, end, BERLIN_SPLIT, limit=1000)
    total = sum((b - a).total_seconds() / 60 for a, b in windows)
    assert total == pytest.approx(business_minutes_between(start, end, BERLIN_SPLIT))


def test_open_windows_stop_at_the_limit_and_an_always_open_calendar_is_one_window():
    assert len(open_windows(berlin("2026-03-02 00:00"), berlin("2026-06-01 00:00"), BERLIN_9_17, limit=5)) == 5
    start, end = utc("2026-03-02 00:00"), utc("2026-03-09 00:00")
    assert open_windows(start, end, ALWAYS_OPEN) == [(start, end)]
    assert open_windows(end, start, ALWAYS_OPEN) == []


def test_the_schedules_memoized_deadline_tells_calendars_apart_by_every_part():
    """slas.schedule._deadline caches clock.deadline by (start, minutes, calendar, pauses): calendars that differ
    only in their holidays, time zone, country or subdivision must get their own answers, each equal to
    clock.deadline's."""
    from slas import schedule

    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # Monday 09:00 in Berlin, 08:00 in London
    london = Calendar("Europe/London", weekly(WEEKDAYS, ("09:00", "17:00")))
    calendars = [BERLIN_9_17, BERLIN_TUESDAY_OFF, BERLIN_DE, BERLIN_BY, london]
    answers = [schedule._deadline(start, 16 * 60, calendar, ()) for calendar in calendars]
    assert answers == [deadline(start, 16 * 60, calendar) for calendar in calendars]
    assert len(set(answers)) >= 3  # the Tuesday off and London's hours move the deadline: not one shared answer
