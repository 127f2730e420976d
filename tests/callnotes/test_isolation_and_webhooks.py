"""Tenant isolation of calls, notes, action items and templates (404, nothing written); who may act on a call
(403); the call.* webhooks delivered, signed, to a real receiver; the invite e-mailed with its .ics."""

from __future__ import annotations

from datetime import timedelta

import icalendar
from django.core import mail
from django.utils import timezone

from callnotes.models import ActionItem, Call, CallNote, CallNoteTemplate
from helpdesk.notifications import dispatcher
from helpdesk.tenancy import tenant_context
from tests.notifications.conftest import email_channel, webhook

from .conftest import open_ticket, schedule_body

DONE = {"root_cause": "A bad mapping.", "resolution": "Fixed the mapping.", "customer_summary": "Fixed."}


def _call(api, tenant, agent):
    ticket = open_ticket(tenant)
    response = api.post(f"/api/v1/tickets/{ticket.pk}/calls/", schedule_body(agent=agent.pk), format="json")
    assert response.status_code == 201, response.content
    return ticket, response.json()


def test_another_tenants_calls_notes_and_items_are_404_and_nothing_is_written(
    tenant_a, tenant_b, api_a, api_b, alice, charlie
):
    ticket, call = _call(api_a, tenant_a, alice)
    due = (timezone.now() + timedelta(days=2)).date().isoformat()
    items = [{"description": "Check", "owner": alice.pk, "due": due}]
    api_a.post(f"/api/v1/calls/{call['id']}/complete/", {**DONE, "action_items": items}, format="json")
    with tenant_context(tenant_a):
        item = ActionItem.objects.get()
        template = CallNoteTemplate.objects.get()
    other = f"/api/v1/calls/{call['id']}"
    reads = [
        f"{other}/", f"{other}/notes/", f"{other}/invite.ics", f"{other}/attachments/", f"{other}/action-items/",
        f"/api/v1/action-items/{item.pk}/", f"/api/v1/call-note-templates/{template.pk}/",
        f"/api/v1/tickets/{ticket.pk}/calls/", f"/api/v1/tickets/{ticket.pk}/action-items/",
    ]  # fmt: skip
    for path in reads:
        assert api_b.get(path).status_code == 404, path
    writes = [
        (f"{other}/notes/", "patch", {"live": {"header": "x"}}),
        (f"{other}/cancel/", "post", {"reason": "x"}),
        (f"{other}/approve-summary/", "post", {}),
        (f"/api/v1/action-items/{item.pk}/done/", "post", {}),
        (f"/api/v1/tickets/{ticket.pk}/calls/", "post", schedule_body(agent=charlie.pk)),
        (f"/api/v1/call-note-templates/{template.pk}/", "delete", None),
    ]
    for path, method, body in writes:
        assert getattr(api_b, method)(path, body, format="json").status_code == 404, path
    assert api_b.get("/api/v1/calls/").json()["results"] == []
    with tenant_context(tenant_a):
        assert Call.objects.get().status == "completed" and ActionItem.objects.get().status == "open"
        assert CallNoteTemplate.objects.get().active and CallNote.objects.get().values["live"] == {}
    # Tenant A's member can't be named by tenant B either.
    response = api_b.post(
        f"/api/v1/tickets/{open_ticket(tenant_b).pk}/calls/", schedule_body(agent=alice.pk), format="json"
    )
    assert response.status_code == 400 and "agent" in response.json()["error"]["fields"]


def test_only_the_calls_agent_or_a_manager_completes_it(tenant_a, api_a, alice, bob, client):
    from helpdesk.services import membership_create

    membership_create(tenant=tenant_a, username="dana", email="dana@acme.test", password="pw-dana-123!", tier=1)
    _, call = _call(api_a, tenant_a, alice)
    client.login(username="dana", password="pw-dana-123!")
    response = client.post(f"/api/v1/calls/{call['id']}/complete/", DONE, content_type="application/json")
    assert response.status_code == 403
    with tenant_context(tenant_a):
        assert Call.objects.get().status == "scheduled"
    client.logout()
    client.login(username="alice", password="pw-alice-123!")
    assert (
        client.post(f"/api/v1/calls/{call['id']}/complete/", DONE, content_type="application/json").status_code == 200
    )


def test_call_webhooks_are_delivered_signed_and_the_invite_is_mailed_with_its_ics(tenant_a, api_a, alice, receiver):
    webhook(tenant_a, receiver.url, events=("call.scheduled", "call.completed"))
    email_channel(tenant_a)
    _, call = _call(api_a, tenant_a, alice)
    api_a.post(f"/api/v1/calls/{call['id']}/complete/", DONE, format="json")
    dispatcher.dispatch()
    received = receiver.wait_for(2)
    assert sorted(r.headers["X-Helpdesk-Event"] for r in received) == ["call.completed", "call.scheduled"]
    assert all(r.headers["X-Helpdesk-Signature"].startswith("sha256=") for r in received)
    completed = next(r.json() for r in received if r.headers["X-Helpdesk-Event"] == "call.completed")
    assert completed["data"]["call"] == call["id"] and completed["data"]["root_cause"] == "A bad mapping."
    invites = [m for m in mail.outbox if m.subject.startswith("[Call]")]
    assert sorted(m.to[0] for m in invites) == ["alice@acme.test", "pat@example.com"]
    name, ics, content_type = invites[0].attachments[0]
    assert name == "invite.ics" and content_type.startswith("text/calendar")
    event = icalendar.Calendar.from_ical(ics).walk("VEVENT")[0]
    assert str(event["uid"]) == f"call-{call['uid']}@helpdesk"
