"""Tester's findings on the workspace, each with the check that it stays fixed: clock texts in the tenant's
zone and how long a breached clock is overdue; a status message after each escalation action; the resolution
attempts in the ticket's main column; "Sign out" a link of the main navigation that signs out only by POST;
a 403 logged as one warning line, not a traceback; a person's hierarchical escalation to the same or a lower
tier refused (400, naming the field) by the API and by the page alike."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from rest_framework.test import APIClient

from escalation.models import Escalation, EscalationStatus
from helpdesk import workflows
from helpdesk.models import Role
from helpdesk.services import api_token_create
from helpdesk.tenancy import tenant_context
from helpdesk.workspace.clocks import ClockView, clock_view
from slas.models import SlaTimer, TimerStatus
from tests.workspace.conftest import open_ticket, signed_in
from tickets.models import Ticket

SUMMARY = {
    "problem": "The export fails.",
    "tried": "Restarted it.",
    "emotional_state": "Calm.",
    "desired_outcome": "A working export.",
    "account_context": "Enterprise.",
}


def _page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.content.decode()


# --- clocks -------------------------------------------------------------------------------------------------


def test_paused_until_is_said_in_the_pages_zone_not_utc():
    opening = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # Monday 09:00 in Berlin, 03:00 in New York
    view = ClockView("resolution", "Resolution", "running", opening, 240, 30.0, opening, ())
    with timezone.override("Europe/Berlin"):
        assert view.text == "30 min left, paused until Mon 09:00 (outside business hours)"
        assert view.zone == "Europe/Berlin"
    with timezone.override("America/New_York"):
        assert "paused until Mon 03:00" in view.text


def _breach_first_response(tenant, ticket, hours_ago: int = 3) -> SlaTimer:
    """The ticket's first-response clock, made due `hours_ago` hours ago and breached, as the sweep leaves it."""
    due = timezone.now() - timedelta(hours=hours_ago)
    with tenant_context(tenant):
        timer = SlaTimer.objects.get(ticket=ticket, escalation_id=0, metric="first_response")
        SlaTimer.objects.filter(pk=timer.pk).update(status=TimerStatus.BREACHED, due_at=due, breached_at=due)
        Ticket.objects.filter(pk=ticket.pk).update(sla_breached=True)
        return SlaTimer.objects.select_related("calendar").get(pk=timer.pk)


def test_a_breached_clock_says_how_long_overdue_in_business_time(acme, alice, as_alice):
    ticket = open_ticket(acme, subject="Late one")
    timer = _breach_first_response(acme, ticket)
    view = clock_view(timer, timezone.now())
    assert view.overdue_minutes is not None and view.overdue_minutes >= 0
    assert view.text.startswith("breached, overdue by ") and view.tone == "bad"

    page = _page(as_alice, f"/tickets/{ticket.pk}/")
    assert re.search(r'aria-label="First response: breached, overdue by \d+ (h|min)', page)
    queue = _page(as_alice, "/tickets/?view=breached")
    row = re.search(r"<tr data-row>.*?Late one.*?</tr>", queue, re.S).group(0)
    assert re.search(r'aria-label="First response: breached, overdue by \d+ (h|min)', row)


def test_a_running_clock_past_its_deadline_says_overdue_by():
    view = ClockView("first_response", "First response", "running", timezone.now(), 240, -130.0, None, ())
    assert view.text == "overdue by 2 h 10 min" and view.label == "First response: overdue by 2 h 10 min"


def test_the_clocks_carry_the_tenants_zone_for_the_countdown(acme, alice, as_alice):
    ticket = open_ticket(acme)
    page = _page(as_alice, f"/tickets/{ticket.pk}/")
    zones = re.findall(r'role="timer"[^>]*data-zone="([^"]+)"', page, re.S)
    assert zones and set(zones) == {"Europe/Berlin"}


# --- escalation actions say what they did -------------------------------------------------------------------


def _escalated(acme, as_alice) -> Escalation:
    ticket = open_ticket(acme)
    as_alice.post(f"/tickets/{ticket.pk}/escalate/submit/", {"kind": "functional", "target": "tier:2", **SUMMARY})
    with tenant_context(acme):
        return Escalation.objects.get(ticket=ticket)


def _status_message(response) -> str:
    found = re.search(r'<div class="flash" role="status"[^>]*>(.*?)</div>', response.content.decode(), re.S)
    assert found, "no status message"
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def test_acknowledge_return_and_de_escalate_each_confirm_in_a_status_message(acme, sam, bob, as_alice):
    as_sam = signed_in("sam", "pw-sam-123!")
    first = _escalated(acme, as_alice)
    done = as_sam.post(f"/escalations/{first.pk}/acknowledge/", follow=True)
    assert _status_message(done) == "Acknowledged."
    done = as_sam.post(f"/escalations/{first.pk}/return/", {"reason": "Needs the customer's logs first."}, follow=True)
    assert _status_message(done) == "Returned."

    second = _escalated(acme, as_alice)
    as_bob = signed_in("bob", "pw-bob-123!")
    down = {"reason": "Tier 1 can do it.", "to_tier": 1}
    done = as_bob.post(f"/escalations/{second.pk}/de-escalate/", down, follow=True)
    assert _status_message(done) == "De-escalated."
    with tenant_context(acme):
        statuses = dict(Escalation.objects.filter(pk__in=[first.pk, second.pk]).values_list("pk", "status"))
    assert statuses == {first.pk: EscalationStatus.RETURNED, second.pk: EscalationStatus.DE_ESCALATED}


# --- resolution attempts in the main column -----------------------------------------------------------------


def test_resolution_attempts_are_shown_in_the_tickets_main_column(acme, alice, as_alice):
    ticket = open_ticket(acme)
    as_alice.post(f"/tickets/{ticket.pk}/attempts/", {"outcome": "failed", "tier": 1, "note": "Cleared the cache."})
    page = _page(as_alice, f"/tickets/{ticket.pk}/")
    main = re.search(r'<div class="ticket-main">.*?<details id="activity"', page, re.S).group(0)
    region = re.search(r'<section aria-label="Resolution attempts".*?</section>', main, re.S)
    assert region, "the attempts are not in the main column"
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", region.group(0)))
    assert "failed" in text and "tier 1" in text and "alice" in text and "Cleared the cache." in text


# --- sign out -----------------------------------------------------------------------------------------------


def test_sign_out_is_a_link_of_the_main_navigation_and_a_get_signs_nobody_out(acme, alice, as_alice):
    page = _page(as_alice, "/tickets/")
    nav = re.search(r'<nav aria-label="Main".*?</nav>', page, re.S).group(0)
    assert re.search(r'<a href="/logout/"[^>]*>Sign out</a>', nav)
    assert re.search(r'<form id="sign-out" method="post" action="/logout/" hidden>', page)

    asked = _page(as_alice, "/logout/")  # the link without script: a page that asks, and nobody is signed out
    assert ">Sign out</button>" in asked and 'method="post"' in asked
    assert as_alice.get("/tickets/").status_code == 200

    assert as_alice.post("/logout/").status_code == 302
    assert as_alice.get("/tickets/").status_code == 302  # to the sign-in page


# --- a 403 is a warning line ---------------------------------------------------------------------------------


def test_a_403_is_logged_as_one_warning_line_without_a_traceback(acme, alice, as_alice, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = as_alice.get("/dashboard/")
    assert response.status_code == 403
    records = [r for r in caplog.records if r.name == "django.request"]
    assert len(records) == 1
    record = records[0]
    assert record.levelno == logging.WARNING and record.exc_info is None and record.exc_text is None
    assert "/dashboard/" in record.getMessage() and "managers" in record.getMessage()


# --- a hierarchical escalation goes up ------------------------------------------------------------------------


def _api(tenant) -> APIClient:
    _, key = api_token_create(tenant=tenant, role=Role.AGENT, label="findings")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_hierarchical_escalation_to_the_same_or_a_lower_tier_is_a_400_naming_the_field(acme, alice, sam):
    ticket = open_ticket(acme)
    with tenant_context(acme):
        Ticket.objects.filter(pk=ticket.pk).update(tier=2)
    client = _api(acme)
    for tier in (2, 1):
        body = {"kind": "hierarchical", "reason": "sign-off", "target_tier": tier, "summary": SUMMARY}
        response = client.post(f"/api/v1/tickets/{ticket.pk}/escalate/", body, format="json")
        assert response.status_code == 400, response.content
        error = response.json()["error"]
        assert list(error["fields"]) == ["target_tier"] and "goes up" in error["message"]
    body = {"kind": "hierarchical", "reason": "sign-off", "target_agent": sam.pk, "summary": SUMMARY}
    response = client.post(f"/api/v1/tickets/{ticket.pk}/escalate/", body, format="json")
    assert response.status_code == 400 and list(response.json()["error"]["fields"]) == ["target_agent"]
    with tenant_context(acme):
        assert not Escalation.objects.filter(ticket=ticket).exists()

    up = {"kind": "hierarchical", "reason": "sign-off", "target_tier": 3, "summary": SUMMARY}
    assert client.post(f"/api/v1/tickets/{ticket.pk}/escalate/", up, format="json").status_code in (201, 202)
    with tenant_context(acme):
        assert Escalation.objects.get(ticket=ticket).to_tier == 3


def test_the_page_refuses_it_too_and_a_functional_one_sideways_still_goes(acme, alice, sam, as_alice):
    ticket = open_ticket(acme)  # tier 1, alice's
    body = {"kind": "hierarchical", "target": "tier:1", **SUMMARY}
    refused = as_alice.post(f"/tickets/{ticket.pk}/escalate/submit/", body, follow=True)
    assert "A hierarchical escalation goes up" in refused.content.decode()
    with tenant_context(acme):
        assert not Escalation.objects.filter(ticket=ticket).exists()
    as_alice.post(f"/tickets/{ticket.pk}/escalate/submit/", {**body, "kind": "functional"})
    with tenant_context(acme):
        assert Escalation.objects.filter(ticket=ticket, kind="functional").exists()


def test_a_manager_is_authority_whatever_the_tier(acme, alice, bob):
    ticket = open_ticket(acme)
    with tenant_context(acme):
        Ticket.objects.filter(pk=ticket.pk).update(tier=2)
        ticket.refresh_from_db()
        escalation = workflows.escalate_manually(
            ticket=ticket, actor=None, kind="hierarchical", reason="sign-off", summary=SUMMARY, target_agent=bob
        )
    assert escalation.agent_id == bob.pk  # bob: a manager of tier 2, the ticket's own tier
