"""The .ics invite read back with icalendar (UID, SEQUENCE, zone-aware times, cancel) and the agent's private
calendar feed (its calls, revocable, another tenant's key sees nothing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar

from helpdesk.models import OutboxEvent
from helpdesk.tenancy import tenant_context

from .conftest import open_ticket, schedule_body

START = datetime(2031, 3, 29, 23, 30, tzinfo=UTC)  # the night Europe's clocks move: zones matter


def _schedule(api, ticket, agent, start=START, **overrides):
    body = schedule_body(agent=agent.pk, scheduled_start=start.isoformat(), **overrides)
    response = api.post(f"/api/v1/tickets/{ticket.pk}/calls/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _event(ics: bytes | str):
    calendar = icalendar.Calendar.from_ical(ics)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return calendar, events[0]


def test_the_invite_parses_back_with_its_uid_sequence_and_zone_aware_times(tenant_a, api_a, alice):
    call = _schedule(api_a, open_ticket(tenant_a), alice, timezone="Europe/Berlin", duration_minutes=45)
    response = api_a.get(f"/api/v1/calls/{call['id']}/invite.ics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    calendar, event = _event(response.content)
    assert str(calendar["method"]) == "REQUEST"
    assert str(event["uid"]) == f"call-{call['uid']}@helpdesk"
    assert int(event["sequence"]) == 0
    start, end = event["dtstart"].dt, event["dtend"].dt
    assert start.tzinfo is not None and str(start.tzinfo) == "Europe/Berlin"
    assert start == START and end - start == timedelta(minutes=45)
    assert start.utcoffset() == timedelta(hours=1)  # 00:30 CET, before the switch at 02:00
    attendees = event.get("attendee")
    attendees = attendees if isinstance(attendees, list) else [attendees]  # icalendar: one is not a list
    assert [str(a) for a in attendees] == ["mailto:pat@example.com"]
    assert calendar.walk("VTIMEZONE"), "the zone travels with the invite"


def test_a_reschedule_keeps_the_uid_and_raises_the_sequence_and_a_cancel_sends_method_cancel(tenant_a, api_a, alice):
    call = _schedule(api_a, open_ticket(tenant_a), alice)
    moved = START + timedelta(days=1)
    response = api_a.post(
        f"/api/v1/calls/{call['id']}/reschedule/",
        {"scheduled_start": moved.isoformat(), "duration_minutes": 60},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["sequence"] == 1
    response = api_a.post(f"/api/v1/calls/{call['id']}/cancel/", {"reason": "Fixed by e-mail"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    with tenant_context(tenant_a):
        sent = {e.type: e.payload for e in OutboxEvent.objects.filter(type__startswith="call.")}
    assert set(sent) == {"call.scheduled", "call.rescheduled", "call.cancelled"}
    uids = set()
    for kind, sequence, method in (
        ("call.scheduled", 0, "REQUEST"),
        ("call.rescheduled", 1, "REQUEST"),
        ("call.cancelled", 2, "CANCEL"),
    ):
        calendar, event = _event(sent[kind]["ics"])
        assert (int(event["sequence"]), str(calendar["method"])) == (sequence, method), kind
        uids.add(str(event["uid"]))
    assert len(uids) == 1
    _, cancelled = _event(sent["call.cancelled"]["ics"])
    assert str(cancelled["status"]) == "CANCELLED"
    _, rescheduled = _event(sent["call.rescheduled"]["ics"])
    assert rescheduled["dtstart"].dt == moved
    assert api_a.get(f"/api/v1/calls/{call['id']}/invite.ics")["Content-Type"].endswith("method=CANCEL")


def test_an_agent_feed_lists_their_calls_and_stops_when_revoked(tenant_a, api_a, alice, bob, client):
    mine = _schedule(api_a, open_ticket(tenant_a, subject="Mine"), alice)
    _schedule(api_a, open_ticket(tenant_a, subject="Bob's"), bob)
    client.login(username="alice", password="pw-alice-123!")
    created = client.post("/api/v1/calendar-feeds/", {}, content_type="application/json")
    assert created.status_code == 201, created.content
    path = created.json()["url"].split("testserver", 1)[1]
    feed = client.__class__().get(path)  # a calendar app: no session, no token
    assert feed.status_code == 200 and feed["Content-Type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(feed.content)
    assert [str(e["uid"]) for e in calendar.walk("VEVENT")] == [f"call-{mine['uid']}@helpdesk"]
    assert client.post("/api/v1/calendar-feeds/revoke/", {}, content_type="application/json").status_code == 204
    assert client.__class__().get(path).status_code == 404


def test_a_feed_for_someone_else_needs_a_manager(tenant_a, api_a, api_a_manager, alice):
    refused = api_a.post("/api/v1/calendar-feeds/", {"member": alice.pk}, format="json")
    assert refused.status_code == 403
    made = api_a_manager.post("/api/v1/calendar-feeds/", {"member": alice.pk}, format="json")
    assert made.status_code == 201 and made.json()["member"] == alice.pk


def test_a_feed_shows_only_its_own_tenant_and_a_guessed_key_is_404(
    tenant_a, tenant_b, api_a, api_b, alice, charlie, client
):
    _schedule(api_a, open_ticket(tenant_a), alice)
    url = api_b.post("/api/v1/calendar-feeds/", {"member": charlie.pk}, format="json").json()["url"]
    feed = client.get(url.split("testserver", 1)[1])
    assert feed.status_code == 200
    assert icalendar.Calendar.from_ical(feed.content).walk("VEVENT") == []
    assert client.get("/api/v1/calendar-feeds/cf_not-a-key.ics").status_code == 404
    assert api_b.post("/api/v1/calendar-feeds/", {"member": alice.pk}, format="json").status_code == 400
