"""A rule's priority override raises a ticket's priority; it never lowers it."""

import pytest

from helpdesk import workflows
from helpdesk.models import Role
from tests.api.helpers import create_ticket


@pytest.fixture
def api(db):
    from rest_framework.test import APIClient

    from helpdesk.services import api_token_create

    tenant = workflows.tenant_bootstrap(slug="acme", name="Acme")
    _, key = api_token_create(tenant=tenant, role=Role.ADMIN)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _escalation_priorities(api, ticket_id: int) -> list[str]:
    events = api.get(f"/api/v1/tickets/{ticket_id}/events/").json()["results"]
    return [event["after"]["priority"] for event in events if event["kind"] == "escalated"]


def test_an_urgent_ticket_escalated_by_a_raise_to_high_rule_stays_urgent(api):
    body = create_ticket(api, subject="Outage", description="Production down for everyone.", priority="urgent")
    assert body["escalated"] is True
    assert body["priority"] == "urgent"
    assert _escalation_priorities(api, body["id"]) == ["urgent"]


def test_a_normal_ticket_escalated_by_the_same_rule_becomes_high(api):
    body = create_ticket(api, subject="Outage", description="Production down for everyone.", priority="normal")
    assert body["priority"] == "high"
    assert _escalation_priorities(api, body["id"]) == ["high"]
