"""The admin never shows a token's hash or an encrypted secret, and cannot be made to filter by one either:
Django's change list filters by any field named in its query string, so ?key_hash__startswith=ab would
list the tokens whose hash starts so, spelling a hash out one character at a time."""

from __future__ import annotations

import pytest
from django.test import Client

from helpdesk.models import Role
from helpdesk.notifications import services as notification_services
from helpdesk.services import api_token_create, membership_create
from helpdesk.tenancy import tenant_context


@pytest.fixture
def as_admin(tenant_a):
    membership_create(tenant=tenant_a, username="erin", password="pw-erin-123!", role=Role.ADMIN, tier=3)
    client = Client()
    assert client.login(username="erin", password="pw-erin-123!")
    return client


@pytest.mark.parametrize("lookup", ["key_hash__startswith", "key_hash", "key_hash__regex", "key_hash__gt"])
def test_searching_tokens_by_a_hash_prefix_finds_nothing(as_admin, tenant_a, lookup):
    token, _ = api_token_create(tenant=tenant_a, role=Role.AGENT, label="zapier")
    value = token.key_hash if lookup == "key_hash" else token.key_hash[:2]
    response = as_admin.get(f"/admin/helpdesk/apitoken/?{lookup}={value}")
    assert response.status_code == 400
    assert token.prefix not in response.content.decode() and token.key_hash not in response.content.decode()


def test_the_search_box_does_not_look_at_hashes(as_admin, tenant_a):
    token, _ = api_token_create(tenant=tenant_a, role=Role.AGENT, label="zapier")
    listing = as_admin.get("/admin/helpdesk/apitoken/", {"q": token.key_hash[:6]}).content.decode()
    assert "0 results" in listing and token.prefix not in listing
    listing = as_admin.get("/admin/helpdesk/apitoken/", {"q": token.prefix}).content.decode()
    assert token.prefix in listing and token.key_hash not in listing  # the prefix still finds it


def test_the_hash_appears_on_no_page_of_the_token(as_admin, tenant_a):
    token, _ = api_token_create(tenant=tenant_a, role=Role.AGENT, label="zapier")
    for url in (
        "/admin/helpdesk/apitoken/",
        f"/admin/helpdesk/apitoken/{token.pk}/change/",
        f"/admin/helpdesk/apitoken/{token.pk}/history/",
        "/admin/helpdesk/apitoken/?o=1",
        "/admin/helpdesk/apitoken/?role__exact=agent",
    ):
        response = as_admin.get(url)
        assert response.status_code == 200, url
        assert token.key_hash not in response.content.decode() and token.key_hash[:16] not in response.content.decode()


def test_webhook_secrets_cannot_be_filtered_by_either(as_admin, tenant_a):
    with tenant_context(tenant_a):
        hook = notification_services.webhook_create(
            tenant=tenant_a, url="https://hooks.example.com/x", events=["ticket.created"], secret="s" * 20
        )
    query = {"secret_encrypted__startswith": hook.secret_encrypted[:4]}
    assert as_admin.get("/admin/helpdesk/webhooksubscription/", query).status_code == 400
