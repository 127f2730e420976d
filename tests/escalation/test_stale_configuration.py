"""Configuration that goes stale never stops intake: a ticket still opens and its escalation still exists. A
target nobody can serve (a skill nobody has, an emptied or deactivated team, a role that does not exist) sends
the escalation to the managers' queue; the rule's firing records why; admins hear of it once per rule."""

from __future__ import annotations

import pytest

from escalation.models import Escalation, EscalationRule, RuleFiring
from helpdesk import workflows
from helpdesk.models import OutboxEvent, Team
from helpdesk.services import membership_create, team_create
from helpdesk.tenancy import tenant_context
from tests.api.helpers import create_ticket

LAWSUIT = "We will file a lawsuit about the missing invoices."


def _rule(tenant, **target) -> EscalationRule:
    with tenant_context(tenant):
        return workflows.rule_create(
            tenant=tenant,
            actor=None,
            name="Legal threat",
            slug="legal-threat",
            trigger="keyword",
            conditions={"keywords": ["lawsuit"]},
            kind="functional",
            **target,
        )


def _escalation_of(tenant, ticket_id: int) -> Escalation:
    with tenant_context(tenant):
        return Escalation.objects.select_related("agent__user", "team").get(ticket_id=ticket_id)


def _firing_of(tenant, ticket_id: int) -> RuleFiring:
    with tenant_context(tenant):
        return RuleFiring.objects.get(ticket_id=ticket_id)


def _alerts(tenant) -> list[OutboxEvent]:
    with tenant_context(tenant):
        return list(OutboxEvent.objects.filter(type="rule.fallback"))


def test_a_skill_nobody_has_sends_the_escalation_to_the_managers_queue(api_a, tenant_a, alice, bob):
    _rule(tenant_a, target_skill="legal")
    ticket = create_ticket(api_a, subject="Invoices", description=LAWSUIT)

    escalation = _escalation_of(tenant_a, ticket["id"])
    assert escalation.agent == bob and escalation.team is None  # the available manager, not no one
    assert escalation.fallback_reason == "no active member with skill 'legal'"
    assert _firing_of(tenant_a, ticket["id"]).fallback_reason == escalation.fallback_reason
    assert ticket["escalated"] is True and ticket["assignee"] == bob.pk


def test_admins_hear_of_a_stale_rule_once_not_once_per_ticket(api_a, tenant_a, bob):
    rule = _rule(tenant_a, target_skill="legal")
    for n in range(3):
        create_ticket(api_a, subject=f"Invoices {n}", description=LAWSUIT, requester={"email": f"c{n}@x.test"})

    alerts = _alerts(tenant_a)
    assert len(alerts) == 1
    assert alerts[0].payload["rule"] == rule.pk and alerts[0].payload["reason"] == "no active member with skill 'legal'"
    with tenant_context(tenant_a):
        assert Escalation.objects.filter(fallback_reason__startswith="no active member").count() == 3


def test_a_rule_stored_with_an_unknown_role_still_lets_tickets_in(api_a, tenant_a, bob):
    """A rule saved before rules were validated (the admin once took target_role "boss"): intake answered 500."""
    rule = _rule(tenant_a, target_role="manager")
    with tenant_context(tenant_a):
        EscalationRule.objects.filter(pk=rule.pk).update(target_role="boss", priority_override="sky-high")

    ticket = create_ticket(api_a, subject="Invoices", description=LAWSUIT)

    escalation = _escalation_of(tenant_a, ticket["id"])
    assert escalation.fallback_reason == "unknown role 'boss'"
    assert escalation.agent == bob
    assert ticket["priority"] == "normal"  # an unknown override is no priority at all


def test_an_emptied_team_sends_the_escalation_to_the_managers_queue(api_a, tenant_a, alice, bob):
    with tenant_context(tenant_a):
        legal = team_create(tenant=tenant_a, name="Legal", tier=2, skills=["legal"])
    _rule(tenant_a, target_team=legal)

    ticket = create_ticket(api_a, subject="Invoices", description=LAWSUIT)

    escalation = _escalation_of(tenant_a, ticket["id"])
    assert escalation.fallback_reason == "no active member of team 'Legal'"
    assert escalation.agent == bob and escalation.team is None


def test_a_deactivated_team_sends_the_escalation_to_the_managers_queue(api_a, tenant_a, bob):
    with tenant_context(tenant_a):
        lea = membership_create(tenant=tenant_a, username="lea", password="pw-lea-123!", tier=2, skills=["legal"])
        legal = team_create(tenant=tenant_a, name="Legal", tier=2, skills=["legal"], members=[lea])
        Team.objects.filter(pk=legal.pk).update(active=False)
        legal.refresh_from_db()
    _rule(tenant_a, target_team=legal)

    ticket = create_ticket(api_a, subject="Invoices", description=LAWSUIT)

    escalation = _escalation_of(tenant_a, ticket["id"])
    assert escalation.fallback_reason == "team 'Legal' is deactivated"
    assert escalation.agent == bob


def test_a_team_whose_people_are_busy_is_a_queue_not_stale_configuration(api_a, tenant_a, bob):
    with tenant_context(tenant_a):
        lea = membership_create(tenant=tenant_a, username="lea", password="pw-lea-123!", tier=2, skills=["legal"])
        legal = team_create(tenant=tenant_a, name="Legal", tier=2, skills=["legal"], members=[lea])
        lea.available = False
        lea.save(update_fields=["available"])
    _rule(tenant_a, target_team=legal)

    ticket = create_ticket(api_a, subject="Invoices", description=LAWSUIT)

    escalation = _escalation_of(tenant_a, ticket["id"])
    assert escalation.fallback_reason == "" and escalation.team == legal and escalation.agent is None
    assert _alerts(tenant_a) == []


def test_a_skill_removed_from_its_last_member_turns_the_rule_stale(api_a, tenant_a, bob):
    with tenant_context(tenant_a):
        lea = membership_create(tenant=tenant_a, username="lea", password="pw-lea-123!", tier=2, skills=["legal"])
    _rule(tenant_a, target_skill="legal")
    first = create_ticket(api_a, subject="Invoices", description=LAWSUIT)
    assert _escalation_of(tenant_a, first["id"]).agent == lea

    with tenant_context(tenant_a):
        lea.skills = []
        lea.save(update_fields=["skills"])
    second = create_ticket(api_a, subject="More invoices", description=LAWSUIT, requester={"email": "b@x.test"})

    escalation = _escalation_of(tenant_a, second["id"])
    assert escalation.fallback_reason == "no active member with skill 'legal'" and escalation.agent == bob


@pytest.mark.django_db(transaction=True)
def test_a_channel_that_fails_does_not_stop_intake(api_a, tenant_a, bob, closed_port):
    """Notifications leave after commit: a dead receiver fails its delivery, never the ticket."""
    from helpdesk.notifications import defaults
    from helpdesk.notifications.dispatcher import dispatch
    from helpdesk.notifications.models import Delivery, NotificationChannel
    from helpdesk.notifications.services import channel_save

    with tenant_context(tenant_a):
        defaults.install(tenant=tenant_a)
        channel = NotificationChannel(tenant=tenant_a, name="Dead hook", kind="json")
        channel_save(channel=channel, url=f"json://127.0.0.1:{closed_port}/hook")
    _rule(tenant_a, target_role="manager")

    ticket = create_ticket(api_a, subject="Invoices", description=LAWSUIT)
    dispatch()

    escalation = _escalation_of(tenant_a, ticket["id"])
    assert escalation.agent == bob
    with tenant_context(tenant_a):
        delivery = Delivery.objects.get(event_type="escalation.created", destination__startswith="channel:")
    assert delivery.status != "delivered" and delivery.last_error


@pytest.fixture
def closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the block ends: nothing listens there
