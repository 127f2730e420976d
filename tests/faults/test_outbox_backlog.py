"""An outbox backlog drained in order without starving new urgent work. The issue's 100,000 events are
scaled down to 300 webhook deliveries (each a real HTTP request to a receiver in this process, one after
another: 100,000 would take the suite minutes); the claims are the same whatever the backlog's size, one
indexed probe each (docs/SCALING.md). `FAULTS_BACKLOG=100000` runs it at the issue's size."""

from __future__ import annotations

import os
import time

import psycopg
import pytest

from helpdesk import workflows
from helpdesk.notifications import dispatcher
from helpdesk.notifications.models import DeliveryStatus
from tests.faults.processes import Receiver
from tests.integration.test_worker import _database_url
from tests.notifications.conftest import webhook
from tests.notifications.helpers import deliveries, open_ticket

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

BACKLOG = int(os.environ.get("FAULTS_BACKLOG", "300"))

# Copies of one real ticket.created event, older than anything new, each with its place in the backlog.
BACKLOG_SQL = """
INSERT INTO helpdesk_outboxevent (tenant_id, type, dedupe_key, payload, created_at)
SELECT e.tenant_id, e.type, 'backlog:' || g, e.payload || jsonb_build_object('seq', g),
       now() - interval '1 hour' + g * interval '1 ms'
FROM helpdesk_outboxevent e, generate_series(1, %s) g
WHERE e.id = %s
"""


def test_a_backlog_drains_in_order_and_an_urgent_event_goes_first():
    receiver = Receiver()
    try:
        tenant = workflows.tenant_bootstrap(slug="acme", name="Acme")
        webhook(tenant, receiver.url, events=["ticket.created"])
        routine = open_ticket(tenant, subject="routine")
        with psycopg.connect(_database_url(), autocommit=True) as owner:
            [source] = owner.execute(
                "SELECT id FROM helpdesk_outboxevent WHERE type = 'ticket.created' "
                "AND (payload->>'ticket')::bigint = %s",
                [routine.pk],
            ).fetchone()
            owner.execute(BACKLOG_SQL, [BACKLOG, source])
            owner.execute("UPDATE helpdesk_outboxevent SET dispatched_at = now() WHERE id = %s", [source])
        urgent = open_ticket(tenant, subject="Production is down", priority="urgent")
        started = time.monotonic()
        report = dispatcher.dispatch(budget_s=max(300, BACKLOG))
        drained = time.monotonic() - started
    finally:
        receiver.close()
    assert report.events == BACKLOG + 1 and report.delivered == BACKLOG + 1
    documents = receiver.documents
    # The urgent one was written last, after the whole backlog, and delivered first.
    assert documents[0]["data"]["ticket"] == urgent.pk
    # The backlog in the order it was written.
    assert [d["data"]["seq"] for d in documents[1:]] == list(range(1, BACKLOG + 1))
    rows = deliveries(tenant)
    assert len(rows) == BACKLOG + 1 and {d.status for d in rows} == {DeliveryStatus.DELIVERED}
    assert all(d.attempts == 1 for d in rows)  # 0 doubled
    assert len({delivery for delivery, _ in receiver.seen}) == BACKLOG + 1
    print(f"\noutbox backlog: {BACKLOG} events + 1 urgent fanned out and delivered in {drained:.1f} s; urgent first")
