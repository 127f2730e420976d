"""Escalations through the API: manual escalation with the summary, routing, the lifecycle."""

import pytest

from escalation.models import Escalation
from helpdesk.models import OutboxEvent, Role
from helpdesk.services import membership_create, team_create
from helpdesk.tenancy import tenant_context
from slas import defaults
from tests.api.helpers import count_in, create_ticket, error_of
from tickets.models import Message, TicketEvent

SUMMARY = {
    "problem": "Nightly export fails with HTTP 500 since yesterday.",
    "tried": "Restarted the job, cleared the cache; same error.",
    "emotional_state": "Frustrated, finance close is blocked.",
    "desired_outcome": "Export working before Friday's close.",
    "account_context": "Initech, enterprise, VIP since 2019.",
}


@pytest.fixture
def floor(tenant_a, alice, bob):
    """Tenant A with SLA defaults, an engineering team of two tier-2/3 engineers, and billing."""
    with tenant_context(tenant_a):
        defaults.install(tenant=tenant_a)
    eng1 = membership_create(
        tenant=tenant_a, username="eng1", role=Role.AGENT, tier=2, skills=["engineering"], capacity=5
    )
    eng2 = membership_create(
        tenant=tenant_a, username="eng2", role=Role.AGENT, tier=3, skills=["engineering"], capacity=5
    )
    team = team_create(tenant=tenant_a, name="Engineering", skills=["engineering"], tier=2, members=[eng1, eng2])
    return {"team": team, "eng1": eng1, "eng2": eng2}


def _escalate(api, ticket_id, **overrides):
    body = {"kind": "functional", "reason": "needs engineering", "target_tier": 2, "summary": SUMMARY}
    body.update(overrides)
    return api.post(f"/api/v1/tickets/{ticket_id}/escalate/", body, format="json")


def test_a_manual_escalation_routes_to_the_least_loaded_engineer(api_a, floor, tenant_a, alice):
    ticket = create_ticket(api_a)
    api_a.patch(f"/api/v1/tickets/{ticket['id']}/", {"assignee": alice.pk}, format="json")
    response = _escalate(api_a, ticket["id"], target_team=floor["team"].pk, target_tier=None)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "functional" and body["status"] == "requested" and body["trigger"] == "manual"
    assert body["summary"] == SUMMARY and body["summary_drafted"] is False
    assert body["team"] == floor["team"].pk
    assert body["agent"] in {floor["eng1"].pk, floor["eng2"].pk}
    assert body["from_tier"] == 1 and body["to_tier"] == 2
    assert body["response_due_at"] is not None
    assert {t["metric"] for t in body["sla"]} == {
        "escalation_acknowledge",
        "escalation_first_response",
        "customer_update",
    }
    ticket_after = api_a.get(f"/api/v1/tickets/{ticket['id']}/").json()
    assert ticket_after["escalated"] is True and ticket_after["escalation_count"] == 1
    assert ticket_after["assignee"] == body["agent"] and ticket_after["tier"] == 2
    with tenant_context(tenant_a):
        assert TicketEvent.objects.filter(ticket_id=ticket["id"], kind="escalated").count() == 1
        assert OutboxEvent.objects.filter(type="escalation.created").count() == 1


def test_routing_spreads_escalations_round_robin(api_a, floor):
    agents = []
    for n in range(4):
        ticket = create_ticket(api_a, subject=f"t{n}")
        agents.append(_escalate(api_a, ticket["id"], target_team=floor["team"].pk, target_tier=None).json()["agent"])
    assert agents.count(floor["eng1"].pk) == 2 and agents.count(floor["eng2"].pk) == 2


def test_routing_skips_an_unavailable_agent(api_a, floor, tenant_a):
    with tenant_context(tenant_a):
        floor["eng1"].available = False
        floor["eng1"].save()
    for n in range(2):
        ticket = create_ticket(api_a, subject=f"t{n}")
        assert _escalate(api_a, ticket["id"], target_team=floor["team"].pk, target_tier=None).json()["agent"] == (
            floor["eng2"].pk
        )


def test_nobody_available_leaves_it_in_the_team_queue(api_a, floor, tenant_a):
    with tenant_context(tenant_a):
        for key in ("eng1", "eng2"):
            floor[key].available = False
            floor[key].save()
    ticket = create_ticket(api_a)
    body = _escalate(api_a, ticket["id"], target_team=floor["team"].pk, target_tier=None).json()
    assert body["team"] == floor["team"].pk and body["agent"] is None


@pytest.mark.parametrize("missing", ["problem", "tried", "emotional_state", "desired_outcome", "account_context"])
def test_a_manual_escalation_needs_all_five_summary_fields(api_a, floor, tenant_a, missing):
    ticket = create_ticket(api_a)
    summary = {**SUMMARY, missing: "  "}
    response = _escalate(api_a, ticket["id"], summary=summary)
    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == [f"summary.{missing}"]
    assert count_in(tenant_a, Escalation.objects.all) == 0


def test_a_manual_escalation_needs_exactly_one_target(api_a, floor, tenant_a):
    ticket = create_ticket(api_a)
    response = _escalate(api_a, ticket["id"], target_team=floor["team"].pk, target_tier=2)
    assert response.status_code == 400
    assert "target" in error_of(response)["fields"]
    assert count_in(tenant_a, Escalation.objects.all) == 0


def test_a_closed_ticket_cannot_be_escalated(api_a, floor, tenant_a):
    ticket = create_ticket(api_a)
    api_a.patch(f"/api/v1/tickets/{ticket['id']}/", {"status": "closed"}, format="json")
    response = _escalate(api_a, ticket["id"])
    assert response.status_code == 409
    assert error_of(response)["code"] == "ticket_closed"
    assert count_in(tenant_a, Escalation.objects.all) == 0


def test_the_lifecycle_acknowledge_then_resolve_with_feedback(api_a, floor, tenant_a, alice):
    ticket = create_ticket(api_a)
    api_a.patch(f"/api/v1/tickets/{ticket['id']}/", {"assignee": alice.pk}, format="json")
    escalation = _escalate(api_a, ticket["id"]).json()
    url = f"/api/v1/escalations/{escalation['id']}/"
    acked = api_a.post(url + "acknowledge/").json()
    assert acked["status"] == "acknowledged" and acked["acknowledged_at"]
    assert {t["metric"]: t["status"] for t in acked["sla"]}["escalation_acknowledge"] == "met"
    twice = api_a.post(url + "acknowledge/")
    assert twice.status_code == 409
    resolved = api_a.post(
        url + "resolve/", {"resolution": "Patched the exporter", "root_cause": "Null date"}, format="json"
    ).json()
    assert resolved["status"] == "resolved" and resolved["root_cause"] == "Null date"
    assert api_a.get(f"/api/v1/tickets/{ticket['id']}/").json()["escalated"] is False
    with tenant_context(tenant_a):
        note = Message.objects.get(ticket_id=ticket["id"], author_type="system", internal=True)
        assert note.internal and "Root cause: Null date" in note.body
        assert OutboxEvent.objects.filter(type="escalation.feedback").count() == 1


def test_a_bounceback_returns_the_ticket_to_its_sender(api_a, floor, tenant_a, alice):
    ticket = create_ticket(api_a)
    api_a.patch(f"/api/v1/tickets/{ticket['id']}/", {"assignee": alice.pk}, format="json")
    escalation = _escalate(api_a, ticket["id"]).json()
    url = f"/api/v1/escalations/{escalation['id']}/"
    returned = api_a.post(url + "return/", {"reason": "Which export? Attach the job id."}, format="json").json()
    assert returned["status"] == "returned" and returned["return_reason"].startswith("Which export")
    after = api_a.get(f"/api/v1/tickets/{ticket['id']}/").json()
    assert (after["tier"], after["assignee"], after["escalated"]) == (1, alice.pk, False)
    refused = api_a.post(url + "resolve/", {"resolution": "x"}, format="json")
    assert refused.status_code == 409


def test_de_escalation_goes_down_only(api_a, floor):
    ticket = create_ticket(api_a)
    escalation = _escalate(api_a, ticket["id"], target_tier=3, target_team=None).json()
    url = f"/api/v1/escalations/{escalation['id']}/de-escalate/"
    assert api_a.post(url, {"reason": "x", "to_tier": 3}, format="json").status_code == 400
    body = api_a.post(url, {"reason": "A config issue tier 1 can handle", "to_tier": 1}, format="json").json()
    assert body["status"] == "de_escalated"
    assert api_a.get(f"/api/v1/tickets/{ticket['id']}/").json()["tier"] == 1


def test_a_re_escalation_is_counted(api_a, floor):
    ticket = create_ticket(api_a)
    first = _escalate(api_a, ticket["id"]).json()
    api_a.post(f"/api/v1/escalations/{first['id']}/resolve/", {"resolution": "done"}, format="json")
    api_a.patch(f"/api/v1/tickets/{ticket['id']}/", {"status": "open"}, format="json")
    second = _escalate(api_a, ticket["id"]).json()
    assert second["cycle"] == 1
    assert api_a.get(f"/api/v1/tickets/{ticket['id']}/").json()["escalation_count"] == 2


def test_an_agent_reply_meets_the_escalation_response_clocks(api_a, floor):
    ticket = create_ticket(api_a)
    escalation = _escalate(api_a, ticket["id"]).json()
    api_a.post(f"/api/v1/tickets/{ticket['id']}/messages/", {"body": "Engineering is on it."}, format="json")
    sla = {t["metric"]: t for t in api_a.get(f"/api/v1/escalations/{escalation['id']}/").json()["sla"]}
    assert sla["escalation_first_response"]["status"] == "met"
    assert sla["escalation_acknowledge"]["status"] == "running"
    # The customer's update is owed every hour while the escalation is open: the reply met this hour's.
    update = sla["customer_update"]
    assert (update["status"], update["met_periods"], update["misses"]) == ("running", 1, 0)


def test_escalations_stay_inside_the_tenant(api_a, api_b, floor, tenant_a):
    ticket = create_ticket(api_a)
    escalation = _escalate(api_a, ticket["id"]).json()
    assert api_b.get(f"/api/v1/escalations/{escalation['id']}/").status_code == 404
    assert api_b.post(f"/api/v1/escalations/{escalation['id']}/acknowledge/").status_code == 404
    assert _escalate(api_b, ticket["id"]).status_code == 404
    assert api_b.get("/api/v1/escalations/").json()["results"] == []
    with tenant_context(tenant_a):
        assert Escalation.objects.get().status == "requested"


def test_escalating_to_another_tenants_team_is_refused(api_a, api_b, floor, tenant_a):
    ticket = create_ticket(api_b)
    response = _escalate(api_b, ticket["id"], target_team=floor["team"].pk, target_tier=None)
    assert response.status_code == 400
    assert "target_team" in error_of(response)["fields"]


def test_escalations_filter_by_status_and_kind(api_a, floor):
    one = _escalate(api_a, create_ticket(api_a, subject="a")["id"]).json()
    _escalate(api_a, create_ticket(api_a, subject="b")["id"], kind="hierarchical").json()
    api_a.post(f"/api/v1/escalations/{one['id']}/acknowledge/")
    acked = api_a.get("/api/v1/escalations/?status=acknowledged").json()["results"]
    hierarchical = api_a.get("/api/v1/escalations/?kind=hierarchical").json()["results"]
    assert [e["id"] for e in acked] == [one["id"]]
    assert [e["kind"] for e in hierarchical] == ["hierarchical"]


def test_a_routine_escalation_tells_the_customer_at_each_milestone(api_a, floor, tenant_a):
    ticket = create_ticket(api_a)
    escalation = _escalate(api_a, ticket["id"]).json()
    api_a.post(f"/api/v1/escalations/{escalation['id']}/acknowledge/")
    api_a.post(f"/api/v1/escalations/{escalation['id']}/resolve/", {"resolution": "Fixed the exporter."}, format="json")
    thread = api_a.get(f"/api/v1/tickets/{ticket['id']}/messages/").json()["results"]
    public_system = [m["body"] for m in thread if m["author_type"] == "system" and not m["internal"]]
    assert len(public_system) == 3
    assert "won't need to repeat anything" in public_system[0]
    assert public_system[2].endswith("Fixed the exporter.")
    with tenant_context(tenant_a):
        milestones = sorted(
            OutboxEvent.objects.filter(type="customer.update").values_list("payload__milestone", flat=True)
        )
    assert milestones == ["acknowledged", "escalated", "resolved"]


def test_a_tenant_can_word_its_own_milestone_messages(api_a, floor, tenant_a):
    tenant_a.settings = {"customer_templates": {"escalated": "Ahoy {customer}, #{ticket} went up the chain."}}
    tenant_a.save()
    ticket = create_ticket(api_a)
    _escalate(api_a, ticket["id"])
    bodies = [m["body"] for m in api_a.get(f"/api/v1/tickets/{ticket['id']}/messages/").json()["results"]]
    assert f"Ahoy Pat, #{ticket['id']} went up the chain." in bodies


def test_a_high_stakes_escalation_sends_nothing_automatic_and_reminds_the_owner(api_a, floor, tenant_a):
    ticket = create_ticket(api_a)
    escalation = _escalate(api_a, ticket["id"], kind="hierarchical").json()
    thread = api_a.get(f"/api/v1/tickets/{ticket['id']}/messages/").json()["results"]
    assert [m for m in thread if m["author_type"] == "system" and not m["internal"]] == []
    with tenant_context(tenant_a):
        reminder = OutboxEvent.objects.get(type="owner.reminder")
    assert reminder.payload["escalation"] == escalation["id"]
    assert reminder.payload["recipient"] == escalation["agent"]
    assert reminder.payload["due_at"] is not None


def _refund(api, ticket_id, amount):
    return api.post(
        f"/api/v1/tickets/{ticket_id}/refunds/", {"amount": amount, "reason": "double charge"}, format="json"
    )


def test_a_refund_within_the_tier_limit_is_recorded(client, floor, tenant_a, alice):
    client.login(username="alice", password="pw-alice-123!")
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_login(alice.user)
    ticket = create_ticket(api)
    response = _refund(api, ticket["id"], "40.00")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "approved" and response.json()["limit"] == "50.00"
    with tenant_context(tenant_a):
        assert TicketEvent.objects.filter(ticket_id=ticket["id"], kind="refund_approved").count() == 1
        assert Escalation.objects.count() == 0


def test_a_refund_above_the_tier_limit_becomes_a_hierarchical_escalation(floor, tenant_a, alice, bob):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_login(alice.user)
    ticket = create_ticket(api)
    response = _refund(api, ticket["id"], "900.00")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "needs_approval"
    escalation = body["escalation"]
    assert (escalation["kind"], escalation["trigger"]) == ("hierarchical", "authority-limit")
    assert escalation["agent"] == bob.pk  # the manager
    assert "900.00" in escalation["summary"]["desired_outcome"]
    with tenant_context(tenant_a):
        assert not TicketEvent.objects.filter(ticket_id=ticket["id"], kind="refund_approved").exists()


def test_a_manager_approves_a_larger_refund_alone(floor, tenant_a, bob):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_login(bob.user)
    ticket = create_ticket(api)
    assert _refund(api, ticket["id"], "900.00").status_code == 201


def test_a_refund_on_another_tenants_ticket_is_404_and_writes_nothing(api_a, api_b, floor, tenant_a):
    ticket = create_ticket(api_a)
    response = _refund(api_b, ticket["id"], "10.00")
    assert response.status_code == 404
    with tenant_context(tenant_a):
        assert not TicketEvent.objects.filter(ticket_id=ticket["id"], kind__startswith="refund").exists()


def test_a_bad_refund_amount_is_400(api_a, floor):
    ticket = create_ticket(api_a)
    assert _refund(api_a, ticket["id"], "-5").status_code == 400
    assert _refund(api_a, ticket["id"], "lots").status_code == 400


def _as(member):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_login(member.user)
    return api


def test_only_the_receiver_or_a_manager_moves_an_escalation(api_a, floor, tenant_a, bob):
    ticket = create_ticket(api_a)
    escalation = _escalate(api_a, ticket["id"], target_team=floor["team"].pk, target_tier=None).json()
    receiver = floor["eng1"] if escalation["agent"] == floor["eng1"].pk else floor["eng2"]
    colleague = floor["eng2"] if receiver is floor["eng1"] else floor["eng1"]
    url = f"/api/v1/escalations/{escalation['id']}/"
    for action, body in [("acknowledge/", None), ("resolve/", {"resolution": "x"}), ("return/", {"reason": "y"})]:
        refused = _as(colleague).post(url + action, body, format="json")
        assert refused.status_code == 403, (action, refused.content)
        assert error_of(refused)["code"] == "permission_denied"
        assert "its receiver or a manager" in error_of(refused)["message"]
    with tenant_context(tenant_a):
        row = Escalation.objects.get(pk=escalation["id"])
        assert (row.status, row.acknowledged_at, row.resolution) == ("requested", None, "")
        assert not TicketEvent.objects.filter(ticket_id=ticket["id"], kind__startswith="escalation_").exists()
    assert _as(receiver).post(url + "acknowledge/").json()["status"] == "acknowledged"
    resolved = _as(bob).post(url + "resolve/", {"resolution": "Fixed by the manager"}, format="json")
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"


def test_a_queued_escalation_is_picked_up_by_someone_at_its_tier_in_its_team(api_a, floor, tenant_a, alice):
    with tenant_context(tenant_a):
        for member in (floor["eng1"], floor["eng2"]):
            member.available = False
            member.save()
    ticket = create_ticket(api_a)
    escalation = _escalate(api_a, ticket["id"], target_team=floor["team"].pk, target_tier=None).json()
    assert escalation["agent"] is None
    url = f"/api/v1/escalations/{escalation['id']}/acknowledge/"
    refused = _as(alice).post(url)  # tier 1, not in Engineering
    assert refused.status_code == 403
    assert "an agent at its tier and team, or a manager" in error_of(refused)["message"]
    picked = _as(floor["eng1"]).post(url)
    assert picked.status_code == 200, picked.content
    assert (picked.json()["status"], picked.json()["agent"]) == ("acknowledged", floor["eng1"].pk)


def test_only_the_receivers_reply_meets_the_escalations_first_response(api_a, floor, tenant_a, alice):
    from slas.models import SlaTimer

    ticket = create_ticket(api_a)
    escalation = _escalate(api_a, ticket["id"], target_team=floor["team"].pk, target_tier=None).json()
    receiver = floor["eng1"] if escalation["agent"] == floor["eng1"].pk else floor["eng2"]

    def clocks():
        with tenant_context(tenant_a):
            rows = SlaTimer.objects.filter(escalation_id=escalation["id"])
            return {t.metric: t.status for t in rows}

    url = f"/api/v1/tickets/{ticket['id']}/messages/"
    assert _as(alice).post(url, {"body": "Our engineers are on it."}, format="json").status_code == 201
    assert clocks() == {
        "escalation_acknowledge": "running",
        "escalation_first_response": "running",
        "customer_update": "running",  # its period met, the next one started
    }
    assert _as(receiver).post(url, {"body": "Found it: a null date."}, format="json").status_code == 201
    assert clocks()["escalation_first_response"] == "met"


def test_an_escalation_suggests_who_resolved_similar_tickets(api_a, api_b, floor, tenant_a, alice, bob):
    from tickets import services as tickets_services

    solved = []
    for subject, category in [("Nightly export fails", "export"), ("Export of invoices broken", ""), ("Login", "")]:
        ticket = create_ticket(api_a, subject=subject, category=category)
        solved.append(ticket["id"])
    with tenant_context(tenant_a):
        from tickets.models import Ticket

        for ticket_id, owner in zip(solved, [floor["eng2"], floor["eng2"], alice], strict=True):
            row = Ticket.objects.get(pk=ticket_id)
            tickets_services.ticket_update(ticket=row, actor=None, assignee=owner)
            tickets_services.ticket_change_status(ticket=row, actor=None, status="solved")
    current = create_ticket(api_a, subject="The export fails again", category="export")
    escalation = _escalate(api_a, current["id"], target_tier=None, target_agent=bob.pk).json()
    url = f"/api/v1/escalations/{escalation['id']}/collaborators/"
    body = api_a.get(url).json()
    assert body == [
        {"member": floor["eng2"].pk, "name": "eng2", "tier": 3, "resolved_similar": 2, "examples": solved[1::-1]}
    ]
    assert api_b.get(url).status_code == 404


def test_solving_the_ticket_ends_its_open_escalations_and_their_clocks(api_a, floor, tenant_a):
    """A tester found "Awaiting acknowledgement" full of solved tickets whose escalations were still
    requested, their clocks running towards breaches: solving a ticket now resolves them (not on reopen)."""
    ticket = create_ticket(api_a)
    first = _escalate(api_a, ticket["id"], target_team=floor["team"].pk, target_tier=None).json()
    second = _escalate(api_a, ticket["id"], kind="hierarchical", target_tier=3, target_team=None).json()
    api_a.post(f"/api/v1/escalations/{first['id']}/acknowledge/")
    response = api_a.patch(f"/api/v1/tickets/{ticket['id']}/", {"status": "solved"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["escalated"] is False
    for escalation_id in (first["id"], second["id"]):
        body = api_a.get(f"/api/v1/escalations/{escalation_id}/").json()
        assert body["status"] == "resolved"
        assert body["resolution"].startswith("Ended with the ticket: solved by token ")
        assert all(clock["status"] != "running" for clock in body["sla"]), body["sla"]
    with tenant_context(tenant_a):
        ended = TicketEvent.objects.filter(ticket_id=ticket["id"], kind="escalation_resolved")
        assert sorted(e.after["escalation"] for e in ended) == sorted([first["id"], second["id"]])
        notes = Message.objects.filter(ticket_id=ticket["id"], internal=True, body__startswith="Escalation #")
        assert notes.count() == 2
    api_a.post(f"/api/v1/tickets/{ticket['id']}/reopen/", {"reason": "not fixed"}, format="json")
    assert api_a.get(f"/api/v1/escalations/{first['id']}/").json()["status"] == "resolved"


def test_an_escalation_never_routes_to_the_person_escalating(floor, tenant_a, alice):
    """A tester's tier-1 agent escalated an unassigned ticket to her own tier and got it back herself."""
    from helpdesk import workflows
    from helpdesk.auth import Principal
    from tests.workspace.conftest import open_ticket

    ticket = open_ticket(tenant_a, category="engineering")
    eng1 = floor["eng1"]
    with tenant_context(tenant_a):
        workflows.ticket_update(ticket=ticket, actor=None, assignee=alice)
        escalation = workflows.escalate_manually(
            ticket=ticket,
            actor=Principal(tenant=tenant_a, role=eng1.role, membership=eng1),
            kind="functional",
            reason="needs a second pair of eyes",
            summary=SUMMARY,
            target_team=floor["team"],
        )
    # eng1 has less load (tier 2, nothing open) and would be chosen by anyone else; eng1 is the one escalating.
    assert escalation.agent_id == floor["eng2"].pk
