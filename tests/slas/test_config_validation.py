"""One validation of a calendar and of a policy, every door: the API, the admin and the services refuse the same
values for the same reasons, and nothing is written. The admin's JSON boxes take any JSON at all; a shape the
API could never send (hours as a number) once reached the clock's arithmetic and answered 500."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from helpdesk import workflows
from helpdesk.tenancy import tenant_context
from slas import defaults
from slas.models import BusinessCalendar, SLAPolicy
from tests.api.helpers import error_of
from tests.slas.helpers import calendar_form_data, policy_form_data

CALENDAR = {"name": "Support", "timezone": "Europe/Berlin", "hours": {"mon": [["09:00", "17:00"]]}}
# (what is wrong, the change, the path the API and the services name, the field the admin's form names)
BAD_CALENDARS = [
    ("hours as a number", {"hours": 5}, "hours", "hours"),
    ("a day as a number", {"hours": {"mon": 5}}, "hours.mon", "hours"),
    ("an interval as a number", {"hours": {"mon": [5]}}, "hours.mon", "hours"),
    ("an unknown zone", {"timezone": "Mars/Olympus"}, "timezone", "timezone"),
    ("no working time", {"hours": {}}, "hours", "hours"),
]
# The admin's form field: None where its widgets have no way to send the value at all (no box for a metric that
# does not exist, no way to make applies_to a list); "__all__" where the policy's validation names a part of a
# JSON field the form asks for in several boxes.
BAD_POLICIES = [
    ("applies_to as a list", {"applies_to": ["vip"]}, "applies_to", None),
    (
        "an unknown priority",
        {"applies_to": {"priorities": ["apocalyptic"]}},
        "applies_to.priorities.0",
        "applies_to__priorities",
    ),
    ("a target as text", {"targets": {"first_response": "soon"}}, "targets.first_response", "targets__first_response"),
    ("an unknown metric", {"targets": {"coffee_break": 10}}, "targets.coffee_break", None),
    ("no targets", {"targets": {}}, "targets", "__all__"),
    (
        "a year of minutes",
        {"targets": {"first_response": 9_999_999}},
        "targets.first_response",
        "targets__first_response",
    ),
]


@pytest.fixture
def manager_client(client, bob, tenant_a):
    with tenant_context(tenant_a):
        defaults.install(tenant=tenant_a)
    assert client.login(username="bob", password="pw-bob-123!")
    return client


@pytest.fixture
def calendar_id(tenant_a, manager_client):
    with tenant_context(tenant_a):
        return BusinessCalendar.objects.get(name="24/7").pk


def _form_errors(response) -> dict:
    assert response.status_code == 200, response.status_code  # the form again: nothing saved
    return dict(response.context["adminform"].form.errors)


def _policy(calendar_id: int, **changes) -> dict:
    body = {
        "name": "Gold",
        "calendar": calendar_id,
        "clock_source": "policy",
        "applies_to": {"vip": True},
        "targets": {"first_response": 60},
        "warn_percent": [75],
        "on_hold_pauses": ["resolution"],
        "position": 1,
    }
    return {**body, **changes}


@pytest.mark.parametrize(("what", "change", "path", "form_field"), BAD_CALENDARS, ids=[b[0] for b in BAD_CALENDARS])
def test_it_refuses_a_bad_calendar_at_every_door(
    api_a_manager, manager_client, tenant_a, what, change, path, form_field
):
    body = {**CALENDAR, **change}
    refused = api_a_manager.post("/api/v1/calendars/", body, format="json")
    assert refused.status_code == 400 and path in error_of(refused)["fields"], refused.content

    form = calendar_form_data(body)
    assert form_field in _form_errors(manager_client.post("/admin/slas/businesscalendar/add/", form))

    with tenant_context(tenant_a), pytest.raises(ValidationError) as raised:
        workflows.calendar_create(tenant=tenant_a, actor=None, **body)
    assert path in raised.value.message_dict
    with tenant_context(tenant_a):
        assert not BusinessCalendar.objects.filter(name="Support").exists()


@pytest.mark.parametrize(("what", "change", "path", "form_field"), BAD_POLICIES, ids=[b[0] for b in BAD_POLICIES])
def test_it_refuses_a_bad_policy_at_every_door(
    api_a_manager, manager_client, calendar_id, tenant_a, what, change, path, form_field
):
    body = _policy(calendar_id, **change)
    refused = api_a_manager.post("/api/v1/sla-policies/", body, format="json")
    assert refused.status_code == 400 and path in error_of(refused)["fields"], refused.content

    if form_field is not None:
        assert form_field in _form_errors(manager_client.post("/admin/slas/slapolicy/add/", policy_form_data(body)))

    with tenant_context(tenant_a):
        calendar = BusinessCalendar.objects.get(pk=calendar_id)
        with pytest.raises(ValidationError) as raised:
            workflows.policy_create(tenant=tenant_a, actor=None, **{**body, "calendar": calendar})
        assert path in raised.value.message_dict
        assert not SLAPolicy.objects.filter(name="Gold").exists()


def test_it_stores_the_same_good_policy_from_the_api_and_the_admin(
    api_a_manager, manager_client, calendar_id, tenant_a
):
    assert api_a_manager.post("/api/v1/sla-policies/", _policy(calendar_id), format="json").status_code == 201
    form = policy_form_data(_policy(calendar_id, name="Gold 2"))
    assert manager_client.post("/admin/slas/slapolicy/add/", form).status_code == 302
    with tenant_context(tenant_a):
        api_made, admin_made = SLAPolicy.objects.filter(name__in=["Gold", "Gold 2"]).order_by("name")
    for name in ("applies_to", "targets", "warn_percent", "on_hold_pauses", "calendar_id"):
        assert getattr(api_made, name) == getattr(admin_made, name), name


def test_every_default_calendar_and_policy_passes_the_validation(tenant_a):
    from helpdesk.validation import full_check
    from slas.validation import calendar_problems, policy_problems

    with tenant_context(tenant_a):
        defaults.install(tenant=tenant_a)
        for calendar in BusinessCalendar.objects.all():
            full_check(calendar, calendar_problems)
        for policy in SLAPolicy.objects.select_related("calendar"):
            full_check(policy, policy_problems)
