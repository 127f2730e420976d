"""The escalation's change page in the admin: every field read-only; the lifecycle is buttons that run the
API's workflows with their checks, and each step leaves its ticket event. (A typed resolution once said
"changed successfully" while the status stayed requested.)"""

from __future__ import annotations

import re

import pytest
from django.test import Client

from escalation.models import Escalation, EscalationStatus
from helpdesk.models import Role
from helpdesk.services import membership_create
from helpdesk.tenancy import tenant_context
from tests.api.helpers import create_ticket
from tests.escalation.test_lifecycle import SUMMARY
from tickets.models import Message, TicketEvent


@pytest.fixture
def escalation(api_a, tenant_a, alice, bob) -> Escalation:
    ticket = create_ticket(api_a)
    body = {"kind": "hierarchical", "reason": "needs a manager", "target_tier": 2, "summary": SUMMARY}
    response = api_a.post(f"/api/v1/tickets/{ticket['id']}/escalate/", body, format="json")
    assert response.status_code == 201, response.content
    with tenant_context(tenant_a):
        return Escalation.objects.get(pk=response.json()["id"])


def _client(username: str, password: str) -> Client:
    client = Client()
    assert client.login(username=username, password=password)
    return client


@pytest.fixture
def as_bob(bob) -> Client:
    return _client("bob", "pw-bob-123!")


def _url(escalation: Escalation, action: str = "") -> str:
    if not action:
        return f"/admin/escalation/escalation/{escalation.pk}/change/"
    return f"/admin/escalation/escalation/{escalation.pk}/lifecycle/{action}/"


def _reload(tenant, escalation: Escalation) -> Escalation:
    with tenant_context(tenant):
        return Escalation.objects.get(pk=escalation.pk)


def _events(tenant, escalation: Escalation) -> list[str]:
    with tenant_context(tenant):
        return list(TicketEvent.objects.filter(ticket_id=escalation.ticket_id).values_list("kind", flat=True))


def test_the_change_page_edits_nothing_and_offers_the_lifecycle_buttons(as_bob, escalation):
    page = as_bob.get(_url(escalation)).content.decode()
    assert not re.search(r'<(textarea|input)[^>]*name="(resolution|status|root_cause|summary)"', page)
    for label in ("Acknowledge", "Resolve", "Return", "De-escalate"):
        assert f'value="{label}"' in page
    assert 'name="_save"' not in page


def test_a_resolution_typed_into_the_change_form_changes_nothing(as_bob, escalation, tenant_a):
    response = as_bob.post(_url(escalation), {"resolution": "fixed it", "status": "resolved"})
    assert response.status_code == 403
    after = _reload(tenant_a, escalation)
    assert after.status == EscalationStatus.REQUESTED and after.resolution == ""


def test_acknowledge_then_resolve_by_button_write_their_events_and_the_note(as_bob, escalation, tenant_a):
    assert as_bob.post(_url(escalation, "acknowledge")).status_code == 302
    assert _reload(tenant_a, escalation).status == EscalationStatus.ACKNOWLEDGED
    assert "escalation_acknowledged" in _events(tenant_a, escalation)

    response = as_bob.post(
        _url(escalation, "resolve"), {"resolve-resolution": "Raised the quota.", "resolve-root_cause": "Quota."}
    )
    assert response.status_code == 302
    after = _reload(tenant_a, escalation)
    assert after.status == EscalationStatus.RESOLVED and after.resolution == "Raised the quota."
    assert "escalation_resolved" in _events(tenant_a, escalation)
    with tenant_context(tenant_a):
        note = Message.objects.get(ticket_id=escalation.ticket_id, internal=True, author_type="system")
    assert "Raised the quota." in note.body and "Root cause: Quota." in note.body


def test_a_button_without_its_required_input_changes_nothing(as_bob, escalation, tenant_a):
    response = as_bob.post(_url(escalation, "resolve"), {"resolve-resolution": ""}, follow=True)
    assert "resolution" in response.content.decode().lower()
    assert _reload(tenant_a, escalation).status == EscalationStatus.REQUESTED
    assert "escalation_resolved" not in _events(tenant_a, escalation)


def test_the_buttons_run_the_workflows_checks(as_bob, escalation, tenant_a):
    """A de-escalation must go down: the same refusal as the API's, shown as a message."""
    response = as_bob.post(
        _url(escalation, "de-escalate"), {"de-escalate-reason": "fine", "de-escalate-to_tier": "3"}, follow=True
    )
    assert "De-escalation goes down" in response.content.decode()
    assert _reload(tenant_a, escalation).status == EscalationStatus.REQUESTED


def test_return_by_button_sends_it_back(as_bob, escalation, tenant_a):
    as_bob.post(_url(escalation, "return"), {"return-reason": "Which export job?"})
    after = _reload(tenant_a, escalation)
    assert after.status == EscalationStatus.RETURNED and after.return_reason == "Which export job?"
    assert "escalation_returned" in _events(tenant_a, escalation)


def test_another_tenants_manager_gets_404_and_changes_nothing(escalation, tenant_a, tenant_b):
    membership_create(tenant=tenant_b, username="dana", password="pw-dana-123!", role=Role.MANAGER, tier=2)
    dana = _client("dana", "pw-dana-123!")
    assert dana.post(_url(escalation, "acknowledge")).status_code == 404
    assert dana.get(_url(escalation)).status_code == 404
    assert _reload(tenant_a, escalation).status == EscalationStatus.REQUESTED


def test_an_agent_cannot_use_the_admin_buttons(escalation, tenant_a, alice):
    agent = _client("alice", "pw-alice-123!")
    response = agent.post(_url(escalation, "acknowledge"))
    assert response.status_code in (302, 403)
    assert _reload(tenant_a, escalation).status == EscalationStatus.REQUESTED


def test_resolving_always_leaves_an_internal_note_even_without_a_handing_agent(api_a, escalation, tenant_a):
    """The ticket had no assignee when it was escalated: the note used to be skipped."""
    assert escalation.from_agent_id is None
    api_a.post(f"/api/v1/escalations/{escalation.pk}/resolve/", {"resolution": "Done."}, format="json")
    with tenant_context(tenant_a):
        notes = list(Message.objects.filter(ticket_id=escalation.ticket_id, internal=True, author_type="system"))
    assert len(notes) == 1
    assert notes[0].body.startswith(f"Escalation #{escalation.pk} resolved by ")
    assert notes[0].body.endswith("Root cause: not given. Resolution: Done.")


def test_failed_attempts_entered_in_the_admin_fire_the_failed_attempts_rule(api_a, as_bob, tenant_a, bob):
    """The admin recorded attempts with the tickets service and skipped the rule evaluation of the workflow."""
    from helpdesk import workflows

    with tenant_context(tenant_a):
        workflows.rule_create(
            tenant=tenant_a,
            actor=None,
            name="Two failed attempts",
            slug="two-failed",
            trigger="failed_attempts",
            conditions={"count": 2},
            kind="functional",
            target_tier=2,
        )
    ticket = create_ticket(api_a)
    for note in ("Reset the password", "Cleared the cache"):
        form = {"ticket": ticket["id"], "tier": "1", "outcome": "failed", "note": note}
        assert as_bob.post("/admin/tickets/resolutionattempt/add/", form).status_code == 302
    with tenant_context(tenant_a):
        escalation = Escalation.objects.get(ticket_id=ticket["id"])
    assert escalation.trigger == "two-failed"
    assert "Reset the password" in escalation.summary["tried"]
