"""SLA settings in the admin without JSON boxes: a calendar's hours as a week grid, a policy's applies_to and
targets as boxes of their own. Each stores exactly what the API stores for the same body, a page saved unchanged
changes nothing, and a bad value is refused by the one validation with nothing saved."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from helpdesk import workflows
from helpdesk.services import team_create
from helpdesk.tenancy import tenant_context
from slas import defaults
from slas.models import BusinessCalendar, SLAPolicy
from tests.html_forms import posted
from tests.slas.helpers import calendar_form_data, hours_form_data, policy_form_data
from tickets import services as tickets

HOURS = {
    "mon": [["09:00", "12:00"], ["13:00", "17:00"]],
    "tue": [["09:00", "17:00"]],
    "fri": [["22:00", "06:00"]],  # overnight into Saturday
    "sun": [["00:00", "24:00"]],
}
CALENDARS = "/admin/slas/businesscalendar/"
POLICIES = "/admin/slas/slapolicy/"


@pytest.fixture
def as_bob(bob, tenant_a):
    with tenant_context(tenant_a):
        defaults.install(tenant=tenant_a)
    client = Client()
    assert client.login(username="bob", password="pw-bob-123!")
    return client


def _json(value) -> str:
    return json.dumps(value, sort_keys=True)


def _errors(response) -> dict[str, list[str]]:
    assert response.status_code == 200, response.status_code  # the form again: nothing saved
    return {name: [str(m) for m in messages] for name, messages in response.context["adminform"].form.errors.items()}


def _calendar(tenant, name: str) -> BusinessCalendar:
    with tenant_context(tenant):
        return BusinessCalendar.objects.get(name=name)


# --- the week grid ----------------------------------------------------------------------------------------


def test_the_week_grid_shows_the_stored_hours_and_saves_them_back_unchanged(as_bob, tenant_a):
    with tenant_context(tenant_a):
        calendar = workflows.calendar_create(tenant=tenant_a, actor=None, name="Split", timezone="Europe/Berlin",
                                             hours=HOURS)  # fmt: skip
    url = f"{CALENDARS}{calendar.pk}/change/"
    page = as_bob.get(url).content.decode()
    assert 'name="hours-mon-1-end" placeholder="17:00" size="5" type="text" value="17:00"' in page
    assert 'name="hours-mon-2-start"' in page  # a free pair after the day's two intervals
    assert 'aria-label="Friday, interval 1, from"' in page and "<th scope='row'>Sunday</th>" in page

    saved = as_bob.post(url, posted(page, "businesscalendar_form"))

    assert saved.status_code == 302, _errors(saved)
    assert _json(_calendar(tenant_a, "Split").hours) == _json(HOURS)


def test_the_week_grid_stores_the_hours_the_api_stores(api_a_manager, as_bob, tenant_a):
    body = {"name": "By API", "timezone": "Europe/Berlin", "hours": HOURS}
    assert api_a_manager.post("/api/v1/calendars/", body, format="json").status_code == 201

    saved = as_bob.post(f"{CALENDARS}add/", calendar_form_data({**body, "name": "By admin"}))

    assert saved.status_code == 302, _errors(saved)
    assert _json(_calendar(tenant_a, "By admin").hours) == _json(_calendar(tenant_a, "By API").hours) == _json(HOURS)


def test_a_changed_day_in_the_grid_changes_that_day_only(as_bob, tenant_a):
    calendar = _calendar(tenant_a, "Business hours")
    url = f"{CALENDARS}{calendar.pk}/change/"
    form = posted(as_bob.get(url).content.decode(), "businesscalendar_form")
    form.update({"hours-tue-0-start": "10:00", "hours-tue-0-end": "18:00", "hours-sat-1-start": "10:00",
                 "hours-sat-1-end": "14:00"})  # fmt: skip

    assert as_bob.post(url, form).status_code == 302
    weekdays = {day: [["09:00", "17:00"]] for day in ("mon", "wed", "thu", "fri")}
    expected = {**weekdays, "tue": [["10:00", "18:00"]], "sat": [["10:00", "14:00"]]}
    assert _json(_calendar(tenant_a, "Business hours").hours) == _json(expected)


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ({"hours-mon-0-end": "25:00"}, "mon: '25:00' is not a time"),
        ({"hours-mon-0-end": ""}, "mon: '' is not a time"),  # a from without a to
        ({"hours-mon-1-start": "11:00", "hours-mon-1-end": "13:00"}, "mon:"),  # overlaps 09:00-17:00
    ],
    ids=["an hour past 24", "half an interval", "overlapping intervals"],
)
def test_a_bad_time_in_the_grid_is_an_error_naming_the_day_and_nothing_changes(as_bob, tenant_a, typed, says):
    calendar = _calendar(tenant_a, "Business hours")
    before = _json(calendar.hours)
    url = f"{CALENDARS}{calendar.pk}/change/"
    form = {**posted(as_bob.get(url).content.decode(), "businesscalendar_form"), **typed}

    errors = _errors(as_bob.post(url, form))

    assert list(errors) == ["hours"] and says in errors["hours"][0], errors
    assert _json(_calendar(tenant_a, "Business hours").hours) == before


def test_an_empty_grid_is_refused_unless_the_calendar_is_always_open(as_bob, tenant_a):
    empty = calendar_form_data({"name": "Nothing", "timezone": "UTC"})
    assert "no working time" in _errors(as_bob.post(f"{CALENDARS}add/", empty))["hours"][0]
    assert as_bob.post(f"{CALENDARS}add/", {**empty, "always_open": "on"}).status_code == 302
    assert _calendar(tenant_a, "Nothing").hours == {}


def test_the_grid_reads_every_interval_posted_however_many(as_bob, tenant_a):
    shifts = {"wed": [["06:00", "08:00"], ["09:00", "11:00"], ["12:00", "14:00"], ["15:00", "17:00"]]}
    form = {**calendar_form_data({"name": "Shifts", "timezone": "UTC"}), **hours_form_data(shifts)}
    assert as_bob.post(f"{CALENDARS}add/", form).status_code == 302
    assert _calendar(tenant_a, "Shifts").hours == shifts


# --- the policy ---------------------------------------------------------------------------------------------


def _policy(tenant, name: str) -> dict:
    with tenant_context(tenant):
        policy = SLAPolicy.objects.get(name=name)
    return {name: _json(getattr(policy, name)) for name in ("applies_to", "targets", "warn_percent", "on_hold_pauses")}


def test_a_stored_policy_shows_in_its_boxes_and_saves_back_unchanged(as_bob, tenant_a):
    for name in ("Urgent", "VIP", "High", "Standard"):
        before = _policy(tenant_a, name)
        with tenant_context(tenant_a):
            url = f"{POLICIES}{SLAPolicy.objects.get(name=name).pk}/change/"
        page = as_bob.get(url).content.decode()
        saved = as_bob.post(url, posted(page, "slapolicy_form"))
        assert saved.status_code == 302, (name, _errors(saved))
        assert _policy(tenant_a, name) == before, name


def test_the_policy_form_stores_the_policy_the_api_stores(api_a_manager, as_bob, tenant_a):
    calendar = _calendar(tenant_a, "Business hours")
    body = {
        "name": "Gold",
        "position": 5,
        "calendar": calendar.pk,
        "clock_source": "account",
        "applies_to": {"priorities": ["high", "urgent"], "plans": ["enterprise"], "channels": ["phone", "email"],
                       "categories": ["billing", "legal"], "vip": False},
        "targets": {"first_response": 30, "resolution": 480, "escalation_acknowledge": 15, "customer_update": 60},
        "warn_percent": [50, 75],
        "on_hold_pauses": ["resolution", "next_response"],
    }  # fmt: skip
    assert api_a_manager.post("/api/v1/sla-policies/", body, format="json").status_code == 201

    saved = as_bob.post(f"{POLICIES}add/", policy_form_data({**body, "name": "Gold 2"}))

    assert saved.status_code == 302, _errors(saved)
    assert _policy(tenant_a, "Gold 2") == _policy(tenant_a, "Gold")
    assert json.loads(_policy(tenant_a, "Gold 2")["applies_to"])["vip"] is False  # not VIP: a condition too


@pytest.mark.parametrize(
    ("typed", "field", "says"),
    [
        ({"targets__first_response": "soon"}, "targets__first_response", "Enter a number."),
        ({"targets__first_response": "0"}, "targets__first_response", "A whole number of minutes from 1 to"),
        ({"targets__resolution": "90.5"}, "targets__resolution", "A whole number of minutes"),
        ({"applies_to__priorities": ["apocalyptic"]}, "applies_to__priorities", "'apocalyptic' is not allowed"),
        ({"applies_to__vip": "maybe"}, "applies_to__vip", "Must be true, false or null"),
        ({"on_hold_pauses": ["coffee_break"]}, "on_hold_pauses", "'coffee_break' is not a metric"),
    ],
    ids=["a target as text", "a target of zero", "a fraction of a minute", "a forged priority", "a forged vip",
         "a forged clock to pause"],
)  # fmt: skip
def test_a_bad_value_in_the_policy_form_is_refused_and_nothing_changes(as_bob, tenant_a, typed, field, says):
    before = _policy(tenant_a, "High")
    with tenant_context(tenant_a):
        url = f"{POLICIES}{SLAPolicy.objects.get(name='High').pk}/change/"
    form = {**posted(as_bob.get(url).content.decode(), "slapolicy_form"), **typed}

    errors = _errors(as_bob.post(url, form))

    assert any(says in message for message in errors.get(field, [])), errors
    assert _policy(tenant_a, "High") == before


def test_the_sla_forms_offer_nothing_of_another_tenant(as_bob, tenant_a, tenant_b):
    team_create(tenant=tenant_b, name="Globex night shift")
    with tenant_context(tenant_b):
        tickets.ticket_open(tenant=tenant_b, actor=None, subject="Q", description="?", requester_email="b@x.test",
                            category="espionage_leads")  # fmt: skip
        tickets.account_create(tenant=tenant_b, name="Globex Holdings")
        workflows.calendar_create(tenant=tenant_b, actor=None, name="Globex hours", timezone="UTC", always_open=True)
    for url in (f"{POLICIES}add/", f"{CALENDARS}add/"):
        page = as_bob.get(url).content.decode()
        for foreign in ("Globex night shift", "espionage_leads", "Globex Holdings", "Globex hours"):
            assert foreign not in page, (url, foreign)
