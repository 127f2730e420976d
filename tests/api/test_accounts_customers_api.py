"""Contract of /api/v1/accounts/ and /api/v1/customers/: CRUD, roles, tenant isolation."""

from helpdesk.tenancy import tenant_context
from tests.api.helpers import count_in, error_of
from tickets.models import Account, Customer

ACCOUNT = {
    "name": "Initech",
    "plan": "enterprise",
    "vip": True,
    "annual_contract_value": "480000.00",
    "lifetime_value": "2100000.00",
    "customer_since": "2019-03-01",
}


def test_it_creates_and_reads_an_account(api_a_manager, tenant_a):
    created = api_a_manager.post("/api/v1/accounts/", ACCOUNT, format="json")
    assert created.status_code == 201
    body = api_a_manager.get(f"/api/v1/accounts/{created.json()['id']}/").json()
    assert {k: body[k] for k in ACCOUNT} == ACCOUNT
    assert count_in(tenant_a, Account.objects.all) == 1


def test_it_updates_an_account_partially_and_wholly(api_a_manager):
    account = api_a_manager.post("/api/v1/accounts/", ACCOUNT, format="json").json()
    patched = api_a_manager.patch(f"/api/v1/accounts/{account['id']}/", {"vip": False}, format="json").json()
    assert patched["vip"] is False and patched["plan"] == "enterprise"
    replaced = api_a_manager.put(f"/api/v1/accounts/{account['id']}/", {"name": "Initrode"}, format="json").json()
    assert replaced["name"] == "Initrode" and replaced["plan"] == "standard"


def test_it_lets_agents_read_but_not_write_accounts(api_a, api_a_manager, tenant_a):
    account = api_a_manager.post("/api/v1/accounts/", ACCOUNT, format="json").json()
    assert api_a.get(f"/api/v1/accounts/{account['id']}/").status_code == 200
    refused = api_a.post("/api/v1/accounts/", {"name": "Sneaky"}, format="json")
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "permission_denied"
    assert api_a.patch(f"/api/v1/accounts/{account['id']}/", {"vip": False}, format="json").status_code == 403
    with tenant_context(tenant_a):
        assert list(Account.objects.values_list("name", "vip")) == [("Initech", True)]


def test_it_filters_accounts(api_a_manager):
    api_a_manager.post("/api/v1/accounts/", ACCOUNT, format="json")
    api_a_manager.post("/api/v1/accounts/", {"name": "Pied Piper", "plan": "free"}, format="json")
    names = [a["name"] for a in api_a_manager.get("/api/v1/accounts/?vip=true").json()["results"]]
    assert names == ["Initech"]
    names = [a["name"] for a in api_a_manager.get("/api/v1/accounts/?plan=free").json()["results"]]
    assert names == ["Pied Piper"]


def test_it_keeps_accounts_inside_the_tenant(api_a_manager, api_b, tenant_a):
    account = api_a_manager.post("/api/v1/accounts/", ACCOUNT, format="json").json()
    assert api_b.get(f"/api/v1/accounts/{account['id']}/").status_code == 404
    response = api_b.patch(f"/api/v1/accounts/{account['id']}/", {"name": "pwned"}, format="json")
    assert response.status_code == 404
    assert api_b.get("/api/v1/accounts/").json()["results"] == []
    with tenant_context(tenant_a):
        assert Account.objects.get().name == "Initech"


def test_it_creates_a_customer_with_a_lower_cased_email(api_a, tenant_a):
    response = api_a.post(
        "/api/v1/customers/", {"email": "Pat@Example.COM", "name": "Pat", "phone": "+1 555"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["email"], body["name"], body["phone"], body["account"]) == ("pat@example.com", "Pat", "+1 555", None)


def test_it_refuses_a_duplicate_customer_email(api_a, tenant_a):
    api_a.post("/api/v1/customers/", {"email": "pat@example.com"}, format="json")
    response = api_a.post("/api/v1/customers/", {"email": "PAT@example.com"}, format="json")
    assert response.status_code == 409
    assert error_of(response)["fields"] == {"email": ["A customer with this email already exists."]}
    assert count_in(tenant_a, Customer.objects.all) == 1


def test_it_allows_the_same_email_in_two_tenants(api_a, api_b, tenant_a, tenant_b):
    assert api_a.post("/api/v1/customers/", {"email": "pat@example.com"}, format="json").status_code == 201
    assert api_b.post("/api/v1/customers/", {"email": "pat@example.com"}, format="json").status_code == 201


def test_it_refuses_another_tenants_account_on_a_customer(api_a, api_b, tenant_a):
    foreign = api_b.post("/api/v1/accounts/", {"name": "Globex"}, format="json").json()
    response = api_a.post("/api/v1/customers/", {"email": "x@y.test", "account": foreign["id"]}, format="json")
    assert response.status_code == 400
    assert "account" in error_of(response)["fields"]
    assert count_in(tenant_a, Customer.objects.all) == 0


def test_it_keeps_customers_inside_the_tenant(api_a, api_b, tenant_a):
    customer = api_a.post("/api/v1/customers/", {"email": "pat@example.com"}, format="json").json()
    assert api_b.get(f"/api/v1/customers/{customer['id']}/").status_code == 404
    assert api_b.patch(f"/api/v1/customers/{customer['id']}/", {"name": "x"}, format="json").status_code == 404
    with tenant_context(tenant_a):
        assert Customer.objects.get().name == ""


def test_it_filters_customers_by_email(api_a):
    api_a.post("/api/v1/customers/", {"email": "a@x.test"}, format="json")
    api_a.post("/api/v1/customers/", {"email": "b@x.test"}, format="json")
    assert [c["email"] for c in api_a.get("/api/v1/customers/?email=b@x.test").json()["results"]] == ["b@x.test"]
