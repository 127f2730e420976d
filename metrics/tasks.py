from celery import shared_task

from helpdesk import workflows


@shared_task(name="metrics.weekly_digest")
def weekly_digest_task() -> int:
    """Beat runs it on Mondays (helpdesk/celery.py); idempotent: one digest per tenant and week."""
    return workflows.metrics_digests()


@shared_task(name="metrics.compact_ticket_days")
def compact_ticket_days_task() -> int:
    """Beat runs it every few minutes (helpdesk/celery.py); safe to overlap with itself and with any write."""
    return workflows.metrics_ticket_days_compact()
