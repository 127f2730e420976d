"""The SSRF table: every channel kind and the webhook URL against loopback, link-local, private, CGNAT and
metadata addresses, IPv6 forms that carry an IPv4 address, ports, schemes of another kind, redirects and
DNS answers that change between save and send.

Each row is refused where it is saved (the admin form's `url` error, the API's 400 naming `url`; nothing
written) and, stored anyway (a channel saved before the rules, written here directly), fails for good
where it is sent, with nothing reaching the local listener. DNS is ours to answer: `socket.getaddrinfo`
is replaced by a resolver the test controls (names under our control only; every other lookup goes to
the real one). A tripwire on `socket.connect` refuses, and records, any connection beyond loopback, so
a rule that fails here can't send traffic anywhere but this machine.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field

import pytest
from django.test import Client, override_settings

from helpdesk.notifications import channel_urls, crypto, dispatcher, ssrf
from helpdesk.notifications.models import (
    ChannelKind,
    DeliveryStatus,
    NotificationChannel,
    WebhookSubscription,
)
from helpdesk.outbox import outbox_emit
from helpdesk.tenancy import tenant_context
from tests.api.helpers import count_in, error_of
from tests.notifications.conftest import SECRET, Reply, json_channel, webhook
from tests.notifications.helpers import deliveries, open_ticket

ADMIN_ADD_CHANNEL = "/admin/helpdesk/notificationchannel/add/"
WEBHOOKS = "/api/v1/webhooks/"
PUBLIC = "93.184.215.14"  # answered by our resolver at save time only: nothing ever connects to it
TEAMS_HOST = "prod-00.westus.logic.azure.com"
HOOK_HOST = "hooks.ssrf.test"  # a name only our resolver answers
PRODUCTION = {"WEBHOOK_ALLOW_PRIVATE_NETWORKS": False, "WEBHOOK_ALLOWED_PORTS": [80, 443]}

FORBIDDEN = [
    ("loopback", "127.0.0.1"),
    ("loopback-v6", "::1"),
    ("link-local", "169.254.10.20"),
    ("metadata", "169.254.169.254"),
    ("private-10", "10.1.2.3"),
    ("private-172", "172.16.5.5"),
    ("private-192", "192.168.0.10"),
    ("cgnat", "100.64.0.1"),
    ("metadata-alibaba", "100.100.100.200"),
    ("metadata-aws-v6", "fd00:ec2::254"),
    ("ipv4-mapped", "::ffff:127.0.0.1"),
    ("ipv4-compatible", "::7f00:1"),
    ("6to4-loopback", "2002:7f00:1::"),
    ("6to4-metadata", "2002:a9fe:a9fe::"),
    ("teredo-loopback", "2001:0:4136:e378:8000:63bf:80ff:fffe"),  # client bits inverted: 127.0.0.1
    ("nat64-loopback", "64:ff9b::7f00:1"),
    ("nat64-metadata", "64:ff9b::a9fe:a9fe"),
    ("nat64-local-use", "64:ff9b:1::a00:1"),
    ("nat64-local-use-ambiguous", "64:ff9b:1:ab::1"),
]
PUBLIC_ADDRESSES = [
    PUBLIC,
    "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
    "::ffff:93.184.215.14",
    "2002:5db8:d70e::",  # 6to4 of 93.184.215.14
    "2001:0:4136:e378:8000:63bf:a247:28f1",  # Teredo, client 93.184.215.14
    "64:ff9b::5db8:d70e",  # NAT64 (DNS64 on an IPv6-only host) of 93.184.215.14
    "64:ff9b:1::5db8:d70e",
]


def _literal(address: str) -> str:
    return f"[{address}]" if ":" in address else address


# --- the world around the test: DNS, the network, the listener ------------------------------------


@dataclass
class Resolver:
    """Answers for the names the test owns; each name's answers are used in turn, the last one repeats."""

    answers: dict[str, list[str]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    def answer(self, name: str, *addresses: str) -> None:
        self.answers[name] = list(addresses)
        self.calls[name] = 0

    def lookup(self, real, host, port, *args, **kwargs):
        if host not in self.answers:
            return real(host, port, *args, **kwargs)
        turn = self.calls[host]
        self.calls[host] += 1
        address = self.answers[host][min(turn, len(self.answers[host]) - 1)]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sockaddr = (address, int(port or 0), 0, 0) if family == socket.AF_INET6 else (address, int(port or 0))
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]


@pytest.fixture
def dns(monkeypatch):
    resolver = Resolver()
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: resolver.lookup(real, *a, **k))
    return resolver


@pytest.fixture(autouse=True)
def tripwire(monkeypatch):
    """Connections beyond loopback are refused and recorded (a rule that fails must not reach out)."""
    attempts: list[tuple] = []
    real_connect = socket.socket.connect

    def connect(sock, address):
        inet = sock.family in (socket.AF_INET, socket.AF_INET6)
        if inet and not ipaddress.ip_address(address[0].split("%")[0]).is_loopback:
            attempts.append(address)
            raise ConnectionRefusedError(f"test tripwire: no connection to {address[0]}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """The cast's passwords hashed cheaply: this table logs a manager in a few hundred times."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def manager(bob):
    client = Client()
    client.force_login(bob.user)
    return client


# --- saving ----------------------------------------------------------------------------------------


def save_channel(client: Client, tenant, kind: str, url: str) -> dict:
    """The admin's add form; its field errors (empty when it saved)."""
    response = client.post(
        ADMIN_ADD_CHANNEL,
        {"name": "Probe", "kind": kind, "url": url, "recipients": "[]", "digest_minutes": "0", "active": "on"},
    )
    if response.status_code == 302:
        return {}
    assert response.status_code == 200, response.content.decode()[:2000]
    return dict(response.context["adminform"].form.errors)


def save_webhook(api, url: str):
    return api.post(WEBHOOKS, {"url": url, "events": ["ticket.created"], "secret": SECRET}, format="json")


def assert_channel_refused(client, tenant, kind, url, message):
    assert save_channel(client, tenant, kind, url) == {"url": [message]}
    assert count_in(tenant, NotificationChannel.objects.all) == 0


def assert_webhook_refused(api, tenant, url, message):
    response = save_webhook(api, url)
    assert response.status_code == 400, response.content
    assert error_of(response)["fields"] == {"url": [message]}
    assert count_in(tenant, WebhookSubscription.objects.all) == 0


# --- sending ---------------------------------------------------------------------------------------


def stale_channel(tenant, kind: str, url: str) -> NotificationChannel:
    """A channel as an older version saved it: straight into the table, past today's rules."""
    with tenant_context(tenant):
        return NotificationChannel.objects.create(
            tenant=tenant, name=f"Stale {kind}", kind=kind, url_encrypted=crypto.encrypt(url)
        )


def stale_webhook(tenant, url: str) -> WebhookSubscription:
    with tenant_context(tenant):
        return WebhookSubscription.objects.create(
            tenant=tenant, url=url, events=["ticket.created"], secret_encrypted=crypto.encrypt(SECRET)
        )


def notify(tenant, key: str = "probe") -> None:
    """An event every channel of the tenant sends at once (a VIP acknowledgement) and every webhook
    subscribed to ticket.created receives."""
    with tenant_context(tenant):
        outbox_emit(
            tenant_id=tenant.pk,
            type="escalation.acknowledged",
            dedupe_key=key,
            payload={"ticket": 1, "kind": "functional", "ticket_context": {"subject": "Probe", "vip": True}},
        )
    open_ticket(tenant)


def assert_failed_for_good(tenant, message, receiver, tripwire):
    dispatcher.dispatch()
    [delivery] = deliveries(tenant)
    assert (delivery.status, delivery.last_error) == (DeliveryStatus.FAILED, message)
    assert delivery.next_attempt_at is None and delivery.attempts == 1
    assert receiver.connections == 0 and receiver.requests == []
    assert tripwire == []


def kind_error(kind: str, url: str) -> str:
    rule = channel_urls.RULES[kind]
    scheme = url.split("://")[0]
    return channel_urls.ERR_KIND_SCHEME.format(label=rule.label, allowed=rule.allowed(), scheme=scheme)


def host_error(kind: str, url: str, host: str) -> str:
    """A provider's own https:// URL must name its webhook host; a scheme's URL, any host of the kind."""
    rule = channel_urls.RULES[kind]
    hosts = rule.native_hosts if url.startswith("https://") else rule.hosts
    return ssrf.ERR_HOST.format(allowed=ssrf.describe_hosts(hosts), host=host)


def port_error(port: int) -> str:
    return ssrf.ERR_PORT.format(port=port, allowed="80, 443")


# === addresses =====================================================================================


@pytest.mark.parametrize(("name", "address"), FORBIDDEN)
def test_it_judges_an_address_by_where_its_packets_go(name, address):
    assert ssrf.is_forbidden(ipaddress.ip_address(address)), name


@pytest.mark.parametrize("address", PUBLIC_ADDRESSES)
def test_it_lets_a_public_address_through_in_any_of_its_forms(address):
    assert not ssrf.is_forbidden(ipaddress.ip_address(address))


# The URLs each destination is saved with, for a host that is (or resolves to) `address`.
def _webhook_url(address, port=None):
    return f"http://{_literal(address)}{f':{port}' if port else ''}/hook"


def _json_url(address, port=None):
    return f"json://{_literal(address)}{f':{port}' if port else ''}/hook"


@override_settings(**PRODUCTION)
@pytest.mark.parametrize(("name", "address"), FORBIDDEN)
def test_a_webhook_to_a_forbidden_address_is_refused_at_save(api_a_admin, tenant_a, name, address):
    assert_webhook_refused(api_a_admin, tenant_a, _webhook_url(address), ssrf.ERR_PRIVATE)


@override_settings(**PRODUCTION)
@pytest.mark.parametrize(("name", "address"), FORBIDDEN)
def test_a_json_channel_to_a_forbidden_address_is_refused_at_save(manager, tenant_a, name, address):
    assert_channel_refused(manager, tenant_a, ChannelKind.JSON, _json_url(address), ssrf.ERR_PRIVATE)


@override_settings(**PRODUCTION)
@pytest.mark.parametrize(("name", "address"), FORBIDDEN)
def test_a_teams_workflow_host_resolving_to_a_forbidden_address_is_refused_at_save(
    manager, tenant_a, dns, name, address
):
    dns.answer(TEAMS_HOST, address)
    url = f"workflows://{TEAMS_HOST}/abc123/sig456"
    assert_channel_refused(manager, tenant_a, ChannelKind.TEAMS, url, ssrf.ERR_PRIVATE)


def _stored(kind: str, tenant, port: int):
    """A destination of `kind` stored with a URL whose host our resolver answers, on the receiver's
    port (allowed in these tests, so only the address decides)."""
    if kind == "webhook":
        return stale_webhook(tenant, f"http://{HOOK_HOST}:{port}/hook"), HOOK_HOST
    if kind == ChannelKind.JSON:
        return stale_channel(tenant, kind, f"json://{HOOK_HOST}:{port}/hook"), HOOK_HOST
    if kind == ChannelKind.TEAMS:
        return stale_channel(tenant, kind, f"workflows://{TEAMS_HOST}:{port}/abc123/sig456"), TEAMS_HOST
    if kind == ChannelKind.SLACK:  # a provider's fixed host whose DNS answer was tampered with
        return stale_channel(tenant, kind, "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general"), (
            "hooks.slack.com"
        )
    return stale_channel(tenant, kind, "vonage://abcd:efgh@15551234567/15555555555"), "rest.nexmo.com"


# Slack and SMS post to their providers' fixed hosts: a few rows show the connection guard checks those
# too (a tampered DNS answer for hooks.slack.com), without repeating the whole table for each.
SEND_ROWS = [
    (kind, name, address) for kind in ("webhook", ChannelKind.JSON, ChannelKind.TEAMS) for name, address in FORBIDDEN
]
SEND_ROWS += [
    (kind, name, address)
    for kind in (ChannelKind.SLACK, ChannelKind.SMS)
    for name, address in FORBIDDEN
    if name in {"loopback", "metadata", "6to4-loopback", "nat64-metadata"}
]


@pytest.mark.parametrize(("kind", "name", "address"), SEND_ROWS)
def test_a_stored_destination_resolving_to_a_forbidden_address_fails_at_send(
    templates_a, receiver, dns, tripwire, kind, name, address
):
    _, host = _stored(kind, templates_a, receiver.port)
    dns.answer(host, address)
    with override_settings(WEBHOOK_ALLOW_PRIVATE_NETWORKS=False, WEBHOOK_ALLOWED_PORTS=[443, receiver.port]):
        notify(templates_a)
        assert_failed_for_good(templates_a, ssrf.ERR_PRIVATE, receiver, tripwire)


# === ports =========================================================================================


@override_settings(**PRODUCTION)
@pytest.mark.parametrize("port", [22, 25, 6379, 8080])
def test_a_port_outside_the_allowed_ones_is_refused_at_save(api_a_admin, manager, tenant_a, dns, port):
    assert_webhook_refused(api_a_admin, tenant_a, _webhook_url(PUBLIC, port), port_error(port))
    assert_channel_refused(manager, tenant_a, ChannelKind.JSON, _json_url(PUBLIC, port), port_error(port))
    dns.answer(TEAMS_HOST, PUBLIC)
    teams = f"workflows://{TEAMS_HOST}:{port}/abc123/sig456"
    assert_channel_refused(manager, tenant_a, ChannelKind.TEAMS, teams, port_error(port))


@override_settings(WEBHOOK_ALLOW_PRIVATE_NETWORKS=False, WEBHOOK_ALLOWED_PORTS=[80, 443, 8443])
def test_a_port_the_admin_allowed_is_accepted(api_a_admin, manager, tenant_a):
    assert save_webhook(api_a_admin, _webhook_url(PUBLIC, 8443)).status_code == 201
    assert save_channel(manager, tenant_a, ChannelKind.JSON, _json_url(PUBLIC, 8443)) == {}
    with tenant_context(tenant_a):
        [channel] = NotificationChannel.objects.all()
        assert crypto.decrypt(channel.url_encrypted) == f"json://{PUBLIC}:8443/hook"


@pytest.mark.parametrize("kind", ["webhook", ChannelKind.JSON, ChannelKind.TEAMS])
def test_a_stored_destination_on_a_forbidden_port_fails_at_send(templates_a, receiver, dns, tripwire, kind):
    _, host = _stored(kind, templates_a, receiver.port)
    dns.answer(host, PUBLIC)  # a public address: only the port stands in the way, and it must
    with override_settings(**PRODUCTION):
        notify(templates_a)
        assert_failed_for_good(templates_a, port_error(receiver.port), receiver, tripwire)


# === schemes and hosts of each kind ================================================================

LOOP = "127.0.0.1:{port}"  # the receiver: a URL that got through would reach it
ATTACKER = "x.powerplatform.attacker.example"  # apprise's own pattern takes it for a Power Platform host
KIND_ROWS = [
    (ChannelKind.SLACK, "mmost://" + LOOP + "/tokenabc", "scheme"),
    (ChannelKind.SLACK, "json://" + LOOP + "/hook", "scheme"),
    (ChannelKind.SLACK, "apprise://" + LOOP + "/token", "scheme"),
    (ChannelKind.SLACK, "https://" + LOOP + "/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ", "host:127.0.0.1"),
    (ChannelKind.SLACK, "https://hooks.slack.com/not/a/webhook", "unrecognised"),
    (ChannelKind.TEAMS, "json://" + LOOP + "/hook", "scheme"),
    (ChannelKind.TEAMS, "ntfy://" + LOOP + "/topic", "scheme"),
    (ChannelKind.TEAMS, "workflows://" + LOOP + "/abc123/sig456", "host:127.0.0.1"),
    (ChannelKind.TEAMS, f"workflows://{ATTACKER}/abc123/sig456", f"host:{ATTACKER}"),
    (
        ChannelKind.TEAMS,
        f"https://{ATTACKER}/workflows/abc123/triggers/manual/paths/invoke?sig=abcd",
        f"host:{ATTACKER}",
    ),
    (ChannelKind.SMS, "ntfy://" + LOOP + "/topic", "scheme"),
    (ChannelKind.SMS, "apprise://" + LOOP + "/token", "scheme"),
    (ChannelKind.SMS, "ntfys://169.254.169.254/latest", "scheme"),
    (ChannelKind.SMS, "json://" + LOOP + "/hook", "scheme"),
    (ChannelKind.SMS, "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general", "scheme"),
    (ChannelKind.JSON, "mmost://" + LOOP + "/tokenabc", "scheme"),
    (ChannelKind.JSON, "ntfy://" + LOOP + "/topic", "scheme"),
    (ChannelKind.JSON, "https://" + LOOP + "/hook", "scheme"),
    (ChannelKind.JSON, "workflows://" + TEAMS_HOST + "/abc123/sig456", "scheme"),
    (ChannelKind.JSON, "gopher://" + LOOP + "/x", "scheme"),
]


def _expected(kind: str, url: str, reason: str) -> str:
    if reason == "scheme":
        return kind_error(kind, url)
    if reason == "unrecognised":
        return channel_urls.ERR_UNRECOGNISED
    return host_error(kind, url, reason.removeprefix("host:"))


@pytest.mark.parametrize(("kind", "url", "reason"), KIND_ROWS)
def test_a_url_of_another_kind_or_host_is_refused_at_save_even_where_private_networks_are_allowed(
    manager, tenant_a, receiver, kind, url, reason
):
    url = url.format(port=receiver.port)
    assert_channel_refused(manager, tenant_a, kind, url, _expected(kind, url, reason))


@pytest.mark.parametrize(("kind", "url", "reason"), KIND_ROWS)
def test_a_stored_url_of_another_kind_fails_at_send_with_the_reason(templates_a, receiver, tripwire, kind, url, reason):
    url = url.format(port=receiver.port)
    stale_channel(templates_a, kind, url)
    notify(templates_a)
    assert_failed_for_good(templates_a, _expected(kind, url, reason), receiver, tripwire)


def test_the_refusal_names_the_schemes_the_kind_takes():
    message = kind_error(ChannelKind.SLACK, "mmost://127.0.0.1:8399/tokenabc")
    assert message == (
        "A Slack channel takes slack://, https:// on hooks.slack.com, hooks.slack-gov.com URLs;"
        " mmost:// is not one of them."
    )


@override_settings(**PRODUCTION)
@pytest.mark.parametrize(
    ("kind", "url"),
    [
        (ChannelKind.SLACK, "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general"),
        (ChannelKind.SLACK, "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"),
        (ChannelKind.TEAMS, f"workflows://{TEAMS_HOST}/abc123/sig456"),
        (
            ChannelKind.TEAMS,
            f"https://{TEAMS_HOST}:443/workflows/abc123/triggers/manual/paths/invoke?api-version=2016-06-01&sig=abcd",
        ),
        (
            ChannelKind.SMS,
            "twilio://AC735c307c62944b5a4f3c2d1e0f9a8b:e29dfbcebf390dee9e8d7c6b5a4f3e2d@+15551234567/+15555555555",
        ),
        (ChannelKind.SMS, "vonage://abcd:efgh@15551234567/15555555555"),
        (ChannelKind.SMS, "sns://AHIAJGNT76XIMXDBIJYA/bu1dHSdO22pfaaVy/zvi8kS2Khtm/us-east-2/+15555555555"),
        (ChannelKind.SMS, "msgbird://abcdefghijklmnopqrstuvwxy/+15551234567/+15555555555"),
        (ChannelKind.JSON, f"jsons://{PUBLIC}/hook"),
        (ChannelKind.JSON, f"form://{PUBLIC}/hook"),
    ],
)
def test_each_kind_saves_its_own_providers_urls(manager, tenant_a, dns, kind, url):
    dns.answer(TEAMS_HOST, PUBLIC)
    assert save_channel(manager, tenant_a, kind, url) == {}
    with tenant_context(tenant_a):
        assert crypto.decrypt(NotificationChannel.objects.get().url_encrypted) == url


def test_a_stale_channel_fails_alone_and_the_others_are_still_sent(templates_a, receiver, tripwire):
    stale_channel(templates_a, ChannelKind.SLACK, f"mmost://127.0.0.1:{receiver.port}/tokenabc")
    json_channel(templates_a, receiver.json_url + "/good")
    notify(templates_a)
    report = dispatcher.dispatch()
    assert (report.delivered, report.failed, report.failed_tenants) == (1, 1, 0)
    [request] = receiver.requests
    assert request.path == "/good"
    stale, good = deliveries(templates_a)
    assert (stale.status, good.status) == (DeliveryStatus.FAILED, DeliveryStatus.DELIVERED)
    assert stale.last_error.startswith("A Slack channel takes slack://")


# === redirects =====================================================================================


@pytest.mark.parametrize("status", [307, 302])
@pytest.mark.parametrize(
    "url",
    ["json://127.0.0.1:{port}/first", "json://127.0.0.1:{port}/first?redirect=yes", "form://127.0.0.1:{port}/first"],
)
def test_a_channel_never_follows_a_redirect(templates_a, receiver, status, url):
    receiver.reply(Reply(status, headers={"Location": f"http://127.0.0.1:{receiver.port}/second"}))
    json_channel(templates_a, url.format(port=receiver.port))
    notify(templates_a)
    dispatcher.dispatch()
    assert [r.path for r in receiver.requests] == ["/first"]
    [delivery] = deliveries(templates_a)
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1 and delivery.last_error


@pytest.mark.parametrize("status", [307, 302])
def test_a_webhook_never_follows_a_redirect(templates_a, receiver, status):
    receiver.reply(Reply(status, headers={"Location": f"{receiver.url}/second"}))
    webhook(templates_a, receiver.url + "/first", events=["ticket.created"])
    open_ticket(templates_a)
    dispatcher.dispatch()
    assert [r.path for r in receiver.requests] == ["/first"]
    [delivery] = deliveries(templates_a)
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.last_error == f"HTTP {status} (redirects are not followed)"


# === DNS that changes ==============================================================================


@pytest.mark.parametrize("kind", ["webhook", ChannelKind.JSON, ChannelKind.TEAMS])
def test_a_name_public_at_save_and_loopback_at_send_is_refused_at_send(
    api_a_admin, manager, templates_a, receiver, dns, tripwire, kind
):
    tenant_a = templates_a
    host = TEAMS_HOST if kind == ChannelKind.TEAMS else HOOK_HOST
    dns.answer(host, PUBLIC)
    with override_settings(WEBHOOK_ALLOW_PRIVATE_NETWORKS=False, WEBHOOK_ALLOWED_PORTS=[80, 443, receiver.port]):
        if kind == "webhook":
            saved = save_webhook(api_a_admin, f"http://{HOOK_HOST}:{receiver.port}/hook")
            assert saved.status_code == 201, saved.content
        else:
            url = f"json://{HOOK_HOST}:{receiver.port}/hook"
            if kind == ChannelKind.TEAMS:
                url = f"workflows://{TEAMS_HOST}:{receiver.port}/abc123/sig456"
            assert save_channel(manager, tenant_a, kind, url) == {}
        dns.answer(host, "127.0.0.1")  # the name's owner points it home after the save
        notify(tenant_a)
        assert_failed_for_good(tenant_a, ssrf.ERR_PRIVATE, receiver, tripwire)


@pytest.mark.parametrize("kind", ["webhook", ChannelKind.JSON])
def test_a_name_that_turns_to_loopback_between_the_check_and_the_connection_never_reaches_it(
    templates_a, receiver, dns, tripwire, kind
):
    """Rebinding inside one send: the first answer is public, every later one loopback. A sender that
    checked one answer and let its HTTP library look the name up again would POST to the listener.
    Whatever we connect to must be an address we checked (here the public one, which the tripwire
    stops) — never the listener."""
    _, host = _stored(kind, templates_a, receiver.port)
    dns.answer(host, PUBLIC, "127.0.0.1")
    with override_settings(WEBHOOK_ALLOW_PRIVATE_NETWORKS=False, WEBHOOK_ALLOWED_PORTS=[80, 443, receiver.port]):
        notify(templates_a)
        dispatcher.dispatch()
    [delivery] = deliveries(templates_a)
    assert delivery.status != DeliveryStatus.DELIVERED and delivery.last_error
    assert receiver.connections == 0 and receiver.requests == []
    assert {address[0] for address in tripwire} <= {PUBLIC}


@pytest.mark.parametrize("kind", ["webhook", ChannelKind.JSON])
def test_the_connection_goes_to_the_address_the_guard_resolved(templates_a, receiver, dns, tripwire, kind):
    """The receiver listens on 127.0.0.1 only. The name answers 127.0.0.1 once, then 127.0.0.2 (where
    nothing listens): the message arrives only if the connection used the one answer the guard got."""
    _, host = _stored(kind, templates_a, receiver.port)
    dns.answer(host, "127.0.0.1", "127.0.0.2")
    notify(templates_a)
    dispatcher.dispatch()
    [delivery] = deliveries(templates_a)
    assert delivery.status == DeliveryStatus.DELIVERED, delivery.last_error
    assert len(receiver.requests) == 1 and dns.calls[host] == 1


def test_a_stale_channel_edited_in_the_admin_must_get_a_url_that_passes(manager, tenant_a):
    stale = stale_channel(tenant_a, ChannelKind.SLACK, "mmost://127.0.0.1:8399/tokenabc")
    page = f"/admin/helpdesk/notificationchannel/{stale.pk}/change/"
    form = {"name": "Renamed", "kind": "slack", "recipients": "[]", "digest_minutes": "0", "active": "on"}
    kept = manager.post(page, {**form, "url": ""})  # only the name changed: the stored URL is checked too
    assert kept.status_code == 200
    assert dict(kept.context["adminform"].form.errors) == {
        "url": [kind_error(ChannelKind.SLACK, "mmost://127.0.0.1:8399/tokenabc")]
    }
    with tenant_context(tenant_a):
        assert NotificationChannel.objects.get(pk=stale.pk).name == "Stale slack"
    slack = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general"
    assert manager.post(page, {**form, "url": slack}).status_code == 302
    with tenant_context(tenant_a):
        fixed = NotificationChannel.objects.get(pk=stale.pk)
    assert (fixed.name, crypto.decrypt(fixed.url_encrypted)) == ("Renamed", slack)
