"""The Needs review queue in a real Chromium (issue 20): an agent finds a ticket a flag rule flagged, sees why, clears
the flag from the ticket page and the queue empties; tags show on the row; no CSP violation, axe-core finds no
serious or critical violation."""

from __future__ import annotations

import re

import pytest

from helpdesk import workflows
from helpdesk.models import Role
from helpdesk.services import membership_create
from helpdesk.tenancy import tenant_context
from tests.e2e.test_workspace import COLLECT_VIOLATIONS, _no_csp_violations, _serious, _sign_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_an_agent_reviews_a_flagged_ticket_and_clears_it(browser_page, live_server):
    page = browser_page
    page.add_init_script(COLLECT_VIOLATIONS)
    acme = workflows.tenant_bootstrap(slug="acme", name="Acme Corp", timezone="Europe/Berlin")
    membership_create(tenant=acme, username="alice", password="pw-alice-123!", role=Role.AGENT, tier=1)
    with tenant_context(acme):
        workflows.rule_create(
            tenant=acme, actor=None, name="Flag renewals", slug="flag-renewal", trigger="keyword",
            conditions={"keywords": ["renewal"]}, action="flag",
        )  # fmt: skip
        workflows.ticket_open(
            tenant=acme, actor=None, subject="Renewal terms", description="About our renewal, asap please.",
            requester_email="pat@initech.test",
        )  # fmt: skip

    _sign_in(page, live_server, "alice", "pw-alice-123!")
    views = page.get_by_role("navigation", name="Views")
    views.get_by_role("link", name=re.compile(r"^Needs review")).click()
    page.wait_for_url(re.compile(r".*view=needs_review.*"))
    row = page.locator("tr[data-row]", has_text="Renewal terms")
    assert "flag-renewal: customer wrote 'renewal'" in row.locator("[data-review-reason]").inner_text()
    assert row.get_by_role("list", name="Tags").get_by_role("link", name="urgent").is_visible()
    assert _serious(page) == []

    row.get_by_role("link", name="Renewal terms").click()
    assert page.get_by_role("status", name="Needs review").is_visible()
    # The "Add tag" check runs in the browser: Chromium compiles a pattern with the v flag, where "[-a…]" was
    # an invalid class (a console error, and no check at all).
    tag = page.locator("#add-tag")
    tag.fill("bad tag")
    assert tag.evaluate("e => e.validity.patternMismatch") is True
    tag.fill("bug-confirmed")
    assert tag.evaluate("e => e.validity.patternMismatch") is False
    tag.fill("")
    page.get_by_role("button", name="Clear review flag").click()
    page.wait_for_load_state()
    assert page.get_by_role("status", name="Needs review").count() == 0

    page.goto(f"{live_server.url}/tickets/?view=needs_review")
    assert page.locator("tr[data-row]").count() == 0
    assert "No tickets here." in page.locator("table.tickets").inner_text()
    _no_csp_violations(page)
