"""Escalation goes up: a rule's priority override raises a ticket's priority and never lowers it, and an
escalation never moves a ticket down a tier (that is de-escalation)."""

import pytest

from helpdesk import workflows
from helpdesk.models import Role
from helpdesk.services import membership_create
from tests.api.helpers import create_ticket


@pytest.fixture
def api(db):
    from rest_framework.test import APIClient

    from helpdesk.services import api_token_create

    tenant = workflows.tenant_bootstrap(slug="acme", name="Acme")
    membership_create(tenant=tenant, username="maya", role=Role.MANAGER, tier=3, skills=["escalations"])
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


def test_a_tier_two_rule_on_a_ticket_a_manager_holds_at_tier_three_leaves_it_at_three(api):
    body = create_ticket(api, subject="Still broken", description="I want to speak to a manager.")
    assert body["tier"] == 3
    url = f"/api/v1/tickets/{body['id']}/messages/"
    api.post(url, {"body": "This is urgent, production down.", "author_type": "customer"}, format="json")
    escalations = api.get(f"/api/v1/escalations/?ticket={body['id']}").json()["results"]
    functional = next(e for e in escalations if e["kind"] == "functional")
    assert (functional["from_tier"], functional["to_tier"]) == (3, 3)
    assert api.get(f"/api/v1/tickets/{body['id']}/").json()["tier"] == 3


def test_an_escalation_that_raises_the_priority_runs_its_clocks_on_the_raised_priority_policy(db):
    # The default policies: urgent runs on the 24/7 calendar, normal on business hours. On a Saturday the
    # escalation's acknowledge clock is due in 30 minutes only if it was planned on the raised priority.
    from datetime import UTC, datetime, timedelta

    from escalation import services as escalations
    from helpdesk.tenancy import tenant_context
    from slas.models import SlaTimer

    tenant = workflows.tenant_bootstrap(slug="acme", name="Acme")
    saturday = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    with tenant_context(tenant):
        ticket = workflows.ticket_open(
            tenant=tenant,
            actor=None,
            subject="Invoice question",
            description="Please check the total.",
            requester_email="pat@example.test",
            created_at=saturday,
        )
        escalation = escalations.escalation_create(
            ticket=ticket,
            actor=None,
            kind="hierarchical",
            trigger="manual",
            summary_fields={name: "stated" for name in escalations.SUMMARY_FIELDS},
            priority_override="urgent",
            at=saturday,
        )
        clock = SlaTimer.objects.get(escalation_id=escalation.pk, metric="escalation_acknowledge")
        stored = type(escalation).objects.get(pk=escalation.pk)
    assert ticket.priority == "urgent"
    assert stored.response_due_at == clock.due_at == saturday + timedelta(minutes=30)
