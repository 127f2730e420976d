"""The agent workspace in a real Chromium, found by the accessible names of UI.md: an agent signs in, finds a
ticket in a queue, replies and escalates with the summary; the receiving manager acknowledges it from the ticket
page; the page picks up a customer's message by itself without losing a half-written reply; another tenant's
ticket is the styled 404; the keyboard works; axe-core finds no serious or critical violation; and the pages
run under the Content-Security-Policy without a violation."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe

from escalation.models import Escalation
from helpdesk import workflows
from helpdesk.models import Role
from helpdesk.services import membership_create
from helpdesk.tenancy import tenant_context
from tickets.models import Message

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI || "inline"} ${e.sourceFile}:${e.lineNumber}`);
});
"""
SUMMARY = {
    "Problem": "The nightly export fails with HTTP 500.",
    "Tried": "Restarted the job; cleared the cache.",
    "Emotional state": "Frustrated: the finance close is blocked.",
    "Desired outcome": "The export working before Friday.",
    "Account context": "Initech, enterprise, since 2019.",
}


@pytest.fixture
def floor():
    acme = workflows.tenant_bootstrap(slug="acme", name="Acme Corp", timezone="Europe/Berlin")
    globex = workflows.tenant_bootstrap(slug="globex", name="Globex")
    membership_create(tenant=acme, username="alice", password="pw-alice-123!", role=Role.AGENT, tier=1)
    membership_create(tenant=acme, username="maya", password="pw-maya-123!", role=Role.MANAGER, tier=2)
    with tenant_context(acme):
        ticket = workflows.ticket_open(
            tenant=acme,
            actor=None,
            subject="Nightly export fails",
            description="How do I get the nightly export into a CSV file?",
            requester_email="pat@initech.test",
            requester_name="Pat",
        )
    with tenant_context(globex):
        foreign = workflows.ticket_open(
            tenant=globex, actor=None, subject="Globex secret", description="x", requester_email="c@globex.test"
        )
    return {"acme": acme, "ticket": ticket, "foreign": foreign}


@pytest.fixture
def page(browser_page):
    browser_page.add_init_script(COLLECT_VIOLATIONS)
    return browser_page


def _sign_in(page, live_server, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/tickets/.*"))


def _no_csp_violations(page) -> None:
    assert page.evaluate("window.__cspViolations") == []


def _serious(page) -> list[str]:
    violations = Axe().run(page).response["violations"]
    return [f"{v['id']}: {v['help']}" for v in violations if v["impact"] in ("serious", "critical")]


def test_an_agent_replies_and_escalates_and_the_manager_acknowledges(floor, live_server, page):
    _sign_in(page, live_server, "alice", "pw-alice-123!")
    page.get_by_role("navigation", name="Views").get_by_role("link", name=re.compile("^All")).click()
    assert _serious(page) == []
    page.get_by_role("table").get_by_role("link", name="Nightly export fails").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Nightly export fails"
    timers = page.get_by_role("timer")
    assert timers.count() >= 2 and timers.first.get_attribute("data-due-at")
    assert re.match(r"(First response|Resolution): \d+ (h|min)", timers.first.get_attribute("aria-label"))
    assert _serious(page) == []

    page.get_by_role("textbox", name="Reply").fill("We are looking at the export now.")
    page.get_by_role("button", name="Send").click()
    page.wait_for_selector("text=Reply sent.")
    conversation = page.get_by_role("region", name="Conversation")
    assert "We are looking at the export now." in conversation.inner_text()

    page.get_by_role("button", name="Escalate").click()
    dialog = page.get_by_role("dialog", name="Escalate ticket")
    dialog.get_by_role("radio", name="Hierarchical").check()
    dialog.get_by_label("Target").select_option(label="A manager")
    dialog.get_by_text("Would go to: maya").wait_for()
    for label, text in SUMMARY.items():
        dialog.get_by_role("textbox", name=label).fill(text)
    dialog.get_by_role("button", name="Escalate").click()
    page.wait_for_selector("text=Escalated.")
    with tenant_context(floor["acme"]):
        escalation = Escalation.objects.select_related("agent__user").get(ticket=floor["ticket"])
    assert escalation.agent.user.username == "maya" and escalation.summary["problem"] == SUMMARY["Problem"]
    _no_csp_violations(page)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign out").click()
    _sign_in(page, live_server, "maya", "pw-maya-123!")
    page.get_by_role("link", name=re.compile("^Awaiting acknowledgement")).click()
    page.get_by_role("table").get_by_role("link", name="Nightly export fails").click()
    region = page.get_by_role("region", name="Escalation")
    region.get_by_role("button", name="Acknowledge").click()
    page.wait_for_selector("text=Acknowledged.")
    with tenant_context(floor["acme"]):
        escalation.refresh_from_db()
    assert escalation.status == "acknowledged"
    _no_csp_violations(page)


def test_the_ticket_page_picks_up_a_customer_message_without_losing_the_draft(floor, live_server, page):
    _sign_in(page, live_server, "alice", "pw-alice-123!")
    page.goto(f"{live_server.url}/tickets/{floor['ticket'].pk}/")
    page.get_by_role("textbox", name="Reply").fill("Half-written answer")
    with tenant_context(floor["acme"]):
        workflows.message_receive(
            ticket=floor["ticket"], actor=None, body="Any update? The CFO is asking.", author_type="customer"
        )
    conversation = page.get_by_role("region", name="Conversation")
    conversation.get_by_text("Any update? The CFO is asking.").wait_for(timeout=20_000)  # one poll: 10 s
    assert page.get_by_role("textbox", name="Reply").input_value() == "Half-written answer"
    _no_csp_violations(page)


def test_a_queue_refreshes_by_itself_with_cheap_polls(floor, live_server, page):
    """A queue asks every 10 s whether anything changed (its version): nothing new is a 204 and nothing moves; a
    ticket opened elsewhere shows up with its count within 15 s, in place, the page never reloaded."""
    _sign_in(page, live_server, "alice", "pw-alice-123!")
    page.goto(f"{live_server.url}/tickets/?view=all")
    page.evaluate("window.__sameDocument = true")
    views = page.get_by_role("navigation", name="Views")
    assert views.get_by_role("link", name="All 1").is_visible()
    with page.expect_response(lambda r: "since=" in r.url, timeout=15_000) as quiet:
        pass
    assert quiet.value.status == 204

    with tenant_context(floor["acme"]):
        workflows.ticket_open(
            tenant=floor["acme"], actor=None, subject="Invoice shows the wrong VAT", description="Our invoice shows "
            "19 % VAT for an Austrian company.", requester_email="lou@initech.test", requester_name="Lou",
        )  # fmt: skip
    page.get_by_role("link", name="Invoice shows the wrong VAT").wait_for(timeout=15_000)
    assert views.get_by_role("link", name="All 2").is_visible()
    assert page.evaluate("window.__sameDocument") is True  # swapped in place, not reloaded
    _no_csp_violations(page)


def test_a_draft_survives_a_reload(floor, live_server, page):
    _sign_in(page, live_server, "alice", "pw-alice-123!")
    page.goto(f"{live_server.url}/tickets/{floor['ticket'].pk}/")
    page.get_by_role("textbox", name="Reply").fill("Kept across the reload")
    page.get_by_role("button", name="Assign to me").click()
    page.wait_for_selector("text=Assigned to you.")
    assert page.get_by_role("textbox", name="Reply").input_value() == "Kept across the reload"
    with tenant_context(floor["acme"]):
        assert not Message.objects.filter(ticket=floor["ticket"]).exists()


def test_another_tenants_ticket_is_the_styled_404(floor, live_server, page):
    _sign_in(page, live_server, "alice", "pw-alice-123!")
    response = page.goto(f"{live_server.url}/tickets/{floor['foreign'].pk}/")
    assert response.status == 404
    assert page.get_by_role("heading", level=1).inner_text() == "Not found"
    assert page.get_by_role("link", name="Back to your tickets").is_visible()
    assert "Globex secret" not in page.content()


def test_the_keyboard_opens_help_searches_and_walks_the_list(floor, live_server, page):
    _sign_in(page, live_server, "alice", "pw-alice-123!")
    page.goto(f"{live_server.url}/tickets/?view=all")
    page.keyboard.press("?")
    assert page.get_by_role("dialog", name="Keyboard shortcuts").is_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Search tickets"
    page.locator("body").click()
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/tickets/\d+/$"))
    page.keyboard.press("r")
    assert page.evaluate("document.activeElement.id") == "reply"
    page.keyboard.press("Escape")
    page.locator("h1").click()
    page.keyboard.press("e")
    page.get_by_role("dialog", name="Escalate ticket").wait_for()


def test_the_pages_fit_a_narrow_window(floor, live_server, page):
    page.set_viewport_size({"width": 400, "height": 800})
    _sign_in(page, live_server, "alice", "pw-alice-123!")
    for path in ("/tickets/?view=all", f"/tickets/{floor['ticket'].pk}/"):
        page.goto(f"{live_server.url}{path}")
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, (path, overflow)
