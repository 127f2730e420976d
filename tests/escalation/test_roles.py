"""The seeds' roles on an escalation (escalation/roles.py): resolver, customer updater, overseer — set through
PATCH /escalations/{id}/ and the escalation card, checked once (an active member of this tenant), audited; the
customer updater receives the update reminders, the overseer the ladder's notices."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from escalation import roles
from escalation.models import Escalation, EscalationRule
from helpdesk import workflows
from helpdesk.models import OutboxEvent, Role
from helpdesk.notifications import dispatcher
from helpdesk.services import membership_create, team_create
from helpdesk.tenancy import tenant_context
from slas import defaults
from tests.api.helpers import create_ticket, error_of
from tests.notifications.conftest import email_channel
from tickets.models import TicketEvent

SUMMARY = {f: f"{f} text" for f in ("problem", "tried", "emotional_state", "desired_outcome", "account_context")}
ROLES = ("resolver", "customer_updater", "overseer")


@pytest.fixture
def floor(tenant_a, alice, bob):
    with tenant_context(tenant_a):
        defaults.install(tenant=tenant_a)
    eng1 = membership_create(tenant=tenant_a, username="eng1", password="pw-eng1-123!", tier=2, skills=["eng"])
    eng2 = membership_create(tenant=tenant_a, username="eng2", password="pw-eng2-123!", tier=2, skills=["eng"])
    team_create(tenant=tenant_a, name="Engineering", skills=["eng"], tier=2, members=[eng1, eng2])
    return {"eng1": eng1, "eng2": eng2}


def _as(member) -> APIClient:
    api = APIClient()
    api.force_login(member.user)
    return api


def _escalated(api, to) -> dict:
    ticket = create_ticket(api)
    body = {"kind": "functional", "reason": "engineering", "target_agent": to.pk, "summary": SUMMARY}
    response = api.post(f"/api/v1/tickets/{ticket['id']}/escalate/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _roles_of(tenant, escalation_id: int) -> dict:
    with tenant_context(tenant):
        row = Escalation.objects.values(*(f"{name}_id" for name in ROLES)).get(pk=escalation_id)
    return {name: row[f"{name}_id"] for name in ROLES}


def test_a_manager_sets_the_three_roles_and_the_change_is_audited(api_a, floor, tenant_a, alice, bob):
    escalation = _escalated(api_a, floor["eng1"])
    assert {name: escalation[name] for name in ROLES} == dict.fromkeys(ROLES)
    body = {"resolver": floor["eng2"].pk, "customer_updater": alice.pk, "overseer": bob.pk}
    response = _as(bob).patch(f"/api/v1/escalations/{escalation['id']}/", body, format="json")
    assert response.status_code == 200, response.content
    assert {name: response.json()[name] for name in ROLES} == body
    assert {name: _as(bob).get(f"/api/v1/escalations/{escalation['id']}/").json()[name] for name in ROLES} == body
    assert _roles_of(tenant_a, escalation["id"]) == body
    with tenant_context(tenant_a):
        [event] = TicketEvent.objects.filter(ticket_id=escalation["ticket"], kind="escalation_roles_set")
    assert event.actor_id == bob.pk
    assert event.before == {"escalation": escalation["id"], **dict.fromkeys(ROLES)}
    assert event.after == {"escalation": escalation["id"], **body}
    # Clearing one is a change too; naming the same people again is none.
    assert (
        _as(bob).patch(f"/api/v1/escalations/{escalation['id']}/", {"overseer": None}, format="json").json()["overseer"]
        is None
    )
    _as(bob).patch(f"/api/v1/escalations/{escalation['id']}/", {"resolver": floor["eng2"].pk}, format="json")
    with tenant_context(tenant_a):
        assert TicketEvent.objects.filter(ticket_id=escalation["ticket"], kind="escalation_roles_set").count() == 2


def test_the_receiver_names_the_resolver_but_not_the_other_roles(api_a, floor, tenant_a, alice):
    escalation = _escalated(api_a, floor["eng1"])
    receiver = _as(floor["eng1"])
    url = f"/api/v1/escalations/{escalation['id']}/"
    assert receiver.patch(url, {"resolver": floor["eng2"].pk}, format="json").status_code == 200
    refused = receiver.patch(url, {"resolver": floor["eng1"].pk, "overseer": alice.pk}, format="json")
    assert refused.status_code == 403 and error_of(refused)["code"] == "permission_denied"
    assert "Only a manager may set overseer, resolver" in error_of(refused)["message"]
    assert _roles_of(tenant_a, escalation["id"]) == {
        "resolver": floor["eng2"].pk,
        "customer_updater": None,
        "overseer": None,
    }


def test_an_agent_who_is_not_the_receiver_sets_no_role(api_a, floor, tenant_a):
    escalation = _escalated(api_a, floor["eng1"])
    response = _as(floor["eng2"]).patch(
        f"/api/v1/escalations/{escalation['id']}/", {"resolver": floor["eng2"].pk}, format="json"
    )
    assert response.status_code == 403
    assert _roles_of(tenant_a, escalation["id"]) == dict.fromkeys(ROLES)


def test_a_member_of_another_tenant_is_400_naming_the_field_and_nothing_is_written(
    api_a, floor, tenant_a, bob, charlie
):
    escalation = _escalated(api_a, floor["eng1"])
    body = {"resolver": floor["eng2"].pk, "overseer": charlie.pk}
    response = _as(bob).patch(f"/api/v1/escalations/{escalation['id']}/", body, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid" and list(error["fields"]) == ["overseer"]
    assert error["fields"]["overseer"] == [roles.ERR_OVERSEER]
    assert _roles_of(tenant_a, escalation["id"]) == dict.fromkeys(ROLES)
    with tenant_context(tenant_a):
        assert not TicketEvent.objects.filter(kind="escalation_roles_set").exists()


def test_an_inactive_member_is_400_naming_the_field(api_a, floor, tenant_a, alice, bob):
    escalation = _escalated(api_a, floor["eng1"])
    with tenant_context(tenant_a):
        alice.active = False
        alice.save(update_fields=["active"])
    response = _as(bob).patch(f"/api/v1/escalations/{escalation['id']}/", {"customer_updater": alice.pk}, format="json")
    assert response.status_code == 400 and list(error_of(response)["fields"]) == ["customer_updater"]
    assert _roles_of(tenant_a, escalation["id"]) == dict.fromkeys(ROLES)


@pytest.mark.parametrize("body", [{}, {"owner": 1}, {"resolver": "eng1"}, {"resolver": 0}, {"overseer": [1]}], ids=str)
def test_bad_bodies_are_400(api_a, floor, tenant_a, bob, body):
    escalation = _escalated(api_a, floor["eng1"])
    response = _as(bob).patch(f"/api/v1/escalations/{escalation['id']}/", body, format="json")
    assert response.status_code == 400 and error_of(response)["fields"]
    assert _roles_of(tenant_a, escalation["id"]) == dict.fromkeys(ROLES)


def test_another_tenants_escalation_is_404_and_nothing_is_written(api_a, api_b, floor, tenant_a, charlie):
    escalation = _escalated(api_a, floor["eng1"])
    response = api_b.patch(f"/api/v1/escalations/{escalation['id']}/", {"overseer": charlie.pk}, format="json")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"
    assert _roles_of(tenant_a, escalation["id"]) == dict.fromkeys(ROLES)


def test_a_resolved_escalations_roles_no_longer_change(api_a, floor, tenant_a, bob):
    escalation = _escalated(api_a, floor["eng1"])
    url = f"/api/v1/escalations/{escalation['id']}/"
    assert _as(bob).post(url + "resolve/", {"resolution": "Fixed."}, format="json").status_code == 200
    response = _as(bob).patch(url, {"overseer": bob.pk}, format="json")
    assert response.status_code == 409
    assert _roles_of(tenant_a, escalation["id"]) == dict.fromkeys(ROLES)


# --- what the roles do --------------------------------------------------------------------------


@pytest.fixture
def acme(db):
    tenant = workflows.tenant_bootstrap(slug="acme", name="Acme Corp")
    with tenant_context(tenant):
        # Only the ladder and the update clock here: the ticket's own breached clocks would fire SLA rules too.
        EscalationRule.objects.filter(trigger="sla_risk").update(active=False)
    email_channel(tenant)
    return tenant


def test_the_customer_updater_is_reminded_and_the_overseer_hears_the_ladder(acme, mailoutbox):
    maya = membership_create(tenant=acme, username="maya", email="maya@acme.test", role=Role.MANAGER, tier=3)
    membership_create(tenant=acme, username="eve", email="eve@acme.test", role=Role.EXECUTIVE, tier=3)
    una = membership_create(tenant=acme, username="una", email="una@acme.test", tier=1)
    otto = membership_create(tenant=acme, username="otto", email="otto@acme.test", role=Role.MANAGER, tier=2)
    api = _as(maya)
    # Urgent runs on the 24/7 calendar: acknowledge within 30 minutes, a customer update every 60 (warned at 75 %).
    ticket = create_ticket(api, subject="Contract terms", description="We need new terms.", priority="urgent")
    body = {"kind": "hierarchical", "reason": "authority", "target_agent": maya.pk, "summary": SUMMARY}
    escalation = api.post(f"/api/v1/tickets/{ticket['id']}/escalate/", body, format="json").json()
    roles = {"customer_updater": una.pk, "overseer": otto.pk}
    assert api.patch(f"/api/v1/escalations/{escalation['id']}/", roles, format="json").status_code == 200

    workflows.sweep(now=timezone.now() + timedelta(minutes=50))
    with tenant_context(acme):
        reminders = list(OutboxEvent.objects.filter(type="owner.reminder", payload__reminder="due_soon"))
        [notice] = OutboxEvent.objects.filter(type="escalation.climbed")
        climbed = Escalation.objects.get(trigger="sla-ladder", ticket_id=ticket["id"])
    assert [r.payload["recipient"] for r in reminders] == [una.pk]
    assert notice.payload["overseer"] == otto.pk and notice.payload["climbed_to"] == climbed.pk
    # The people named to update the customer and to oversee stay on the escalation as it climbs.
    assert (climbed.customer_updater_id, climbed.overseer_id, climbed.resolver_id) == (una.pk, otto.pk, None)
    dispatcher.dispatch()
    [mail] = [m for m in mailoutbox if m.subject.startswith("[Escalation ladder]")]
    assert mail.to == ["otto@acme.test"] and mail.subject == f"[Escalation ladder] [#{ticket['id']}] Contract terms"
    assert f"Escalation #{escalation['id']} was not acknowledged in time: it climbed to level 2" in mail.body
    # The first escalation's opening reminder went to its receiver (no updater was named yet); the period's and
    # the climbed escalation's opening reminder, to the updater.
    update_mails = sorted((m.to[0], m.body) for m in mailoutbox if m.subject.startswith("[Update due]"))
    assert [to for to, _ in update_mails] == ["maya@acme.test", "una@acme.test", "una@acme.test"]
    assert any("is due soon" in body for to, body in update_mails if to == "una@acme.test")


@pytest.mark.parametrize(
    ("role", "who", "says"),
    [
        ("resolver", "bo", "ERR_MEMBER"),  # the self-service bot's seat (an agent at tier 0)
        ("customer_updater", "bo", "ERR_MEMBER"),
        ("overseer", "bo", "ERR_OVERSEER"),
        ("overseer", "alice", "ERR_OVERSEER"),  # an agent does not oversee
        ("customer_updater", "gone", "ERR_MEMBER"),  # a seat whose login was switched off
    ],
)
def test_the_bot_an_agent_as_overseer_or_a_switched_off_login_is_400_and_nothing_is_written(
    api_a, floor, tenant_a, alice, bob, role, who, says
):
    # A tester was offered Bo (the demo's bot) as resolver, overseer and customer updater, and PATCH took it.
    bo = membership_create(tenant=tenant_a, username="bo", tier=0, skills=["self_service"])
    gone = membership_create(tenant=tenant_a, username="gone", tier=1)
    gone.user.is_active = False
    gone.user.save(update_fields=["is_active"])
    member = {"bo": bo, "alice": alice, "gone": gone}[who]
    escalation = _escalated(api_a, floor["eng1"])
    response = _as(bob).patch(f"/api/v1/escalations/{escalation['id']}/", {role: member.pk}, format="json")
    assert response.status_code == 400, response.content
    assert error_of(response)["fields"] == {role: [getattr(roles, says)]}
    assert _roles_of(tenant_a, escalation["id"]) == dict.fromkeys(ROLES)
    with tenant_context(tenant_a):
        assert not TicketEvent.objects.filter(kind="escalation_roles_set").exists()


def test_the_card_offers_people_for_each_role_and_only_managers_to_oversee(api_a, floor, tenant_a, alice, bob):
    membership_create(tenant=tenant_a, username="bo", tier=0, skills=["self_service"])
    eve = membership_create(tenant=tenant_a, username="eve", role=Role.EXECUTIVE, tier=3)
    escalation = _escalated(api_a, floor["eng1"])
    page = _browser("bob", "pw-bob-123!").get(f"/tickets/{escalation['ticket']}/").content.decode()

    def offered(role: str) -> list[str]:
        select = re.search(rf'<select id="{role}-{escalation["id"]}".*?</select>', page, re.S).group(0)
        return re.findall(r'<option value="\d+"[^>]*>(\w+) \(', select)

    assert offered("resolver") == offered("customer_updater") == ["alice", "bob", "eng1", "eng2", "eve"]
    assert offered("overseer") == ["bob", eve.user.username]


# --- the escalation card ------------------------------------------------------------------------


def _browser(username: str, password: str) -> Client:
    client = Client()
    assert client.login(username=username, password=password)
    return client


def test_the_card_shows_the_roles_and_a_manager_sets_them_in_the_browser(api_a, floor, tenant_a, alice, bob):
    escalation = _escalated(api_a, floor["eng1"])
    manager = _browser("bob", "pw-bob-123!")
    page = manager.get(f"/tickets/{escalation['ticket']}/").content.decode()
    assert 'aria-label="Roles"' in page and "<dt>Customer updater</dt>" in page and "the managers" in page
    assert f'<label for="overseer-{escalation["id"]}">Overseer</label>' in page and "Save roles" in page
    response = manager.post(
        f"/escalations/{escalation['id']}/roles/",
        {"resolver": floor["eng2"].pk, "customer_updater": alice.pk, "overseer": "", "next": "/escalations/"},
    )
    assert response.status_code == 302 and response["Location"] == "/escalations/"
    assert _roles_of(tenant_a, escalation["id"]) == {
        "resolver": floor["eng2"].pk,
        "customer_updater": alice.pk,
        "overseer": None,
    }
    page = manager.get(f"/tickets/{escalation['ticket']}/").content.decode()
    assert "<dt>Customer updater</dt><dd>alice</dd>" in page


def test_an_agent_who_is_not_the_receiver_sees_the_roles_but_no_form(api_a, floor, tenant_a, alice):
    escalation = _escalated(api_a, floor["eng1"])
    agent = _browser("alice", "pw-alice-123!")
    page = agent.get(f"/tickets/{escalation['ticket']}/").content.decode()
    assert 'aria-label="Roles"' in page and "Save roles" not in page
    agent.post(f"/escalations/{escalation['id']}/roles/", {"overseer": alice.pk})
    assert _roles_of(tenant_a, escalation["id"]) == dict.fromkeys(ROLES)
    receiver = _browser("eng1", "pw-eng1-123!")
    page = receiver.get(f"/tickets/{escalation['ticket']}/").content.decode()
    assert f'<label for="resolver-{escalation["id"]}">Resolver</label>' in page
    assert f'for="overseer-{escalation["id"]}"' not in page


def test_the_roles_form_of_another_tenants_escalation_is_404(api_a, floor, tenant_a, charlie):
    escalation = _escalated(api_a, floor["eng1"])
    outsider = _browser("charlie", "pw-charlie-123!")
    response = outsider.post(f"/escalations/{escalation['id']}/roles/", {"overseer": charlie.pk})
    assert response.status_code == 404
    assert _roles_of(tenant_a, escalation["id"]) == dict.fromkeys(ROLES)


def _form_as_rendered(page: str, escalation_id: int) -> dict:
    """What a browser submits for the roles form as the page drew it: each select's selected option, else its
    first (the "(default)" one)."""
    values = {}
    for role in ROLES:
        select = re.search(rf'<select id="{role}-{escalation_id}".*?</select>', page, re.S).group(0)
        chosen = re.search(r'<option value="(\d*)" selected>', select) or re.search(r'<option value="(\d*)"', select)
        values[role] = chosen.group(1)
    return values


def test_saving_one_role_keeps_a_stored_member_the_form_no_longer_offers(api_a, floor, tenant_a, alice, bob):
    # A review found it: an agent stored as overseer before only managers could oversee was missing from the list,
    # so the browser sent "(default)" for it, and changing the resolver cleared the overseer.
    escalation = _escalated(api_a, floor["eng1"])
    with tenant_context(tenant_a):
        Escalation.objects.filter(pk=escalation["id"]).update(overseer=alice)  # stored under the old rule
    manager = _browser("bob", "pw-bob-123!")
    page = manager.get(f"/tickets/{escalation['ticket']}/").content.decode()
    form = _form_as_rendered(page, escalation["id"])
    assert form["overseer"] == str(alice.pk)
    manager.post(f"/escalations/{escalation['id']}/roles/", {**form, "resolver": floor["eng2"].pk})
    assert _roles_of(tenant_a, escalation["id"]) == {
        "resolver": floor["eng2"].pk,
        "customer_updater": None,
        "overseer": alice.pk,
    }
