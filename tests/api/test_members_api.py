"""/api/v1/members/ (API.md, "Members"): admins add, change and deactivate; every member reads. One
validation for a seat (helpdesk.members), audit rows, tenant isolation (404, nothing written), roles (403)."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate, get_user_model

from helpdesk import workflows
from helpdesk.models import AuditEvent, Membership, OutboxEvent, Role, TeamMember
from helpdesk.services import membership_create, team_create
from helpdesk.tenancy import tenant_context
from tests.api.helpers import count_in, error_of

URL = "/api/v1/members/"
STRONG = "correct-horse-battery-staple-7"


def _new(api, **overrides):
    body = {"username": "dave", "email": "dave@acme.test", "name": "Dave Lister", "password": STRONG, **overrides}
    return api.post(URL, {k: v for k, v in body.items() if v is not None}, format="json")


def _users() -> set[str]:
    return set(get_user_model().objects.values_list("username", flat=True))


def test_an_admin_adds_a_member_who_can_sign_in(api_a_admin, tenant_a):
    team = team_create(tenant=tenant_a, name="Billing", skills=["billing"])
    response = _new(api_a_admin, role="manager", tier=2, skills=["billing", "refunds"], capacity=8, teams=[team.pk])
    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: v for k, v in body.items() if k not in ("id", "created_at")} == {
        "username": "dave",
        "email": "dave@acme.test",
        "name": "Dave Lister",
        "role": "manager",
        "tier": 2,
        "skills": ["billing", "refunds"],
        "capacity": 8,
        "available": True,
        "teams": [team.pk],
        "active": True,
    }
    assert "password" not in body
    assert authenticate(username="dave", password=STRONG) is not None
    with tenant_context(tenant_a):
        event = AuditEvent.objects.get(kind="member.added")
        assert (event.object_type, event.object_id) == ("member", body["id"])
        assert event.actor_label.startswith("token ") and event.after["invited"] is False
        assert STRONG not in str(event.after)
        assert not OutboxEvent.objects.filter(type="member.invited").exists()


def test_it_refuses_a_weak_password_naming_it_and_writes_nothing(api_a_admin, tenant_a):
    response = _new(api_a_admin, password="dave")
    assert response.status_code == 400
    error = error_of(response)
    assert list(error["fields"]) == ["password"]
    assert any("too short" in message for message in error["fields"]["password"])
    assert "dave" not in _users()
    assert count_in(tenant_a, AuditEvent.objects.all) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("tier", 4), ("tier", -1), ("capacity", -1), ("skills", ["not a slug"]), ("role", "owner"), ("username", "a b")],
)
def test_it_refuses_a_seat_the_model_does_not_allow(api_a_admin, tenant_a, field, value):
    response = _new(api_a_admin, **{field: value})
    assert response.status_code == 400, response.content
    # The field, or a path inside it ("skills.0": the item that is no slug).
    assert any(name == field or name.startswith(f"{field}.") for name in error_of(response)["fields"])
    assert count_in(tenant_a, Membership.objects.all) == 0


def test_the_services_apply_the_same_rules_as_the_api(tenant_a):
    from helpdesk.members import MemberError

    with pytest.raises(MemberError) as refused:
        workflows.member_add(tenant=tenant_a, actor=None, username="zed", password=STRONG, tier=7)
    assert list(refused.value.fields) == ["tier"]
    assert "zed" not in _users()


def test_it_refuses_a_username_that_exists_in_another_tenant(api_a_admin, tenant_a, charlie):
    response = _new(api_a_admin, username="charlie", email="charlie@globex.test")
    assert response.status_code == 409
    assert error_of(response)["code"] == "username_taken"
    assert error_of(response)["fields"] == {
        "username": ["This username is taken. Pick another one for the new member."]
    }
    assert count_in(tenant_a, Membership.objects.all) == 0
    assert authenticate(username="charlie", password="pw-charlie-123!") is not None


def test_an_invitation_needs_an_address(api_a_admin, tenant_a):
    response = _new(api_a_admin, password=None, email="")
    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["email"]
    assert "dave" not in _users()


@pytest.mark.parametrize("client", ["api_a", "api_a_manager"])
def test_below_admin_members_read_but_write_nothing(client, request, tenant_a, alice, bob):
    api = request.getfixturevalue(client)
    listed = api.get(URL)
    assert listed.status_code == 200
    assert {m["username"] for m in listed.json()["results"]} == {"alice", "bob"}
    assert api.get(f"{URL}{alice.pk}/").json()["tier"] == 1
    for response in (
        _new(api),
        api.patch(f"{URL}{alice.pk}/", {"tier": 3}, format="json"),
        api.delete(f"{URL}{alice.pk}/"),
    ):
        assert response.status_code == 403
        assert error_of(response)["code"] == "permission_denied"
    assert "dave" not in _users()
    with tenant_context(tenant_a):
        assert Membership.objects.get(pk=alice.pk).tier == 1 and Membership.objects.get(pk=alice.pk).active
        assert not AuditEvent.objects.exists()


def test_another_tenants_member_is_404_and_untouched(api_b, tenant_a, alice):
    path = f"{URL}{alice.pk}/"
    assert api_b.get(path).status_code == 404
    assert api_b.patch(path, {"tier": 3, "email": "evil@globex.test"}, format="json").status_code == 404
    assert api_b.delete(path).status_code == 404
    assert error_of(api_b.get(path))["code"] == "not_found"
    assert api_b.get(URL).json()["results"] == []
    with tenant_context(tenant_a):
        stored = Membership.objects.select_related("user").get(pk=alice.pk)
        assert (stored.tier, stored.active, stored.user.email) == (1, True, "alice@acme.test")


def test_another_tenants_team_is_refused_like_a_missing_one(api_a_admin, tenant_b, alice):
    foreign = team_create(tenant=tenant_b, name="Globex team")
    response = api_a_admin.patch(f"{URL}{alice.pk}/", {"teams": [foreign.pk]}, format="json")
    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["teams"]
    assert count_in(tenant_b, TeamMember.objects.all) == 0


def test_an_admin_changes_a_seat_and_the_audit_shows_what_changed(api_a_admin, tenant_a, alice):
    team = team_create(tenant=tenant_a, name="Tier 2", tier=2)
    response = api_a_admin.patch(
        f"{URL}{alice.pk}/",
        {"tier": 2, "skills": ["billing"], "available": False, "teams": [team.pk], "name": "Alice Liddell"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["tier"], body["skills"], body["available"], body["teams"], body["name"]) == (
        2,
        ["billing"],
        False,
        [team.pk],
        "Alice Liddell",
    )
    with tenant_context(tenant_a):
        event = AuditEvent.objects.get(kind="member.updated", object_id=alice.pk)
    assert event.before == {"name": "", "tier": 1, "skills": [], "available": True, "teams": []}
    assert event.after == {
        "name": "Alice Liddell",
        "tier": 2,
        "skills": ["billing"],
        "available": False,
        "teams": [team.pk],
    }


def test_the_last_admin_cannot_be_demoted_or_deactivated(api_a_admin, tenant_a):
    erin = membership_create(tenant=tenant_a, username="erin", password=STRONG, role=Role.ADMIN, tier=3)
    for response in (
        api_a_admin.patch(f"{URL}{erin.pk}/", {"role": "manager"}, format="json"),
        api_a_admin.patch(f"{URL}{erin.pk}/", {"active": False}, format="json"),
        api_a_admin.delete(f"{URL}{erin.pk}/"),
    ):
        assert response.status_code == 409
        assert error_of(response)["code"] == "last_admin"
    with tenant_context(tenant_a):
        assert Membership.objects.filter(role=Role.ADMIN, active=True).count() == 1
    assert _new(api_a_admin, username="fay", role="admin").status_code == 201
    assert api_a_admin.patch(f"{URL}{erin.pk}/", {"role": "manager"}, format="json").status_code == 200


def test_a_persons_name_and_address_are_theirs_when_they_have_seats_elsewhere(api_a_admin, tenant_a, tenant_b):
    dana = membership_create(tenant=tenant_a, username="dana", email="dana@acme.test", password=STRONG)
    membership_create(tenant=tenant_b, username="dana", password=STRONG)
    response = api_a_admin.patch(f"{URL}{dana.pk}/", {"email": "dana@evil.test"}, format="json")
    assert response.status_code == 409
    assert error_of(response)["code"] == "shared_person"
    assert get_user_model().objects.get(username="dana").email == "dana@acme.test"
    # Her seat here is still the tenant's to change.
    assert api_a_admin.patch(f"{URL}{dana.pk}/", {"tier": 2}, format="json").status_code == 200


def test_delete_deactivates_and_history_keeps_the_name(api_a_admin, tenant_a, alice, bob):
    from tests.api.helpers import create_ticket

    ticket = create_ticket(api_a_admin)
    assert (
        api_a_admin.patch(f"/api/v1/tickets/{ticket['id']}/", {"assignee": alice.pk}, format="json").status_code == 200
    )
    response = api_a_admin.delete(f"{URL}{alice.pk}/")
    assert response.status_code == 204 and response.content == b""
    body = api_a_admin.get(f"{URL}{alice.pk}/").json()
    assert (body["username"], body["active"]) == ("alice", False)
    assert api_a_admin.get(f"{URL}?active=true").json()["results"][0]["username"] == "bob"
    assert api_a_admin.get(f"/api/v1/tickets/{ticket['id']}/").json()["assignee"] == alice.pk
    with tenant_context(tenant_a):
        assert AuditEvent.objects.filter(kind="member.deactivated", object_id=alice.pk).count() == 1
    # Idempotent: a second DELETE changes nothing and records nothing.
    assert api_a_admin.delete(f"{URL}{alice.pk}/").status_code == 204
    with tenant_context(tenant_a):
        assert AuditEvent.objects.filter(object_id=alice.pk).count() == 1


def test_a_deactivated_member_receives_no_routed_escalation(api_a_admin, tenant_a, alice, bob):
    from escalation import routing

    with tenant_context(tenant_a):
        assert routing.route(target_tier=1).agent.pk == alice.pk
    api_a_admin.delete(f"{URL}{alice.pk}/")
    with tenant_context(tenant_a):
        assert routing.route(target_tier=1).agent.pk == bob.pk


def test_a_deactivated_member_is_given_no_new_work(api_a_admin, tenant_a, alice):
    from tests.api.helpers import create_ticket

    ticket = create_ticket(api_a_admin)
    api_a_admin.delete(f"{URL}{alice.pk}/")
    assigned = api_a_admin.patch(f"/api/v1/tickets/{ticket['id']}/", {"assignee": alice.pk}, format="json")
    assert assigned.status_code == 400 and list(error_of(assigned)["fields"]) == ["assignee"]
    summary = dict.fromkeys(("problem", "tried", "emotional_state", "desired_outcome", "account_context"), "x")
    body = {"kind": "functional", "reason": "r", "target_agent": alice.pk, "summary": summary}
    escalated = api_a_admin.post(f"/api/v1/tickets/{ticket['id']}/escalate/", body, format="json")
    assert escalated.status_code == 400 and list(error_of(escalated)["fields"]) == ["target_agent"]
    assert api_a_admin.get(f"/api/v1/tickets/{ticket['id']}/").json()["assignee"] is None


def test_a_deactivated_member_can_no_longer_use_the_desk(client, api_a_admin, alice):
    assert client.login(username="alice", password="pw-alice-123!")
    assert client.get("/api/v1/me/").json()["username"] == "alice"
    api_a_admin.delete(f"{URL}{alice.pk}/")
    assert client.get("/api/v1/me/").status_code in (401, 403)


def test_it_filters_members(api_a, tenant_a, alice, bob):
    team = team_create(tenant=tenant_a, name="Billing", members=[bob])
    with tenant_context(tenant_a):
        workflows.member_update(membership=alice, actor=None, skills=["legal"], available=False)
        workflows.member_update(membership=bob, actor=None, skills=["billing"])

    def names(query: str) -> list[str]:
        response = api_a.get(f"{URL}?{query}")
        assert response.status_code == 200, response.content
        return sorted(m["username"] for m in response.json()["results"])

    assert names("role=manager") == ["bob"]
    assert names("tier=1") == ["alice"]
    assert names("skill=legal") == ["alice"]
    assert names(f"team={team.pk}") == ["bob"]
    assert names("available=false") == ["alice"]
    assert names("active=true") == ["alice", "bob"]
    assert list(error_of(api_a.get(f"{URL}?role=owner"))["fields"]) == ["role"]


# --- /me/ and `me` in filters -------------------------------------------------------------------------


def test_me_is_the_callers_member_record(client, alice, tenant_a):
    client.login(username="alice", password="pw-alice-123!")
    body = client.get("/api/v1/me/").json()
    assert body["principal"] == "member"
    assert (body["id"], body["username"], body["role"], body["tier"]) == (alice.pk, "alice", "agent", 1)
    assert body["user"] == "alice" and body["token"] is None
    assert body["tenant"] == {"id": tenant_a.pk, "slug": "acme", "name": "Acme Corp"}


def test_me_says_plainly_that_a_token_is_no_person(api_a, tenant_a):
    body = api_a.get("/api/v1/me/").json()
    assert body["principal"] == "token"
    assert body["id"] is None and body["username"] is None and body["teams"] is None
    assert body["role"] == "agent" and body["tenant"]["slug"] == "acme"
    assert api_a.token_key.startswith(body["token"])


def test_assignee_me_lists_the_callers_tickets(client, api_a_admin, alice, bob):
    from tests.api.helpers import create_ticket

    mine = create_ticket(api_a_admin, subject="Mine")
    create_ticket(api_a_admin, subject="Bob's")
    api_a_admin.patch(f"/api/v1/tickets/{mine['id']}/", {"assignee": alice.pk}, format="json")
    client.login(username="alice", password="pw-alice-123!")
    response = client.get("/api/v1/tickets/?assignee=me")
    assert response.status_code == 200, response.content
    assert [t["id"] for t in response.json()["results"]] == [mine["id"]]
    assert [t["id"] for t in client.get(f"/api/v1/tickets/?assignee={alice.pk}").json()["results"]] == [mine["id"]]


def test_me_in_a_filter_is_a_400_for_a_token(api_a):
    for path in ("/api/v1/tickets/?assignee=me", "/api/v1/escalations/?agent=me"):
        response = api_a.get(path)
        assert response.status_code == 400, path
        field = "assignee" if "assignee" in path else "agent"
        assert list(error_of(response)["fields"]) == [field]
        assert "integration" in error_of(response)["fields"][field][0]


def test_escalations_filter_by_agent(bootstrapped_api):
    from tests.api.helpers import create_ticket

    tenant = bootstrapped_api.tenant
    tim = workflows.member_add(tenant=tenant, actor=None, username="tim", password=STRONG, tier=2)
    ticket = create_ticket(bootstrapped_api)
    summary = dict.fromkeys(("problem", "tried", "emotional_state", "desired_outcome", "account_context"), "x")
    escalated = bootstrapped_api.post(
        f"/api/v1/tickets/{ticket['id']}/escalate/",
        {"kind": "functional", "reason": "needs tim", "target_agent": tim.pk, "summary": summary},
        format="json",
    )
    assert escalated.status_code == 201, escalated.content
    listed = bootstrapped_api.get(f"/api/v1/escalations/?agent={tim.pk}").json()["results"]
    assert [e["id"] for e in listed] == [escalated.json()["id"]]
    assert bootstrapped_api.get("/api/v1/escalations/?agent=999999").status_code == 400
