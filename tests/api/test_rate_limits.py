"""Rate limits of the API (API.md: "Write rate limits per token (429 with Retry-After); repeated bad
tokens from one address are slowed down the same way"). Counted in Redis, so they hold across gunicorn
workers: one test counts from a second process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from helpdesk.models import ApiToken, IdempotencyKey, Role
from helpdesk.services import api_token_create
from helpdesk.tenancy import tenant_context
from tests.api.helpers import count_in, error_of
from tickets.models import Account

ROOT = Path(__file__).resolve().parents[2]
ATTACKER, NEIGHBOUR = "198.51.100.66", "198.51.100.67"


def _from(address: str, key: str | None = None) -> APIClient:
    client = APIClient(REMOTE_ADDR=address)
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _assert_rate_limited(response, window_s: int) -> None:
    assert response.status_code == 429
    assert error_of(response)["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= window_s


# --- bad tokens per address -------------------------------------------------------------------------


@override_settings(BAD_TOKEN_LIMIT=5)
def test_repeated_bad_tokens_from_one_address_answer_429_with_retry_after(tenant_a):
    guesser = _from(ATTACKER)
    for guess in range(5):
        response = guesser.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token hd_guess{guess}")
        assert response.status_code == 401 and error_of(response)["code"] == "authentication_failed"
    response = guesser.get("/api/v1/me/", HTTP_AUTHORIZATION="Token hd_guess5")
    _assert_rate_limited(response, settings.BAD_TOKEN_WINDOW_S)
    assert "invalid token from this address" in error_of(response)["message"]


@override_settings(BAD_TOKEN_LIMIT=5)
def test_a_good_token_from_a_throttled_address_is_throttled_too_and_writes_nothing(tenant_a):
    _, key = api_token_create(tenant=tenant_a, role=Role.MANAGER)
    for guess in range(5):
        _from(ATTACKER).get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token hd_guess{guess}")
    # Were the right key let through, the 200 among the 429s would tell the guesser it had found one.
    _assert_rate_limited(_from(ATTACKER, key).get("/api/v1/me/"), settings.BAD_TOKEN_WINDOW_S)
    response = _from(ATTACKER, key).post("/api/v1/accounts/", {"name": "Initech"}, format="json")
    _assert_rate_limited(response, settings.BAD_TOKEN_WINDOW_S)
    assert count_in(tenant_a, Account.objects.all) == 0
    with tenant_context(tenant_a):
        assert ApiToken.objects.get(key_hash__isnull=False).last_used_at is None
    assert _from(NEIGHBOUR, key).get("/api/v1/me/").json()["role"] == "manager"  # another address is not


@override_settings(BAD_TOKEN_LIMIT=3)
def test_a_revoked_token_counts_as_a_bad_one(tenant_a, api_a_admin):
    token, key = api_token_create(tenant=tenant_a, role=Role.AGENT)
    with tenant_context(tenant_a):
        ApiToken.objects.filter(pk=token.pk).update(revoked_at="2026-01-01T00:00:00Z")
    for _ in range(3):
        assert _from(ATTACKER, key).get("/api/v1/me/").status_code == 401
    assert _from(ATTACKER, key).get("/api/v1/me/").status_code == 429


def test_sessions_and_anonymous_requests_are_not_counted_as_bad_tokens(tenant_a):
    with override_settings(BAD_TOKEN_LIMIT=1):
        for _ in range(3):
            assert _from(ATTACKER).get("/api/v1/me/").status_code == 401  # no token: not_authenticated


# --- writes per token ---------------------------------------------------------------------------------


@override_settings(API_WRITE_RATE_PER_MINUTE=3)
def test_writes_past_the_rate_answer_429_and_write_nothing(tenant_a, api_a_manager):
    for number in range(3):
        assert api_a_manager.post("/api/v1/accounts/", {"name": f"Account {number}"}, format="json").status_code == 201
    refused = api_a_manager.post("/api/v1/accounts/", {"name": "One too many"}, format="json")
    _assert_rate_limited(refused, 60)
    assert "Expected available in" in error_of(refused)["message"]
    assert count_in(tenant_a, Account.objects.all) == 3
    [account] = api_a_manager.get("/api/v1/accounts/?name=Account 0").json()["results"][:1] or [None]
    assert account is not None  # reads are not limited
    patched = api_a_manager.patch(f"/api/v1/accounts/{account['id']}/", {"vip": True}, format="json")
    _assert_rate_limited(patched, 60)  # every write method counts


@override_settings(API_WRITE_RATE_PER_MINUTE=2)
def test_the_write_rate_is_per_token(tenant_a, api_a_manager):
    _, other_key = api_token_create(tenant=tenant_a, role=Role.MANAGER)
    other = _from("127.0.0.1", other_key)
    for number in range(2):
        api_a_manager.post("/api/v1/accounts/", {"name": f"A{number}"}, format="json")
    assert api_a_manager.post("/api/v1/accounts/", {"name": "A2"}, format="json").status_code == 429
    assert other.post("/api/v1/accounts/", {"name": "B0"}, format="json").status_code == 201
    for _ in range(5):
        assert api_a_manager.get("/api/v1/accounts/").status_code == 200


@override_settings(API_WRITE_RATE_PER_MINUTE=2)
def test_a_refused_write_is_not_replayed_for_its_idempotency_key(tenant_a, api_a_manager):
    for number in range(2):
        api_a_manager.post("/api/v1/accounts/", {"name": f"A{number}"}, format="json")
    refused = api_a_manager.post("/api/v1/accounts/", {"name": "Later"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert refused.status_code == 429
    with tenant_context(tenant_a):
        assert not IdempotencyKey.objects.filter(key="k1").exists()  # a retry after the window really runs


@pytest.mark.django_db(transaction=True)
def test_writes_counted_by_another_process_count_here(tenant_a):
    """Another gunicorn worker is another process: the count must be shared (Redis), not per process."""
    token, key = api_token_create(tenant=tenant_a, role=Role.MANAGER)
    other_worker = (
        "import django; django.setup(); from helpdesk import throttling; "
        f"[throttling.hit('write:token:{token.pk}', window_s=60) for _ in range(600)]"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "helpdesk.settings"}
    subprocess.run([sys.executable, "-c", other_worker], cwd=ROOT, env=env, check=True, timeout=60)
    refused = _from("127.0.0.1", key).post("/api/v1/accounts/", {"name": "Initech"}, format="json")
    _assert_rate_limited(refused, 60)
    assert count_in(tenant_a, Account.objects.all) == 0
