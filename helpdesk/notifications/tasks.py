from celery import shared_task

from helpdesk.notifications import dispatcher
from helpdesk.retry import RIDE_THROUGH


@shared_task(name="helpdesk.dispatch", **RIDE_THROUGH)
def dispatch_task() -> dict:
    """Queued after the commit of every transaction that wrote to the outbox; the sweep dispatches too."""
    return dispatcher.dispatch().as_dict()
