"""Contract of /api/v1/calendars/ and /api/v1/sla-policies/: CRUD, validation, roles, tenancy."""

import pytest

from helpdesk.tenancy import tenant_context
from slas.models import BusinessCalendar, SLAPolicy
from tests.api.helpers import count_in, error_of

CALENDAR = {
    "name": "Berlin office",
    "timezone": "Europe/Berlin",
    "hours": {"mon": [["09:00", "12:00"], ["13:00", "17:00"]], "fri": [["09:00", "15:00"]]},
    "holidays": ["2026-12-24"],
    "country": "DE",
    "subdivision": "BY",
}


def _calendar(api, **overrides):
    response = api.post("/api/v1/calendars/", {**CALENDAR, **overrides}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _policy_body(calendar_id, **overrides):
    body = {
        "name": "Gold",
        "calendar": calendar_id,
        "applies_to": {"plans": ["enterprise"], "vip": True},
        "targets": {"first_response": 60, "resolution": 480},
        "warn_percent": [50, 90],
        "position": 5,
    }
    body.update(overrides)
    return body


def test_it_creates_and_reads_a_calendar(api_a_manager):
    created = _calendar(api_a_manager)
    body = api_a_manager.get(f"/api/v1/calendars/{created['id']}/").json()
    assert body["hours"] == CALENDAR["hours"]
    assert (body["timezone"], body["country"], body["subdivision"]) == ("Europe/Berlin", "DE", "BY")
    assert body["holidays"] == ["2026-12-24"]


def test_it_creates_an_always_open_calendar_without_hours(api_a_manager):
    body = _calendar(api_a_manager, name="24/7 NOC", hours={}, country="", subdivision="", always_open=True)
    assert body["always_open"] is True


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"hours": {"mon": [["22:00", "06:00"]], "tue": [["05:00", "09:00"]]}}, "hours"),
        ({"hours": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}}, "hours.mon"),
        ({"hours": {"mon": [["09:00", "09:00"]]}}, "hours.mon"),
        ({"hours": {"mon": [["9am", "5pm"]]}}, "hours.mon"),
        ({"hours": {"funday": [["09:00", "17:00"]]}}, "hours"),
        ({"hours": {}}, "hours"),
        ({"country": "XX"}, "country"),
        ({"subdivision": "ZZ"}, "subdivision"),
        ({"holidays": ["not-a-date"]}, "holidays"),
    ],
)
def test_it_rejects_a_bad_calendar(api_a_manager, tenant_a, overrides, field):
    response = api_a_manager.post("/api/v1/calendars/", {**CALENDAR, **overrides}, format="json")
    assert response.status_code == 400
    fields = error_of(response)["fields"]
    assert any(name == field or name.startswith(f"{field}.") for name in fields), fields
    assert count_in(tenant_a, BusinessCalendar.objects.all) == 0


def test_it_creates_a_policy(api_a_manager, tenant_a):
    calendar = _calendar(api_a_manager)
    response = api_a_manager.post("/api/v1/sla-policies/", _policy_body(calendar["id"]), format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["targets"] == {"first_response": 60, "resolution": 480}
    assert body["warn_percent"] == [50, 90]
    assert body["applies_to"] == {"plans": ["enterprise"], "vip": True}


def test_it_accepts_a_single_warning_percentage(api_a_manager):
    calendar = _calendar(api_a_manager)
    body = api_a_manager.post(
        "/api/v1/sla-policies/", _policy_body(calendar["id"], warn_percent=80), format="json"
    ).json()
    assert body["warn_percent"] == [80]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"targets": {"first_response": -5}}, "targets.first_response"),
        ({"targets": {"first_response": 600_000}}, "targets.first_response"),
        ({"targets": {"coffee_break": 10}}, "targets.coffee_break"),
        ({"targets": {}}, "targets"),
        ({"warn_percent": 150}, "warn_percent"),
        ({"warn_percent": ["x"]}, "warn_percent"),
        ({"applies_to": {"priorities": ["apocalyptic"]}}, "applies_to.priorities.0"),
        ({"applies_to": {"moon_phase": "full"}}, "applies_to.moon_phase"),
        ({"calendar": 999999}, "calendar"),
        ({"clock_source": "sundial"}, "clock_source"),
    ],
)
def test_it_rejects_a_bad_policy(api_a_manager, tenant_a, overrides, field):
    calendar = _calendar(api_a_manager)
    response = api_a_manager.post("/api/v1/sla-policies/", _policy_body(calendar["id"], **overrides), format="json")
    assert response.status_code == 400
    assert field in error_of(response)["fields"], error_of(response)
    assert count_in(tenant_a, SLAPolicy.objects.all) == 0


def test_it_refuses_a_duplicate_policy_name(api_a_manager, tenant_a):
    calendar = _calendar(api_a_manager)
    api_a_manager.post("/api/v1/sla-policies/", _policy_body(calendar["id"]), format="json")
    response = api_a_manager.post("/api/v1/sla-policies/", _policy_body(calendar["id"]), format="json")
    assert response.status_code == 409
    assert count_in(tenant_a, SLAPolicy.objects.all) == 1


def test_agents_read_but_do_not_write_sla_settings(api_a, api_a_manager, tenant_a):
    calendar = _calendar(api_a_manager)
    assert api_a.get(f"/api/v1/calendars/{calendar['id']}/").status_code == 200
    refused = api_a.patch(f"/api/v1/calendars/{calendar['id']}/", {"timezone": "UTC"}, format="json")
    assert refused.status_code == 403
    assert api_a.post("/api/v1/sla-policies/", _policy_body(calendar["id"]), format="json").status_code == 403
    with tenant_context(tenant_a):
        assert BusinessCalendar.objects.get().timezone == "Europe/Berlin"
        assert SLAPolicy.objects.count() == 0


def test_sla_settings_stay_inside_the_tenant(api_a_manager, api_b, tenant_a):
    calendar = _calendar(api_a_manager)
    policy = api_a_manager.post("/api/v1/sla-policies/", _policy_body(calendar["id"]), format="json").json()
    assert api_b.get(f"/api/v1/calendars/{calendar['id']}/").status_code == 404
    assert api_b.patch(f"/api/v1/sla-policies/{policy['id']}/", {"name": "x"}, format="json").status_code == 404
    foreign_calendar = api_b.post("/api/v1/sla-policies/", _policy_body(calendar["id"]), format="json")
    assert foreign_calendar.status_code == 400
    assert "calendar" in error_of(foreign_calendar)["fields"]
    with tenant_context(tenant_a):
        assert SLAPolicy.objects.get().name == "Gold"


def test_a_partial_calendar_update_is_validated_against_the_whole(api_a_manager, tenant_a):
    calendar = _calendar(api_a_manager, hours={"mon": [["09:00", "17:00"]]})
    response = api_a_manager.patch(
        f"/api/v1/calendars/{calendar['id']}/",
        {"hours": {"mon": [["09:00", "10:00"], ["09:30", "11:00"]]}},
        format="json",
    )
    assert response.status_code == 400
    with tenant_context(tenant_a):
        assert BusinessCalendar.objects.get().hours == {"mon": [["09:00", "17:00"]]}
