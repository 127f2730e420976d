"""SLA settings in the admin: validation by the clock, the deadline preview, read-only timers."""

import pytest

from helpdesk.tenancy import tenant_context
from slas import defaults
from slas.models import BusinessCalendar, SLAPolicy
from tests.slas.helpers import calendar_form_data, policy_form_data


@pytest.fixture
def manager_client(client, bob, tenant_a):
    with tenant_context(tenant_a):
        defaults.install(tenant=tenant_a)
    client.login(username="bob", password="pw-bob-123!")
    return client


def test_it_previews_the_deadlines_of_a_policy(manager_client, tenant_a):
    with tenant_context(tenant_a):
        policy = SLAPolicy.objects.get(name="Urgent")
    page = manager_client.get(f"/admin/slas/slapolicy/{policy.pk}/change/").content.decode()
    assert "Deadlines for a ticket created now" in page
    assert "<b>first_response</b> (30 min)" in page


def test_it_rejects_overlapping_hours_in_the_admin(manager_client, tenant_a):
    response = manager_client.post(
        "/admin/slas/businesscalendar/add/",
        calendar_form_data(
            {"name": "Bad", "timezone": "UTC", "hours": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}}
        ),
    )
    assert response.status_code == 200
    assert "overlap" in response.content.decode().lower()
    with tenant_context(tenant_a):
        assert not BusinessCalendar.objects.filter(name="Bad").exists()


def test_it_rejects_an_absurd_target_in_the_admin(manager_client, tenant_a):
    with tenant_context(tenant_a):
        calendar = BusinessCalendar.objects.get(name="24/7")
    response = manager_client.post(
        "/admin/slas/slapolicy/add/",
        policy_form_data(
            {
                "name": "Silly",
                "position": 1,
                "calendar": calendar.pk,
                "clock_source": "policy",
                "targets": {"first_response": 9999999},
                "warn_percent": [75],
                "on_hold_pauses": ["resolution"],
            }
        ),
    )
    assert response.status_code == 200
    assert "targets__first_response" in response.context["adminform"].form.errors
    assert "A whole number of minutes from 1 to" in response.content.decode()
    with tenant_context(tenant_a):
        assert not SLAPolicy.objects.filter(name="Silly").exists()


def test_timers_are_read_only_in_the_admin(manager_client):
    assert manager_client.get("/admin/slas/slatimer/").status_code == 200
    assert manager_client.get("/admin/slas/slatimer/add/").status_code == 403
