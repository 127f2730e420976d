"""The metrics app's writes: a customer's satisfaction score and a tenant's health ranges. Called through
helpdesk.workflows only."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
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
