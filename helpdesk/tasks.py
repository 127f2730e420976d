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
        heap_trim()  # free pages back to the system; the RSS still creeps (bench/SWEEP.md: a worker's memory)
    return report.as_dict()
