"""The per-process cache of a tenant's configuration (helpdesk/config_cache.py): an edit takes effect on
the next read, whoever writes it and however; one tenant's configuration is never served to another."""

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from escalation.models import EscalationRule
from escalation.selectors import rule_matrix
from helpdesk import workflows
from helpdesk.config_cache import config_version
from helpdesk.models import Role
from helpdesk.services import api_token_create
from helpdesk.tenancy import tenant_context
from slas.models import BusinessCalendar, SLAPolicy
from slas.services import active_policies
from tests.api.helpers import create_ticket

ZEBRA_RULE = {
    "name": "Zebra",
    "slug": "zebra",
    "trigger": "keyword",
    "conditions": {"keywords": ["zebra"]},
    "kind": "functional",
    "target_tier": 2,
    "position": 0,
}


@pytest.fixture
def acme(db):
    return workflows.tenant_bootstrap(slug="acme", name="Acme")


@pytest.fixture
def globex(db):
    return workflows.tenant_bootstrap(slug="globex", name="Globex")


def _api(tenant) -> APIClient:
    _, key = api_token_create(tenant=tenant, role=Role.MANAGER)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _zebra_ticket(api) -> dict:
    ticket = create_ticket(api, subject="Zebra", description="A zebra ate the invoice.")
    return api.get(f"/api/v1/escalations/?ticket={ticket['id']}").json()["results"]


def _fired(escalations) -> set[str]:
    return {slug for e in escalations for slug in e["fired_rules"]}


def test_it_serves_the_same_rules_while_nothing_changes(acme):
    with tenant_context(acme):
        assert rule_matrix() is rule_matrix()
        assert active_policies() is active_policies()


def test_a_rule_created_edited_or_deleted_through_the_api_applies_to_the_next_ticket(acme):
    api = _api(acme)
    assert "zebra" not in _fired(_zebra_ticket(api))  # the matrix is now cached without the rule
    rule = api.post("/api/v1/escalation-rules/", ZEBRA_RULE, format="json").json()
    assert "zebra" in _fired(_zebra_ticket(api))
    api.patch(f"/api/v1/escalation-rules/{rule['id']}/", {"conditions": {"keywords": ["okapi"]}}, format="json")
    assert "zebra" not in _fired(_zebra_ticket(api))
    api.patch(f"/api/v1/escalation-rules/{rule['id']}/", {"conditions": {"keywords": ["zebra"]}}, format="json")
    assert "zebra" in _fired(_zebra_ticket(api))
    assert api.delete(f"/api/v1/escalation-rules/{rule['id']}/").status_code == 204
    assert "zebra" not in _fired(_zebra_ticket(api))


def test_a_bulk_update_outside_the_services_is_seen_too(acme):
    with tenant_context(acme):
        before = {r.slug for r in rule_matrix()}
        assert "legal-threat" in before
        EscalationRule.objects.filter(slug="legal-threat").update(active=False)
        assert {r.slug for r in rule_matrix()} == before - {"legal-threat"}


def test_a_calendar_edit_reaches_the_cached_policies(acme):
    with tenant_context(acme):
        calendar_id = active_policies()[0].calendar_id
        BusinessCalendar.objects.filter(pk=calendar_id).update(hours={"mon": [["10:00", "11:00"]]})
        assert active_policies()[0].calendar.hours == {"mon": [["10:00", "11:00"]]}
        SLAPolicy.objects.update(active=False)
        assert active_policies() == ()


def test_a_rolled_back_edit_is_not_served_afterwards(acme):
    with tenant_context(acme):
        before = rule_matrix()
        version = config_version(acme.pk)
        with pytest.raises(RuntimeError), transaction.atomic():
            EscalationRule.objects.update(active=False)
            assert rule_matrix() == ()  # cached under the edit's version...
            raise RuntimeError("roll back")
        assert config_version(acme.pk) == version
        assert rule_matrix() == before  # ...which no longer holds, and is never handed out again


def test_it_never_serves_one_tenants_configuration_to_another(acme, globex):
    with tenant_context(globex):
        EscalationRule.objects.exclude(slug="legal-threat").delete()
        SLAPolicy.objects.exclude(position=SLAPolicy.objects.order_by("position", "id")[0].position).delete()
    with tenant_context(acme):
        acme_rules, acme_policies = rule_matrix(), active_policies()
        acme_rule_ids = set(EscalationRule.objects.values_list("pk", flat=True))
    with tenant_context(globex):
        globex_rules, globex_policies = rule_matrix(), active_policies()
        globex_rule_ids = set(EscalationRule.objects.values_list("pk", flat=True))
    assert {r.id for r in acme_rules} <= acme_rule_ids and len(acme_rules) > 1
    assert {r.id for r in globex_rules} == globex_rule_ids and [r.slug for r in globex_rules] == ["legal-threat"]
    assert {p.tenant_id for p in acme_policies} == {acme.pk}
    assert {p.tenant_id for p in globex_policies} == {globex.pk}
    assert {p.calendar.tenant_id for p in globex_policies} == {globex.pk}


def test_a_rule_of_one_tenant_never_fires_for_another(acme, globex):
    api_a, api_b = _api(acme), _api(globex)
    _zebra_ticket(api_a), _zebra_ticket(api_b)  # both tenants' matrices cached
    api_a.post("/api/v1/escalation-rules/", ZEBRA_RULE, format="json")
    assert "zebra" in _fired(_zebra_ticket(api_a))
    assert "zebra" not in _fired(_zebra_ticket(api_b))


def test_a_webhook_added_or_switched_off_changes_where_the_next_events_go(acme, globex):
    """Fan-out serves each tenant's destinations from the cache; the notification tables bump the version."""
    from helpdesk.notifications.fanout import Destinations
    from helpdesk.notifications.models import WebhookSubscription

    with tenant_context(acme):
        before = Destinations.load()
        assert Destinations.load().webhooks is before.webhooks  # the cached tuple itself, not a new read
        hook = WebhookSubscription.objects.create(
            tenant=acme, url="https://hooks.example.test/in", events=["ticket.created"], secret_encrypted="x"
        )
        assert [w.pk for w in Destinations.load().webhooks] == [*(w.pk for w in before.webhooks), hook.pk]
        WebhookSubscription.objects.filter(pk=hook.pk).update(active=False)
        assert hook.pk not in [w.pk for w in Destinations.load().webhooks]
    with tenant_context(globex):
        assert all(w.tenant_id == globex.pk for w in Destinations.load().webhooks)
