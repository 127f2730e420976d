"""The matrix advice (per rule: fired, bounced back, de-escalated, time to acknowledge) beside the admin's dry
run and in /metrics/rules/; the tenant's health ranges in the admin, validated by the one validation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from escalation import services as escalations
from escalation.models import EscalationRule
from helpdesk import workflows
from helpdesk.models import Role
from helpdesk.services import api_token_create, membership_create
from helpdesk.tenancy import tenant_context
from metrics.models import HealthThreshold

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(db):
    tenant = workflows.tenant_bootstrap(slug="acme", name="Acme Corp", timezone="Europe/Berlin")
    membership_create(tenant=tenant, username="maya", password="pw-maya-123!", role=Role.MANAGER, tier=2)
    return tenant


def _fired_twice(tenant):
    """manager-request fires on two tickets: one escalation acknowledged after 10 minutes, one returned."""
    start = timezone.now() - timedelta(days=2)
    with tenant_context(tenant):
        rule = EscalationRule.objects.get(slug="manager-request")
        made = []
        for n in range(2):
            ticket = workflows.ticket_open(
                tenant=tenant, actor=None, subject=f"Quiet {n}", description="Hello.", requester_email=f"q{n}@x.test",
                created_at=start,
            )  # fmt: skip
            fired_at = start + timedelta(minutes=5)
            made.append(escalations.rule_fire(ticket=ticket, rule=rule, reason="asked", at=fired_at))
        escalations.escalation_acknowledge(escalation=made[0], actor=None, at=start + timedelta(minutes=15))
        returned_at = start + timedelta(hours=1)
        escalations.escalation_return(escalation=made[1], actor=None, reason="Wrong team.", at=returned_at)
    return rule


def test_the_rule_advice_counts_firings_bounces_and_acknowledgements(acme):
    rule = _fired_twice(acme)
    _, key = api_token_create(tenant=acme, role=Role.MANAGER)
    answer = Client().get("/api/v1/metrics/rules/", HTTP_AUTHORIZATION=f"Token {key}")
    assert answer.status_code == 200
    rows = {row["slug"]: row for row in answer.json()["rules"]}
    assert rows["manager-request"] == {
        "rule": rule.pk,
        "slug": "manager-request",
        "name": rule.name,
        "trigger": rule.trigger,
        "active": True,
        "fired": 2,
        "escalations": 2,
        "returned": 1,
        "de_escalated": 0,
        "acknowledge_p50": 10.0,
        "bounceback_rate": 50.0,
        "de_escalation_rate": 0.0,
    }
    quiet = [row for slug, row in rows.items() if slug != "manager-request"]
    assert quiet and all(row["fired"] == 0 and row["bounceback_rate"] is None for row in quiet)
    assert next(iter(rows)) == "manager-request"  # the most fired first


def test_the_dry_run_page_shows_the_advice(acme):
    _fired_twice(acme)
    admin = Client()
    assert admin.login(username="maya", password="pw-maya-123!")
    html = admin.get("/admin/escalation/escalationrule/dry-run/").content.decode()
    assert "How each rule did over the same 30 days" in html
    assert "<tr><td>manager-request</td>" in html and "<td>50.0 %</td>" in html and "10.0 min" in html


def test_a_manager_sets_a_range_in_the_admin_and_the_api_grades_by_it(acme):
    admin = Client()
    assert admin.login(username="maya", password="pw-maya-123!")
    bad = admin.post(
        "/admin/metrics/healththreshold/add/", {"metric": "bounceback_rate", "warn": "30", "bad": "20", "low": ""}
    )
    assert bad.status_code == 200 and "Must not be below the warning boundary" in bad.content.decode()
    add = "/admin/metrics/healththreshold/add/"
    too_high = admin.post(add, {"metric": "bounceback_rate", "warn": "5", "bad": "120"})
    assert "Must be from 0 to 100." in too_high.content.decode()
    good = admin.post("/admin/metrics/healththreshold/add/", {"metric": "escalation_rate", "warn": "40", "bad": "60"})
    assert good.status_code == 302
    with tenant_context(acme):
        assert list(HealthThreshold.objects.values_list("metric", "warn", "bad", "low")) == [
            ("escalation_rate", 40.0, 60.0, None)
        ]


def test_agents_cannot_open_the_ranges(acme):
    membership_create(tenant=acme, username="al", password="pw-al-123!", role=Role.AGENT, tier=1)
    agent = Client()
    assert agent.login(username="al", password="pw-al-123!")
    assert agent.get("/admin/metrics/healththreshold/").status_code in (302, 403)
    with tenant_context(acme):
        assert not HealthThreshold.objects.exists()
