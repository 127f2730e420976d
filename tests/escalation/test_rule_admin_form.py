"""The rule form in the admin: every trigger asks for its own fields (chips, numbers, ticked boxes), built from
the trigger definitions, and saves exactly the rule the same API body saves; a bad value is an error on the field
that holds it, from the rule's one validation, and nothing is saved; targets and recipients are the tenant's own,
labelled by name."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from escalation import triggers
from escalation.admin_forms import CONDITION_FIELDS, STORED_FIELDS, condition_field
from escalation.models import EscalationRule
from helpdesk.models import Role
from helpdesk.notifications.models import NotificationChannel
from helpdesk.services import membership_create, team_create
from helpdesk.tenancy import tenant_context
from slas import defaults
from tests.escalation.helpers import RULE_ADD_URL, rule_form_data
from tests.html_forms import posted
from tickets import services as tickets

COMMON = {"kind": "hierarchical", "target_role": "manager", "response_minutes": 45, "notify": ["manager"],
          "to_call": True, "priority_override": "high", "position": 7}  # fmt: skip
# API.md's example of every trigger (escalation.triggers.TRIGGER_DOCS), and the other shapes the fields take.
EXAMPLES = [(trigger, dict(doc.example)) for trigger, doc in triggers.TRIGGER_DOCS.items()] + [
    ("sla_risk", {"breached": True, "metrics": ["resolution", "first_response"]}),
    ("value", {"plans": ["business", "enterprise"], "lifetime_value_gte": 2500.5}),
    ("time_open", {"business_hours": 1.5}),
    ("sentiment", {"below": 0}),
    ("manager_request", {"phrases": ["your boss", "someone in charge"]}),
    ("keyword", {"keywords": ["cancel my account", "Chargeback", "refund"]}),
    ("repeat_contact", {"tickets": 4, "days": 7}),
    ("dispute", {"amount_gte": "250000", "currency": "JPY"}),  # the form offers the currency (the API's default: USD)
]


@pytest.fixture
def as_bob(bob, tenant_a):
    with tenant_context(tenant_a):
        defaults.install(tenant=tenant_a)  # the policies' warning thresholds: 75 and 90
    client = Client()
    assert client.login(username="bob", password="pw-bob-123!")
    return client


def _stored(tenant, slug: str) -> dict:
    with tenant_context(tenant):
        rule = EscalationRule.objects.get(slug=slug)
    values = {name: getattr(rule, name) for name in STORED_FIELDS if name not in ("slug", "conditions")}
    # As JSON text: 4 and 4.0 are equal in Python, not in the stored JSON.
    return {**values, "conditions": json.dumps(rule.conditions, sort_keys=True)}


def _errors(response) -> dict[str, list[str]]:
    assert response.status_code == 200, response.status_code  # the form again: nothing saved
    return {name: [str(m) for m in messages] for name, messages in response.context["adminform"].form.errors.items()}


def test_every_key_of_every_trigger_has_its_field():
    expected = {condition_field(t, key) for t, keys in triggers._ALLOWED_KEYS.items() for key in keys}
    assert set(CONDITION_FIELDS) == expected
    assert set(triggers.CONDITION_KEYS) == set(triggers.TRIGGERS) == set(triggers.TRIGGER_DOCS)


@pytest.mark.parametrize("trigger", list(triggers.TRIGGER_DOCS))
def test_each_triggers_example_is_a_rule_the_validation_accepts(trigger):
    example = triggers.TRIGGER_DOCS[trigger].example
    assert triggers.validate_conditions(trigger, example) == dict(example)


@pytest.mark.parametrize(("trigger", "conditions"), EXAMPLES, ids=[f"{t}-{i}" for i, (t, _) in enumerate(EXAMPLES)])
def test_each_triggers_form_saves_the_rule_the_api_body_saves(api_a_manager, as_bob, tenant_a, trigger, conditions):
    body = {"name": f"Rule on {trigger}", "trigger": trigger, "conditions": conditions, **COMMON}
    created = api_a_manager.post("/api/v1/escalation-rules/", {**body, "slug": "by-api"}, format="json")
    assert created.status_code == 201, created.content

    page = as_bob.post(RULE_ADD_URL, rule_form_data({**body, "slug": "by-admin"}))
    assert page.status_code == 302, _errors(page)

    assert _stored(tenant_a, "by-admin") == _stored(tenant_a, "by-api")


@pytest.mark.parametrize(("trigger", "conditions"), EXAMPLES, ids=[f"{t}-{i}" for i, (t, _) in enumerate(EXAMPLES)])
def test_a_stored_rule_shows_in_its_triggers_fields_and_saves_back_unchanged(
    api_a_manager, as_bob, tenant_a, trigger, conditions
):
    body = {"name": "Stored", "slug": "stored", "trigger": trigger, "conditions": conditions, **COMMON}
    rule = api_a_manager.post("/api/v1/escalation-rules/", body, format="json").json()
    before = _stored(tenant_a, "stored")
    url = f"/admin/escalation/escalationrule/{rule['id']}/change/"
    page = as_bob.get(url).content.decode()

    again = as_bob.post(url, posted(page, "escalationrule_form"))

    assert again.status_code == 302, _errors(again)
    assert _stored(tenant_a, "stored") == before


def test_changing_the_trigger_keeps_only_the_new_triggers_conditions(api_a_manager, as_bob, tenant_a):
    body = {"name": "Refunds", "slug": "refunds", "trigger": "keyword", "conditions": {"keywords": ["refund"]}}
    rule = api_a_manager.post("/api/v1/escalation-rules/", {**body, **COMMON}, format="json").json()
    url = f"/admin/escalation/escalationrule/{rule['id']}/change/"
    form = posted(as_bob.get(url).content.decode(), "escalationrule_form")

    page = as_bob.post(url, {**form, "trigger": "sentiment", "sentiment__below": "-0.3"})

    assert page.status_code == 302, _errors(page)
    with tenant_context(tenant_a):
        changed = EscalationRule.objects.get(pk=rule["id"])
    assert (changed.trigger, changed.conditions) == ("sentiment", {"below": -0.3})


# (what is wrong, the trigger, what the manager entered, the field that says so, what it says)
BAD_WIDGETS = [
    ("a sentiment outside -1..1", "sentiment", {"sentiment__below": "2"}, "sentiment__below", "below: must be in"),
    ("a sentiment that is no number", "sentiment", {"sentiment__below": "low"}, "sentiment__below", "Enter a number."),
    ("no keywords", "keyword", {"keyword__keywords": ""}, "keyword__keywords", "keywords: is required"),
    ("a keyword without letters", "keyword", {"keyword__keywords": "refund\n!!!"}, "keyword__keywords",
     "keywords: item 1 ('!!!') has no letters or digits"),
    ("a repeat threshold of one ticket", "repeat_contact",
     {"repeat_contact__tickets": "1", "repeat_contact__days": "30"},
     "repeat_contact__tickets", "tickets: must be between 2 and"),
    ("a fraction of a follow-up", "follow_ups", {"follow_ups__count": "2.5"}, "follow_ups__count",
     "count: must be a whole number"),
    ("a category that is no slug", "category", {"category__categories": "legal\nNot a slug!"}, "category__categories",
     "categories: item 1 ('Not a slug!') is not a slug"),
    ("a plan nobody sells (forged)", "value", {"value__plans": ["platinum"]}, "value__plans",
     "plans: item 0 ('platinum') is not one of"),
    ("a percent between the thresholds", "sla_risk", {"sla_risk__percent": "80"}, "sla_risk__percent",
     "percent: clocks are checked at their policies' warning thresholds (75, 90 %)"),
    ("a tier above 3 (forged)", "time_open", {"time_open__business_hours": "4", "time_open__tier": "7"},
     "time_open__tier", "tier: must be between 0 and 3"),
    ("a value rule with nothing to match", "value", {}, "__all__", triggers.VALUE_NEEDS_ONE),
    ("both a percent and breached", "sla_risk", {"sla_risk__percent": "75", "sla_risk__breached": "on"}, "__all__",
     triggers.SLA_RISK_NEEDS_ONE),
]  # fmt: skip


@pytest.mark.parametrize(("what", "trigger", "entered", "field", "says"), BAD_WIDGETS, ids=[b[0] for b in BAD_WIDGETS])
def test_a_bad_value_is_an_error_on_its_field_and_nothing_is_saved(
    as_bob, tenant_a, what, trigger, entered, field, says
):
    form = {**rule_form_data({"name": "Bad", "slug": "bad", "trigger": trigger, **COMMON}), **entered}

    errors = _errors(as_bob.post(RULE_ADD_URL, form))

    assert any(says in message for message in errors.get(field, [])), errors
    assert set(errors) == {field}, errors  # said once, where it belongs
    with tenant_context(tenant_a):
        assert not EscalationRule.objects.filter(slug="bad").exists()


def test_the_form_shows_each_triggers_fields_with_its_doc_and_example(as_bob):
    page = as_bob.get(RULE_ADD_URL).content.decode().replace("&#x27;", "'")
    for trigger, doc in triggers.TRIGGER_DOCS.items():
        assert f'class="module aligned trigger-conditions trigger-{trigger}"' in page, trigger
        assert f"Fires when {doc.fires_when}." in page, trigger
    assert "Example: <b>Keywords: refund, lawsuit</b>" in page
    assert 'data-fill-example="{&quot;keyword__keywords&quot;: [&quot;refund&quot;, &quot;lawsuit&quot;]}"' in page
    assert "four business hours" in page  # the seeds' words
    assert 'name="keyword__keywords"' in page and "data-chips" in page
    assert "/static/helpdesk/admin_forms.js" in page
    assert "<script>" not in page and "onclick" not in page  # nothing inline (Content-Security-Policy)
    assert "(this desk's: 75, 90)" in page  # the thresholds an sla_risk percent may take


# --- targets and recipients: the tenant's own, by name ---------------------------------------------------------


@pytest.fixture
def people(tenant_a, tenant_b, alice, charlie):
    sam = membership_create(tenant=tenant_a, username="sam", first_name="Sam", last_name="Billing",
                            role=Role.AGENT, tier=2, skills=["billing", "refunds"])  # fmt: skip
    billing = team_create(tenant=tenant_a, name="Billing", tier=2, skills=["billing", "refunds"])
    spies = team_create(tenant=tenant_b, name="Globex Spies", tier=3, skills=["espionage"])
    dora = membership_create(tenant=tenant_b, username="dora", first_name="Dora", role=Role.AGENT, skills=["sabotage"])
    with tenant_context(tenant_a):
        pager = NotificationChannel.objects.create(tenant=tenant_a, name="Ops pager", kind="json")
        tickets.ticket_open(tenant=tenant_a, actor=None, subject="Q", description="?", requester_email="a@x.test",
                            category="invoices")  # fmt: skip
    with tenant_context(tenant_b):
        NotificationChannel.objects.create(tenant=tenant_b, name="Globex hotline", kind="json")
        tickets.ticket_open(tenant=tenant_b, actor=None, subject="Q", description="?", requester_email="b@x.test",
                            category="espionage_leads")  # fmt: skip
    return {"sam": sam, "billing": billing, "spies": spies, "dora": dora, "pager": pager}


def test_it_offers_the_tenants_teams_skills_people_and_channels_by_name(as_bob, people):
    page = as_bob.get(RULE_ADD_URL).content.decode()
    assert f'<option value="{people["billing"].pk}">Billing (tier 2, billing, refunds)</option>' in page
    assert '<option value="refunds">refunds</option>' in page
    assert f'value="user:{people["sam"].pk}"' in page and "Sam Billing (agent, tier 2, billing, refunds)" in page
    assert f'value="team:{people["billing"].pk}"' in page and f'value="{people["pager"].pk}"' in page
    assert "Ops pager (json)" in page
    assert '<option value="invoices">' in page  # the tenant's categories, suggested
    assert " @ " not in page  # no "sam @ 1 (agent, tier 2)" labels


def test_it_never_offers_another_tenants_teams_skills_people_channels_or_categories(as_bob, people, charlie):
    page = as_bob.get(RULE_ADD_URL).content.decode()
    for foreign in ("Globex Spies", "espionage", "Dora", "sabotage", "charlie", "Globex hotline", "espionage_leads"):
        assert foreign not in page, foreign
    for foreign_id in (f"team:{people['spies'].pk}", f"user:{people['dora'].pk}", f"user:{charlie.pk}"):
        assert f'value="{foreign_id}"' not in page


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p, c: {"target_team": str(p["spies"].pk), "target_role": ""}, "target_team"),
        (lambda p, c: {"notify": [f"user:{c.pk}"]}, "notify"),
        (lambda p, c: {"notify": [f"team:{p['spies'].pk}"]}, "notify"),
    ],
    ids=["another tenants team as target", "another tenants member to notify", "another tenants team to notify"],
)
def test_it_refuses_another_tenants_team_or_member_posted_anyway(as_bob, tenant_a, people, charlie, change, field):
    form = {**rule_form_data({"name": "Sneaky", "slug": "sneaky", "trigger": "manager_request", **COMMON}),
            **change(people, charlie)}  # fmt: skip

    errors = _errors(as_bob.post(RULE_ADD_URL, form))

    assert field in errors, errors
    with tenant_context(tenant_a):
        assert not EscalationRule.objects.filter(slug="sneaky").exists()


def test_the_api_refuses_another_tenants_member_to_notify_too(api_a_manager, tenant_a, charlie):
    body = {"name": "Sneaky", "slug": "sneaky", "trigger": "manager_request", **COMMON}
    body["notify"] = [f"user:{charlie.pk}"]
    refused = api_a_manager.post("/api/v1/escalation-rules/", body, format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"]["notify"] == [f"'user:{charlie.pk}' names no team or person of this desk."]
    with tenant_context(tenant_a):
        assert not EscalationRule.objects.filter(slug="sneaky").exists()


def test_the_matrix_lists_each_rules_conditions_in_words_and_its_team_by_name(api_a_manager, as_bob, people):
    body = {"name": "Refunds", "slug": "refunds", "trigger": "keyword",
            "conditions": {"keywords": ["refund", "chargeback"]},
            **COMMON, "target_role": "", "target_team": people["billing"].pk}  # fmt: skip
    assert api_a_manager.post("/api/v1/escalation-rules/", body, format="json").status_code == 201
    page = as_bob.get("/admin/escalation/escalationrule/").content.decode()
    assert "Keywords: refund, chargeback" in page
    assert ">Billing</a>" in page or ">Billing<" in page
