"""The Content-Security-Policy (settings.CONTENT_SECURITY_POLICY: scripts and styles from this site, inline
ones only with the response's nonce) leaves every page working in a real browser: the sign-in and landing
pages, the admin with the matrix dry run, and Swagger UI. Any violation is caught from the page itself."""

import pytest

from helpdesk import workflows
from helpdesk.models import Role
from helpdesk.services import membership_create

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Chromium fires this event for every blocked script, style, image, font or request.
COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI || "inline"} ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def manager():
    acme = workflows.tenant_bootstrap(slug="acme", name="Acme Corp")
    membership_create(tenant=acme, username="bob", password="pw-bob-123!", role=Role.MANAGER, tier=2)


@pytest.fixture
def page(browser_page):
    browser_page.add_init_script(COLLECT_VIOLATIONS)
    errors = []
    browser_page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    browser_page.console_errors = errors
    return browser_page


def _violations(page) -> list[str]:
    blocked = page.evaluate("window.__cspViolations")
    return blocked + [text for text in page.console_errors if "Content Security Policy" in text]


def _sign_in(page, live_server):
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", "pw-bob-123!")
    page.click("button[type=submit]")
    page.wait_for_selector("h1")


def test_the_sign_in_and_landing_pages_work_under_the_policy(manager, live_server, page):
    response = page.goto(f"{live_server.url}/login/")
    policy = response.headers["content-security-policy"]
    # The nonce is added to the header only by pages that use one (django-csp); none may run inline code.
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert _violations(page) == []
    _sign_in(page, live_server)
    assert page.inner_text("h1") == "My tickets"  # the workspace opens on the agent's own queue
    assert "Acme Corp" in page.inner_text("header")
    assert _violations(page) == []


def test_the_admin_and_its_dry_run_page_work_under_the_policy(manager, live_server, page):
    _sign_in(page, live_server)
    page.goto(f"{live_server.url}/admin/")
    page.wait_for_selector("#site-name")
    assert "Acme Corp" in page.inner_text("#site-name")
    page.goto(f"{live_server.url}/admin/escalation/escalationrule/")
    page.click("text=Dry run: last 30 days")
    page.wait_for_selector("text=Nothing was written")
    assert "Had this matrix been active" in page.inner_text("#content")
    page.goto(f"{live_server.url}/admin/escalation/escalationrule/add/")  # the admin's own scripts and widgets
    page.wait_for_selector("#escalationrule_form")
    assert _violations(page) == []


def test_swagger_ui_renders_under_the_policy(live_server, page):
    response = page.goto(f"{live_server.url}/api/docs/")
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    # The init script is a file of ours; Swagger UI then fetches the schema and draws the operations.
    page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
    assert "Helpdesk API" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock-tag-section", timeout=20_000)
    assert page.is_visible("text=/api/v1/tickets/")
    assert _violations(page) == []
