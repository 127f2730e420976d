"""Call requests (from a rule with to_call, from "escalate to a call") and scheduling: routing, the
required fields, the window's bad inputs, double booking, the invite through the outbox."""

from __future__ import annotations

import icalendar
import pytest

from callnotes.models import Call, CallNote, CallStatus
from escalation.models import RuleFiring
from helpdesk.models import OutboxEvent
from helpdesk.tenancy import tenant_context
from tests.api.helpers import error_of
from tickets.models import TicketEvent

from .conftest import escalate_to_call, in_hours, open_ticket, schedule_body


def test_a_rule_with_to_call_opens_a_call_request_and_the_ticket_says_why(tenant_a, api_a):
    ticket = open_ticket(tenant_a, subject="Export broken", description="The export fails.")
    response = api_a.post(
        f"/api/v1/tickets/{ticket.pk}/messages/",
        {"body": "This is useless. I want to speak to a manager now.", "author_type": "customer"},
        format="json",
    )
    assert response.status_code == 201, response.content
    with tenant_context(tenant_a):
        call = Call.objects.select_related("escalation").get(ticket=ticket)
        event = TicketEvent.objects.get(ticket=ticket, kind="call_suggested")
        firing = RuleFiring.objects.select_related("rule").get(ticket=ticket, rule__slug=call.suggested_trigger)
    assert call.status == CallStatus.REQUESTED
    assert firing.rule.to_call and firing.escalation_id == call.escalation_id  # the rule that asked, on its escalation
    assert call.escalation.to_call is True
    assert call.suggested_reason == firing.reason != ""  # the facts that fired it
    assert event.after == {
        "call": call.pk,
        "escalation": call.escalation_id,
        "trigger": call.suggested_trigger,
        "reason": firing.reason,
    }


def test_escalating_to_a_call_opens_one_request_per_escalation(tenant_a, alice):
    ticket = open_ticket(tenant_a)
    escalation = escalate_to_call(tenant_a, ticket, alice)
    with tenant_context(tenant_a):
        calls = list(Call.objects.filter(ticket=ticket))
    assert [(c.escalation_id, c.status, c.suggested_trigger) for c in calls] == [
        (escalation.pk, CallStatus.REQUESTED, "manual")
    ]
    assert calls[0].suggested_reason == "Several systems involved; writing is not working."


def test_scheduling_takes_the_request_routes_to_the_free_receiver_and_sends_the_invite(tenant_a, api_a, alice):
    ticket = open_ticket(tenant_a)
    escalation = escalate_to_call(tenant_a, ticket, alice)
    response = api_a.post(
        f"/api/v1/tickets/{ticket.pk}/calls/", schedule_body(timezone="America/New_York"), format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "scheduled" and body["escalation"] == escalation.pk
    assert body["agent"] == alice.pk and body["routing"] == "the escalation's receiver"
    assert body["start_in_customer_zone"].endswith(("-05:00", "-04:00"))
    assert body["start_in_tenant_zone"].endswith(("+01:00", "+02:00"))
    with tenant_context(tenant_a):
        assert Call.objects.filter(ticket=ticket).count() == 1  # the request became the call
        note = CallNote.objects.get(call_id=body["id"])
        outbox = OutboxEvent.objects.get(type="call.scheduled")
    assert note.values["pre_call"]["contact"] == "Pat Lee <pat@example.com>"
    assert note.values["pre_call"]["desired_outcome"] == "Records restored and the cause fixed."
    assert outbox.payload["attendees"] == ["pat@example.com"] and outbox.payload["immediate"] is True
    invite = icalendar.Calendar.from_ical(outbox.payload["ics"])
    assert str(invite["method"]) == "REQUEST"


def test_internal_stakeholders_are_invited_with_the_customer(tenant_a, api_a, alice, eli):
    ticket = open_ticket(tenant_a)
    body = schedule_body(agent=alice.pk, stakeholders=[eli.pk], attendees=["Pat@Example.com", "cto@example.com"])
    response = api_a.post(f"/api/v1/tickets/{ticket.pk}/calls/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["stakeholders"] == [eli.pk]
    with tenant_context(tenant_a):
        outbox = OutboxEvent.objects.get(type="call.scheduled")
    assert outbox.payload["attendees"] == ["cto@example.com", "pat@example.com", "eli@acme.test"]
    event = icalendar.Calendar.from_ical(outbox.payload["ics"]).walk("VEVENT")[0]
    assert [str(a) for a in event["attendee"]] == [f"mailto:{a}" for a in outbox.payload["attendees"]]


def test_a_busy_receiver_is_passed_over_for_someone_free_at_that_tier(tenant_a, api_a, alice, eli):
    first = open_ticket(tenant_a, subject="One")
    second = open_ticket(tenant_a, subject="Two", requester_email="kim@example.com")
    escalate_to_call(tenant_a, first, alice)
    escalate_to_call(tenant_a, second, alice)
    start = in_hours(30).isoformat()
    assert (
        api_a.post(
            f"/api/v1/tickets/{first.pk}/calls/", schedule_body(scheduled_start=start), format="json"
        ).status_code
        == 201
    )
    response = api_a.post(f"/api/v1/tickets/{second.pk}/calls/", schedule_body(scheduled_start=start), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["agent"] == eli.pk


def test_the_same_agent_is_never_double_booked(tenant_a, api_a, alice):
    first, second = open_ticket(tenant_a, subject="One"), open_ticket(tenant_a, subject="Two")
    body = schedule_body(agent=alice.pk, scheduled_start=in_hours(5).isoformat(), duration_minutes=60)
    assert api_a.post(f"/api/v1/tickets/{first.pk}/calls/", body, format="json").status_code == 201
    overlapping = schedule_body(agent=alice.pk, scheduled_start=in_hours(5.5).isoformat())
    response = api_a.post(f"/api/v1/tickets/{second.pk}/calls/", overlapping, format="json")
    assert response.status_code == 409
    assert error_of(response)["code"] == "double_booked" and "agent" in error_of(response)["fields"]
    with tenant_context(tenant_a):
        assert not Call.objects.filter(ticket=second).exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"scheduled_start": in_hours(-1).isoformat()}, "scheduled_start"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"duration_minutes": -30}, "duration_minutes"),
        ({"duration_minutes": 8 * 60 + 1}, "duration_minutes"),
        ({"attendees": ["not-an-email"]}, "attendees.0"),
        ({"scheduled_start": "2030-01-01T10:00:00"}, "scheduled_start"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"pre_call": {"no_such_field": "x"}}, "pre_call.no_such_field"),
    ],
)
def test_a_bad_window_or_attendee_is_a_400_naming_it_and_nothing_is_written(tenant_a, api_a, alice, overrides, field):
    ticket = open_ticket(tenant_a)
    response = api_a.post(
        f"/api/v1/tickets/{ticket.pk}/calls/", schedule_body(agent=alice.pk, **overrides), format="json"
    )
    assert response.status_code == 400, response.content
    assert field in error_of(response)["fields"]
    with tenant_context(tenant_a):
        assert not Call.objects.filter(ticket=ticket).exists()
        assert not OutboxEvent.objects.filter(type="call.scheduled").exists()


def test_the_fields_required_for_scheduling_are_named_when_empty(tenant_a, api_a, alice):
    ticket = open_ticket(tenant_a)
    escalate_to_call(tenant_a, ticket, alice)
    response = api_a.post(f"/api/v1/tickets/{ticket.pk}/calls/", schedule_body(pre_call={}), format="json")
    assert response.status_code == 400
    fields = error_of(response)["fields"]
    assert set(fields) == {"pre_call.phone_or_link", "pre_call.preferred_times"}
    with tenant_context(tenant_a):
        call = Call.objects.get(ticket=ticket)
        assert call.status == CallStatus.REQUESTED  # the request is kept, unscheduled
        assert not CallNote.objects.filter(call=call).exists()


def test_the_sweep_asks_for_a_call_once_and_not_again_after_it_was_cancelled(tenant_a, api_a, alice):
    from django.utils import timezone

    from helpdesk import workflows
    from tickets.models import Ticket

    ticket = open_ticket(tenant_a)
    escalate_to_call(tenant_a, ticket, alice)
    with tenant_context(tenant_a):
        request = Call.objects.get(ticket=ticket)
    assert (
        api_a.post(f"/api/v1/calls/{request.pk}/cancel/", {"reason": "Solved by e-mail"}, format="json").status_code
        == 200
    )
    now = timezone.now()
    with tenant_context(tenant_a):
        Ticket.objects.filter(pk=ticket.pk).update(rules_due_at=now)  # its clocks moved: the rules stage claims it
    workflows.sweep(now=now)
    with tenant_context(tenant_a):
        assert list(Call.objects.filter(ticket=ticket).values_list("status", flat=True)) == ["cancelled"]
        assert Ticket.objects.get(pk=ticket.pk).rules_due_at is None  # it was claimed and looked at


def test_a_deactivated_member_cannot_be_given_a_call(tenant_a, api_a, alice):
    alice.active = False
    with tenant_context(tenant_a):
        alice.save(update_fields=["active"])
    ticket = open_ticket(tenant_a)
    response = api_a.post(f"/api/v1/tickets/{ticket.pk}/calls/", schedule_body(agent=alice.pk), format="json")
    assert response.status_code == 400 and error_of(response)["fields"] == {"agent": ["This member is deactivated."]}
    with tenant_context(tenant_a):
        assert not Call.objects.filter(ticket=ticket).exists()
