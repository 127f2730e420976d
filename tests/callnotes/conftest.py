"""The calls tests' world: the cast's tenants as create_tenant makes them (SLA policies, the default matrix,
notification templates, the default call-note template), tenant A in Berlin; an escalated ticket; uploads in
a temporary MEDIA_ROOT."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from helpdesk import workflows
from helpdesk.models import Role
from helpdesk.services import membership_create
from helpdesk.tenancy import tenant_context
from tests.notifications import helpers as notification_helpers
from tests.notifications.conftest import receiver  # noqa: F401 (a real HTTP receiver for the webhook tests)


@pytest.fixture
def tenant_a(db):
    return workflows.tenant_bootstrap(slug="acme", name="Acme Corp", timezone="Europe/Berlin")


@pytest.fixture
def tenant_b(db):
    return workflows.tenant_bootstrap(slug="globex", name="Globex")


@pytest.fixture(autouse=True)
def media_root(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def eli(tenant_a):
    """A tier-3 engineer with spare capacity: who a functional engineering call is routed to."""
    return membership_create(
        tenant=tenant_a, username="eli", email="eli@acme.test", role=Role.AGENT, tier=3, skills=["engineering"]
    )


def open_ticket(tenant, subject="CSV export misses a column", description="The export has no region column.", **kw):
    """A ticket from Pat Lee (pat@example.com), opened through the workflow."""
    return notification_helpers.open_ticket(
        tenant, subject, description, requester_name=kw.pop("requester_name", "Pat Lee"), **kw
    )


def escalate_to_call(tenant, ticket, agent, reason="Several systems involved; writing is not working."):
    with tenant_context(tenant):
        return workflows.escalate_manually(
            ticket=ticket,
            actor=None,
            kind="functional",
            reason=reason,
            summary={
                "problem": "Records vanish after the nightly sync.",
                "tried": "Re-ran the sync; checked the mapping.",
                "emotional_state": "Frustrated, calm.",
                "desired_outcome": "Records restored and the cause fixed.",
                "account_context": "Enterprise, 3 years.",
            },
            target_agent=agent,
            to_call=True,
        )


def in_hours(hours: float):
    return timezone.now() + timedelta(hours=hours)


def schedule_body(**overrides) -> dict:
    body = {
        "scheduled_start": in_hours(24).isoformat(),
        "duration_minutes": 30,
        "attendees": ["pat@example.com"],
        "pre_call": {"phone_or_link": "https://meet.example.com/abc", "preferred_times": "mornings CET"},
    }
    body.update(overrides)
    return body
