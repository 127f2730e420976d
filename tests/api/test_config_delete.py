"""DELETE of configuration (API.md, Conventions): calendars, SLA policies, escalation rules and webhooks are
removed when nothing refers to them and retired (`active: false`, kept for history) when something does —
204 either way; retired ones leave the default list, are never picked for new work, and what already uses
them keeps working. Managers+ (admins for webhooks); another tenant's object is a 404 and stays as it was."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from escalation.models import Escalation, EscalationRule
from helpdesk.models import AuditEvent, Role
from helpdesk.notifications import dispatcher
from helpdesk.notifications.models import Delivery, WebhookSubscription
from helpdesk.services import api_token_create
from helpdesk.tenancy import tenant_context
from slas.models import BusinessCalendar, SLAPolicy, SlaTimer
from tests.api.helpers import create_ticket, error_of
from tests.notifications.conftest import SECRET, CaptureServer

CALENDAR = {"name": "Support hours", "timezone": "UTC", "hours": {"mon": [["08:00", "18:00"]]}}


@pytest.fixture
def api(bootstrapped_api):
    return bootstrapped_api


@pytest.fixture
def receiver():
    server = CaptureServer()
    yield server
    server.close()


def _client(tenant, role) -> APIClient:
    _, key = api_token_create(tenant=tenant, role=role)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _audit(tenant, kind) -> list[AuditEvent]:
    with tenant_context(tenant):
        return list(AuditEvent.objects.filter(kind=kind))


def _policy(api, name, **overrides):
    calendar = api.get("/api/v1/calendars/?ordering=name").json()["results"][0]["id"]
    body = {"name": name, "calendar": calendar, "targets": {"first_response": 60}, "position": 1, **overrides}
    response = api.post("/api/v1/sla-policies/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _names(api, path: str) -> set[str]:
    response = api.get(path)
    assert response.status_code == 200, response.content
    return {item.get("name") or item.get("url") for item in response.json()["results"]}


# --- calendars ----------------------------------------------------------------------------------------


def test_a_calendar_nothing_uses_is_removed(api):
    calendar = api.post("/api/v1/calendars/", CALENDAR, format="json").json()
    response = api.delete(f"/api/v1/calendars/{calendar['id']}/")
    assert response.status_code == 204 and response.content == b""
    assert api.get(f"/api/v1/calendars/{calendar['id']}/").status_code == 404
    [removed] = _audit(api.tenant, "calendar.removed")
    assert (removed.object_id, removed.before) == (calendar["id"], {"name": "Support hours"})


def test_a_calendar_in_use_is_retired_kept_and_no_longer_offered(api):
    calendar = api.post("/api/v1/calendars/", CALENDAR, format="json").json()
    policy = _policy(api, "Gold", calendar=calendar["id"])
    assert api.delete(f"/api/v1/calendars/{calendar['id']}/").status_code == 204
    kept = api.get(f"/api/v1/calendars/{calendar['id']}/").json()
    assert kept["active"] is False and kept["name"] == "Support hours"
    assert "Support hours" not in _names(api, "/api/v1/calendars/")
    assert _names(api, "/api/v1/calendars/?active=false") == {"Support hours"}
    assert len(_audit(api.tenant, "calendar.retired")) == 1
    # Not offered to a new policy; the policy that has it keeps it (and may say so again).
    refused = api.post(
        "/api/v1/sla-policies/",
        {"name": "Silver", "calendar": calendar["id"], "targets": {"first_response": 60}},
        format="json",
    )
    assert refused.status_code == 400 and list(error_of(refused)["fields"]) == ["calendar"]
    writable = {k: v for k, v in policy.items() if k not in ("id", "created_at", "updated_at")}
    path = f"/api/v1/sla-policies/{policy['id']}/"
    same = api.put(path, {**writable, "targets": {"first_response": 90}}, format="json")
    assert same.status_code == 200, same.content
    assert same.json()["calendar"] == calendar["id"]
    # A PUT that leaves `active` out keeps it retired; saying so brings it back.
    assert api.put(f"/api/v1/calendars/{calendar['id']}/", CALENDAR, format="json").json()["active"] is False
    assert api.patch(f"/api/v1/calendars/{calendar['id']}/", {"active": True}, format="json").json()["active"] is True
    api.patch(f"/api/v1/calendars/{calendar['id']}/", {"active": False}, format="json")
    # A second DELETE of a retired calendar is a no-op.
    assert api.delete(f"/api/v1/calendars/{calendar['id']}/").status_code == 204
    assert len(_audit(api.tenant, "calendar.retired")) == 1


def test_a_retired_account_calendar_is_not_picked_for_new_clocks_while_old_ones_keep_it(api):
    account = api.post("/api/v1/accounts/", {"name": "Nightly Ltd"}, format="json").json()
    api.post("/api/v1/customers/", {"email": "ops@nightly.test", "account": account["id"]}, format="json")
    own = api.post("/api/v1/calendars/", {**CALENDAR, "account": account["id"]}, format="json").json()
    _policy(api, "Per account", clock_source="account", applies_to={"plans": ["standard"]})
    first = create_ticket(api, requester={"email": "ops@nightly.test"})
    assert api.delete(f"/api/v1/calendars/{own['id']}/").status_code == 204
    second = create_ticket(api, requester={"email": "ops@nightly.test"})
    with tenant_context(api.tenant):
        first_clocks = set(SlaTimer.objects.filter(ticket_id=first["id"]).values_list("calendar_id", flat=True))
        second_clocks = set(SlaTimer.objects.filter(ticket_id=second["id"]).values_list("calendar_id", flat=True))
        assert BusinessCalendar.objects.get(pk=own["id"]).active is False
    assert first_clocks == {own["id"]}
    assert own["id"] not in second_clocks and second_clocks


# --- policies -----------------------------------------------------------------------------------------


def test_a_policy_no_clock_used_is_removed(api):
    policy = _policy(api, "Unused", applies_to={"categories": ["never-used"]})
    assert api.delete(f"/api/v1/sla-policies/{policy['id']}/").status_code == 204
    assert api.get(f"/api/v1/sla-policies/{policy['id']}/").status_code == 404
    assert [e.before for e in _audit(api.tenant, "sla_policy.removed")] == [{"name": "Unused"}]


def test_a_policy_in_use_is_retired_and_running_clocks_keep_it(api):
    urgent = next(p for p in api.get("/api/v1/sla-policies/").json()["results"] if p["name"] == "Urgent")
    before = create_ticket(api, priority="urgent")
    with tenant_context(api.tenant):
        clocks = list(SlaTimer.objects.filter(ticket_id=before["id"]).values("id", "policy_id", "due_at", "status"))
    assert {c["policy_id"] for c in clocks} == {urgent["id"]}
    assert api.delete(f"/api/v1/sla-policies/{urgent['id']}/").status_code == 204
    assert api.get(f"/api/v1/sla-policies/{urgent['id']}/").json()["active"] is False
    assert "Urgent" not in _names(api, "/api/v1/sla-policies/")
    after = create_ticket(api, priority="urgent")
    with tenant_context(api.tenant):
        assert list(SlaTimer.objects.filter(ticket_id=before["id"]).values("id", "policy_id", "due_at", "status")) == (
            clocks
        )
        new_policies = set(SlaTimer.objects.filter(ticket_id=after["id"]).values_list("policy_id", flat=True))
        assert SLAPolicy.objects.filter(pk=urgent["id"]).exists()
    assert new_policies and urgent["id"] not in new_policies
    assert api.get(f"/api/v1/tickets/{before['id']}/").json()["sla"] == before["sla"]


# --- escalation rules ---------------------------------------------------------------------------------


def test_a_rule_that_fired_is_retired_and_fires_no_more(api):
    lawyer = "My lawyer will hear about this."
    escalated = create_ticket(api, subject="Angry", description=lawyer)
    with tenant_context(api.tenant):
        rule = EscalationRule.objects.get(slug="legal-threat")
        escalation = Escalation.objects.get(ticket_id=escalated["id"], rule=rule)
    assert api.delete(f"/api/v1/escalation-rules/{rule.pk}/").status_code == 204
    assert api.get(f"/api/v1/escalation-rules/{rule.pk}/").json()["active"] is False
    assert "Legal threat" not in _names(api, "/api/v1/escalation-rules/")
    assert rule.name in _names(api, "/api/v1/escalation-rules/?active=false")
    later = create_ticket(api, subject="Angry again", description=lawyer)
    with tenant_context(api.tenant):
        assert Escalation.objects.get(pk=escalation.pk).rule_id == rule.pk
        assert not Escalation.objects.filter(ticket_id=later["id"], rule=rule).exists()
    assert [e.before["slug"] for e in _audit(api.tenant, "escalation_rule.retired")] == ["legal-threat"]


# --- webhooks -----------------------------------------------------------------------------------------


def test_a_webhook_with_deliveries_is_retired_its_log_kept_and_it_gets_nothing_new(api, receiver):
    hook = {"url": receiver.url, "events": ["ticket.created"], "secret": SECRET}
    unused = api.post("/api/v1/webhooks/", {**hook, "url": receiver.url + "/unused"}, format="json").json()
    used = api.post("/api/v1/webhooks/", hook, format="json")
    assert used.status_code == 201, used.content
    used = used.json()
    api.delete(f"/api/v1/webhooks/{unused['id']}/")  # removed before it received anything
    create_ticket(api)
    dispatcher.dispatch()
    assert len(receiver.wait_for(1)) == 1
    assert api.delete(f"/api/v1/webhooks/{used['id']}/").status_code == 204
    assert api.get(f"/api/v1/webhooks/{used['id']}/").json()["active"] is False
    assert len(api.get(f"/api/v1/webhooks/{used['id']}/deliveries/").json()["results"]) == 1
    assert api.get(f"/api/v1/webhooks/{unused['id']}/").status_code == 404
    create_ticket(api, subject="After the retirement")
    dispatcher.dispatch()
    with tenant_context(api.tenant):
        assert Delivery.objects.filter(webhook_id=used["id"]).count() == 1
    assert [e.kind for e in _audit(api.tenant, "webhook.removed")] == ["webhook.removed"]


# --- who may, and whose ---------------------------------------------------------------------------------


def _one_of_each(api) -> dict[str, int]:
    with tenant_context(api.tenant):
        webhook = WebhookSubscription.objects.create(
            tenant=api.tenant, url="https://hooks.example.com/x", events=["ticket.created"], secret_encrypted="x"
        )
        return {
            "calendars": BusinessCalendar.objects.get(name="24/7").pk,
            "sla-policies": SLAPolicy.objects.get(name="Standard").pk,
            "escalation-rules": EscalationRule.objects.get(slug="legal-threat").pk,
            "webhooks": webhook.pk,
        }


def _all_there_and_active(api, ids: dict[str, int]) -> bool:
    models = {
        "calendars": BusinessCalendar,
        "sla-policies": SLAPolicy,
        "escalation-rules": EscalationRule,
        "webhooks": WebhookSubscription,
    }
    with tenant_context(api.tenant):
        return all(models[name].objects.get(pk=pk).active for name, pk in ids.items())


@pytest.mark.parametrize(
    ("role", "refused"),
    [
        (Role.AGENT, ["calendars", "sla-policies", "escalation-rules", "webhooks"]),
        (Role.MANAGER, ["webhooks"]),
    ],
)
def test_below_the_write_role_delete_is_403_and_changes_nothing(api, role, refused):
    ids = _one_of_each(api)
    client = _client(api.tenant, role)
    for name in refused:
        response = client.delete(f"/api/v1/{name}/{ids[name]}/")
        assert response.status_code == 403, name
        assert error_of(response)["code"] == "permission_denied"
    assert _all_there_and_active(api, ids)
    assert _audit(api.tenant, "calendar.removed") == []


def test_another_tenants_configuration_is_404_and_nothing_is_deleted(api, api_b):
    ids = _one_of_each(api)
    for name, pk in ids.items():
        response = api_b.delete(f"/api/v1/{name}/{pk}/")
        assert response.status_code == 404, name
        assert error_of(response)["code"] == "not_found"
    assert _all_there_and_active(api, ids)
    with tenant_context(api.tenant):
        assert not AuditEvent.objects.exists()
