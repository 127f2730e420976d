"""An agent signs in through the real browser and lands in their own tenant."""

import pytest

from helpdesk.models import Role
from helpdesk.services import membership_create, tenant_create

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people():
    acme = tenant_create(slug="acme", name="Acme Corp")
    globex = tenant_create(slug="globex", name="Globex")
    membership_create(tenant=acme, username="bob", password="pw-bob-123!", role=Role.MANAGER, tier=2)
    membership_create(tenant=globex, username="charlie", password="pw-charlie-123!", role=Role.AGENT)


def _sign_in(page, live_server, username, password):
    page.goto(f"{live_server.url}/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_an_agent_signs_in_and_sees_their_tenant(people, live_server, browser_page):
    page = browser_page
    _sign_in(page, live_server, "bob", "pw-bob-123!")
    page.wait_for_selector("h1")
    assert page.inner_text("h1") == "My tickets"  # the workspace opens on the agent's own queue
    assert "Acme Corp" in page.inner_text("header")
    assert "manager, tier 2" in page.inner_text("header")
    assert "Globex" not in page.content()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign out").click()
    page.wait_for_selector("input[name=username]")


def test_a_wrong_password_is_refused(people, live_server, browser_page):
    page = browser_page
    _sign_in(page, live_server, "charlie", "wrong")
    page.wait_for_selector("form")
    assert "Please enter a correct username and password" in page.inner_text("main")
    assert page.url.startswith(f"{live_server.url}/login/")
