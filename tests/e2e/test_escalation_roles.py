"""The seeds' roles on the escalation card in a real Chromium: a manager opens "Set roles", names the customer
updater and the overseer, and the card shows them; axe-core and the Content-Security-Policy stay quiet."""

from __future__ import annotations

import pytest

from escalation.models import Escalation
from helpdesk import workflows
from helpdesk.models import Role
from helpdesk.services import api_token_create, membership_create
from helpdesk.tenancy import tenant_context
from tests.e2e.test_workspace import COLLECT_VIOLATIONS, _no_csp_violations, _serious, _sign_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(browser_page):
    browser_page.add_init_script(COLLECT_VIOLATIONS)
    return browser_page


@pytest.fixture
def escalated():
    from rest_framework.test import APIClient

    acme = workflows.tenant_bootstrap(slug="acme", name="Acme Corp")
    membership_create(tenant=acme, username="maya", password="pw-maya-123!", role=Role.MANAGER, tier=3)
    una = membership_create(tenant=acme, username="una", first_name="Una", tier=1)
    otto = membership_create(tenant=acme, username="otto", first_name="Otto", role=Role.MANAGER, tier=2)
    _, key = api_token_create(tenant=acme, role=Role.MANAGER, label="e2e")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    ticket = api.post(
        "/api/v1/tickets/",
        {"subject": "Contract terms", "description": "We need new terms.", "requester": {"email": "p@x.test"}},
        format="json",
    ).json()
    summary = {f: f"{f} text" for f in ("problem", "tried", "emotional_state", "desired_outcome", "account_context")}
    body = {"kind": "functional", "reason": "needs a senior", "target_tier": 2, "summary": summary}
    escalation = api.post(f"/api/v1/tickets/{ticket['id']}/escalate/", body, format="json").json()
    return {"acme": acme, "ticket": ticket, "escalation": escalation, "una": una, "otto": otto}


def test_a_manager_sets_the_roles_on_the_escalation_card(escalated, live_server, page):
    _sign_in(page, live_server, "maya", "pw-maya-123!")
    page.goto(f"{live_server.url}/tickets/{escalated['ticket']['id']}/")
    card = page.get_by_role("region", name="Escalation")
    card.get_by_text("Set roles").click()
    card.get_by_label("Customer updater").select_option(label="Una (agent, tier 1)")
    card.get_by_label("Overseer").select_option(label="Otto (manager, tier 2)")
    assert _serious(page) == []
    card.get_by_role("button", name="Save roles").click()
    page.wait_for_selector("text=Roles saved.")
    with tenant_context(escalated["acme"]):
        escalation = Escalation.objects.get(pk=escalated["escalation"]["id"])
    assert (escalation.customer_updater_id, escalation.overseer_id) == (escalated["una"].pk, escalated["otto"].pk)
    roles = page.get_by_role("region", name="Escalation").locator("dl.roles").inner_text()
    assert "Customer updater\nUna" in roles and "Overseer\nOtto" in roles
    _no_csp_violations(page)
