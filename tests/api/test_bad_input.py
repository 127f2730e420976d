"""Bad input gets a clear 4xx in the error shape, and nothing half-written — never a 500."""

import pytest

from tests.api.helpers import count_in, create_ticket, error_of
from tickets.models import Customer, Message, Ticket

VALID = {"subject": "s", "description": "d", "requester": {"email": "p@x.test"}}


def _post_raw(api, url, body: bytes, content_type="application/json"):
    return api.generic("POST", url, body, content_type=content_type)


def test_it_rejects_malformed_json(api_a, tenant_a):
    response = _post_raw(api_a, "/api/v1/tickets/", b'{"subject": "x", ')
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_request"
    assert count_in(tenant_a, Ticket.objects.all) == 0


def test_it_rejects_a_wrong_content_type(api_a, tenant_a):
    response = _post_raw(api_a, "/api/v1/tickets/", b"subject=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_it_rejects_a_json_array_body(api_a, tenant_a):
    response = _post_raw(api_a, "/api/v1/tickets/", b"[1, 2]")
    assert response.status_code == 400
    assert count_in(tenant_a, Ticket.objects.all) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"subject": None}, "subject"),
        ({"subject": ""}, "subject"),
        ({"subject": "x" * 1_000_000}, "subject"),
        ({"subject": "nul\x00byte"}, "subject"),
        ({"description": 42}, None),
        ({"priority": "apocalyptic"}, "priority"),
        ({"channel": "carrier-pigeon"}, "channel"),
        ({"tags": "not-a-list"}, "tags"),
        ({"tags": ["has space"]}, "tags"),
        ({"requester": {"email": "not-an-email"}}, "requester"),
        ({"requester": "pat@example.com"}, "requester"),
        ({"requester": {"email": "p@x.test", "shoe_size": 44}}, "requester"),
        ({"colour": "blue"}, "colour"),
        ({"category": "Not A Slug!"}, "category"),
    ],
)
def test_it_rejects_bad_ticket_fields(api_a, tenant_a, change, field):
    response = api_a.post("/api/v1/tickets/", {**VALID, **change}, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid"
    if field:
        assert field in error["fields"], error
    assert count_in(tenant_a, Ticket.objects.all) == 0
    assert count_in(tenant_a, Customer.objects.all) == 0


@pytest.mark.parametrize(
    "payload",
    [{"status": "exploded"}, {"assignee": "abc"}, {"assignee": 99999}, {"tags": [1, {}]}, {"subject": "no"}],
)
def test_it_rejects_bad_updates(api_a, payload):
    ticket = create_ticket(api_a)
    response = api_a.patch(f"/api/v1/tickets/{ticket['id']}/", payload, format="json")
    assert response.status_code == 400
    after = api_a.get(f"/api/v1/tickets/{ticket['id']}/").json()
    assert {k: after[k] for k in ("status", "assignee", "tags")} == {"status": "new", "assignee": None, "tags": []}


@pytest.mark.parametrize(
    "payload",
    [{}, {"body": ""}, {"body": "x", "author_type": "robot"}, {"body": "x", "internal": "maybe"}, {"body": ["x"]}],
)
def test_it_rejects_bad_messages(api_a, tenant_a, payload):
    ticket = create_ticket(api_a)
    response = api_a.post(f"/api/v1/tickets/{ticket['id']}/messages/", payload, format="json")
    assert response.status_code == 400
    assert count_in(tenant_a, Message.objects.all) == 0


@pytest.mark.parametrize(
    "payload", [{"outcome": "meh", "tier": 1}, {"outcome": "failed", "tier": 7}, {"outcome": "failed", "tier": -1}]
)
def test_it_rejects_bad_attempts(api_a, payload):
    ticket = create_ticket(api_a)
    response = api_a.post(f"/api/v1/tickets/{ticket['id']}/attempts/", payload, format="json")
    assert response.status_code == 400
    assert api_a.get(f"/api/v1/tickets/{ticket['id']}/attempts/").json()["results"] == []


@pytest.mark.parametrize("size", ["-1", "0", "201", "abc", "1e3"])
def test_it_rejects_bad_page_sizes(api_a, size):
    response = api_a.get(f"/api/v1/tickets/?page_size={size}")
    assert response.status_code == 400
    assert "page_size" in error_of(response)["fields"]


@pytest.mark.parametrize(
    "path", ["/api/v1/tickets/abc/", "/api/v1/tickets/99999999999999999999/", "/api/v1/tickets/-1/"]
)
def test_it_answers_404_for_odd_ids(api_a, path):
    response = api_a.get(path)
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_it_rejects_bad_dates_in_filters(api_a):
    response = api_a.get("/api/v1/tickets/?created_after=yesterday")
    assert response.status_code == 400
    assert "created_after" in error_of(response)["fields"]


def test_it_rejects_a_negative_account_value(api_a_manager, tenant_a):
    response = api_a_manager.post("/api/v1/accounts/", {"name": "x", "annual_contract_value": "-5"}, format="json")
    assert response.status_code == 400
    assert "annual_contract_value" in error_of(response)["fields"]


def test_it_answers_405_in_the_error_shape(api_a):
    response = api_a.delete("/api/v1/tickets/")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
