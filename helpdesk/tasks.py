from celery import shared_task

from helpdesk import workflows
from helpdesk.memory import heap_trim
from helpdesk.notifications.tasks import dispatch_task
from helpdesk.retry import SWEEP_RIDE_THROUGH

__all__ = ["dispatch_task", "sweep_task"]


@shared_task(name="helpdesk.sweep", **SWEEP_RIDE_THROUGH)
def sweep_task() -> dict:
    report = workflows.sweep()
    if report.claimed or report.tickets:
        heap_trim()  # what the sweep's work freed goes back to the system, or the worker's RSS creeps up
    return report.as_dict()
