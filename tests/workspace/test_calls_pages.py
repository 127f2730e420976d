"""The call pages (UI.md, "Calls"): scheduling from the ticket page, /calls/, /calls/<id>/ with its notes and its
life, the invite, attachments, /knowledge/ and the printable brief — read through callnotes' selectors, written
through the workflows. Another tenant's call, ticket or file is the styled 404 and nothing is written through
it; only the call's agent or a manager changes a call (callnotes.rights, as the API)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import icalendar
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from callnotes.models import ActionItem, Attachment, CalendarFeed, Call, CallNote, CallNoteTemplate
from helpdesk import workflows
from helpdesk.tenancy import tenant_context
from tests.workspace.conftest import open_ticket, signed_in
from tickets.models import Message

BERLIN = ZoneInfo("Europe/Berlin")
PRE_CALL = {"phone_or_link": "https://meet.example.com/abc", "preferred_times": "mornings CET"}
SUMMARY = {
    "problem": "Records vanish after the nightly sync.",
    "tried": "Re-ran the sync; checked the mapping.",
    "emotional_state": "Frustrated, calm.",
    "desired_outcome": "Records restored and the cause fixed.",
    "account_context": "Enterprise, 3 years.",
}
TRANSCRIPT = """Pat: Every night since Monday the sync drops the records of the new region.
Alice: I see the mapping for the region column is missing in the export job.
Pat: Our finance team cannot close the month without those records.
Alice: I will send the corrected mapping by Friday.
Pat: Sam will check the backups tomorrow to restore the lost rows.
"""


@pytest.fixture(autouse=True)
def media_root(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def as_sam(sam):
    return signed_in("sam", "pw-sam-123!")


def _escalate_to_call(tenant, ticket, agent):
    with tenant_context(tenant):
        return workflows.escalate_manually(
            ticket=ticket,
            actor=None,
            kind="functional",
            reason="Several systems involved; writing is not working.",
            summary=SUMMARY,
            target_agent=agent,
            to_call=True,
        )


def _schedule(tenant, ticket, agent, hours: float = 24, **fields) -> Call:
    with tenant_context(tenant):
        return workflows.call_schedule(
            ticket=ticket,
            actor=None,
            scheduled_start=timezone.now() + timedelta(hours=hours),
            duration_minutes=30,
            agent=agent,
            attendees=["pat@example.test"],
            pre_call=PRE_CALL,
            **fields,
        )


def _reload(tenant, call) -> Call:
    with tenant_context(tenant):
        return Call.objects.get(pk=call.pk)


def _note(tenant, call) -> CallNote:
    with tenant_context(tenant):
        return CallNote.objects.get(call=call)


def _local_start(days: int = 2, hour: int = 10) -> datetime:
    day = (timezone.now().astimezone(BERLIN) + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=BERLIN)


def _text(response) -> str:
    return response.content.decode()


@pytest.fixture
def call(acme, alice, support):
    ticket = open_ticket(acme, subject="Nightly sync drops records", description="The sync drops rows every night.")
    return _schedule(acme, ticket, alice)


@pytest.fixture
def foreign_call(globex, charlie):
    ticket = open_ticket(globex, subject="Globex secret merger", requester_email="ceo@globex.test")
    return _schedule(globex, ticket, charlie)


# --- scheduling from the ticket page -------------------------------------------------------------------


def test_the_schedule_dialog_asks_for_the_window_attendees_and_what_the_template_requires(acme, alice, as_alice):
    ticket = open_ticket(acme)
    page = _text(as_alice.get(f"/tickets/{ticket.pk}/"))
    assert 'aria-labelledby="call-title"' in page and '<h2 id="call-title">Schedule call</h2>' in page
    assert re.search(r"<button[^>]*data-open-dialog=\"call-dialog\"[^>]*>Schedule call</button>", page, re.S)

    dialog = _text(as_alice.get(f"/tickets/{ticket.pk}/schedule-call/", HTTP_HX_REQUEST="true"))
    required = '<span class="req" aria-hidden="true">*</span></label>'  # a visible mark; `required` says it
    assert f'<label for="call-start">Start {required}' in dialog and 'type="datetime-local"' in dialog
    assert f'<label for="call-duration">Duration (minutes) {required}' in dialog
    assert '<label for="call-attendees">Attendees</label>' in dialog and "pat@example.test" in dialog
    assert "In Europe/Berlin" in dialog
    # The seeds' template: contact, phone or meeting link, preferred times before scheduling; the contact is
    # pre-filled from the ticket.
    for label in ("Customer contact", "Phone or meeting link", "Preferred times"):
        assert f">{label} {required}" in dialog
    # Tester's finding: the required fields were not marked; every one of them is `required` now.
    needed = ("pre_call.contact", "pre_call.phone_or_link", "pre_call.preferred_times")
    for name in ("scheduled_start", "duration_minutes", *needed):
        field = re.search(rf'<(?:input|textarea)[^>]*name="{name}"[^>]*>', dialog, re.S)
        assert field and re.search(r"\srequired[\s>]", field.group(0)), name
    assert not re.search(r'<textarea[^>]*name="attendees"[^>]*required', dialog)  # optional, unmarked
    assert '<span class="req" aria-hidden="true">*</span> required</p>' in dialog
    assert 'value="Pat &lt;pat@example.test&gt;"' in dialog
    assert ">Schedule</button>" in dialog and "<html" not in dialog
    assert "alice (agent, tier 1)" in dialog  # an agent may be chosen; routed by default


def test_scheduling_through_the_page_reads_the_start_in_the_tenants_zone(acme, alice, support, as_alice):
    ticket = open_ticket(acme)
    start = _local_start()
    response = as_alice.post(
        f"/tickets/{ticket.pk}/schedule-call/",
        {
            "scheduled_start": start.strftime("%Y-%m-%dT%H:%M"),
            "duration_minutes": "45",
            "attendees": "pat@example.test, legal@acme.test\nEng@Acme.test",
            "agent": str(alice.pk),
            "timezone": "America/New_York",
            "pre_call.contact": "Pat <pat@example.test>",
            "pre_call.phone_or_link": "tel:+4930123456",
            "pre_call.preferred_times": "mornings",
        },
    )
    with tenant_context(acme):
        call = Call.objects.get(ticket=ticket)
        note = CallNote.objects.get(call=call)
    assert response.status_code == 302 and response["Location"] == f"/calls/{call.pk}/"
    assert call.status == "scheduled" and call.agent_id == alice.pk and call.duration_minutes == 45
    assert call.scheduled_start == start  # 10:00 in Berlin, stored as the same instant in UTC
    assert call.timezone == "America/New_York"
    assert call.attendees == ["eng@acme.test", "legal@acme.test", "pat@example.test"]
    assert note.values["pre_call"]["phone_or_link"] == "tel:+4930123456"

    page = _text(as_alice.get(f"/tickets/{ticket.pk}/"))
    panel = re.search(r'<section aria-label="Calls".*?</section>', page, re.S).group(0)
    assert f'href="/calls/{call.pk}/"' in panel and "scheduled" in panel and "with alice" in panel
    assert "customer: " in panel and ("EST" in panel or "EDT" in panel)  # the customer's zone as well
    assert f'href="/tickets/{ticket.pk}/brief/"' in panel


def test_scheduling_refusals_land_on_their_fields_and_nothing_is_scheduled(acme, alice, support, as_alice):
    ticket = open_ticket(acme)
    base = {
        "scheduled_start": _local_start().strftime("%Y-%m-%dT%H:%M"),
        "duration_minutes": "30",
        "attendees": "pat@example.test",
        **{f"pre_call.{k}": v for k, v in PRE_CALL.items()},
    }
    past = as_alice.post(f"/tickets/{ticket.pk}/schedule-call/", {**base, "scheduled_start": "2020-01-01T10:00"})
    assert past.status_code == 400 and "Start: The call must start in the future." in _text(past)

    long = as_alice.post(f"/tickets/{ticket.pk}/schedule-call/", {**base, "duration_minutes": "600"})
    assert long.status_code == 400 and "Duration: A call lasts 1 to 480 minutes." in _text(long)

    bad_mail = as_alice.post(f"/tickets/{ticket.pk}/schedule-call/", {**base, "attendees": "pat@, x@y.test"})
    assert bad_mail.status_code == 400 and "Attendees: &#x27;pat@&#x27; is not an e-mail address." in _text(bad_mail)

    missing = as_alice.post(f"/tickets/{ticket.pk}/schedule-call/", {**base, "pre_call.preferred_times": ""})
    html = _text(missing)
    assert missing.status_code == 400
    assert "Preferred times: Fill this field before the call is scheduled." in html
    assert 'value="https://meet.example.com/abc"' in html  # what was typed is kept
    with tenant_context(acme):
        assert not Call.objects.filter(ticket=ticket, status="scheduled").exists()


def test_the_ticket_page_says_why_a_call_was_suggested(acme, alice, support, as_alice):
    ticket = open_ticket(acme)
    _escalate_to_call(acme, ticket, alice)
    panel = re.search(r'<section aria-label="Calls".*?</section>', _text(as_alice.get(f"/tickets/{ticket.pk}/")), re.S)
    assert "A call was suggested" in panel.group(0) and "manual" in panel.group(0)
    assert "Several systems involved; writing is not working." in panel.group(0)


# --- the call page ----------------------------------------------------------------------------------------


def test_the_call_page_shows_its_regions_fields_by_type_and_controls(acme, alice, as_alice, call):
    html = _text(as_alice.get(f"/calls/{call.pk}/"))
    for region in ("Pre-call brief", "Live notes", "Post-call"):
        assert re.search(rf'<section aria-labelledby="(\w+)-title"[^>]*>\s*<h2 id="\1-title">{region}</h2>', html)
    for label, control in (("Root cause", "input"), ("Resolution", "textarea"), ("Customer summary", "textarea")):
        assert re.search(rf'<label for="([\w-]+)">{label}</label>\s*<{control} id="\1"', html)
    assert ">Add action item</button>" in html and ">Complete call</button>" in html
    assert f'<a href="/calls/{call.pk}/invite.ics" download>Download invite</a>' in html
    # Fields by type, in their sections, as the note's template version has them
    assert '<textarea id="f-pre_call-reproduction_steps"' in html  # a list
    assert re.search(r'<textarea id="f-pre_call-phone_or_link" name="pre_call.phone_or_link"[^>]*>https://meet', html)
    assert "Error logs and screenshots" in html and "None yet: upload under Attachments." in html  # an artifact
    assert '<textarea id="f-live-diagnosis_steps"' in html
    assert "v1" in html and "Nightly sync drops records" in html
    for action in ("Start call", "Reschedule", "Cancel call", "Mark no-show"):
        assert f">{action}</button>" in html
    assert "Customer-facing: sent as a reply on the ticket only after you approve it" in html


def test_saving_notes_keeps_the_notes_template_version(acme, alice, as_alice, call):
    with tenant_context(acme):
        template = CallNoteTemplate.objects.get(is_default=True)
        sections = {
            **template.sections,
            "live": [*template.sections["live"], {"key": "x", "label": "X", "type": "text"}],
        }
        workflows.call_template_update(template=template, actor=None, sections=sections)
        assert CallNoteTemplate.objects.get(pk=template.pk).version == 2
    response = as_alice.post(
        f"/calls/{call.pk}/notes/",
        {
            "live.issue_confirmation": "Rows of the new region vanish.",
            "live.diagnosis_steps": "Checked logs\n\n Mapping ",
        },
    )
    assert response.status_code == 302
    note = _note(acme, call)
    assert note.template_version == 1 and "x" not in {f["key"] for f in note.fields["live"]}
    assert note.values["live"]["issue_confirmation"] == "Rows of the new region vanish."
    assert note.values["live"]["diagnosis_steps"] == ["Checked logs", "Mapping"]
    assert note.values["pre_call"]["phone_or_link"] == PRE_CALL["phone_or_link"]  # fields not sent are left alone

    bad = as_alice.post(f"/calls/{call.pk}/notes/", {"pre_call.phone_or_link": "x" * 20_001, "live.header": "Kept"})
    assert bad.status_code == 400 and "Phone or meeting link: A string of at most 20000 characters." in _text(bad)
    assert "Kept" in _text(bad)
    assert _note(acme, call).values["pre_call"]["phone_or_link"] == PRE_CALL["phone_or_link"]


def test_completing_names_each_empty_required_field_then_completes_with_action_items(acme, alice, sam, as_alice, call):
    due = (timezone.now().astimezone(BERLIN) + timedelta(days=3)).date().isoformat()
    typed = {
        "root_cause": "",
        "resolution": "Restored the rows from the backup.",
        "customer_summary": "",
        "action_description": ["Send the corrected mapping"],
        "action_owner": [str(sam.pk)],
        "action_due": [due],
    }
    refused = as_alice.post(f"/calls/{call.pk}/complete/", typed)
    html = _text(refused)
    assert refused.status_code == 400
    assert "Root cause: This field is required." in html
    assert "Customer summary: Fill this field before the call is completed." in html
    assert "Resolution: " not in re.sub(r"<label[^>]*>Resolution</label>", "", html.split("error-summary")[1])[:0]
    assert "Restored the rows from the backup." in html and "Send the corrected mapping" in html  # nothing lost
    assert _reload(acme, call).status == "scheduled"
    assert _note(acme, call).values["post_call"]["resolution"] == "Restored the rows from the backup."

    done = as_alice.post(
        f"/calls/{call.pk}/complete/",
        {
            **typed,
            "root_cause": "The export job lost the region column mapping.",
            "customer_summary": "We found and fixed the cause; your records are back.",
            "tags": "sync, Region Mapping",
        },
    )
    assert done.status_code == 302
    completed = _reload(acme, call)
    assert completed.status == "completed" and completed.root_cause.startswith("The export job")
    with tenant_context(acme):
        item = ActionItem.objects.get(call=call)
        assert (item.description, item.owner_id, item.due.isoformat()) == ("Send the corrected mapping", sam.pk, due)
        assert not Message.objects.filter(ticket_id=call.ticket_id, body__startswith="We found").exists()
    assert _note(acme, call).values["post_call"]["tags"] == ["sync", "region-mapping"]

    page = _text(as_alice.get(f"/calls/{call.pk}/"))
    assert "Approve and send summary" in page and "Send the corrected mapping — sam" in page
    assert ">Complete call</button>" not in page
    approved = as_alice.post(f"/calls/{call.pk}/approve-summary/", {"customer_summary": "Fixed: records are back."})
    assert approved.status_code == 302
    with tenant_context(acme):
        message = Message.objects.get(ticket_id=call.ticket_id, body="Fixed: records are back.")
        assert not message.internal and message.author_id == alice.pk
    assert "Approved by" in _text(as_alice.get(f"/calls/{call.pk}/"))


def test_an_action_item_row_missing_its_owner_is_named_on_it(acme, as_alice, call):
    response = as_alice.post(
        f"/calls/{call.pk}/complete/",
        {
            "root_cause": "The mapping was lost.",
            "resolution": "Restored.",
            "customer_summary": "Fixed.",
            "action_description": ["Check backups"],
            "action_owner": [""],
            "action_due": ["2099-01-01"],
        },
    )
    assert response.status_code == 400 and "Owner: Pick who owns it." in _text(response)
    assert "Action item 1, owner: Pick who owns it." in _text(response)
    assert _reload(acme, call).status == "scheduled"


def test_a_transcript_becomes_a_draft_reviewed_before_it_is_saved(acme, as_alice, call):
    response = as_alice.post(f"/calls/{call.pk}/transcript/", {"transcript": TRANSCRIPT})
    assert response.status_code == 302 and response["Location"].endswith("#live-notes")
    note = _note(acme, call)
    assert note.live_draft["key_sentences"] and "issue_confirmation" not in note.values.get("live", {})
    page = _text(as_alice.get(f"/calls/{call.pk}/"))
    assert "Use the draft in the live notes" in page and "send the corrected mapping" in page
    used = _text(as_alice.get(f"/calls/{call.pk}/?draft=use"))
    box = re.search(r'<textarea id="f-live-issue_confirmation"[^>]*>(.*?)</textarea>', used, re.S).group(1)
    assert note.live_draft["key_sentences"][0] in box.replace("&#x27;", "'")
    follow = re.search(r'<textarea id="f-live-follow_ups"[^>]*>(.*?)</textarea>', used, re.S).group(1)
    assert "send the corrected mapping" in follow
    assert "issue_confirmation" not in _note(acme, call).values.get("live", {})  # nothing saved until "Save notes"

    huge = as_alice.post(f"/calls/{call.pk}/transcript/", {"transcript": "Pat: words again. " * 30_000}, follow=True)
    assert "A transcript has at most 500000 characters." in _text(huge)
    assert _note(acme, call).live_draft == note.live_draft  # the earlier draft is kept, nothing half-written


def test_the_calls_life_through_its_buttons(acme, alice, as_alice, call):
    start = _local_start(days=3, hour=14)
    moved = as_alice.post(
        f"/calls/{call.pk}/reschedule/",
        {"scheduled_start": start.strftime("%Y-%m-%dT%H:%M"), "duration_minutes": "60"},
    )
    assert moved.status_code == 302
    rescheduled = _reload(acme, call)
    assert (rescheduled.scheduled_start, rescheduled.duration_minutes, rescheduled.sequence) == (start, 60, 1)
    assert as_alice.post(f"/calls/{call.pk}/start/").status_code == 302
    assert _reload(acme, call).status == "in_progress"
    page = _text(as_alice.get(f"/calls/{call.pk}/"))
    assert ">Start call</button>" not in page and ">Mark no-show</button>" in page and ">Cancel call<" not in page
    refused = as_alice.post(f"/calls/{call.pk}/cancel/", {"reason": "late"}, follow=True)
    assert "cannot be cancelled" in _text(refused) and _reload(acme, call).status == "in_progress"
    as_alice.post(f"/calls/{call.pk}/no-show/")
    assert _reload(acme, call).status == "no_show"


def test_the_invite_downloads_and_parses(acme, as_alice, call):
    response = as_alice.get(f"/calls/{call.pk}/invite.ics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    assert response["Content-Disposition"] == f'attachment; filename="call-{call.pk}.ics"'
    event = icalendar.Calendar.from_ical(response.content).walk("VEVENT")[0]
    assert str(event["UID"]) == f"call-{call.uid}@helpdesk" and int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == _reload(acme, call).scheduled_start.replace(microsecond=0)


def test_attachments_upload_to_the_call_and_download_only_to_members(acme, globex, as_alice, as_charlie, call):
    response = as_alice.post(
        f"/calls/{call.pk}/attachments/",
        {"file": SimpleUploadedFile("sync.log", b"ERROR row 42 dropped\n"), "field": "error_logs"},
    )
    assert response.status_code == 302 and response["Location"].endswith("#attachments")
    with tenant_context(acme):
        attachment = Attachment.objects.get(call=call)
    assert _note(acme, call).values["pre_call"]["error_logs"] == [attachment.pk]
    page = _text(as_alice.get(f"/calls/{call.pk}/"))
    assert f'href="/attachments/{attachment.pk}/download/">sync.log</a>' in page

    download = as_alice.get(f"/attachments/{attachment.pk}/download/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"ERROR row 42 dropped\n"
    assert download["Content-Disposition"].startswith("attachment") and download["X-Content-Type-Options"] == "nosniff"
    foreign = as_charlie.get(f"/attachments/{attachment.pk}/download/")
    assert foreign.status_code == 404 and "ERROR row 42" not in _text(foreign)

    html = as_alice.post(
        f"/calls/{call.pk}/attachments/",
        {"file": SimpleUploadedFile("x.html", b"<html><script>1</script>")},
        follow=True,
    )
    assert "cannot be attached" in _text(html) or "Only text" in _text(html)
    with tenant_context(acme):
        assert Attachment.objects.filter(call=call).count() == 1


# --- /calls/ ----------------------------------------------------------------------------------------------


def test_my_calls_upcoming_first_then_past_by_status(acme, alice, bob, as_alice, call):
    ticket = open_ticket(acme, subject="Second call ticket")
    later = _schedule(acme, ticket, alice, hours=48)
    other = _schedule(acme, open_ticket(acme, subject="Bob's call"), bob, hours=30)
    cancelled = _schedule(acme, open_ticket(acme, subject="Called off"), alice, hours=72)
    with tenant_context(acme):
        workflows.call_cancel(call=cancelled, actor=None, reason="solved by mail")
    html = _text(as_alice.get("/calls/"))
    upcoming = re.search(r'<section aria-labelledby="upcoming-title".*?</section>', html, re.S).group(0)
    assert upcoming.index(f"Call #{call.pk}<") < upcoming.index(f"Call #{later.pk}<")
    assert f"Call #{other.pk}<" not in html  # bob's
    past = re.search(r'<section aria-labelledby="past-cancelled".*?</section>', html, re.S).group(0)
    assert "Cancelled" in past and f"Call #{cancelled.pk}<" in past


def test_my_calls_cost_the_same_queries_whatever_their_number(
    acme, alice, as_alice, call, django_assert_max_num_queries
):
    as_alice.get("/calls/")
    with django_assert_max_num_queries(CALLS_QUERIES):
        assert as_alice.get("/calls/").status_code == 200
    for n in range(8):
        _schedule(acme, open_ticket(acme, subject=f"More {n}"), alice, hours=30 + n)
    with django_assert_max_num_queries(CALLS_QUERIES):
        assert _text(as_alice.get("/calls/")).count("Call #") == 9


CALLS_QUERIES = 14
CALL_PAGE_QUERIES = 16


def test_the_call_page_costs_a_bounded_number_of_queries(acme, alice, as_alice, call, django_assert_max_num_queries):
    as_alice.get(f"/calls/{call.pk}/")
    with django_assert_max_num_queries(CALL_PAGE_QUERIES):
        assert as_alice.get(f"/calls/{call.pk}/").status_code == 200
    for n in range(5):
        with tenant_context(acme):
            workflows.attachment_add(
                ticket=call.ticket, actor=None, upload=SimpleUploadedFile(f"{n}.log", b"log line\n"), call=call
            )
    with django_assert_max_num_queries(CALL_PAGE_QUERIES):
        assert _text(as_alice.get(f"/calls/{call.pk}/")).count("/download/") == 5


def test_the_calendar_link_is_shown_once_and_revoked_through_the_workflow(acme, alice, as_alice, call, client):
    made = as_alice.post("/calls/feed/")
    assert made.status_code == 302
    html = _text(as_alice.get("/calls/"))
    url = re.search(r'<input id="feed-url" value="([^"]+)"', html).group(1)
    assert "/api/v1/calendar-feeds/cf_" in url and ">Copy link</button>" in html
    assert 'id="feed-url"' not in _text(as_alice.get("/calls/"))  # shown once
    path = url.split("testserver", 1)[1]
    feed = client.get(path)
    assert feed.status_code == 200
    assert any(
        str(e["UID"]) == f"call-{call.uid}@helpdesk" for e in icalendar.Calendar.from_ical(feed.content).walk("VEVENT")
    )
    assert ">Regenerate calendar link</button>" in _text(as_alice.get("/calls/"))
    as_alice.post("/calls/feed/revoke/")
    assert client.get(path).status_code == 404
    with tenant_context(acme):
        assert not CalendarFeed.objects.filter(member=alice, revoked_at=None).exists()


# --- /knowledge/ and the brief -------------------------------------------------------------------------------


def test_knowledge_ranks_resolved_cases_and_names_who_resolved_them(acme, alice, sam, as_alice, globex, charlie):
    ticket = open_ticket(acme, subject="Sync drops the region column")
    call = _schedule(acme, ticket, sam)
    with tenant_context(acme):
        workflows.call_complete(
            call=call,
            actor=None,
            root_cause="The export job lost the region column mapping.",
            resolution="Restored the mapping and re-ran the sync.",
            customer_summary="Fixed.",
        )
        other = open_ticket(acme, subject="Printer jams", description="Paper jam in the region office printer.")
        workflows.ticket_update(ticket=other, actor=None, status="solved")
    foreign = open_ticket(globex, subject="Globex region mapping secret")
    with tenant_context(globex):
        workflows.ticket_update(ticket=foreign, actor=None, status="solved")

    html = _text(as_alice.get("/knowledge/?q=region+mapping"))
    results = re.findall(r'<h3 id="k-\d+"><a href="/tickets/(\d+)/">', html)
    assert results and results[0] == str(ticket.pk)
    assert "Root cause:</strong> The export job lost the region column mapping." in html
    assert "Resolved by sam" in html and f'href="/calls/{call.pk}/"' in html
    assert "Globex" not in html
    assert "Nothing resolved matches" in _text(as_alice.get("/knowledge/?q=zebra+quantum"))
    assert "at most 500 characters" in _text(as_alice.get("/knowledge/?q=" + "a" * 501))
    assert as_alice.get("/knowledge/").status_code == 200


def test_the_printable_brief_renders_the_tickets_brief(acme, alice, support, as_alice):
    ticket = open_ticket(acme, subject="Sync drops records", description="Every night the sync drops rows.")
    _escalate_to_call(acme, ticket, alice)
    html = _text(as_alice.get(f"/tickets/{ticket.pk}/brief/"))
    assert f"Escalation brief — ticket #{ticket.pk}: Sync drops records" in html
    for heading in ("What the customer reported", "What was investigated", "Steps taken", "Escalations", "Calls"):
        assert f">{heading}</h2>" in html
    assert "Records vanish after the nightly sync." in html and 'media="print"' in html and "data-print" in html


# --- tenancy and roles -------------------------------------------------------------------------------------


def test_another_tenants_call_ticket_and_files_are_the_404_page_and_nothing_is_written(
    acme, globex, as_alice, foreign_call
):
    ticket_id, call_id = foreign_call.ticket_id, foreign_call.pk
    with tenant_context(globex):
        attachment = workflows.attachment_add(
            ticket=foreign_call.ticket, actor=None, upload=SimpleUploadedFile("a.log", b"secret\n"), call=foreign_call
        )
    gets = [
        f"/calls/{call_id}/",
        f"/calls/{call_id}/invite.ics",
        f"/tickets/{ticket_id}/schedule-call/",
        f"/tickets/{ticket_id}/brief/",
        f"/attachments/{attachment.pk}/download/",
    ]
    for path in gets:
        response = as_alice.get(path)
        assert response.status_code == 404, path
        assert "Not found" in _text(response) and "Globex secret" not in _text(response), path
    posts = [
        (f"/tickets/{ticket_id}/schedule-call/", {"scheduled_start": "2099-01-01T10:00", "duration_minutes": "30"}),
        (f"/calls/{call_id}/notes/", {"live.issue_confirmation": "sneaky"}),
        (f"/calls/{call_id}/complete/", {"root_cause": "x.", "resolution": "y", "customer_summary": "z"}),
        (f"/calls/{call_id}/approve-summary/", {}),
        (f"/calls/{call_id}/transcript/", {"transcript": TRANSCRIPT}),
        (f"/calls/{call_id}/attachments/", {"file": SimpleUploadedFile("b.log", b"x\n")}),
        (f"/calls/{call_id}/start/", {}),
        (f"/calls/{call_id}/cancel/", {"reason": "x"}),
        (f"/calls/{call_id}/no-show/", {}),
        (f"/calls/{call_id}/reschedule/", {"scheduled_start": "2099-01-01T10:00", "duration_minutes": "30"}),
    ]
    for path, body in posts:
        assert as_alice.post(path, body).status_code == 404, path
    after = _reload(globex, foreign_call)
    assert (after.status, after.sequence, after.scheduled_start) == ("scheduled", 0, foreign_call.scheduled_start)
    note = _note(globex, foreign_call)
    assert "issue_confirmation" not in note.values.get("live", {}) and not note.live_draft
    with tenant_context(globex):
        assert Attachment.objects.filter(call=foreign_call).count() == 1
        assert Call.objects.filter(ticket_id=ticket_id).count() == 1


def test_signed_out_people_go_to_sign_in(client, call):
    for path in ("/calls/", f"/calls/{call.pk}/", "/knowledge/", f"/tickets/{call.ticket_id}/brief/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), path
    assert client.post(f"/calls/{call.pk}/start/").status_code == 302
    assert _reload(call.tenant, call).status == "scheduled"


def test_only_the_calls_agent_or_a_manager_changes_the_call(acme, alice, bob, as_sam, as_bob, call):
    page = _text(as_sam.get(f"/calls/{call.pk}/"))
    assert ">Complete call</button>" not in page and ">Start call</button>" not in page
    assert ">Save notes</button>" in page  # anyone of the tenant may take notes, as in the API
    for path, body in [
        ("start", {}),
        ("cancel", {"reason": "mine now"}),
        ("no-show", {}),
        ("complete", {"root_cause": "A cause.", "resolution": "Done.", "customer_summary": "Fixed."}),
    ]:
        response = as_sam.post(f"/calls/{call.pk}/{path}/", body, follow=True)
        assert "Only the call's agent or a manager may change this call." in unescape(_text(response)), path
    assert _reload(acme, call).status == "scheduled"
    assert as_bob.post(f"/calls/{call.pk}/start/").status_code == 302
    assert _reload(acme, call).status == "in_progress"


def test_a_call_request_has_a_page_that_says_to_schedule_it(acme, alice, support, as_bob):
    ticket = open_ticket(acme, subject="Sync drops records")
    _escalate_to_call(acme, ticket, alice)
    with tenant_context(acme):
        request = Call.objects.get(ticket=ticket)
    html = _text(as_bob.get(f"/calls/{request.pk}/"))
    assert request.status == "requested" and "Not scheduled yet" in html
    assert ">Complete call</button>" not in html and ">Save notes</button>" not in html
    assert ">Cancel call</button>" in html and "Download invite" not in html
    assert as_bob.get(f"/calls/{request.pk}/invite.ics").status_code == 404
    requests = re.search(r'<section aria-labelledby="requests-title".*?</section>', _text(as_bob.get("/calls/")), re.S)
    assert f'href="/tickets/{ticket.pk}/">#{ticket.pk} Sync drops records</a>' in requests.group(0)


def _call_routes(call) -> list[str]:
    return [
        "/calls/",
        "/knowledge/?q=sync",
        f"/calls/{call.pk}/",
        f"/calls/{call.pk}/invite.ics",
        f"/tickets/{call.ticket_id}/schedule-call/",
        f"/tickets/{call.ticket_id}/brief/",
    ]


def test_no_seat_a_deactivated_seat_or_an_api_token_opens_no_call_page(acme, alice, call, django_user_model, client):
    from helpdesk.services import api_token_create, member_deactivate

    django_user_model.objects.create_user(username="nobody", password="pw-nobody-123!")
    nobody = signed_in("nobody", "pw-nobody-123!")
    _, key = api_token_create(tenant=acme, role="admin")
    for path in _call_routes(call):
        refused = nobody.get(path)
        assert refused.status_code == 403 and "no active seat" in _text(refused), path
        assert client.get(path, HTTP_AUTHORIZATION=f"Token {key}").status_code in (302, 403), path
    assert nobody.post(f"/calls/{call.pk}/start/").status_code == 403
    assert nobody.post("/calls/feed/").status_code == 403

    as_alice = signed_in("alice", "pw-alice-123!")
    with tenant_context(acme):
        member_deactivate(membership=alice, actor=None)
    assert as_alice.get(f"/calls/{call.pk}/").status_code in (302, 403)
    assert as_alice.post(f"/calls/{call.pk}/start/").status_code in (302, 403)
    assert _reload(acme, call).status == "scheduled"
    with tenant_context(acme):
        assert not CalendarFeed.objects.exists()


def test_another_tenants_agent_sees_none_of_our_calls_feed_or_knowledge(acme, alice, as_alice, as_charlie, call):
    as_alice.post("/calls/feed/")
    html = _text(as_charlie.get("/calls/"))
    assert f"Call #{call.pk}<" not in html and "Nightly sync" not in html and "You have no calendar link." in html
    as_charlie.post("/calls/feed/revoke/")
    with tenant_context(acme):
        assert CalendarFeed.objects.filter(member=alice, revoked_at=None).count() == 1
        workflows.call_complete(
            call=call, actor=None, root_cause="The mapping was lost.", resolution="Restored.", customer_summary="Ok."
        )
    assert "Nightly sync" in _text(as_alice.get("/knowledge/?q=mapping"))
    assert "Nightly sync" not in _text(as_charlie.get("/knowledge/?q=mapping"))


def test_the_notes_save_by_themselves_through_the_same_workflow(acme, as_alice, call):
    page = _text(as_alice.get(f"/calls/{call.pk}/"))
    assert f'hx-post="/calls/{call.pk}/notes/"' in page and 'hx-include="[form=notes-form]"' in page
    saved = as_alice.post(
        f"/calls/{call.pk}/notes/", {"live.header": "Tue 10:00, Pat, the nightly sync"}, HTTP_HX_REQUEST="true"
    )
    assert saved.status_code == 200 and _text(saved).startswith("Saved <time") and "<html" not in _text(saved)
    assert _note(acme, call).values["live"]["header"] == "Tue 10:00, Pat, the nightly sync"
    refused = as_alice.post(
        f"/calls/{call.pk}/notes/",
        {"live.header": "x" * 20_001, "live.follow_ups": "Call back"},
        HTTP_HX_REQUEST="true",
    )
    assert "Not saved: Some note fields are invalid. A string of at most 20000 characters." in _text(refused)
    assert _note(acme, call).values["live"]["header"] == "Tue 10:00, Pat, the nightly sync"
    assert "follow_ups" not in _note(acme, call).values["live"]  # all or nothing
