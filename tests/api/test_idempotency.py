"""Idempotency-Key on POST (API.md): same key + same body -> first response, nothing new;
same key + other body -> 409."""

from datetime import timedelta

from django.utils import timezone

from helpdesk.models import IdempotencyKey
from helpdesk.tenancy import tenant_context
from tests.api.helpers import count_in, error_of
from tickets.models import Ticket

BODY = {"subject": "Once only", "description": "d", "requester": {"email": "p@x.test"}}


def _post(api, body, key):
    return api.post("/api/v1/tickets/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_it_replays_the_first_response_for_a_repeated_key(api_a, tenant_a):
    first = _post(api_a, BODY, "key-1")
    second = _post(api_a, BODY, "key-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert count_in(tenant_a, Ticket.objects.all) == 1


def test_it_answers_409_for_a_key_reused_with_another_body(api_a, tenant_a):
    _post(api_a, BODY, "key-1")
    response = _post(api_a, {**BODY, "subject": "Different"}, "key-1")
    assert response.status_code == 409
    assert error_of(response)["code"] == "idempotency_key_reused"
    assert count_in(tenant_a, Ticket.objects.all) == 1


def test_it_treats_keys_of_two_tenants_separately(api_a, api_b, tenant_a, tenant_b):
    assert _post(api_a, BODY, "shared").status_code == 201
    assert _post(api_b, BODY, "shared").status_code == 201
    assert count_in(tenant_a, Ticket.objects.all) == 1
    assert count_in(tenant_b, Ticket.objects.all) == 1


def test_it_replays_a_validation_error_too(api_a, tenant_a):
    bad = {**BODY, "priority": "nope"}
    first, second = _post(api_a, bad, "k"), _post(api_a, bad, "k")
    assert first.status_code == second.status_code == 400
    assert first.json() == second.json()


def test_it_forgets_a_key_after_24_hours(api_a, tenant_a):
    _post(api_a, BODY, "old")
    with tenant_context(tenant_a):
        IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    response = _post(api_a, BODY, "old")
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert count_in(tenant_a, Ticket.objects.all) == 2


def test_it_ignores_the_header_on_other_methods(api_a):
    assert api_a.get("/api/v1/tickets/", HTTP_IDEMPOTENCY_KEY="k").status_code == 200


def test_it_rejects_an_overlong_key(api_a, tenant_a):
    response = _post(api_a, BODY, "k" * 300)
    assert response.status_code == 400
    assert count_in(tenant_a, Ticket.objects.all) == 0


def test_it_works_for_messages_too(api_a, tenant_a):
    ticket = _post(api_a, BODY, "t").json()
    url = f"/api/v1/tickets/{ticket['id']}/messages/"
    one = api_a.post(url, {"body": "hi"}, format="json", HTTP_IDEMPOTENCY_KEY="m")
    two = api_a.post(url, {"body": "hi"}, format="json", HTTP_IDEMPOTENCY_KEY="m")
    assert one.json()["id"] == two.json()["id"]
    assert len(api_a.get(url).json()["results"]) == 1


def test_another_token_of_the_same_tenant_does_not_get_the_first_callers_response(api_a, api_a_admin, tenant_a):
    back_dated = {**BODY, "created_at": "2024-01-02T03:04:05Z"}
    assert _post(api_a_admin, back_dated, "shared-key").status_code == 201
    replay = _post(api_a, back_dated, "shared-key")
    # Not a replay of the admin's 201: the key is bound to its caller, so another caller's use of it is a
    # conflict, with nothing created and nothing of the first response shown.
    assert replay.status_code == 409
    assert error_of(replay)["code"] == "idempotency_key_reused"
    assert count_in(tenant_a, Ticket.objects.all) == 1
