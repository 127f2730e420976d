"""An account's manager (the high-value escalation message names them): a member of the same tenant, active,
checked once by the model (tickets.validation.account_problems) for the API and the admin alike."""

from __future__ import annotations

from django.test import Client

from helpdesk.services import membership_create
from helpdesk.tenancy import tenant_context
from tests.api.helpers import error_of
from tickets.models import Account

ADMIN_ACCOUNTS = "/admin/tickets/account/"


def _account(api, **fields):
    body = {"name": "Initech", "plan": "enterprise", **fields}
    return api.post("/api/v1/accounts/", body, format="json")


def _manager_id(tenant, name="Initech"):
    with tenant_context(tenant):
        return Account.objects.filter(name=name).values_list("account_manager_id", flat=True).first()


def test_a_manager_names_the_account_manager_and_reads_it_back(api_a_manager, tenant_a, alice):
    created = _account(api_a_manager, account_manager=alice.pk)
    assert created.status_code == 201, created.content
    assert created.json()["account_manager"] == alice.pk
    account_id = created.json()["id"]
    assert api_a_manager.get(f"/api/v1/accounts/{account_id}/").json()["account_manager"] == alice.pk
    cleared = api_a_manager.patch(f"/api/v1/accounts/{account_id}/", {"account_manager": None}, format="json")
    assert cleared.status_code == 200 and cleared.json()["account_manager"] is None
    assert _manager_id(tenant_a) is None


def test_a_member_of_another_tenant_is_400_naming_the_field_and_nothing_is_written(
    api_a_manager, tenant_a, alice, charlie
):
    response = _account(api_a_manager, account_manager=charlie.pk)
    assert response.status_code == 400
    error = error_of(response)
    assert error["fields"] == {"account_manager": ["Choose an active member of this helpdesk as the account manager."]}
    with tenant_context(tenant_a):
        assert not Account.objects.exists()
    account_id = _account(api_a_manager, account_manager=alice.pk).json()["id"]
    moved = api_a_manager.patch(
        f"/api/v1/accounts/{account_id}/", {"name": "Initrode", "account_manager": charlie.pk}, format="json"
    )
    assert moved.status_code == 400 and list(error_of(moved)["fields"]) == ["account_manager"]
    with tenant_context(tenant_a):
        assert Account.objects.values_list("name", "account_manager_id").get() == ("Initech", alice.pk)


def test_an_inactive_member_is_refused_but_a_stored_one_does_not_block_other_edits(api_a_manager, tenant_a, alice):
    account_id = _account(api_a_manager, account_manager=alice.pk).json()["id"]
    with tenant_context(tenant_a):
        alice.active = False
        alice.save(update_fields=["active"])
    # The stored manager left: renaming the account still works, naming them anew does not.
    renamed = api_a_manager.patch(f"/api/v1/accounts/{account_id}/", {"name": "Initrode"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["account_manager"] == alice.pk
    fresh = _account(api_a_manager, name="Globochem", account_manager=alice.pk)
    assert fresh.status_code == 400 and list(error_of(fresh)["fields"]) == ["account_manager"]


def test_an_agent_token_cannot_name_an_account_manager(api_a, api_a_manager, tenant_a, alice):
    account_id = _account(api_a_manager).json()["id"]
    response = api_a.patch(f"/api/v1/accounts/{account_id}/", {"account_manager": alice.pk}, format="json")
    assert response.status_code == 403
    assert _manager_id(tenant_a) is None


def test_another_tenants_account_is_404(api_a_manager, api_b, tenant_a, alice, charlie):
    account_id = _account(api_a_manager, account_manager=alice.pk).json()["id"]
    response = api_b.patch(f"/api/v1/accounts/{account_id}/", {"account_manager": charlie.pk}, format="json")
    assert response.status_code == 404
    assert _manager_id(tenant_a) == alice.pk


def test_the_admin_offers_this_tenants_members_and_refuses_an_inactive_one(tenant_a, alice, bob, charlie):
    manager = Client()
    assert manager.login(username="bob", password="pw-bob-123!")
    page = manager.get(f"{ADMIN_ACCOUNTS}add/").content.decode()
    assert 'name="account_manager"' in page and "alice" in page and "charlie" not in page
    form = {"name": "Initech", "plan": "enterprise", "annual_contract_value": "0", "lifetime_value": "0"}
    saved = manager.post(f"{ADMIN_ACCOUNTS}add/", {**form, "account_manager": alice.pk})
    assert saved.status_code == 302, saved.content.decode()[:2000]
    assert _manager_id(tenant_a) == alice.pk
    gone = membership_create(tenant=tenant_a, username="dora", tier=1)
    with tenant_context(tenant_a):
        gone.active = False
        gone.save(update_fields=["active"])
    # A deactivated seat is listed (history names it) but refused by the model's one validation, as by the API.
    refused = manager.post(f"{ADMIN_ACCOUNTS}add/", {**form, "name": "Globex", "account_manager": gone.pk})
    assert refused.status_code == 200
    assert "Choose an active member of this helpdesk as the account manager." in refused.content.decode()
    with tenant_context(tenant_a):
        assert not Account.objects.filter(name="Globex").exists()
