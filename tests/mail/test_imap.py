"""The IMAP poller against a real IMAP server (pymap, in a subprocess on 127.0.0.1): UID tracking, \\Seen after
commit, a new UIDVALIDITY, a connection dropped mid-fetch, and `fetch_mail` killed with SIGKILL mid-batch —
nothing lost, nothing doubled."""

from __future__ import annotations

import contextlib
import imaplib
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from django.core.management import call_command

from helpdesk import workflows
from helpdesk.tenancy import tenant_context
from mail.models import Mailbox, MailRecord
from tests.integration.conftest import ROOT
from tests.integration.test_worker import _database_url
from tests.mail import corpus
from tickets.models import Ticket


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Free ports, not fixed ones: a pymap left behind by a killed run kept 8871, and the next run's fixture,
# finding something listening there, read the stale server's mail (13 messages where 3 were delivered).
IMAP_PORT = _free_port()
PROXY_PORT = _free_port()
USER, PASSWORD, FOLDER = "demouser", "demopass", "Support"


def _wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


PYMAP = [sys.executable, "-c", "import sys; from pymap.main import main; sys.exit(main())"]
SERVER_ARGS = ["--host", "127.0.0.1", "--port", str(IMAP_PORT), "--no-tls", "--no-service", "admin"]
SERVER_ARGS += ["dict", "--demo-data"]


@pytest.fixture
def imap_server(tmp_path):
    """A fresh pymap server (in-memory): its own process, stopped after the test."""
    with open(tmp_path / "pymap.log", "wb") as log:
        process = subprocess.Popen(
            [*PYMAP, *SERVER_ARGS],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_for_port(IMAP_PORT)
            client = _client()
            client.create(FOLDER)
            client.logout()
            yield process
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def _client() -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", IMAP_PORT)
    client.login(USER, PASSWORD)
    return client


def deliver(*messages: bytes) -> None:
    client = _client()
    for raw in messages:
        assert client.append(FOLDER, None, None, raw)[0] == "OK"
    client.logout()


def seen_count() -> tuple[int, int]:
    client = _client()
    client.select(FOLDER)
    total = len(client.uid("SEARCH", "ALL")[1][0].split())
    seen = len(client.uid("SEARCH", "SEEN")[1][0].split())
    client.logout()
    return total, seen


def _mailbox(tenant, port: int = IMAP_PORT) -> Mailbox:
    with tenant_context(tenant):
        box = Mailbox(tenant=tenant, name="Support", host="127.0.0.1", port=port, use_ssl=False, username=USER)
        box.folder = FOLDER
        return workflows.mailbox_save(mailbox=box, actor=None, password=PASSWORD)


def _mail(i: int) -> bytes:
    # One sender each: a hundred mails from one address in an hour would be a storm (MailSetup's limit).
    return corpus.plain(
        f"Message number {i}", sender=f"c{i}@customer.test", subject=f"Mail {i}", message_id=f"<imap-{i}@customer.test>"
    )


@pytest.mark.django_db
def test_the_poller_reads_each_message_once_and_marks_it_seen_after_commit(tenant_a, imap_server):
    box = _mailbox(tenant_a)
    deliver(_mail(1), _mail(2), corpus.auto_reply(Auto_Submitted="auto-replied"))
    with tenant_context(tenant_a):
        report = workflows.mailbox_poll(mailbox=Mailbox.objects.get(pk=box.pk))
        assert (report.read, report.outcomes, report.error) == (3, {"created": 2, "ignored": 1}, "")
        assert sorted(Ticket.objects.values_list("subject", flat=True)) == ["Mail 1", "Mail 2"]
        box.refresh_from_db()
        assert box.last_uid > 0 and box.uidvalidity and box.last_polled_at and box.last_error == ""
        assert workflows.mailbox_poll(mailbox=box).read == 0  # nothing new
    assert seen_count() == (3, 3)
    deliver(_mail(3))
    with tenant_context(tenant_a):
        assert workflows.mailbox_poll(mailbox=Mailbox.objects.get(pk=box.pk)).outcomes == {"created": 1}
        assert Ticket.objects.count() == 3


@pytest.mark.django_db
def test_a_new_uidvalidity_reads_again_and_doubles_nothing(tenant_a, imap_server):
    box = _mailbox(tenant_a)
    deliver(_mail(1), _mail(2))
    with tenant_context(tenant_a):
        workflows.mailbox_poll(mailbox=Mailbox.objects.get(pk=box.pk))
    client = _client()  # the folder rebuilt: a new UIDVALIDITY, the same mail in it
    client.delete(FOLDER)
    client.create(FOLDER)
    client.logout()
    deliver(_mail(1), _mail(2), _mail(3))
    with tenant_context(tenant_a):
        report = workflows.mailbox_poll(mailbox=Mailbox.objects.get(pk=box.pk))
        assert report.outcomes == {"duplicate": 2, "created": 1}
        assert Ticket.objects.count() == 3


class DroppingProxy:
    """Forwards to the IMAP server and cuts both connections once the server has sent `budget` bytes: a server
    that drops the connection in the middle of a fetch."""

    def __init__(self, budget: int):
        self.budget = budget
        self.listener = socket.create_server(("127.0.0.1", PROXY_PORT))
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        server = socket.create_connection(("127.0.0.1", IMAP_PORT))
        threading.Thread(target=self._pipe, args=(client, server, None), daemon=True).start()
        self._pipe(server, client, self.budget)

    def _pipe(self, source, sink, budget):
        sent = 0
        try:
            while data := source.recv(4096):
                if budget is not None and sent + len(data) > budget:
                    sink.sendall(data[: budget - sent])
                    break
                sink.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self):
        self.listener.close()


@pytest.mark.django_db
def test_a_connection_dropped_mid_fetch_loses_nothing(tenant_a, imap_server):
    big = "x" * 20_000
    deliver(*(corpus.plain(f"{i} {big}", message_id=f"<drop-{i}@customer.test>") for i in range(6)))
    proxy = DroppingProxy(budget=60_000)  # the greeting, login, search and about two messages
    try:
        box = _mailbox(tenant_a, port=PROXY_PORT)
        with tenant_context(tenant_a):
            first = workflows.mailbox_poll(mailbox=Mailbox.objects.get(pk=box.pk))
    finally:
        proxy.close()
    assert first.error and 0 < first.read < 6
    with tenant_context(tenant_a):
        box = Mailbox.objects.get(pk=box.pk)
        assert box.last_error == first.error
        box.port = IMAP_PORT
        box = workflows.mailbox_save(mailbox=box, actor=None)
        second = workflows.mailbox_poll(mailbox=box)
        assert second.error == "" and first.read + second.outcomes.get("created", 0) == 6
        assert MailRecord.objects.filter(direction="in").count() == 6
        assert Ticket.objects.count() == 6


def _fetch_mail_process(log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "fetch_mail"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": _database_url(), "MAIL_POLL_BATCH": "1000"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@pytest.mark.django_db(transaction=True)
def test_fetch_mail_killed_mid_batch_loses_nothing_and_doubles_nothing(tenant_a, imap_server, tmp_path):
    count = 150  # enough that the kill lands mid-batch (a message takes a few milliseconds)
    deliver(*(_mail(i) for i in range(count)))
    box = _mailbox(tenant_a)

    def received() -> int:
        with tenant_context(tenant_a):
            return MailRecord.objects.filter(direction="in").count()

    with open(tmp_path / "fetch.log", "wb") as log:
        process = _fetch_mail_process(log)
        deadline = time.monotonic() + 120
        while received() < 5 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)  # mid-batch: no cleanup, maybe between a commit and its UID
        process.wait(timeout=30)
    killed_at = received()
    assert 5 <= killed_at < count, (tmp_path / "fetch.log").read_text()

    # The next polls (the advisory lock died with the killed process's connection), a batch at a time.
    for _ in range(count):
        out = io.StringIO()
        call_command("fetch_mail", stdout=out)
        if '"read": 0' in out.getvalue():
            break
    with tenant_context(tenant_a):
        ids = list(MailRecord.objects.filter(direction="in").values_list("mail_id", flat=True))
        assert sorted(ids) == sorted(f"imap-{i}@customer.test" for i in range(count))  # each once
        assert Ticket.objects.count() == count
        box.refresh_from_db()
        assert box.last_error == ""
    assert seen_count() == (count, count)


@pytest.mark.django_db
def test_a_mailbox_aimed_at_our_own_network_is_refused(tenant_a, imap_server, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    deliver(_mail(1))
    box = _mailbox(tenant_a)
    with tenant_context(tenant_a):
        report = workflows.mailbox_poll(mailbox=Mailbox.objects.get(pk=box.pk))
        assert report.read == 0 and "private, loopback" in report.error
        assert Mailbox.objects.get(pk=box.pk).last_error == report.error
        assert not MailRecord.objects.exists()
    assert seen_count() == (1, 0)
