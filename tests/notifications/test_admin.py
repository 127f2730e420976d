"""The notification pages of the tenant admin: managers see deliveries and retry the dead-lettered ones,
edit channels (URLs stored encrypted, never shown) and templates (checked); webhooks are admins' to
change. Another tenant's rows answer 404."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from helpdesk.models import Role
from helpdesk.notifications import crypto, dispatcher
from helpdesk.notifications.models import (
    Delivery,
    DeliveryStatus,
    NotificationChannel,
    NotificationTemplate,
    WebhookSubscription,
)
from helpdesk.services import membership_create
from helpdesk.tenancy import tenant_context
from tests.notifications.conftest import webhook
from tests.notifications.helpers import deliveries, open_ticket

ADMIN = "/admin/helpdesk/"


def _login(username: str, password: str) -> Client:
    client = Client()
    assert client.login(username=username, password=password)
    return client


@pytest.fixture
def manager(bob):
    return _login("bob", "pw-bob-123!")


def _dead_delivery(tenant, receiver):
    webhook(tenant, receiver.url, events=["ticket.created"])
    open_ticket(tenant)
    dispatcher.dispatch(budget_s=0)  # fan-out only
    with tenant_context(tenant):
        Delivery.objects.update(status=DeliveryStatus.DEAD, next_attempt_at=None, attempts=20)
    [delivery] = deliveries(tenant)
    return delivery


def test_a_manager_retries_a_dead_lettered_delivery_and_it_is_delivered(tenant_a, manager, receiver):
    delivery = _dead_delivery(tenant_a, receiver)
    listing = manager.get(f"{ADMIN}delivery/?status__exact=dead")
    assert listing.status_code == 200 and "ticket.created" in listing.content.decode()
    response = manager.post(
        f"{ADMIN}delivery/", {"action": "retry_now", "_selected_action": [delivery.pk]}, follow=True
    )
    assert "1 deliver(ies) queued" in response.content.decode()
    [retried] = deliveries(tenant_a)
    assert retried.status == DeliveryStatus.PENDING and retried.next_attempt_at <= timezone.now()
    assert retried.retry_from > delivery.created_at
    dispatcher.dispatch()
    [done] = deliveries(tenant_a)
    assert done.status == DeliveryStatus.DELIVERED and done.attempts == 21
    assert len(receiver.requests) == 1
    found = manager.get(f"{ADMIN}delivery/", {"q": str(done.delivery_id)[:8]}).content.decode()
    assert f"{ADMIN}delivery/{done.pk}/change/" in found
    page = manager.get(f"{ADMIN}delivery/{done.pk}/change/").content.decode()
    assert str(done.delivery_id) in page and "200" in page


def test_another_tenants_delivery_is_404(tenant_a, tenant_b, receiver, manager):
    other = _dead_delivery(tenant_b, receiver)
    assert manager.get(f"{ADMIN}delivery/{other.pk}/change/").status_code == 404
    manager.post(f"{ADMIN}delivery/", {"action": "retry_now", "_selected_action": [other.pk]})
    assert deliveries(tenant_b)[0].status == DeliveryStatus.DEAD


def test_an_agent_sees_no_notification_admin(tenant_a, alice, receiver):
    client = _login("alice", "pw-alice-123!")
    for page in ("delivery/", "notificationchannel/", "notificationtemplate/", "webhooksubscription/"):
        assert client.get(ADMIN + page).status_code in (302, 403)


def test_a_manager_adds_a_channel_whose_url_is_stored_encrypted_and_never_shown(tenant_a, manager, receiver):
    url = receiver.json_url + "/hook-token-42"
    response = manager.post(
        f"{ADMIN}notificationchannel/add/",
        {
            "name": "Ops chat",
            "kind": "json",
            "url": url,
            "events": "",
            "recipients": "[]",
            "digest_minutes": "0",
            "active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    with tenant_context(tenant_a):
        channel = NotificationChannel.objects.get(name="Ops chat")
    assert crypto.decrypt(channel.url_encrypted) == url and "hook-token-42" not in channel.url_encrypted
    page = manager.get(f"{ADMIN}notificationchannel/{channel.pk}/change/").content.decode()
    assert "hook-token-42" not in page


def test_a_manager_cannot_save_a_template_that_reaches_outside_its_context(tenant_a, manager):
    response = manager.post(
        f"{ADMIN}notificationtemplate/add/",
        {"event_type": "sla.warning", "subject": "x", "body": "{% debug %}", "recipients": "[]", "active": "on"},
    )
    assert response.status_code == 200 and "not available in notification templates" in response.content.decode()
    with tenant_context(tenant_a):
        assert not NotificationTemplate.objects.exists()


def test_webhooks_are_visible_to_managers_and_changed_by_admins(tenant_a, manager, receiver):
    subscription = webhook(tenant_a, receiver.url + "/x", events=["ticket.created"])
    assert manager.get(f"{ADMIN}webhooksubscription/").status_code == 200
    assert manager.get(f"{ADMIN}webhooksubscription/add/").status_code == 403
    membership_create(tenant=tenant_a, username="ada", password="pw-ada-123!!", role=Role.ADMIN)
    admin = _login("ada", "pw-ada-123!!")
    response = admin.post(
        f"{ADMIN}webhooksubscription/add/",
        {"url": receiver.url + "/y", "events": ["sla.breached"], "secret": "s" * 20, "active": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    with tenant_context(tenant_a):
        created = WebhookSubscription.objects.exclude(pk=subscription.pk).get()
    assert created.events == ["sla.breached"] and crypto.decrypt(created.secret_encrypted) == "s" * 20
    assert "s" * 20 not in admin.get(f"{ADMIN}webhooksubscription/{created.pk}/change/").content.decode()


def test_the_sweep_dispatches_stragglers(tenant_a, receiver):
    from helpdesk import workflows

    webhook(tenant_a, receiver.url, events=["ticket.created"])
    open_ticket(tenant_a)
    report = workflows.sweep(now=timezone.now() + timedelta(seconds=1))
    assert report.notifications["delivered"] == 1 and len(receiver.requests) == 1
