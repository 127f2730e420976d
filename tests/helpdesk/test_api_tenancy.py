"""Token authentication, tenant isolation (404, never 403) and the error shape."""

import hashlib

from helpdesk.models import ApiToken
from helpdesk.services import api_token_create, team_create
from helpdesk.tenancy import tenant_context


def test_it_stores_tokens_hashed(tenant_a):
    token, key = api_token_create(tenant=tenant_a, role="agent", label="zapier")
    with tenant_context(tenant_a):
        stored = ApiToken.objects.get(pk=token.pk)
    assert key.startswith("hd_") and len(key) > 40
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in {stored.key_hash, stored.prefix, stored.label}
    assert key.startswith(stored.prefix)


def test_it_answers_401_without_a_token(client, tenant_a):
    response = client.get("/api/v1/teams/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_it_answers_401_for_a_wrong_token(client, tenant_a):
    response = client.get("/api/v1/teams/", HTTP_AUTHORIZATION="Token hd_not-a-real-token")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_it_answers_401_for_a_revoked_token(client, tenant_a):
    token, key = api_token_create(tenant=tenant_a)
    with tenant_context(tenant_a):
        ApiToken.objects.filter(pk=token.pk).update(revoked_at="2026-01-01T00:00:00Z")
    response = client.get("/api/v1/teams/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401


def test_it_knows_who_the_token_is(api_a, tenant_a):
    body = api_a.get("/api/v1/me/").json()
    assert body["tenant"]["slug"] == "acme"
    assert body["role"] == "agent"
    assert api_a.token_key.startswith(body["token"])


def test_it_records_when_a_token_was_last_used(api_a, tenant_a):
    api_a.get("/api/v1/me/")
    with tenant_context(tenant_a):
        assert ApiToken.objects.get().last_used_at is not None


def test_it_lists_only_the_tokens_tenants_teams(api_a, tenant_a, tenant_b):
    team_create(tenant=tenant_a, name="Tier 2")
    team_create(tenant=tenant_b, name="Globex secret team")
    body = api_a.get("/api/v1/teams/").json()
    assert [t["name"] for t in body["results"]] == ["Tier 2"]


def test_it_answers_404_for_another_tenants_team(api_b, tenant_a):
    team = team_create(tenant=tenant_a, name="Acme only")
    response = api_b.get(f"/api/v1/teams/{team.pk}/")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}


def test_it_answers_404_for_a_missing_team_exactly_as_for_a_foreign_one(api_b, tenant_a):
    team = team_create(tenant=tenant_a, name="Acme only")
    foreign = api_b.get(f"/api/v1/teams/{team.pk}/")
    missing = api_b.get("/api/v1/teams/999999/")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()


def test_it_rejects_a_bad_page_size(api_a):
    response = api_a.get("/api/v1/teams/?page_size=-1")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"page_size": ["Must be a whole number from 1 to 200."]}
