"""Authority beyond refunds: credits and contract changes with a cap per tier, the same rule as refunds
(escalation/authority.py), and an executive above a manager as the top of the hierarchical ladder."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from escalation.models import Escalation, EscalationRule
from helpdesk import workflows
from helpdesk.models import Membership, OutboxEvent, Role
from helpdesk.services import membership_create
from helpdesk.tenancy import tenant_context
from slas import defaults
from tests.api.helpers import create_ticket, error_of
from tickets.models import TicketEvent

CREDIT_CAPS = {"tier_0": "0.00", "tier_1": "100.00", "tier_2": "1000.00", "tier_3": "5000.00", "manager": "25000.00"}


@pytest.fixture
def desk(tenant_a, bob):
    """Tenant A with SLA defaults, one agent per tier, bob (manager), an executive and an admin."""
    with tenant_context(tenant_a):
        defaults.install(tenant=tenant_a)
    people = {f"tier_{n}": membership_create(tenant=tenant_a, username=f"t{n}", tier=n) for n in range(4)}
    people["manager"] = bob
    people["executive"] = membership_create(tenant=tenant_a, username="eve", role=Role.EXECUTIVE, tier=3)
    people["admin"] = membership_create(tenant=tenant_a, username="ada", role=Role.ADMIN, tier=3, capacity=0)
    return people


def _as(member) -> APIClient:
    api = APIClient()
    api.force_login(member.user)
    return api


def _request(api, ticket_id: int, path: str, amount: str):
    body = {"amount": amount, "reason": "service outage in March"}
    return api.post(f"/api/v1/tickets/{ticket_id}/{path}/", body, format="json")


def _cents_above(amount: str) -> str:
    return f"{float(amount) + 0.01:.2f}"


@pytest.mark.parametrize("who", list(CREDIT_CAPS))
def test_a_credit_at_the_cap_is_recorded_and_a_cent_above_needs_sign_off(desk, tenant_a, who):
    api = _as(desk[who])
    ticket = create_ticket(api)
    cap = CREDIT_CAPS[who]
    at_cap = _request(api, ticket["id"], "credits", cap)
    if Decimal(cap) == 0:  # tier 0 may give nothing: a credit of 0 is no credit (400), a cent needs sign-off
        assert at_cap.status_code == 400, at_cap.content
    else:
        assert at_cap.status_code == 201, at_cap.content
        assert at_cap.json() == {"status": "approved", "limit": cap, "escalation": None}
    above = _request(api, ticket["id"], "credits", _cents_above(cap))
    assert above.status_code == 202, above.content
    body = above.json()
    assert body["status"] == "needs_approval" and body["limit"] == cap
    escalation = body["escalation"]
    assert (escalation["kind"], escalation["trigger"]) == ("hierarchical", "authority-limit")
    assert f"a credit of {_cents_above(cap)}" in escalation["summary"]["desired_outcome"]
    # Within a manager's cap a manager signs; above it, an executive.
    approver = desk["executive"] if who == "manager" else desk["manager"]
    assert escalation["agent"] == approver.pk
    with tenant_context(tenant_a):
        approved = list(TicketEvent.objects.filter(ticket_id=ticket["id"], kind="credit_approved"))
        asked = TicketEvent.objects.get(ticket_id=ticket["id"], kind="credit_needs_approval")
        approvals = OutboxEvent.objects.filter(type="credit.approved", payload__ticket=ticket["id"]).count()
    assert approvals == len(approved) == (0 if Decimal(cap) == 0 else 1)
    assert all(Decimal(e.after["amount"]) == Decimal(e.after["limit"]) == Decimal(cap) for e in approved)
    assert asked.after["escalation"] == escalation["id"] and asked.after["approver"] in ("manager", "executive")


@pytest.mark.parametrize("who", ["executive", "admin"])
def test_an_executive_and_an_admin_approve_any_credit(desk, tenant_a, who):
    api = _as(desk[who])
    ticket = create_ticket(api)
    response = _request(api, ticket["id"], "credits", "1000000.00")
    assert response.status_code == 201
    assert response.json() == {"status": "approved", "limit": None, "escalation": None}


def test_no_agent_changes_a_contract_alone(desk, tenant_a):
    api = _as(desk["tier_3"])
    ticket = create_ticket(api)
    response = _request(api, ticket["id"], "contract-changes", "0.01")
    assert response.status_code == 202
    body = response.json()
    assert body["limit"] == "0.00" and body["escalation"]["agent"] == desk["manager"].pk
    assert "a contract change of 0.01" in body["escalation"]["summary"]["desired_outcome"]
    with tenant_context(tenant_a):
        assert not TicketEvent.objects.filter(ticket_id=ticket["id"], kind="contract_change_approved").exists()


def test_a_manager_changes_a_contract_up_to_the_cap_and_an_executive_signs_above(desk, tenant_a):
    api = _as(desk["manager"])
    ticket = create_ticket(api)
    assert _request(api, ticket["id"], "contract-changes", "20000.00").status_code == 201
    above = _request(api, ticket["id"], "contract-changes", "20000.01")
    assert above.status_code == 202
    assert above.json()["escalation"]["agent"] == desk["executive"].pk
    executive = _as(desk["executive"])
    assert _request(executive, ticket["id"], "contract-changes", "20000.01").status_code == 201
    with tenant_context(tenant_a):
        kinds = list(
            TicketEvent.objects.filter(ticket_id=ticket["id"], kind__startswith="contract_change")
            .order_by("id")
            .values_list("kind", flat=True)
        )
    assert kinds == ["contract_change_approved", "contract_change_needs_approval", "contract_change_approved"]


def test_a_tenants_own_caps_win_over_the_defaults(desk, tenant_a):
    tenant_a.settings = {"approval_limits": {"credit": {"tier_1": 10}}}
    tenant_a.save()
    api = _as(desk["tier_1"])
    ticket = create_ticket(api)
    assert _request(api, ticket["id"], "credits", "10.00").status_code == 201
    assert _request(api, ticket["id"], "credits", "10.01").status_code == 202


@pytest.mark.parametrize("path", ["credits", "contract-changes"])
def test_a_request_on_another_tenants_ticket_is_404_and_writes_nothing(api_a, api_b, desk, tenant_a, path):
    ticket = create_ticket(api_a)
    response = _request(api_b, ticket["id"], path, "10.00")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"
    with tenant_context(tenant_a):
        assert not TicketEvent.objects.filter(ticket_id=ticket["id"], kind__startswith=path[:6]).exists()
        assert not Escalation.objects.filter(ticket_id=ticket["id"]).exists()


@pytest.mark.parametrize("path", ["credits", "contract-changes"])
def test_an_agent_token_acts_with_tier_ones_cap_and_a_manager_token_with_a_managers(api_a, api_a_manager, desk, path):
    ticket = create_ticket(api_a)
    agent = _request(api_a, ticket["id"], path, "150.00")
    manager = _request(api_a_manager, ticket["id"], path, "150.00")
    assert (agent.status_code, agent.json()["status"]) == (202, "needs_approval")
    assert (manager.status_code, manager.json()["status"]) == (201, "approved")


@pytest.mark.parametrize("amount", ["-5", "lots", "1e99"])
def test_a_bad_amount_is_400_and_writes_nothing(api_a, desk, tenant_a, amount):
    ticket = create_ticket(api_a)
    response = _request(api_a, ticket["id"], "credits", amount)
    assert response.status_code == 400 and "amount" in error_of(response)["fields"]
    with tenant_context(tenant_a):
        assert not TicketEvent.objects.filter(ticket_id=ticket["id"], kind__startswith="credit").exists()


@pytest.mark.parametrize(
    ("path", "kind"), [("credits", "credit"), ("refunds", "refund"), ("contract-changes", "contract")]
)
def test_an_amount_of_0_is_400_naming_the_amount_and_writes_nothing(desk, tenant_a, path, kind):
    # A tester's credit of 0 came back "approved" with a credit_approved event: it decided nothing.
    api = _as(desk["manager"])
    ticket = create_ticket(api)
    response = _request(api, ticket["id"], path, "0.00")
    assert response.status_code == 400, response.content
    assert error_of(response)["code"] == "invalid" and "amount" in error_of(response)["fields"]
    with tenant_context(tenant_a):
        assert not TicketEvent.objects.filter(ticket_id=ticket["id"], kind__startswith=kind).exists()
        assert not OutboxEvent.objects.filter(type__startswith=kind).exists()
        assert not Escalation.objects.filter(ticket_id=ticket["id"]).exists()


@pytest.mark.parametrize("path", ["credits", "refunds"])
def test_a_negative_credit_or_refund_is_400(desk, path):
    api = _as(desk["manager"])
    response = _request(api, create_ticket(api)["id"], path, "-10.00")
    assert response.status_code == 400 and "amount" in error_of(response)["fields"]


def test_a_downgrade_is_a_negative_contract_change_capped_by_its_size(desk, tenant_a):
    # A contract change could not be negative; a downgrade gives up revenue, so the caps bound abs(amount).
    manager, agent = _as(desk["manager"]), _as(desk["tier_3"])
    ticket = create_ticket(manager)
    within = _request(manager, ticket["id"], "contract-changes", "-20000.00")
    assert (within.status_code, within.json()["status"]) == (201, "approved"), within.content
    above = _request(manager, ticket["id"], "contract-changes", "-20000.01")
    assert (above.status_code, above.json()["status"]) == (202, "needs_approval")
    assert above.json()["escalation"]["summary"]["desired_outcome"].startswith("a contract change of -20000.01")
    small = _request(agent, ticket["id"], "contract-changes", "-0.01")  # no agent changes a contract alone
    assert (small.status_code, small.json()["status"]) == (202, "needs_approval")
    with tenant_context(tenant_a):
        approved = TicketEvent.objects.get(ticket_id=ticket["id"], kind="contract_change_approved")
        asked = TicketEvent.objects.filter(ticket_id=ticket["id"], kind="contract_change_needs_approval")
        assert approved.after["amount"] == "-20000.00"
        assert sorted((e.after["amount"], e.after["approver"]) for e in asked) == [
            ("-0.01", "manager"),
            ("-20000.01", "executive"),
        ]


# --- the ladder's top ---------------------------------------------------------------------------


@pytest.fixture
def acme(db):
    tenant = workflows.tenant_bootstrap(slug="acme", name="Acme Corp")
    with tenant_context(tenant):
        # Only the ladder here: the ticket's own breached clocks would fire the SLA rules as well.
        EscalationRule.objects.filter(trigger="sla_risk").update(active=False)
    return tenant


def _manager_escalation(tenant, manager):
    from helpdesk.services import api_token_create

    _, key = api_token_create(tenant=tenant, role=Role.MANAGER, label="test")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    # Urgent runs on the 24/7 calendar: "two hours later" is past the 30-minute target whatever the day.
    ticket = create_ticket(api, subject="Contract terms", description="We need new terms.", priority="urgent")
    summary = {f: f"{f} text" for f in ("problem", "tried", "emotional_state", "desired_outcome", "account_context")}
    body = {"kind": "hierarchical", "reason": "authority", "target_agent": manager.pk, "summary": summary}
    first = api.post(f"/api/v1/tickets/{ticket['id']}/escalate/", body, format="json").json()
    assert first["agent"] == manager.pk and first["to_tier"] == 3
    return api, ticket, first


def test_an_escalation_a_manager_lets_run_out_climbs_to_an_executive(acme):
    maya = membership_create(tenant=acme, username="maya", role=Role.MANAGER, tier=3)
    eve = membership_create(tenant=acme, username="eve", role=Role.EXECUTIVE, tier=3)
    api, ticket, first = _manager_escalation(acme, maya)
    workflows.sweep(now=timezone.now() + timedelta(hours=2))
    [climbed] = api.get(f"/api/v1/escalations/?ticket={ticket['id']}&trigger=sla-ladder").json()["results"]
    assert (climbed["kind"], climbed["level"], climbed["to_tier"]) == ("hierarchical", 2, 3)
    assert climbed["agent"] == eve.pk and first["agent"] == maya.pk
    with tenant_context(acme):
        assert Membership.objects.get(pk=climbed["agent"]).role == Role.EXECUTIVE


def test_an_executive_is_the_top_of_the_ladder_and_the_overseer_hears_it(acme):
    eve = membership_create(tenant=acme, username="eve", role=Role.EXECUTIVE, tier=3)
    maya = membership_create(tenant=acme, username="maya", role=Role.MANAGER, tier=3)
    api, ticket, first = _manager_escalation(acme, eve)
    assert api.patch(f"/api/v1/escalations/{first['id']}/", {"overseer": maya.pk}, format="json").status_code == 200
    workflows.sweep(now=timezone.now() + timedelta(hours=2))
    assert api.get(f"/api/v1/escalations/?ticket={ticket['id']}&trigger=sla-ladder").json()["results"] == []
    with tenant_context(acme):
        [notice] = OutboxEvent.objects.filter(type="escalation.climbed")
    assert notice.payload["overseer"] == maya.pk and notice.payload["climbed_to"] is None
    assert "is at the top of the ladder" in notice.payload["text"]
