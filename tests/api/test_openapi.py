"""The OpenAPI document is valid and documents the contract's resources and fields."""

import pytest
import yaml
from openapi_spec_validator import validate

TICKET_READ = {
    "id",
    "subject",
    "description",
    "requester",
    "priority",
    "channel",
    "category",
    "tags",
    "status",
    "tier",
    "assignee",
    "team",
    "account",
    "sentiment",
    "escalated",
    "escalation_count",
    "follow_up_count",
    "sla",
    "created_at",
    "updated_at",
}
ACCOUNT = {"id", "name", "plan", "vip", "annual_contract_value", "lifetime_value", "customer_since"}
CUSTOMER = {"id", "email", "name", "phone", "account"}


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_it_serves_a_valid_openapi_3_document(schema):
    assert schema["openapi"].startswith("3.")
    validate(schema)


def test_it_names_each_choice_set_once_for_generated_clients(schema):
    import re

    names = set(schema["components"]["schemas"])
    assert {"TicketStatusEnum", "PlanEnum", "ChannelEnum", "PriorityEnum", "MetricEnum"} <= names
    # drf-spectacular's fallback for colliding names is a hash suffix ("Status0e7Enum"), and a second,
    # identical enum under another name ("PlansEnum") for the same choices.
    assert not [name for name in names if re.search(r"[0-9a-f]{3}Enum$", name)]
    assert not {"PlansEnum", "ChannelsEnum", "OnHoldPausesEnum"} & names


def test_it_documents_each_route_once_without_format_suffix_twins(schema):
    assert not [path for path in schema["paths"] if "{format}" in path]
    assert "/api/v1/tickets/{id}/" in schema["paths"]


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/api/v1/tickets/", {"get", "post"}),
        ("/api/v1/tickets/{id}/", {"get", "patch"}),
        ("/api/v1/tickets/{id}/messages/", {"get", "post"}),
        ("/api/v1/tickets/{id}/attempts/", {"get", "post"}),
        ("/api/v1/tickets/{id}/events/", {"get"}),
        ("/api/v1/accounts/", {"get", "post"}),
        ("/api/v1/accounts/{id}/", {"get", "put", "patch"}),
        ("/api/v1/customers/", {"get", "post"}),
        ("/api/v1/customers/{id}/", {"get", "put", "patch"}),
    ],
)
def test_it_documents_each_endpoint(schema, path, methods):
    assert methods <= set(schema["paths"][path])


def _properties(schema, name):
    return set(schema["components"]["schemas"][name]["properties"])


def test_it_documents_every_field_of_the_resources(schema):
    assert _properties(schema, "TicketOutput") >= TICKET_READ
    assert _properties(schema, "AccountOutput") >= ACCOUNT
    assert _properties(schema, "CustomerOutput") >= CUSTOMER
    assert {"subject", "description", "requester", "priority", "channel", "category", "tags", "created_at"} <= (
        _properties(schema, "TicketCreateInputRequest")
    )


def test_it_documents_the_history_of_a_recurring_clock_in_the_sla_block(schema):
    sla = schema["components"]["schemas"]["SlaOutput"]["properties"]
    assert {"misses", "met_periods"} <= set(sla)
    assert sla["misses"]["type"] == "integer" and "no update" in sla["misses"]["description"]
    # The customer-update clock is an escalation's: its block shows the same shape.
    escalation_sla = schema["components"]["schemas"]["EscalationOutput"]["properties"]["sla"]
    assert escalation_sla["items"] == {"$ref": "#/components/schemas/SlaOutput"}


def test_it_documents_the_ticket_filters(schema):
    params = {p["name"] for p in schema["paths"]["/api/v1/tickets/"]["get"]["parameters"]}
    assert {
        "status",
        "priority",
        "tier",
        "team",
        "assignee",
        "requester",
        "category",
        "escalated",
        "created_after",
        "created_before",
        "q",
        "cursor",
        "page_size",
        "ordering",
    } <= params


def test_it_serves_the_interactive_docs_offline(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    # Swagger UI comes from the sidecar package, served by us: no CDN is needed.
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower()
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200


MEMBER = {"id", "username", "email", "name", "role", "tier", "skills", "capacity", "available", "teams", "active"}


def test_it_documents_members_and_me(schema):
    assert {"get", "post"} <= set(schema["paths"]["/api/v1/members/"])
    assert {"get", "patch", "delete"} <= set(schema["paths"]["/api/v1/members/{id}/"])
    assert _properties(schema, "MemberOutput") >= MEMBER
    assert "password" not in _properties(schema, "MemberOutput")
    assert {"username", "password"} <= _properties(schema, "MemberCreateInputRequest")
    assert _properties(schema, "MeOutput") >= MEMBER | {"principal", "tenant", "token"}
    member_filters = {p["name"] for p in schema["paths"]["/api/v1/members/"]["get"]["parameters"]}
    assert {"role", "tier", "skill", "team", "active", "available"} <= member_filters


@pytest.mark.parametrize(("path", "name"), [("/api/v1/tickets/", "assignee"), ("/api/v1/escalations/", "agent")])
def test_it_documents_me_in_the_member_filters(schema, path, name):
    [param] = [p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == name]
    assert param["schema"]["type"] == "string" and "`me`" in param["description"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/calendars/{id}/",
        "/api/v1/sla-policies/{id}/",
        "/api/v1/escalation-rules/{id}/",
        "/api/v1/webhooks/{id}/",
        "/api/v1/customers/{id}/",
        "/api/v1/members/{id}/",
    ],
)
def test_it_documents_delete_with_its_answer(schema, path):
    delete = schema["paths"][path]["delete"]
    assert "204" in delete["responses"] and delete.get("description")


@pytest.mark.parametrize("path", ["/api/v1/calendars/", "/api/v1/sla-policies/", "/api/v1/escalation-rules/"])
def test_it_documents_the_active_filter_of_configuration_lists(schema, path):
    assert "active" in {p["name"] for p in schema["paths"][path]["get"]["parameters"]}


def test_every_operation_documents_its_errors_in_the_error_shape(schema):
    assert schema["components"]["schemas"]["Error"]["required"] == ["error"]
    for path, item in schema["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in item.items():
            if method == "parameters":
                continue
            expected = {"400", "401", "403", "404"}
            if method in {"post", "put", "patch"}:
                expected |= {"409", "413", "415"}
            assert expected <= set(operation["responses"]), (method, path)
            error = operation["responses"]["400"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/Error"}


def test_request_bodies_refuse_unknown_fields_as_the_api_does(schema):
    schemas = schema["components"]["schemas"]
    for name in ("TicketCreateInputRequest", "RequesterInputRequest", "RuleInputRequest", "WebhookCreateInputRequest"):
        assert schemas[name]["additionalProperties"] is False, name
    assert "secret" in schemas["WebhookCreateInputRequest"]["required"]
    assert "secret" not in schemas["WebhookInputRequest"].get("required", [])


def test_it_documents_the_orderings_and_page_sizes_a_list_takes(schema):
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/tickets/"]["get"]["parameters"]}
    assert parameters["ordering"]["schema"]["items"]["enum"] == [
        "created_at",
        "-created_at",
        "updated_at",
        "-updated_at",
        "id",
        "-id",
    ]
    assert parameters["ordering"]["explode"] is False
    assert parameters["page_size"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 200}


def test_it_links_each_create_to_the_operations_on_what_it_created(schema):
    links = schema["paths"]["/api/v1/tickets/"]["post"]["responses"]["201"]["links"]
    by_operation = {link["operationId"]: link["parameters"] for link in links.values()}
    assert by_operation["v1_tickets_retrieve"] == {"id": "$response.body#/id"}
    assert {"v1_tickets_messages_create", "v1_tickets_escalate_create"} <= set(by_operation)
    assert "links" in schema["paths"]["/api/v1/webhooks/"]["post"]["responses"]["201"]
