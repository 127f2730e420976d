from celery import shared_task

from helpdesk import workflows


@shared_task(name="mail.poll")
def poll_task() -> list[dict]:
    """Every tenant's IMAP mailboxes (beat, every MAIL_POLL_INTERVAL_S)."""
    return [vars(report) for report in workflows.mail_poll_all()]
