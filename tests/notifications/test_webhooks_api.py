"""/api/v1/webhooks/ (API.md): admin-only CRUD with a write-only secret, the delivery log, the SSRF
guard on the URL, tenant isolation (404, nothing written) and the API's error shape."""

from __future__ import annotations

import pytest
from django.test import override_settings

from helpdesk.notifications import crypto, dispatcher, services, ssrf, validation
from helpdesk.notifications.models import ChannelKind, DeliveryStatus, NotificationChannel, WebhookSubscription
from helpdesk.tenancy import tenant_context
from tests.api.helpers import count_in, error_of
from tests.notifications.conftest import SECRET, webhook
from tests.notifications.helpers import deliveries, open_ticket

URL = "/api/v1/webhooks/"


def body(url="https://hooks.example.com/helpdesk", **overrides):
    return {"url": url, "events": ["ticket.created", "escalation.created"], "secret": SECRET, **overrides}


def test_an_admin_subscribes_and_the_secret_is_never_returned(api_a_admin, tenant_a):
    response = api_a_admin.post(URL, body(events=["sla.breached", "ticket.created", "sla.breached"]), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert set(data) == {"id", "url", "events", "active", "created_at", "updated_at"}
    assert data["events"] == ["sla.breached", "ticket.created"] and data["active"] is True
    with tenant_context(tenant_a):
        stored = WebhookSubscription.objects.get(pk=data["id"])
    assert SECRET not in stored.secret_encrypted and crypto.decrypt(stored.secret_encrypted) == SECRET
    listed = api_a_admin.get(URL).json()["results"]
    assert [w["id"] for w in listed] == [data["id"]] and "secret" not in listed[0]


def test_an_admin_updates_and_deletes_a_subscription(api_a_admin, tenant_a):
    created = api_a_admin.post(URL, body(), format="json").json()
    patched = api_a_admin.patch(f"{URL}{created['id']}/", {"active": False, "secret": "n" * 20}, format="json")
    assert patched.status_code == 200 and patched.json()["active"] is False
    with tenant_context(tenant_a):
        assert crypto.decrypt(WebhookSubscription.objects.get(pk=created["id"]).secret_encrypted) == "n" * 20
    assert api_a_admin.delete(f"{URL}{created['id']}/").status_code == 204
    assert count_in(tenant_a, WebhookSubscription.objects.all) == 0


def test_a_put_without_the_secret_keeps_it(api_a_admin, tenant_a):
    created = api_a_admin.post(URL, body(), format="json").json()
    replaced = {"url": "https://hooks.example.com/v2", "events": ["sla.warning"], "active": True}
    response = api_a_admin.put(f"{URL}{created['id']}/", replaced, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["url"] == "https://hooks.example.com/v2" and response.json()["events"] == ["sla.warning"]
    with tenant_context(tenant_a):
        assert crypto.decrypt(WebhookSubscription.objects.get(pk=created["id"]).secret_encrypted) == SECRET


@pytest.mark.parametrize("client", ["api_a", "api_a_manager"])
def test_below_admin_the_answer_is_403_and_nothing_is_written(client, request, tenant_a):
    api = request.getfixturevalue(client)
    for response in (api.get(URL), api.post(URL, body(), format="json")):
        assert response.status_code == 403
        assert error_of(response)["code"] == "permission_denied"
    assert count_in(tenant_a, WebhookSubscription.objects.all) == 0


def test_another_tenants_subscription_is_404_and_untouched(api_b, tenant_a, receiver):
    subscription = webhook(tenant_a, receiver.url, events=["ticket.created"])
    open_ticket(tenant_a)
    dispatcher.dispatch()
    path = f"{URL}{subscription.pk}/"
    assert api_b.get(path).status_code == 404
    assert api_b.get(path + "deliveries/").status_code == 404
    assert api_b.patch(path, {"active": False}, format="json").status_code == 404
    assert api_b.delete(path).status_code == 404
    assert error_of(api_b.get(path))["code"] == "not_found"
    assert api_b.get(URL).json()["results"] == []
    with tenant_context(tenant_a):
        assert WebhookSubscription.objects.get(pk=subscription.pk).active is True


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (body(events=["ticket.exploded"]), "events.0"),
        (body(events=[]), "events"),
        (body(events="ticket.created"), "events"),
        (body(secret="short"), "secret"),
        (body(secret=12345678901234567), "secret"),
        ({k: v for k, v in body().items() if k != "secret"}, "secret"),
        (body(url="ftp://example.com/x"), "url"),
        (body(url="not a url"), "url"),
        (body(url="https://example.com/" + "x" * 2000), "url"),
        (body(colour="red"), "colour"),
        (body(url="https://example.com/nul\x00byte"), "url"),
        (body(url=None), "url"),
        (body(events=[None]), "events.0"),
        (body(events=["ticket.created"] * 50), "events"),
        (body(active="maybe"), "active"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(api_a_admin, tenant_a, payload, field):
    response = api_a_admin.post(URL, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in error_of(response)["fields"]
    assert count_in(tenant_a, WebhookSubscription.objects.all) == 0


@pytest.mark.parametrize("raw", [b'{"url": "https://x.test", ', b"[1, 2]", b'"just a string"'])
def test_a_malformed_body_is_a_400_and_writes_nothing(api_a_admin, tenant_a, raw):
    response = api_a_admin.generic("POST", URL, raw, content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] in {"malformed_request", "invalid"}
    assert count_in(tenant_a, WebhookSubscription.objects.all) == 0


def test_an_idempotent_retry_of_the_post_creates_one_subscription(api_a_admin, tenant_a):
    first = api_a_admin.post(URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = api_a_admin.post(URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 201 and first.json() == second.json()
    assert count_in(tenant_a, WebhookSubscription.objects.all) == 1


PRIVATE_URLS = [
    "http://127.0.0.1/hook",
    "http://localhost:8000/hook",
    "http://10.1.2.3/hook",
    "http://192.168.0.10/hook",
    "http://172.16.5.5/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[fd00:ec2::254]/latest",
    "http://0.0.0.0/hook",
]


@override_settings(WEBHOOK_ALLOW_PRIVATE_NETWORKS=False)
@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_the_ssrf_guard_refuses_private_addresses_naming_the_url(api_a_admin, tenant_a, url):
    response = api_a_admin.post(URL, body(url=url), format="json")
    assert response.status_code == 400, response.content
    assert error_of(response)["fields"] == {"url": [ssrf.ERR_PRIVATE]}
    assert count_in(tenant_a, WebhookSubscription.objects.all) == 0


@override_settings(WEBHOOK_ALLOW_PRIVATE_NETWORKS=False)
def test_the_ssrf_guard_lets_public_addresses_through_and_guards_a_patch(api_a_admin, tenant_a):
    created = api_a_admin.post(URL, body(url="https://93.184.215.14/hook"), format="json")
    assert created.status_code == 201, created.content
    patched = api_a_admin.patch(f"{URL}{created.json()['id']}/", {"url": "http://127.0.0.1/x"}, format="json")
    assert patched.status_code == 400 and "url" in error_of(patched)["fields"]
    with tenant_context(tenant_a):
        assert WebhookSubscription.objects.get().url == "https://93.184.215.14/hook"


def test_the_ssrf_guard_checks_again_at_delivery(tenant_a, receiver):
    webhook(tenant_a, receiver.url, events=["ticket.created"])  # allowed when it was saved
    open_ticket(tenant_a)
    with override_settings(WEBHOOK_ALLOW_PRIVATE_NETWORKS=False):
        dispatcher.dispatch()
    [delivery] = deliveries(tenant_a)
    assert delivery.status == DeliveryStatus.FAILED and delivery.last_error == ssrf.ERR_PRIVATE
    assert receiver.requests == []


@override_settings(WEBHOOK_ALLOW_PRIVATE_NETWORKS=False)
def test_the_ssrf_guard_covers_channel_urls_whose_host_is_the_destination(tenant_a):
    with tenant_context(tenant_a):
        channel = NotificationChannel(tenant=tenant_a, name="Internal", kind=ChannelKind.JSON)
        with pytest.raises(validation.NotificationInputError) as caught:
            services.channel_save(channel=channel, url="json://169.254.169.254/latest")
        assert caught.value.fields == {"url": [ssrf.ERR_PRIVATE]}
        slack = NotificationChannel(tenant=tenant_a, name="Slack", kind=ChannelKind.SLACK)
        services.channel_save(channel=slack, url="slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general")
        assert list(NotificationChannel.objects.values_list("name", flat=True)) == ["Slack"]


def test_the_delivery_log_of_a_subscription(api_a_admin, tenant_a, receiver):
    from tests.notifications.conftest import Reply

    created = api_a_admin.post(URL, body(url=receiver.url + "/log", events=["ticket.created"]), format="json").json()
    receiver.reply(Reply(502))
    ticket = open_ticket(tenant_a)
    dispatcher.dispatch()
    response = api_a_admin.get(f"{URL}{created['id']}/deliveries/")
    assert response.status_code == 200
    [row] = response.json()["results"]
    [delivery] = deliveries(tenant_a)
    assert row["delivery_id"] == str(delivery.delivery_id) and row["event"] == "ticket.created"
    assert (row["status"], row["attempts"], row["last_status_code"], row["last_error"]) == (
        "pending",
        1,
        502,
        "HTTP 502",
    )
    assert row["next_attempt_at"] is not None and row["event_id"] == delivery.event_id
    assert api_a_admin.get(f"{URL}{created['id']}/deliveries/?status=delivered").json()["results"] == []
    bad = api_a_admin.get(f"{URL}{created['id']}/deliveries/?status=lost")
    assert bad.status_code == 400 and "status" in error_of(bad)["fields"]
    assert ticket.pk == receiver.requests[0].json()["data"]["ticket"]
