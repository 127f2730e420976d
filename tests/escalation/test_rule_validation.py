"""One validation of a rule, every door: what the API refuses the admin refuses too (and the reverse), with the
same reasons, and nothing is written. The admin once saved target_role "boss", and intake answered 500."""

from __future__ import annotations

import pytest
from django.test import Client

from escalation.models import EscalationRule
from helpdesk.tenancy import tenant_context
from tests.api.helpers import error_of
from tests.escalation.helpers import rule_form_data

GOOD = {
    "name": "Churn",
    "slug": "churn",
    "trigger": "keyword",
    "conditions": {"keywords": ["cancel my account"]},
    "kind": "hierarchical",
    "target_role": "manager",
}

# (what is wrong, the change to GOOD, the field the API names, the field the admin form names)
BAD = [
    ("an unknown role", {"target_role": "boss"}, "target_role", "target_role"),
    ("an unknown priority", {"priority_override": "sky-high"}, "priority_override", "priority_override"),
    ("an unknown trigger", {"trigger": "full_moon"}, "trigger", "trigger"),
    ("conditions of another shape", {"conditions": {"keywords": []}}, "conditions.keywords", "keyword__keywords"),
    # The form has no way to send a list: its keyword field left empty is what reaches the validation.
    ("conditions that are no object", {"conditions": ["refund"]}, "conditions", "keyword__keywords"),
    ("no target at all", {"target_role": ""}, "target", "__all__"),
    ("a response time of zero", {"response_minutes": 0}, "response_minutes", "response_minutes"),
    ("a notify list of objects", {"notify": [{"role": "manager"}]}, "notify.0", "notify"),
    ("a misspelt recipient", {"notify": ["manger"]}, "notify", "notify"),
    ("a channel of no one", {"notify": ["999999"]}, "notify", "notify"),
]


@pytest.fixture
def as_bob(bob):
    client = Client()
    assert client.login(username="bob", password="pw-bob-123!")
    return client


def _admin_form(body: dict) -> dict:
    return rule_form_data(body)


def _admin_errors(response) -> dict:
    assert response.status_code == 200, response.status_code  # the form again, not a redirect to the list
    form = response.context["adminform"].form
    return {name: [str(m) for m in messages] for name, messages in form.errors.items()}


@pytest.mark.parametrize(("what", "change", "api_field", "form_field"), BAD, ids=[b[0] for b in BAD])
def test_it_refuses_a_bad_rule_through_the_api_and_the_admin_alike(
    api_a_manager, as_bob, tenant_a, what, change, api_field, form_field
):
    body = {**GOOD, **change}
    refused = api_a_manager.post("/api/v1/escalation-rules/", body, format="json")
    assert refused.status_code == 400, refused.content
    assert api_field in error_of(refused)["fields"]

    page = as_bob.post("/admin/escalation/escalationrule/add/", _admin_form(body))
    assert form_field in _admin_errors(page)

    with tenant_context(tenant_a):
        assert not EscalationRule.objects.filter(slug="churn").exists()


def test_it_accepts_the_same_good_rule_through_both_doors(api_a_manager, as_bob, tenant_a):
    created = api_a_manager.post("/api/v1/escalation-rules/", GOOD, format="json")
    assert created.status_code == 201, created.content
    page = as_bob.post("/admin/escalation/escalationrule/add/", _admin_form({**GOOD, "slug": "churn-2"}))
    assert page.status_code == 302, _admin_errors(page)
    with tenant_context(tenant_a):
        stored = {r.slug: r for r in EscalationRule.objects.filter(slug__in=["churn", "churn-2"])}
    assert set(stored) == {"churn", "churn-2"}
    assert stored["churn"].conditions == stored["churn-2"].conditions == {"keywords": ["cancel my account"]}
    assert stored["churn-2"].target_role == "manager"


def test_it_reports_a_taken_slug_as_a_conflict_in_the_api_and_a_form_error_in_the_admin(
    api_a_manager, as_bob, tenant_a
):
    assert api_a_manager.post("/api/v1/escalation-rules/", GOOD, format="json").status_code == 201
    again = api_a_manager.post("/api/v1/escalation-rules/", GOOD, format="json")
    assert again.status_code == 409 and "slug" in error_of(again)["fields"]
    page = as_bob.post("/admin/escalation/escalationrule/add/", _admin_form(GOOD))
    assert "__all__" in _admin_errors(page) or "slug" in _admin_errors(page)
    with tenant_context(tenant_a):
        assert EscalationRule.objects.filter(slug="churn").count() == 1


def test_it_refuses_a_bad_change_made_in_the_admin_to_a_good_rule(api_a_manager, as_bob, tenant_a):
    rule = api_a_manager.post("/api/v1/escalation-rules/", GOOD, format="json").json()
    url = f"/admin/escalation/escalationrule/{rule['id']}/change/"
    page = as_bob.post(url, _admin_form({**GOOD, "target_role": "boss"}))
    assert "target_role" in _admin_errors(page)
    with tenant_context(tenant_a):
        assert EscalationRule.objects.get(pk=rule["id"]).target_role == "manager"
    refused = api_a_manager.patch(f"/api/v1/escalation-rules/{rule['id']}/", {"target_role": "boss"}, format="json")
    assert refused.status_code == 400 and "target_role" in error_of(refused)["fields"]


def test_every_rule_of_the_default_matrix_passes_the_validation(tenant_a):
    from escalation.validation import rule_problems
    from helpdesk import workflows
    from helpdesk.validation import full_check

    workflows.tenant_bootstrap(slug="fresh", name="Fresh")
    from helpdesk.models import Tenant

    fresh = Tenant.objects.get(slug="fresh")
    with tenant_context(fresh):
        rules = list(EscalationRule.objects.all())
        assert len(rules) >= 17
        for rule in rules:
            full_check(rule, rule_problems)
