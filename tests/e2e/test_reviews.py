"""/reviews/ in a real Chromium: a manager follows the nav link "Reviews", finds a review by its region and its
controls by their names, is told beside the field that a done review needs what failed, completes it, and finds it
under "Done"; no CSP violation; axe-core finds no serious or critical violation."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe

from escalation.models import Review
from helpdesk.models import Role
from helpdesk.services import membership_create
from helpdesk.tenancy import tenant_context
from tests.metrics.dataset import build

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI || "inline"} ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def floor():
    dataset = build()  # resolves E1 (high) and E3 (urgent): two open reviews
    membership_create(tenant=dataset.tenant, username="maya", password="pw-maya-123!", role=Role.MANAGER, tier=2)
    return dataset


@pytest.fixture
def page(browser_page):
    browser_page.add_init_script(COLLECT_VIOLATIONS)
    return browser_page


def test_a_manager_completes_a_review_in_the_browser(floor, live_server, page):
    with tenant_context(floor.tenant):
        review = Review.objects.get(escalation=floor.escalations[1])
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("maya")
    page.get_by_label("Password").fill("pw-maya-123!")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/tickets/.*"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reviews").click()
    page.wait_for_url(re.compile(r".*/reviews/$"))
    assert (
        page.get_by_role("navigation", name="Review status").get_by_role("link", name=re.compile("^Open")).inner_text()
    )
    region = page.get_by_role("region", name=re.compile(f"^Review #{review.pk}:"))
    assert "Expired card" in region.inner_text()
    assert _serious(page) == []

    region.get_by_role("textbox", name="What worked").fill("The summary spared a repeat.")
    region.get_by_role("button", name="Mark done").click()
    region = page.get_by_role("region", name=re.compile(f"^Review #{review.pk}:"))
    failed = region.get_by_role("textbox", name="What failed")
    assert failed.get_attribute("aria-invalid") == "true"
    assert "A done review says what worked and what failed." in region.inner_text()
    assert region.get_by_role("textbox", name="What worked").input_value() == "The summary spared a repeat."

    failed.fill("Acknowledged late.")
    region.get_by_role("combobox", name="Rule to change").select_option(label="none")
    region.get_by_role("button", name="Mark done").click()
    page.wait_for_url(re.compile(r".*/reviews/\?status=open.*"))
    assert f"Review #{review.pk} done." in page.get_by_role("status").inner_text()
    page.get_by_role("navigation", name="Review status").get_by_role("link", name=re.compile("^Done")).click()
    done = page.get_by_role("region", name=re.compile(f"^Review #{review.pk}:"))
    assert done.get_by_role("button", name="Reopen").is_visible()
    assert page.evaluate("window.__cspViolations") == []
    with tenant_context(floor.tenant):
        review.refresh_from_db()
    assert (review.status, review.what_failed) == ("done", "Acknowledged late.")


def _serious(page) -> list[str]:
    violations = Axe().run(page).response["violations"]
    return [f"{v['id']}: {v['help']}" for v in violations if v["impact"] in ("serious", "critical")]
