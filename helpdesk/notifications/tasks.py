from celery import shared_task

from helpdesk.notifications import dispatcher


@shared_task(name="helpdesk.dispatch")
def dispatch_task() -> dict:
    """Queued after the commit of every transaction that wrote to the outbox; the sweep dispatches too."""
    return dispatcher.dispatch().as_dict()
