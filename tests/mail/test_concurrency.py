"""The same mail delivered twice at the same moment (a provider's retry racing the first try, two pollers):
the record's INSERT claims the Message-ID, so one delivery opens the ticket and the other is a duplicate."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from helpdesk import workflows
from helpdesk.tenancy import tenant_context
from mail.models import MailRecord
from tests.mail import corpus
from tickets.models import Ticket


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_deliveries_of_one_mail_make_one_ticket(tenant_a):
    raw = corpus.plain("Hello twice", message_id="<race-1@customer.test>")
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def deliver():
        try:
            barrier.wait(timeout=30)
            with tenant_context(tenant_a):
                outcomes.append(workflows.email_receive(tenant=tenant_a, actor=None, raw=raw, source="raw").outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes) == ["created", "duplicate", "duplicate", "duplicate"]
    with tenant_context(tenant_a):
        assert Ticket.objects.count() == 1
        assert MailRecord.objects.filter(mail_id="race-1@customer.test").count() == 1
