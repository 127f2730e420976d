"""Bad input gets a clear 4xx in the error shape, and nothing half-written — never a 500."""

import base64
import json
from urllib.parse import quote

import pytest
from django.conf import settings
from rest_framework import serializers

from escalation.models import EscalationRule
from helpdesk.errors import ERR_PAYLOAD_TOO_LARGE, PAYLOAD_TOO_LARGE, _flatten_fields
from helpdesk.fields import ERR_JSON_DEPTH, ERR_NUL, ERR_OFFSET, ERR_SURROGATE, ERR_YEAR
from helpdesk.models import IdempotencyKey
from helpdesk.pagination import ERR_CURSOR
from helpdesk.tenancy import tenant_context
from tests.api.helpers import count_in, create_ticket, error_of
from tickets.models import Customer, Message, Ticket

SLUG_MESSAGE = 'Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.'

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
        ({"tags": ["has space"]}, "tags.0"),
        ({"requester": {"email": "not-an-email"}}, "requester.email"),
        ({"requester": "pat@example.com"}, "requester"),
        ({"requester": {"email": "p@x.test", "shoe_size": 44}}, "requester.shoe_size"),
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


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "p@x.test", "phone": " " + "5" * 40}, "phone"),
        ({"email": "p@x.test", "name": "Pat" + " " * 198}, "name"),
    ],
)
def test_it_counts_the_length_of_text_as_sent_not_as_trimmed(api_a, tenant_a, body, field):
    # The schema says maxLength as sent; DRF trimmed whitespace first and took one character more.
    response = api_a.post("/api/v1/customers/", body, format="json")
    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == [field]
    assert count_in(tenant_a, Customer.objects.all) == 0


def test_it_counts_each_item_of_a_list_as_sent(api_a_manager, tenant_a):
    response = api_a_manager.post("/api/v1/escalation-rules/", {**RULE, "notify": ["x" * 100 + " "]}, format="json")
    assert response.status_code == 400
    assert error_of(response)["fields"] == {"notify.0": ["Ensure this field has no more than 100 characters."]}
    assert count_in(tenant_a, EscalationRule.objects.all) == 0


def test_it_rejects_a_negative_account_value(api_a_manager, tenant_a):
    response = api_a_manager.post("/api/v1/accounts/", {"name": "x", "annual_contract_value": "-5"}, format="json")
    assert response.status_code == 400
    assert "annual_contract_value" in error_of(response)["fields"]


def test_it_answers_405_in_the_error_shape(api_a):
    response = api_a.delete("/api/v1/tickets/")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


# --- what PostgreSQL can't store: offsets, years, NUL, lone surrogates ----------------------------


@pytest.mark.parametrize(
    "query",
    [
        "/api/v1/tickets/?created_after=2026-01-01T00:00:00%2B23:59",
        "/api/v1/tickets/?created_before=2026-01-01T00:00:00-16:00",
        "/api/v1/escalations/?created_after=2026-01-01T00:00:00%2B16:00",
    ],
)
def test_it_refuses_a_utc_offset_postgresql_cannot_store(api_a, query):
    field = query.split("?")[1].split("=")[0]
    response = api_a.get(query)
    assert response.status_code == 400
    assert error_of(response)["fields"] == {field: [ERR_OFFSET]}


@pytest.mark.parametrize(
    "value", ["0001-01-01T00:00:00%2B15:00", "9999-12-31T23:59:59-15:00", "0001-01-01T09:00:00%2B09:30"]
)
def test_it_refuses_a_time_whose_utc_instant_leaves_the_calendar(api_a, value):
    response = api_a.get(f"/api/v1/tickets/?created_after={value}")
    assert response.status_code == 400
    assert error_of(response)["fields"] == {"created_after": [ERR_YEAR]}


def test_it_still_filters_by_the_widest_offsets_in_use(api_a):
    ticket = create_ticket(api_a)
    for offset in ("%2B14:00", "-12:00", "%2B15:59"):
        listed = api_a.get(f"/api/v1/tickets/?created_after=2000-01-01T00:00:00{offset}").json()["results"]
        assert [t["id"] for t in listed] == [ticket["id"]]


def test_it_refuses_an_unstorable_offset_in_a_tickets_created_at(api_a_admin, tenant_a):
    response = api_a_admin.post("/api/v1/tickets/", {**VALID, "created_at": "2026-01-01T00:00:00+23:59"}, format="json")
    assert response.status_code == 400
    assert error_of(response)["fields"] == {"created_at": [ERR_OFFSET]}
    assert count_in(tenant_a, Ticket.objects.all) == 0


RULE = {
    "name": "Refunds",
    "slug": "refunds",
    "trigger": "keyword",
    "conditions": {"keywords": ["refund"]},
    "kind": "functional",
    "target_tier": 2,
}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"conditions": {"keywords": ["re\x00fund"]}}, "conditions.keywords.0", ERR_NUL),
        ({"conditions": {"keywords": ["re\ud800fund"]}}, "conditions.keywords.0", ERR_SURROGATE),
        ({"conditions": {"key\x00words": ["refund"]}}, "conditions", ERR_NUL),
        ({"name": "Re\ud800funds"}, "name", ERR_SURROGATE),
        ({"notify": ["\udfff"]}, "notify.0", ERR_SURROGATE),
    ],
)
def test_it_refuses_text_postgresql_cannot_store_anywhere_in_a_body(api_a_manager, tenant_a, change, field, message):
    # json.dumps writes "\u0000" and "\ud800" as the escapes a client would send.
    response = _post_raw(api_a_manager, "/api/v1/escalation-rules/", json.dumps({**RULE, **change}).encode())
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["fields"]) == ("invalid", {field: [message]})
    assert count_in(tenant_a, EscalationRule.objects.all) == 0


def test_it_refuses_unstorable_text_in_a_rule_update(api_a_manager, tenant_a):
    rule = api_a_manager.post("/api/v1/escalation-rules/", RULE, format="json").json()
    body = json.dumps({"conditions": {"keywords": ["lawsuit\x00"]}}).encode()
    response = api_a_manager.generic(
        "PATCH", f"/api/v1/escalation-rules/{rule['id']}/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert error_of(response)["fields"] == {"conditions.keywords.0": [ERR_NUL]}
    with tenant_context(tenant_a):
        assert EscalationRule.objects.get(pk=rule["id"]).conditions == {"keywords": ["refund"]}


def test_it_refuses_a_lone_surrogate_in_a_ticket(api_a, tenant_a):
    response = _post_raw(api_a, "/api/v1/tickets/", json.dumps({**VALID, "subject": "Broken \udc00 text"}).encode())
    assert response.status_code == 400
    assert error_of(response)["fields"] == {"subject": [ERR_SURROGATE]}
    assert count_in(tenant_a, Ticket.objects.all) == 0
    assert count_in(tenant_a, Customer.objects.all) == 0


# --- limits: JSON depth and body size -------------------------------------------------------------


@pytest.mark.parametrize("body", [b"[" * 1000 + b"]" * 1000, b'{"a":' * 1000 + b"1" + b"}" * 1000, b"[" * 100_000])
def test_it_refuses_json_nested_past_the_depth_limit(api_a, tenant_a, body):
    response = _post_raw(api_a, "/api/v1/tickets/", body)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["message"]) == ("malformed_request", ERR_JSON_DEPTH.format(depth=32))
    assert count_in(tenant_a, Ticket.objects.all) == 0


def test_the_depth_limit_is_the_json_max_depth_setting(api_a_manager, tenant_a, settings):
    settings.JSON_MAX_DEPTH = 3
    # The body, its conditions and their keyword list: three levels.
    assert api_a_manager.post("/api/v1/escalation-rules/", RULE, format="json").status_code == 201
    deeper = {**RULE, "slug": "deeper", "conditions": {"keywords": [["refund"]]}}
    response = api_a_manager.post("/api/v1/escalation-rules/", deeper, format="json")
    assert response.status_code == 400
    assert error_of(response)["message"] == ERR_JSON_DEPTH.format(depth=3)
    with tenant_context(tenant_a):
        assert list(EscalationRule.objects.values_list("slug", flat=True)) == ["refunds"]


@pytest.mark.parametrize("headers", [{}, {"HTTP_IDEMPOTENCY_KEY": "big-1"}])
def test_it_answers_a_body_over_the_limit_with_413_in_the_error_shape(api_a, tenant_a, headers):
    body = b'{"subject": "' + b"x" * 10_000_000 + b'"}'
    response = api_a.generic("POST", "/api/v1/tickets/", body, content_type="application/json", **headers)
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    error = error_of(response)
    assert error["code"] == PAYLOAD_TOO_LARGE
    assert error["message"] == ERR_PAYLOAD_TOO_LARGE.format(limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    assert count_in(tenant_a, Ticket.objects.all) == 0
    assert count_in(tenant_a, IdempotencyKey.objects.all) == 0


# --- nested errors: one key per path, plain text ----------------------------------------------------


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"requester": "pat@example.com"}, {"requester": ["Invalid data. Expected a dictionary, but got str."]}),
        ({"requester": 5}, {"requester": ["Invalid data. Expected a dictionary, but got int."]}),
        ({"requester": {"email": "not-an-email"}}, {"requester.email": ["Enter a valid email address."]}),
        ({"requester": {"email": "p@x.test", "shoe_size": 44}}, {"requester.shoe_size": ["Unknown field."]}),
        ({"tags": ["fine", "has space"]}, {"tags.1": [SLUG_MESSAGE]}),
    ],
)
def test_it_names_a_nested_error_by_its_path_in_plain_text(api_a, change, fields):
    response = api_a.post("/api/v1/tickets/", {**VALID, **change}, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["fields"] == fields
    name, [message] = next(iter(fields.items()))
    assert error["message"] == f"{name}: {message}"
    assert "ErrorDetail" not in response.content.decode()


def test_it_flattens_errors_at_any_depth():
    class Contact(serializers.Serializer):
        email = serializers.EmailField()

    class Team(serializers.Serializer):
        name = serializers.CharField()
        contacts = Contact(many=True)

    class Org(serializers.Serializer):
        teams = Team(many=True)

    org = Org(data={"teams": [{"name": "ok", "contacts": [{"email": "a@b.test"}, {"email": "nope"}]}, {"name": ""}]})
    assert not org.is_valid()
    assert _flatten_fields(org.errors) == {
        "teams.0.contacts.1.email": ["Enter a valid email address."],
        "teams.1.name": ["This field may not be blank."],
        "teams.1.contacts": ["This field is required."],
    }


# --- cursors --------------------------------------------------------------------------------------


def _cursor(querystring: str) -> str:
    return quote(base64.b64encode(querystring.encode()).decode())


@pytest.mark.parametrize(
    "query",
    [
        "/api/v1/tickets/?cursor=zzz",
        "/api/v1/tickets/?cursor=" + _cursor("r=0&p=2026-01-01T00:00:00+23:59"),
        "/api/v1/tickets/?ordering=id&cursor=" + _cursor("p=abc"),
        "/api/v1/accounts/?ordering=name&cursor=" + _cursor("p=a%00b"),
        "/api/v1/tickets/?cursor=" + _cursor("p=not-a-time"),
    ],
)
def test_it_refuses_a_cursor_that_no_page_of_the_list_gave(api_a, query):
    create_ticket(api_a)
    response = api_a.get(query)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["fields"]) == ("invalid", {"cursor": [ERR_CURSOR]})


def test_it_follows_its_own_cursors_in_every_ordering(api_a):
    ids = sorted(create_ticket(api_a, subject=f"Printer {n}")["id"] for n in range(3))
    for ordering in ("id", "-created_at", "updated_at"):
        page = api_a.get(f"/api/v1/tickets/?ordering={ordering}&page_size=2").json()
        rest = api_a.get(page["next"]).json()
        assert sorted(t["id"] for t in page["results"] + rest["results"]) == ids
