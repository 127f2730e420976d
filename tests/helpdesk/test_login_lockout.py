"""Sign-in lockouts (django-axes): after LOGIN_FAILURE_LIMIT failures for one username, or from one address,
the real sign-in page refuses even the right password with 429 and says why, until the cool-off ends or a
manager unlocks the member in the tenant admin. Driven through Django's test client and the real URLconf."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client, RequestFactory, override_settings
from django.utils import timezone

from helpdesk.models import Role
from helpdesk.services import membership_create
from helpdesk.throttling import client_address

LOGIN = "/login/"
HOME, ELSEWHERE = "198.51.100.7", "203.0.113.9"
WRONG = "Please enter a correct username and password"
LOCKED = "Too many failed sign-ins for this account or from this address"
NOBODY = "None of the selected members is yours to unlock."


def _sign_in(username: str, password: str, address: str = HOME) -> tuple[Client, object]:
    client = Client(REMOTE_ADDR=address)
    return client, client.post(LOGIN, {"username": username, "password": password})


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_the_right_password_is_refused_after_the_failure_limit(alice):
    assert settings.AXES_FAILURE_LIMIT == 10  # the suite's value (helpdesk/pytest_services.py)
    for _ in range(9):
        client, response = _sign_in("alice", "wrong-guess")
        assert response.status_code == 200 and WRONG in response.content.decode()
    client, response = _sign_in("alice", "wrong-guess")  # the tenth failure locks the username
    assert response.status_code == 429 and LOCKED in response.content.decode()
    client, response = _sign_in("alice", "pw-alice-123!")
    assert response.status_code == 429
    page = response.content.decode()
    assert LOCKED in page and "Try again in 15 minutes" in page and 'name="password"' in page
    assert not _signed_in(client)
    # The refused right password counts as a failure too: a lockout that is hammered on keeps running.
    assert AccessAttempt.objects.get(username="alice", ip_address=HOME).failures_since_start == 11


@override_settings(AXES_FAILURE_LIMIT=3)
def test_a_locked_username_stays_locked_from_another_address(alice):
    for _ in range(3):
        _sign_in("alice", "wrong-guess", HOME)
    client, response = _sign_in("alice", "pw-alice-123!", ELSEWHERE)
    assert response.status_code == 429 and not _signed_in(client)


@override_settings(AXES_FAILURE_LIMIT=3)
def test_an_address_is_locked_after_failures_spread_over_usernames(alice, bob, charlie):
    for username in ("alice", "bob", "nobody"):
        _sign_in(username, "wrong-guess", HOME)
    client, response = _sign_in("charlie", "pw-charlie-123!", HOME)
    assert response.status_code == 429 and not _signed_in(client)
    client, response = _sign_in("charlie", "pw-charlie-123!", ELSEWHERE)
    assert response.status_code == 302 and _signed_in(client)


@override_settings(AXES_FAILURE_LIMIT=3)
def test_a_success_forgets_the_failures_before_it(alice):
    for _ in range(2):
        _sign_in("alice", "wrong-guess")
    assert _signed_in(_sign_in("alice", "pw-alice-123!")[0])
    for _ in range(2):
        _sign_in("alice", "wrong-guess")
    assert _signed_in(_sign_in("alice", "pw-alice-123!")[0])


@override_settings(AXES_FAILURE_LIMIT=3)
def test_the_lockout_ends_after_the_cool_off(alice):
    for _ in range(3):
        _sign_in("alice", "wrong-guess")
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    client, response = _sign_in("alice", "pw-alice-123!")
    assert response.status_code == 302 and _signed_in(client)


# --- unlocking in the tenant admin --------------------------------------------------------------------


def _as_manager(address: str = ELSEWHERE) -> Client:
    client, response = _sign_in("bob", "pw-bob-123!", address)
    assert response.status_code == 302
    return client


def _unlock(client: Client, *memberships):
    data = {"action": "unlock_sign_in", "_selected_action": [m.pk for m in memberships]}
    return client.post("/admin/helpdesk/membership/", data, follow=True)


@override_settings(AXES_FAILURE_LIMIT=3)
def test_a_manager_unlocks_a_locked_member_in_the_admin(alice, bob):
    for _ in range(3):
        _sign_in("alice", "wrong-guess")
    response = _unlock(_as_manager(), alice)
    assert "Sign-in unlocked for alice" in response.content.decode()
    assert not AccessAttempt.objects.filter(username="alice").exists()
    client, response = _sign_in("alice", "pw-alice-123!")
    assert response.status_code == 302 and _signed_in(client)


@override_settings(AXES_FAILURE_LIMIT=3)
def test_a_manager_cannot_unlock_another_tenants_member(bob, charlie):
    for _ in range(3):
        _sign_in("charlie", "wrong-guess")
    response = _unlock(_as_manager(), charlie)
    assert "Sign-in unlocked" not in response.content.decode() and NOBODY in response.content.decode()
    assert AccessAttempt.objects.get(username="charlie").failures_since_start == 3
    assert _sign_in("charlie", "pw-charlie-123!")[1].status_code == 429


@override_settings(AXES_FAILURE_LIMIT=3)
def test_a_manager_cannot_unlock_an_admin_who_outranks_them(tenant_a, bob):
    erin = membership_create(tenant=tenant_a, username="erin", password="pw-erin-123!", role=Role.ADMIN)
    for _ in range(3):
        _sign_in("erin", "wrong-guess")
    response = _unlock(_as_manager(), erin)
    assert NOBODY in response.content.decode()
    assert AccessAttempt.objects.get(username="erin").failures_since_start == 3


@override_settings(AXES_FAILURE_LIMIT=3)
def test_an_agent_cannot_unlock_anyone(alice, bob, tenant_a):
    membership_create(tenant=tenant_a, username="ann", password="pw-ann-123!", role=Role.AGENT)
    for _ in range(3):
        _sign_in("bob", "wrong-guess")
    client, _ = _sign_in("ann", "pw-ann-123!", ELSEWHERE)
    assert _unlock(client, bob).status_code == 403
    assert AccessAttempt.objects.get(username="bob").failures_since_start == 3


# --- the client's address -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "192.0.2.1", "10.0.0.2"),  # no proxy trusted: the header is the client's own words
        (1, "192.0.2.1", "192.0.2.1"),
        (1, "6.6.6.6, 192.0.2.1", "192.0.2.1"),  # a forged left part is ignored
        (2, "6.6.6.6, 192.0.2.1, 10.0.0.9", "192.0.2.1"),
        (2, "192.0.2.1", "10.0.0.2"),  # fewer hops than proxies: the direct peer
    ],
)
def test_the_client_address_is_read_through_the_trusted_proxies_only(proxies, forwarded, expected):
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
    with override_settings(TRUSTED_PROXY_COUNT=proxies):
        assert client_address(request) == expected
