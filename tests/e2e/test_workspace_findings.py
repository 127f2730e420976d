"""Tester's findings that only a browser shows: the countdown says "paused until …" in the tenant's zone even
when the browser's is another one; the status select fits a 400-pixel window; "Sign out" is a link of the main
navigation that signs out."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from helpdesk import workflows
from helpdesk.models import Role
from helpdesk.services import membership_create
from helpdesk.tenancy import tenant_context
from tickets.services import account_create, customer_create

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def vip_ticket():
    acme = workflows.tenant_bootstrap(slug="acme", name="Acme Corp", timezone="Europe/Berlin")
    membership_create(tenant=acme, username="alice", password="pw-alice-123!", role=Role.AGENT, tier=1)
    with tenant_context(acme):
        account = account_create(tenant=acme, name="Initech International Holdings", plan="enterprise", vip=True)
        customer_create(tenant=acme, actor=None, email="pat@initech.test", name="Pat", account=account)
        return workflows.ticket_open(
            tenant=acme,
            actor=None,
            subject="Invoice disputed",
            description="We were charged twice.",
            requester_email="pat@initech.test",
        )


def _sign_in(page, live_server) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("pw-alice-123!")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/tickets/.*"))


# A clock whose calendar is closed now and opens on Monday 7 December 2026 at 08:00 UTC: 09:00 in Berlin (the
# tenant's zone), 03:00 in New York (the browser's).
CLOCK = """([rendered, opens]) => {
  const el = document.createElement("span");
  el.id = "probe";
  el.className = "clock";
  el.dataset.clock = "";
  el.dataset.name = "Resolution";
  el.dataset.leftMinutes = "30";
  el.dataset.targetMinutes = "240";
  el.dataset.renderedAt = String(rendered);
  el.dataset.zone = "Europe/Berlin";
  el.dataset.windows = JSON.stringify([[opens, opens + 8 * 3600 * 1000]]);
  el.innerHTML = '<span class="clock-name">Resolution</span> <span class="clock-text"></span>';
  document.querySelector("main").appendChild(el);
}"""


def test_the_countdown_says_paused_until_in_the_tenants_zone_not_the_browsers(vip_ticket, live_server, browser_page):
    page = browser_page
    context = page.context.browser.new_context(timezone_id="America/New_York", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)  # a Saturday: closed until Monday
    page.clock.install(time=now)
    _sign_in(page, live_server)
    opens = int(datetime(2026, 12, 7, 8, 0, tzinfo=UTC).timestamp() * 1000)
    page.evaluate(CLOCK, [int(now.timestamp() * 1000), opens])
    page.clock.run_for(int(timedelta(seconds=16).total_seconds() * 1000))  # the countdown ticks every 15 s
    text = page.locator("#probe .clock-text").inner_text()
    assert text == "30 min left, paused until Mon 09:00 (outside business hours)", text
    assert page.evaluate(f"new Date({opens}).getHours()") == 3  # the browser's own zone would have said 03:00
    context.close()


def test_the_status_select_fits_a_narrow_window(vip_ticket, live_server, browser_page):
    page = browser_page
    page.set_viewport_size({"width": 400, "height": 800})
    _sign_in(page, live_server)
    page.goto(f"{live_server.url}/tickets/{vip_ticket.pk}/")
    select = page.get_by_label("Status")
    assert "needs a manager" in select.inner_text()  # an agent on a VIP ticket: the options carry their reason
    box = select.bounding_box()
    width = page.evaluate("document.documentElement.clientWidth")
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, (box, width)
    apply = page.locator(".status-form").get_by_role("button", name="Apply")
    button = apply.bounding_box()
    assert button["x"] + button["width"] <= width


def test_sign_out_is_a_link_in_the_main_navigation(vip_ticket, live_server, browser_page):
    page = browser_page
    _sign_in(page, live_server)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/login/.*"))
    page.goto(f"{live_server.url}/tickets/")
    assert "/login/" in page.url  # signed out for real
