"""RFC 5545 invites and feeds (the `icalendar` library), from plain data: no ORM here.

An invite keeps its UID for the call's whole life; each reschedule or cancel raises SEQUENCE, so a calendar
app replaces the event it has instead of adding a second one (RFC 5546 §2.1.4). A cancel is METHOD:CANCEL
with STATUS:CANCELLED. Times are written in the customer's zone with its VTIMEZONE, so the invite reads
right in their calendar and converts exactly to the UTC instant we store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar

PRODID = "-//Helpdesk//Calls//EN"


@dataclass(frozen=True)
class Event:
    uid: str
    sequence: int
    start: datetime  # aware
    minutes: int
    timezone: str
    summary: str
    description: str
    stamp: datetime
    organizer: str = ""
    organizer_name: str = ""
    attendees: tuple[str, ...] = field(default_factory=tuple)
    location: str = ""
    url: str = ""
    cancelled: bool = False


def _vevent(event: Event) -> icalendar.Event:
    zone = ZoneInfo(event.timezone or "UTC")
    vevent = icalendar.Event()
    vevent.add("uid", event.uid)
    vevent.add("sequence", event.sequence)
    vevent.add("dtstamp", event.stamp)
    vevent.add("dtstart", event.start.astimezone(zone))
    vevent.add("dtend", (event.start + timedelta(minutes=event.minutes)).astimezone(zone))
    vevent.add("summary", event.summary)
    vevent.add("description", event.description)
    vevent.add("status", "CANCELLED" if event.cancelled else "CONFIRMED")
    if event.location:
        vevent.add("location", event.location)
    if event.url:
        vevent.add("url", event.url)
    if event.organizer:
        organizer = icalendar.vCalAddress(f"mailto:{event.organizer}")
        if event.organizer_name:
            organizer.params["cn"] = event.organizer_name
        vevent.add("organizer", organizer)
    for address in event.attendees:
        attendee = icalendar.vCalAddress(f"mailto:{address}")
        attendee.params["role"] = "REQ-PARTICIPANT"
        attendee.params["rsvp"] = "TRUE"
        vevent.add("attendee", attendee, encode=0)
    return vevent


def _calendar(method: str, events: list[Event], name: str = "") -> str:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method)
    if name:
        calendar.add("x-wr-calname", name)
    for event in events:
        calendar.add_component(_vevent(event))
    calendar.add_missing_timezones()
    return calendar.to_ical().decode()


def invite(event: Event) -> str:
    """A REQUEST (new or changed) or, for a cancelled call, a CANCEL of the same UID with a higher SEQUENCE."""
    return _calendar(method_of(event.cancelled), [event])


def feed(events: list[Event], *, name: str) -> str:
    """An agent's subscription feed: every event as published (no scheduling method semantics)."""
    return _calendar("PUBLISH", events, name)


def method_of(cancelled: bool) -> str:
    return "CANCEL" if cancelled else "REQUEST"
