"""The metrics app's writes: a customer's satisfaction score and a tenant's health ranges. Called through
helpdesk.workflows only."""

from __future__ import annotations

import time
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from helpdesk.validation import full_check
from metrics.models import CsatResponse, CsatSource, HealthThreshold
from metrics.validation import threshold_problems
from tickets.models import Ticket


@transaction.atomic
def csat_record(*, ticket: Ticket, score: int, source: str = CsatSource.API, at: datetime | None = None):
    """One score per ticket: answering again replaces it (the customer changed their mind). Returns the row
    and whether it is new."""
    at = at or timezone.now()
    response, created = CsatResponse.objects.update_or_create(
        tenant_id=ticket.tenant_id,
        ticket=ticket,
        defaults={"score": score, "source": source, "created_at": at},
    )
    return response, created


@transaction.atomic
def threshold_save(*, threshold: HealthThreshold) -> HealthThreshold:
    full_check(threshold, threshold_problems)
    threshold.save()
    return threshold


@transaction.atomic
def threshold_delete(*, threshold: HealthThreshold) -> None:
    """Back to the seeds' range for that metric."""
    threshold.delete()


# Delta rows folded per statement: each statement locks only the rows it folds (SKIP LOCKED), for milliseconds.
TICKET_DAYS_BATCH = 5000


def ticket_days_compact(*, limit: int = TICKET_DAYS_BATCH, budget_s: float = 30.0) -> int:
    """Folds the daily ticket counts' delta rows (appended by the triggers on tickets_ticket, migration
    metrics/0006) into one row per key, a batch per transaction, until a batch finds fewer than `limit` or the
    time budget is spent; returns how many delta rows it folded. The sums never change: each batch deletes
    exactly the rows it sums, in one statement. Safe concurrently (SKIP LOCKED) and with writers, who never wait."""
    started = time.monotonic()
    folded = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT metrics_ticket_days_compact(%s)", [limit])
            batch = cursor.fetchone()[0]
        folded += batch
        if batch < limit or time.monotonic() - started >= budget_s:
            return folded
