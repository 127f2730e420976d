"""People and other objects are labelled by name in the admin ("Sam Billing (agent, tier 2, billing, refunds)",
not "sam @ 1 (agent, tier 2)"), in choices, lists and read-only fields, and a longer list costs no more
queries than a short one (no query per row for a label)."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from escalation.models import Escalation, EscalationRule, RuleFiring
from escalation.services import matrix_install
from helpdesk import workflows
from helpdesk.models import Membership, Role, TeamMember
from helpdesk.services import membership_create, team_create
from helpdesk.tenancy import tenant_context
from slas import defaults
from tickets import services as tickets

SAM = "Sam Billing (agent, tier 2, billing, refunds)"


@pytest.fixture
def sam(tenant_a):
    return membership_create(tenant=tenant_a, username="sam", first_name="Sam", last_name="Billing", role=Role.AGENT,
                             tier=2, skills=["billing", "refunds"])  # fmt: skip


@pytest.fixture
def desk(tenant_a, bob, sam):
    """A Billing team with Sam, the default matrix (its billing rule routes to that team) and policies."""
    team = team_create(tenant=tenant_a, name="Billing", tier=2, skills=["billing", "refunds"], members=[sam])
    with tenant_context(tenant_a):
        defaults.install(tenant=tenant_a)
        matrix_install(tenant=tenant_a)
        workflows.calendar_create(tenant=tenant_a, actor=None, name="Billing hours", timezone="UTC",
                                  hours={"mon": [["09:00", "17:00"]]}, team=team)  # fmt: skip
    return team


@pytest.fixture
def as_bob(bob):
    client = Client()
    assert client.login(username="bob", password="pw-bob-123!")
    return client


def _refund_tickets(tenant, sam: Membership, count: int) -> None:
    """Tickets that the billing rule escalates to Sam's team, assigned to Sam, each with a failed attempt."""
    with tenant_context(tenant):
        for n in range(count):
            ticket = workflows.ticket_open(tenant=tenant, actor=None, subject=f"Refund {n}",
                                           description="I want a refund.", requester_email=f"r{n}@x.test")  # fmt: skip
            tickets.ticket_update(ticket=ticket, actor=None, assignee=sam)
            tickets.attempt_record(ticket=ticket, actor=None, outcome="failed", tier=1, note="tried")


def _queries(client: Client, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(captured), response.content.decode()


def test_a_member_is_labelled_by_name_role_tier_and_skills(tenant_a, alice, sam):
    with tenant_context(tenant_a):
        assert str(Membership.objects.select_related("user").get(pk=sam.pk)) == SAM
        assert str(Membership.objects.get(pk=alice.pk)) == "alice (agent, tier 1)"  # no name given: the username
        Membership.objects.filter(pk=alice.pk).update(active=False)
        assert str(Membership.objects.get(pk=alice.pk)) == "alice (agent, tier 1, inactive)"
        assert str(TeamMember(membership=sam)) == SAM


LISTS = [
    ("/admin/tickets/ticket/", SAM),  # assignee
    ("/admin/tickets/resolutionattempt/", "Refund"),
    ("/admin/escalation/escalation/", "Billing"),  # team
    ("/admin/escalation/rulefiring/", "Billing dispute or cancellation"),  # the rule
    ("/admin/escalation/escalationrule/", "Keywords: refund"),
    ("/admin/slas/businesscalendar/", "Billing hours"),
    ("/admin/slas/slatimer/", "Refund"),
]


@pytest.mark.parametrize(("url", "label"), LISTS, ids=[url.split("/")[3] for url, _ in LISTS])
def test_a_list_labels_its_rows_by_name_with_as_many_queries_for_many_rows_as_for_one(
    as_bob, tenant_a, sam, desk, url, label
):
    _refund_tickets(tenant_a, sam, 1)
    one, _ = _queries(as_bob, url)
    _refund_tickets(tenant_a, sam, 1)
    two, _ = _queries(as_bob, url)
    _refund_tickets(tenant_a, sam, 4)
    many, page = _queries(as_bob, url)

    assert one == two == many, (one, two, many)
    assert label in page.replace("&#x27;", "'")
    assert " @ " not in page


def test_the_escalations_readonly_people_and_the_firings_title_are_named(as_bob, tenant_a, sam, desk):
    _refund_tickets(tenant_a, sam, 1)
    with tenant_context(tenant_a):
        escalation = Escalation.objects.get()
        firing = RuleFiring.objects.select_related("rule").get()
    page = as_bob.get(f"/admin/escalation/escalation/{escalation.pk}/change/").content.decode()
    assert SAM in page  # the agent who received it
    firing_page = as_bob.get(f"/admin/escalation/rulefiring/{firing.pk}/change/").content.decode()
    assert f"{firing.rule.name} on ticket #{firing.ticket_id} (cycle 0)" in firing_page


def test_the_team_page_names_its_members_without_a_query_per_member(as_bob, tenant_a, alice, sam, desk):
    url = f"/admin/helpdesk/team/{desk.pk}/change/"
    _queries(as_bob, url)  # Django caches the content types the page's links need
    few, _ = _queries(as_bob, url)
    with tenant_context(tenant_a):
        for n in range(4):
            member = membership_create(tenant=tenant_a, username=f"agent{n}", first_name=f"Agent {n}", tier=1)
            TeamMember.objects.create(tenant=tenant_a, team=desk, membership=member)
    many, page = _queries(as_bob, url)

    assert few == many
    rows = re.findall(r'<td class="original">\s*<p>\s*(.*?)\s*</p>', page, re.S)
    assert SAM in rows and len(rows) == 5  # each member's row, by name
    assert f'<option value="{sam.pk}">{SAM}</option>' in page  # the on-call and member choices
    assert "Agent 3 (agent, tier 1)" in page and " @ " not in page


def test_the_rule_form_names_the_rules_team_and_people(as_bob, tenant_a, sam, desk):
    with tenant_context(tenant_a):
        rule = EscalationRule.objects.get(slug="billing")
    page = as_bob.get(f"/admin/escalation/escalationrule/{rule.pk}/change/").content.decode()
    assert f'<option value="{desk.pk}">Billing (tier 2, billing, refunds)</option>' in page
    assert '<option value="billing" selected>billing</option>' in page  # the rule's skill, among the desk's
    assert SAM in page
