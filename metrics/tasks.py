from celery import shared_task

from helpdesk import workflows


@shared_task(name="metrics.weekly_digest")
def weekly_digest_task() -> int:
    """Beat runs it on Mondays (helpdesk/celery.py); idempotent: one digest per tenant and week."""
    return workflows.metrics_digests()
