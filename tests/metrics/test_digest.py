"""The weekly digest to managers: last week's tiles and what moved, one outbox row per tenant and week."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from helpdesk import workflows
from helpdesk.models import OutboxEvent
from helpdesk.tenancy import tenant_context
from tests.metrics.dataset import build

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


def test_the_digest_lists_last_weeks_tiles_and_what_moved_once(db):
    dataset = build()
    assert workflows.metrics_digests(now=MONDAY) == 1
    assert workflows.metrics_digests(now=MONDAY) == 0  # the same week again: nothing new
    with tenant_context(dataset.tenant):
        (event,) = OutboxEvent.objects.filter(type="metrics.digest")
    payload = event.payload
    # Last week, local 2026-10-26 .. 11-01: T4, T5, T6 and T7 (00:30 CET on the 27th), escalated T4 and T7:
    # 50 %. The week before (10-19 .. 10-25 local): T8, T1, T2, T3, all escalated: 100 %.
    assert payload["week"] == "2026-10-26"
    assert payload["tiles"]["escalation_rate"] == {"value": 50.0, "health": "bad"}
    assert "- escalation rate: 50 (bad)" in payload["text"]
    change = next(c for c in payload["moved"] if c["metric"] == "escalation_rate")
    assert (change["from"], change["to"]) == (100.0, 50.0)
    assert "What moved since the week before:" in payload["text"]
