from celery import shared_task

from helpdesk import workflows
from helpdesk.notifications.tasks import dispatch_task
from helpdesk.retry import SWEEP_RIDE_THROUGH

__all__ = ["dispatch_task", "sweep_task"]


@shared_task(name="helpdesk.sweep", **SWEEP_RIDE_THROUGH)
def sweep_task() -> dict:
    return workflows.sweep().as_dict()
