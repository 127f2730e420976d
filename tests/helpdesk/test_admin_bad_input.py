"""The admin's JSON fields refuse what the API's parser refuses — text PostgreSQL can't store (NUL, lone
surrogates) and nesting past JSON_MAX_DEPTH — with a form error, never a 500 and never a row."""

import json

import pytest
from django.db import models
from django.test import Client, RequestFactory

from escalation.models import Escalation, EscalationRule
from helpdesk import workflows
from helpdesk.admin import tenant_admin_site
from helpdesk.fields import StorableJSONField
from helpdesk.tenancy import tenant_context
from slas import defaults
from slas.models import BusinessCalendar, SLAPolicy

RULE = {
    "name": "Refunds",
    "slug": "refunds",
    "trigger": "keyword",
    "kind": "functional",
    "target_team": "",
    "target_tier": "2",
    "target_role": "",
    "target_skill": "",
    "response_minutes": "",
    "notify": "[]",
    "priority_override": "",
    "active": "on",
    "position": "100",
}


@pytest.fixture
def as_bob(bob, tenant_a):
    with tenant_context(tenant_a):
        defaults.install(tenant=tenant_a)
    client = Client()
    assert client.login(username="bob", password="pw-bob-123!")
    return client


def _error_text(message: str) -> str:
    # The admin page shows the message HTML-escaped; the backslash of \u0000 stays as it is.
    return message.replace('"', "&quot;")


def test_every_json_field_the_admin_edits_is_the_storable_one():
    request = RequestFactory().get("/admin/")
    seen = []
    for model, model_admin in tenant_admin_site._registry.items():
        for field in model._meta.fields:
            if isinstance(field, models.JSONField):
                form_field = model_admin.formfield_for_dbfield(field, request)
                assert isinstance(form_field, StorableJSONField), f"{model.__name__}.{field.name}"
                seen.append(f"{model.__name__}.{field.name}")
    assert {"EscalationRule.conditions", "SLAPolicy.applies_to", "BusinessCalendar.hours"} <= set(seen)


# The admin asks for a rule's conditions, a calendar's hours and a policy's scope in fields of their own
# (escalation/admin_forms.py, slas/admin_forms.py), not as JSON text: what a person types there is text, and
# text PostgreSQL can't store is refused on the field that holds it.
NUL_TEXT = "re\x00fund"


def test_it_refuses_an_unstorable_keyword_on_its_field(as_bob, tenant_a):
    from tests.escalation.helpers import rule_form_data

    body = {"name": "Refunds", "slug": "refunds", "trigger": "keyword", "kind": "functional", "target_tier": 2}
    form = {**rule_form_data({**body, "conditions": {"keywords": [NUL_TEXT]}})}
    response = as_bob.post("/admin/escalation/escalationrule/add/", form)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert any("Null characters are not allowed" in m or "NUL" in m for ms in errors.values() for m in ms), errors
    with tenant_context(tenant_a):
        assert not EscalationRule.objects.exists()


def test_it_refuses_unstorable_calendar_hours(as_bob, tenant_a):
    from tests.slas.helpers import calendar_form_data

    form = calendar_form_data({"name": "Paris", "timezone": "Europe/Paris", "hours": {"mon": [["09:00", "17:00"]]}})
    form["hours-mon-0-end"] = "17:00\x00"
    response = as_bob.post("/admin/slas/businesscalendar/add/", form)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    with tenant_context(tenant_a):
        assert not BusinessCalendar.objects.filter(name="Paris").exists()


def test_it_refuses_an_unstorable_policy_category(as_bob, tenant_a):
    from tests.slas.helpers import policy_form_data

    with tenant_context(tenant_a):
        calendar = BusinessCalendar.objects.get(name="24/7")
    body = {"name": "Odd", "position": 1, "calendar": calendar.pk, "clock_source": "policy"}
    form = policy_form_data({**body, "applies_to": {"categories": [NUL_TEXT]}, "targets": {"first_response": 60}})
    form.update({"warn_percent": "75", "on_hold_pauses": "resolution"})
    response = as_bob.post("/admin/slas/slapolicy/add/", form)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    with tenant_context(tenant_a):
        assert not SLAPolicy.objects.filter(name="Odd").exists()


def test_it_keeps_an_escalations_summary_out_of_reach_of_the_admins_form(as_bob, bob, tenant_a):
    with tenant_context(tenant_a):
        ticket = workflows.ticket_open(
            tenant=tenant_a, actor=None, subject="Printer", description="Broken", requester_email="p@x.test"
        )
    summary = {name: "x" for name in ("problem", "tried", "emotional_state", "desired_outcome", "account_context")}
    with tenant_context(tenant_a):
        escalation = workflows.escalate_manually(
            ticket=ticket, actor=None, kind="functional", reason="stuck", summary=summary, target_tier=2
        )
        before = Escalation.objects.get(pk=escalation.pk).summary
    url = f"/admin/escalation/escalation/{escalation.pk}/change/"
    form = {
        "summary": json.dumps({**summary, "problem": "\x00"}),
        "reason": "stuck",
        "resolution": "",
        "root_cause": "",
        "return_reason": "",
    }
    # The escalation's change page edits nothing (its lifecycle is buttons): not even a storable summary.
    assert as_bob.post(url, form).status_code == 403
    with tenant_context(tenant_a):
        assert Escalation.objects.get(pk=escalation.pk).summary == before
