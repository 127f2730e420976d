"""An invited member follows the e-mailed link in a real browser, chooses a password and signs in."""

import re

import pytest
from django.conf import settings
from django.core import mail

from helpdesk import workflows
from helpdesk.models import Role
from helpdesk.notifications import dispatcher
from helpdesk.services import tenant_create
from helpdesk.tenancy import tenant_context

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-and-unusual-passphrase-42"


def test_an_invited_member_sets_a_password_and_signs_in(live_server, browser_page):
    acme = tenant_create(slug="acme", name="Acme Corp")
    with tenant_context(acme):
        workflows.member_add(tenant=acme, actor=None, username="dave", email="dave@acme.test", role=Role.AGENT)
    dispatcher.dispatch()
    link = re.search(re.escape(settings.PUBLIC_URL) + r"(/invite/\S+/)", mail.outbox[0].body).group(1)

    page = browser_page
    page.goto(f"{live_server.url}{link}")
    assert page.get_by_role("heading", level=1).inner_text() == "Choose your password"
    page.get_by_label(re.compile(r"^New password:?$")).fill(PASSWORD)
    page.get_by_label("New password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("Username").fill("dave")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("h1")
    assert page.get_by_role("heading", level=1).inner_text() == "My tickets"
    assert "Acme Corp" in page.inner_text("header")

    # The link worked once.
    page.goto(f"{live_server.url}{link}")
    assert page.get_by_role("heading", level=1).inner_text() == "This link no longer works"
