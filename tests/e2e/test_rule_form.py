"""A manager adds escalation rules through the admin's rule form in the real browser: the selected trigger's
fields only, keyword chips (added with Enter, removed with their button, the one still typed kept on save),
the example filled in on request, the target chosen by name. What is stored is what the API would store."""

import pytest
from django.db import connection

from escalation.models import EscalationRule
from helpdesk.models import Role
from helpdesk.services import membership_create, team_create, tenant_create
from helpdesk.tenancy import tenant_context

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def acme():
    tenant = tenant_create(slug="acme", name="Acme Corp")
    membership_create(tenant=tenant, username="bob", password="pw-bob-123!", role=Role.MANAGER, tier=2)
    team_create(tenant=tenant, name="Billing", tier=2, skills=["billing", "refunds"])
    return tenant


@pytest.fixture
def rule_form(acme, live_server, browser_page):
    """Bob signed in, on the empty rule form; page errors (scripts that throw) are collected."""
    page = browser_page
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(f"{live_server.url}/")
    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", "pw-bob-123!")
    page.click("button[type=submit]")
    page.wait_for_selector("h1")
    page.goto(f"{live_server.url}/admin/escalation/escalationrule/add/")
    yield page
    _close_connections(page)


def _close_connections(page) -> None:
    """Close the browser's connections to the live server, and this thread's database connection: with the test
    having read the database after the browser's requests, that connection was seen still open when the run
    dropped the test database ("is being accessed by other users"); closed here, the drop succeeds."""
    page.context.close()
    connection.close()


def _rule(tenant, slug: str) -> EscalationRule:
    with tenant_context(tenant):
        return EscalationRule.objects.select_related("target_team").get(slug=slug)


def test_a_manager_adds_a_keyword_rule_with_chips(acme, rule_form):
    page = rule_form
    assert page.is_hidden("fieldset.trigger-keyword") and page.is_hidden("fieldset.trigger-sentiment")
    page.locator("#id_name").press_sequentially("Refund requests")
    page.select_option("#id_trigger", "keyword")
    assert page.is_visible("fieldset.trigger-keyword") and page.is_hidden("fieldset.trigger-sentiment")
    assert page.input_value("#id_slug") == "refund-requests"  # filled in from the name

    chips = page.get_by_label("Keywords: add one")
    for word in ("refund", "oops", "chargeback"):
        chips.fill(word)
        chips.press("Enter")
    page.get_by_role("button", name="Remove oops").click()
    chips.fill("money back")  # typed, not yet a chip, when the form is saved
    assert page.locator("fieldset.trigger-keyword li.chip").count() == 2
    assert page.input_value("#id_keyword__keywords") == "refund\nchargeback"  # the chips' textarea, hidden

    page.select_option("#id_kind", "functional")
    page.select_option("#id_target_team", label="Billing (tier 2, billing, refunds)")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_selector("ul.messagelist")

    assert "was added successfully" in page.inner_text("ul.messagelist")
    rule = _rule(acme, "refund-requests")
    assert rule.trigger == "keyword"
    assert rule.conditions == {"keywords": ["refund", "chargeback", "money back"]}
    assert rule.target_team.name == "Billing" and rule.kind == "functional"
    assert "Keywords: refund, chargeback, money back" in page.inner_text("#result_list")
    assert page.errors == []


def test_a_manager_fills_in_a_triggers_example_and_a_bad_value_comes_back_on_its_field(acme, rule_form):
    page = rule_form
    page.locator("#id_name").press_sequentially("Angry customers")
    page.select_option("#id_trigger", "sentiment")
    page.locator("fieldset.trigger-sentiment").get_by_role("button", name="Use the example").click()
    assert page.input_value("#id_sentiment__below") == "-0.5"
    page.fill("#id_sentiment__below", "-2")
    page.select_option("#id_kind", "hierarchical")
    page.select_option("#id_target_role", "manager")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_selector(".errornote")

    error = page.locator(".field-sentiment__below .errorlist").inner_text()
    assert "below: must be in [-1, 1)" in error
    assert page.is_visible("fieldset.trigger-sentiment")  # the selected trigger's fields stay shown
    with tenant_context(acme):
        assert not EscalationRule.objects.filter(slug="angry-customers").exists()

    page.fill("#id_sentiment__below", "-0.5")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_selector("ul.messagelist")
    assert _rule(acme, "angry-customers").conditions == {"below": -0.5}
    assert page.errors == []


# The policy of the Content-Security-Policy work (scripts and styles from this site only, nothing inline),
# added to every answer of the live server: the forms' script must run under it and cause no violation.
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# Chromium fires this event for every blocked script or style; each page starts its own list.
COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI || "inline"} ${e.lineNumber}`);
});
"""


def _under_the_policy(page, live_server) -> None:
    def with_policy(route):
        response = route.fetch()
        route.fulfill(response=response, headers={**response.headers, "content-security-policy": POLICY})

    page.add_init_script(COLLECT_VIOLATIONS)
    page.route(f"{live_server.url}/**", with_policy)


def test_the_forms_scripts_work_under_a_policy_without_inline_code(acme, live_server, rule_form):
    page = rule_form
    _under_the_policy(page, live_server)

    answer = page.goto(f"{live_server.url}/admin/escalation/escalationrule/add/")
    assert answer.headers["content-security-policy"] == POLICY
    page.select_option("#id_trigger", "category")
    page.get_by_label("Categories: add one").fill("legal")
    page.get_by_label("Categories: add one").press("Enter")
    assert page.input_value("#id_category__categories") == "legal" and page.is_hidden("fieldset.trigger-keyword")
    assert page.evaluate("window.__cspViolations") == []

    page.goto(f"{live_server.url}/admin/slas/businesscalendar/add/")
    page.get_by_label("Monday, interval 1, from").fill("08:00")
    page.get_by_label("Monday, interval 1, to").fill("16:00")
    page.get_by_role("button", name="Copy Monday to Tuesday\u2013Friday").click()
    assert page.input_value("input[name=hours-fri-0-end]") == "16:00"
    assert page.evaluate("window.__cspViolations") == []

    page.goto(f"{live_server.url}/admin/slas/slapolicy/add/")
    page.get_by_label("Categories: add one").fill("billing")
    page.get_by_label("Categories: add one").press("Enter")
    assert page.input_value("#id_applies_to__categories") == "billing"
    assert page.evaluate("window.__cspViolations") == []
    assert page.errors == []
