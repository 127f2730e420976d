"""Calls in a real Chromium, found by the accessible names of UI.md ("Calls"): an agent schedules a call from the
ticket page through the "Schedule call" dialog, opens the call page, takes live notes, adds an action item,
completes the call (first with a required field empty: the error names it, nothing typed is lost), downloads
the invite and it parses with `icalendar`; axe-core finds no serious or critical violation on the call page and
/knowledge/, and nothing breaks the Content-Security-Policy.

With SCREENSHOTS=1 the call page, the knowledge page and the scheduling dialog are saved at 1280x800 into
docs/screenshots/."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone

from callnotes.models import ActionItem, Call, CallNote
from helpdesk import workflows
from helpdesk.models import Role
from helpdesk.services import membership_create
from helpdesk.tenancy import tenant_context
from tests.e2e.test_workspace import COLLECT_VIOLATIONS

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def floor():
    acme = workflows.tenant_bootstrap(slug="acme", name="Acme Corp", timezone="Europe/Berlin")
    alice = membership_create(
        tenant=acme, username="alice", email="alice@acme.test", password="pw-alice-123!", role=Role.AGENT, tier=1
    )
    sam = membership_create(tenant=acme, username="sam", password="pw-sam-123!", role=Role.AGENT, tier=2)
    with tenant_context(acme):
        ticket = workflows.ticket_open(
            tenant=acme,
            actor=None,
            subject="Nightly sync drops records",
            description="Every night since Monday the sync drops the rows of the new region. Finance cannot close.",
            requester_email="pat@initech.test",
            requester_name="Pat",
        )
        solved = workflows.ticket_open(
            tenant=acme,
            actor=None,
            subject="Export misses the region column",
            description="The CSV export has no region column since the update.",
            requester_email="kim@initech.test",
        )
        earlier = workflows.call_schedule(
            ticket=solved,
            actor=None,
            scheduled_start=timezone.now() + timedelta(hours=3),
            duration_minutes=30,
            agent=sam,
            pre_call={"phone_or_link": "tel:+4930123", "preferred_times": "any"},
        )
        workflows.call_complete(
            call=earlier,
            actor=None,
            root_cause="The export job lost the region column mapping.",
            resolution="Restored the mapping and re-ran the export.",
            customer_summary="Fixed.",
        )
    return {"acme": acme, "ticket": ticket, "alice": alice, "sam": sam}


@pytest.fixture
def page(browser_page):
    browser_page.add_init_script(COLLECT_VIOLATIONS)
    return browser_page


def _serious(page) -> list[str]:
    violations = Axe().run(page).response["violations"]
    return [f"{v['id']}: {v['help']}" for v in violations if v["impact"] in ("serious", "critical")]


def _shot(page, name: str) -> None:
    if os.environ.get("SCREENSHOTS"):
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(SCREENSHOTS / name), full_page=False)


def test_an_agent_schedules_takes_notes_and_completes_a_call(floor, live_server, page, tmp_path):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("pw-alice-123!")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/tickets/.*"))
    page.goto(f"{live_server.url}/tickets/{floor['ticket'].pk}/")

    page.get_by_role("button", name="Schedule call").click()
    dialog = page.get_by_role("dialog", name="Schedule call")
    start = (timezone.now().astimezone(ZoneInfo("Europe/Berlin")) + timedelta(days=2)).replace(hour=10, minute=0)
    dialog.get_by_label("Start").fill(start.strftime("%Y-%m-%dT%H:%M"))
    dialog.get_by_label("Duration (minutes)").fill("45")
    dialog.get_by_label("Attendees").fill("pat@initech.test, legal@acme.test")
    dialog.get_by_label("Agent").select_option(label="alice (agent, tier 1)")
    assert "pat@initech.test" in dialog.get_by_label("Customer contact").input_value()
    dialog.get_by_label("Phone or meeting link").fill("https://meet.example.com/nightly-sync")
    dialog.get_by_label("Preferred times").fill("mornings CET")
    if os.environ.get("SCREENSHOTS"):
        page.screenshot(path=str(SCREENSHOTS / "32-schedule-call-dialog.png"))
    dialog.get_by_role("button", name="Schedule").click()
    page.wait_for_url(re.compile(r".*/calls/\d+/$"))
    page.get_by_text("Call scheduled with alice").wait_for()
    with tenant_context(floor["acme"]):
        call = Call.objects.get(ticket=floor["ticket"])
    assert call.scheduled_start == start.replace(second=0, microsecond=0) and call.agent_id == floor["alice"].pk

    for name in ("Pre-call brief", "Live notes", "Post-call"):
        assert page.get_by_role("region", name=name).is_visible()
    assert page.get_by_role("textbox", name="Reason", exact=True).count() == 0  # the cancel form waits for its button
    live = page.get_by_role("region", name="Live notes")
    live.get_by_role("textbox", name="Issue confirmation").fill("Rows of the new region vanish after the sync.")
    live.get_by_role("textbox", name="Diagnosis steps").fill("Checked the sync log\nCompared the mapping")
    page.locator("#autosave-status").get_by_text("Saved").wait_for()  # the notes saved themselves
    with tenant_context(floor["acme"]):
        saved = CallNote.objects.get(call=call).values["live"]
    assert saved["diagnosis_steps"] == ["Checked the sync log", "Compared the mapping"]
    assert _serious(page) == []
    _shot(page, "30-call-page.png")

    post = page.get_by_role("region", name="Post-call")
    post.get_by_role("button", name="Add action item").click()
    post.get_by_role("textbox", name="Action").fill("Send the corrected mapping")
    post.get_by_role("combobox", name="Owner").select_option(label="sam")
    due = (timezone.now() + timedelta(days=3)).date().isoformat()
    post.get_by_label("Due").fill(due)
    post.get_by_role("textbox", name="Resolution", exact=True).fill("Restored the rows from the backup.")
    post.get_by_role("textbox", name="Customer summary").fill("We restored your records and fixed the sync.")
    post.get_by_role("button", name="Complete call").click()

    error = page.locator("#root-cause-error")
    error.wait_for()
    assert error.inner_text() == "Root cause: This field is required."
    post = page.get_by_role("region", name="Post-call")
    assert post.get_by_role("textbox", name="Root cause").get_attribute("aria-invalid") == "true"
    # Nothing typed was lost: the notes were saved, the post-call fields and the action item are shown again.
    assert (
        post.get_by_role("textbox", name="Resolution", exact=True).input_value() == "Restored the rows from the backup."
    )
    assert post.get_by_role("textbox", name="Action").input_value() == "Send the corrected mapping"
    live = page.get_by_role("region", name="Live notes")
    assert live.get_by_role("textbox", name="Issue confirmation").input_value().startswith("Rows of the new region")
    assert _serious(page) == []

    post.get_by_role("textbox", name="Root cause").fill("The sync job lost the region mapping.")
    post.get_by_role("button", name="Complete call").click()
    page.get_by_text("Call completed.").wait_for()
    with tenant_context(floor["acme"]):
        call.refresh_from_db()
        item = ActionItem.objects.get(call=call)
    assert call.status == "completed" and call.root_cause == "The sync job lost the region mapping."
    assert (item.owner_id, item.due.isoformat()) == (floor["sam"].pk, due)
    assert page.get_by_role("button", name="Approve and send summary").is_visible()

    with page.expect_download() as download:
        page.get_by_role("link", name="Download invite").click()
    path = tmp_path / "invite.ics"
    download.value.save_as(path)
    event = icalendar.Calendar.from_ical(path.read_bytes()).walk("VEVENT")[0]
    assert str(event["UID"]) == f"call-{call.uid}@helpdesk"
    assert event.decoded("DTSTART") == start.replace(second=0, microsecond=0)
    assert "https://meet.example.com/nightly-sync" in str(event["LOCATION"])
    assert page.evaluate("window.__cspViolations") == []


def test_knowledge_names_who_resolved_a_case_and_has_no_serious_violation(floor, live_server, page):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("pw-alice-123!")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/tickets/.*"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Knowledge").click()
    page.get_by_role("searchbox", name="Search resolved cases").fill("region mapping")
    page.get_by_role("button", name="Search", exact=True).click()
    result = page.get_by_role("article").first
    assert "Export misses the region column" in result.inner_text() and "Resolved by sam" in result.inner_text()
    assert _serious(page) == []
    _shot(page, "31-knowledge.png")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calls").click()
    assert page.get_by_role("heading", name="My calls").is_visible()
    assert _serious(page) == []
    assert page.evaluate("window.__cspViolations") == []
