"""Notes in their template's version, completion (required fields, one-sentence root cause, action items with
owners, due dates and reminders), the customer summary sent only on a person's approval, templates' DELETE."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from callnotes.models import ActionItem, Call, CallNote, CallNoteTemplate, KnowledgeEntry
from helpdesk import workflows
from helpdesk.models import OutboxEvent
from helpdesk.tenancy import tenant_context
from tests.api.helpers import error_of
from tickets.models import Message, TicketEvent

from .conftest import open_ticket, schedule_body

DONE = {
    "root_cause": "The sync job dropped rows whose region was empty.",
    "resolution": "Patched the mapping and re-ran the sync for the account.",
    "customer_summary": "We found and fixed the cause; your records are back.",
}


def _scheduled(api, tenant, agent, **overrides):
    ticket = open_ticket(tenant)
    response = api.post(
        f"/api/v1/tickets/{ticket.pk}/calls/", schedule_body(agent=agent.pk, **overrides), format="json"
    )
    assert response.status_code == 201, response.content
    return ticket, response.json()


def test_notes_read_and_patch_by_section_in_the_template_version(tenant_a, api_a, api_a_manager, alice):
    _, call = _scheduled(api_a, tenant_a, alice)
    notes = api_a.get(f"/api/v1/calls/{call['id']}/notes/").json()
    assert notes["template_version"] == 1
    assert [f["key"] for f in notes["sections"]["live"]][:3] == ["header", "issue_confirmation", "diagnosis_steps"]
    assert set(notes["brief"]) >= {"thread_summary", "attempts", "escalations", "sentiment_trend", "account", "similar"}
    # A manager edits the template while the note is open: a new version; the note keeps its own.
    template = api_a_manager.get("/api/v1/call-note-templates/").json()["results"][0]
    sections = template["sections"]
    sections["live"].append({"key": "screen_share", "label": "Screen share", "type": "link"})
    edited = api_a_manager.patch(
        f"/api/v1/call-note-templates/{template['id']}/", {"sections": sections}, format="json"
    )
    assert edited.status_code == 200 and edited.json()["version"] == 2
    patch = {"live": {"issue_confirmation": "Rows missing since Tuesday", "diagnosis_steps": ["checked logs"]}}
    response = api_a.patch(f"/api/v1/calls/{call['id']}/notes/", patch, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["template_version"] == 1
    live = {f["key"]: f["value"] for f in body["sections"]["live"]}
    assert live["issue_confirmation"] == "Rows missing since Tuesday" and "screen_share" not in live
    refused = api_a.patch(
        f"/api/v1/calls/{call['id']}/notes/", {"live": {"screen_share": "https://x.test"}}, format="json"
    )
    assert refused.status_code == 400 and "live.screen_share" in error_of(refused)["fields"]


def test_completion_names_each_empty_required_field_and_writes_nothing(tenant_a, api_a, alice):
    ticket, call = _scheduled(api_a, tenant_a, alice)
    response = api_a.post(f"/api/v1/calls/{call['id']}/complete/", {"root_cause": "", "resolution": ""}, format="json")
    assert response.status_code == 400
    assert set(error_of(response)["fields"]) == {"root_cause", "resolution", "customer_summary"}
    with tenant_context(tenant_a):
        assert Call.objects.get(pk=call["id"]).status == "scheduled"
        assert not TicketEvent.objects.filter(ticket=ticket, kind="call_completed").exists()


def test_the_root_cause_is_one_sentence(tenant_a, api_a, alice):
    _, call = _scheduled(api_a, tenant_a, alice)
    body = {**DONE, "root_cause": "The sync failed. Then the retry failed too."}
    response = api_a.post(f"/api/v1/calls/{call['id']}/complete/", body, format="json")
    assert response.status_code == 400
    assert error_of(response)["fields"] == {"root_cause": ["Give the root cause in one sentence."]}


def test_completion_tracks_action_items_with_reminders_and_indexes_the_case(tenant_a, api_a, alice, bob):
    ticket, call = _scheduled(api_a, tenant_a, alice)
    due = (timezone.now() + timedelta(days=3)).date()
    items = [
        {"description": "Re-run the sync for April", "owner": bob.pk, "due": due.isoformat()},
        {"description": "Add a test for empty regions", "owner": alice.pk, "due": due.isoformat()},
    ]
    api_a.post(f"/api/v1/calls/{call['id']}/start/")
    response = api_a.post(f"/api/v1/calls/{call['id']}/complete/", {**DONE, "action_items": items}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "completed" and response.json()["handoff_seconds"] is None
    listed = api_a.get(f"/api/v1/tickets/{ticket.pk}/action-items/").json()
    assert [(i["description"], i["owner"], i["due"], i["status"]) for i in listed] == [
        ("Re-run the sync for April", bob.pk, due.isoformat(), "open"),
        ("Add a test for empty regions", alice.pk, due.isoformat(), "open"),
    ]
    with tenant_context(tenant_a):
        reminders = sorted(ActionItem.objects.values_list("reminder_due_at", flat=True))
        completed = OutboxEvent.objects.get(type="call.completed")
        entry = KnowledgeEntry.objects.get(call_id=call["id"])
        note = CallNote.objects.get(call_id=call["id"])
    assert all(r.astimezone(timezone.get_current_timezone()).date() <= due for r in reminders)
    assert completed.payload["root_cause"] == DONE["root_cause"]
    assert [i["description"] for i in completed.payload["action_items"]] == [i["description"] for i in items]
    assert (entry.kind, entry.root_cause, entry.resolved_by_id) == ("call", DONE["root_cause"], alice.pk)
    assert note.values["post_call"]["root_cause"] == DONE["root_cause"]
    # Done items leave the ticket's list.
    api_a.post(f"/api/v1/action-items/{listed[0]['id']}/done/")
    assert [i["description"] for i in api_a.get(f"/api/v1/tickets/{ticket.pk}/action-items/").json()] == [
        "Add a test for empty regions"
    ]


def test_action_items_in_the_past_are_refused(tenant_a, api_a, alice):
    _, call = _scheduled(api_a, tenant_a, alice)
    past = (timezone.now() - timedelta(days=2)).date().isoformat()
    body = {**DONE, "action_items": [{"description": "Too late", "owner": alice.pk, "due": past}]}
    response = api_a.post(f"/api/v1/calls/{call['id']}/complete/", body, format="json")
    assert response.status_code == 400 and "action_items[0].due" in error_of(response)["fields"]
    with tenant_context(tenant_a):
        assert not ActionItem.objects.exists()


def test_the_customer_summary_is_sent_only_when_a_person_approves_it_and_once(tenant_a, api_a, alice):
    ticket, call = _scheduled(api_a, tenant_a, alice)
    api_a.post(f"/api/v1/calls/{call['id']}/complete/", DONE, format="json")
    with tenant_context(tenant_a):
        assert not Message.objects.filter(ticket=ticket, body=DONE["customer_summary"]).exists()
    edited = "We fixed the cause and restored your records. Thank you for your patience."
    response = api_a.post(f"/api/v1/calls/{call['id']}/approve-summary/", {"body": edited}, format="json")
    assert response.status_code == 201, response.content
    with tenant_context(tenant_a):
        message = Message.objects.get(pk=response.json()["message"])
    assert (message.body, message.author_type, message.internal) == (edited, "agent", False)
    again = api_a.post(f"/api/v1/calls/{call['id']}/approve-summary/", {}, format="json")
    assert again.status_code == 409


def test_a_reminder_goes_out_once_before_the_call_and_once_for_an_action_item(tenant_a, api_a, alice):
    _, call = _scheduled(api_a, tenant_a, alice)
    with tenant_context(tenant_a):
        due_at = Call.objects.get(pk=call["id"]).reminder_due_at
    workflows.sweep(now=due_at - timedelta(seconds=1))
    with tenant_context(tenant_a):
        assert not OutboxEvent.objects.filter(type="call.reminder").exists()
    workflows.sweep(now=due_at)
    workflows.sweep(now=due_at + timedelta(minutes=1))
    with tenant_context(tenant_a):
        reminders = list(OutboxEvent.objects.filter(type="call.reminder"))
        assert Call.objects.get(pk=call["id"]).reminded_at is not None
    assert len(reminders) == 1 and reminders[0].payload["agent"] == alice.pk
    due = (timezone.now() + timedelta(days=1)).date()
    body = {**DONE, "action_items": [{"description": "Send the report", "owner": alice.pk, "due": due.isoformat()}]}
    api_a.post(f"/api/v1/calls/{call['id']}/complete/", body, format="json")
    with tenant_context(tenant_a):
        item = ActionItem.objects.get()
    workflows.sweep(now=item.reminder_due_at)
    workflows.sweep(now=item.reminder_due_at + timedelta(hours=1))
    with tenant_context(tenant_a):
        sent = list(OutboxEvent.objects.filter(type="action_item.reminder"))
    assert [e.payload["recipient"] for e in sent] == [alice.pk]
    assert "Send the report" in sent[0].payload["text"]


def test_templates_are_written_by_managers_and_a_used_one_is_retired_not_deleted(tenant_a, api_a, api_a_manager, alice):
    sections = {"pre_call": [{"key": "contact", "label": "Contact", "type": "text", "required": "scheduling"}]}
    refused = api_a.post("/api/v1/call-note-templates/", {"name": "Short", "sections": sections}, format="json")
    assert refused.status_code == 403
    created = api_a_manager.post("/api/v1/call-note-templates/", {"name": "Short", "sections": sections}, format="json")
    assert created.status_code == 201, created.content
    unused = created.json()["id"]
    bad = api_a_manager.post(
        "/api/v1/call-note-templates/",
        {"name": "Bad", "sections": {"live": [{"key": "X", "type": "blob"}]}},
        format="json",
    )
    assert bad.status_code == 400 and "sections.live" in error_of(bad)["fields"]
    _, call = _scheduled(api_a, tenant_a, alice)
    used = call["template"]
    assert api_a_manager.delete(f"/api/v1/call-note-templates/{unused}/").status_code == 204
    assert api_a_manager.delete(f"/api/v1/call-note-templates/{used}/").status_code == 204
    with tenant_context(tenant_a):
        assert not CallNoteTemplate.objects.filter(pk=unused).exists()
        assert CallNoteTemplate.objects.get(pk=used).active is False
