"""The admin's 30-day escalation audit in a real Chromium at 1280x800 (UI.md: "works at 1280x800"): the page fits
the window, with no sideways scrolling of the whole document, and no Content-Security-Policy violation."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command

from escalation import services as escalations
from helpdesk import workflows
from helpdesk.management.commands.seed_demo import DEMO_PASSWORD, DEMO_SLUG
from helpdesk.models import Tenant
from helpdesk.tenancy import tenant_context
from tests.metrics.dataset import SUMMARY

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI || "inline"} ${e.sourceFile}:${e.lineNumber}`);
});
"""


LONG_SUBJECT = "Reconciliation-mismatch-INV-2026-11-000123456789-ACME-GLOBAL-HOLDINGS-EMEA"
LONG_CAUSE = "https://status.example.test/incidents/2026-11-30/reporting-api-outage-eu-west-1-primary-cluster"


def _escalated_with_long_words() -> None:
    """A case whose subject, category and root cause are words no line breaks: a URL, an invoice reference."""
    tenant = Tenant.objects.get(slug=DEMO_SLUG)
    with tenant_context(tenant):
        ticket = workflows.ticket_open(
            tenant=tenant, actor=None, subject=LONG_SUBJECT, description="See the subject.",
            requester_email="finance@acme-global-holdings.example.test", category="billing_reconciliation_emea",
        )  # fmt: skip
        escalation = escalations.escalation_create(
            ticket=ticket, actor=None, kind="functional", trigger="manual", summary_fields=SUMMARY, target_tier=2
        )
        escalations.escalation_resolve(escalation=escalation, actor=None, resolution=LONG_CAUSE, root_cause=LONG_CAUSE)


def test_the_audit_page_fits_1280_pixels(live_server, browser_page):
    # A tester saw the admin audit page overflow sideways at 1280 px on the demo's data.
    call_command("seed_demo", "--tickets", "120", stdout=io.StringIO())
    _escalated_with_long_words()
    page = browser_page
    page.add_init_script(COLLECT_VIOLATIONS)
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("maya")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/tickets/.*"))

    page.goto(f"{live_server.url}/admin/metrics/escalationaudit/")

    assert page.viewport_size == {"width": 1280, "height": 800}
    assert page.get_by_role("heading", level=1, name=re.compile("^Escalation audit:")).is_visible()
    assert page.get_by_role("link", name="Download CSV").is_visible()
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], widths
    assert page.locator("#content table").count() == 2
    # Nor does either table hide a column behind its own scroll bar at this width.
    boxes = page.evaluate("[...document.querySelectorAll('.audit-table-box')].map(b => b.scrollWidth - b.clientWidth)")
    assert boxes == [0, 0], boxes
    assert page.evaluate("window.__cspViolations") == []
