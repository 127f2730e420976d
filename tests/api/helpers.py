"""Small helpers for API tests."""

from helpdesk.tenancy import tenant_context


def create_ticket(api, **overrides):
    body = {
        "subject": "Printer setup",
        "description": "How do I add the new office printer to my laptop?",
        "requester": {"email": "Pat@Example.com", "name": "Pat"},
    }
    body.update(overrides)
    response = api.post("/api/v1/tickets/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def count_in(tenant, queryset_factory) -> int:
    with tenant_context(tenant):
        return queryset_factory().count()


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    return body["error"]
