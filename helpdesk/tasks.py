from datetime import datetime

from celery import shared_task
from django.conf import settings

from helpdesk import workflows
from helpdesk.memory import heap_trim
from helpdesk.notifications.tasks import dispatch_task
from helpdesk.retry import SWEEP_RIDE_THROUGH

__all__ = ["dispatch_task", "sweep_task"]

# A joiner still queued after this long found the pool busy with other work: dropped, not run late.
JOINER_EXPIRES_S = 10


@shared_task(name="helpdesk.sweep", **SWEEP_RIDE_THROUGH)
def sweep_task(joiner: bool = False, at: str | None = None) -> dict:
    """Beat's sweep; with `joiner`, a sweep a storm's sweep asked for, at that sweep's moment `at` (ISO 8601), which
    asks for none itself."""
    if joiner:
        report = workflows.sweep(joining=datetime.fromisoformat(at) if at else None)
    else:
        report = workflows.sweep(on_backlog=_ask_for_joiners)
    if report.claimed or report.tickets:
        heap_trim()  # free pages back to the system; the RSS still creeps (bench/SWEEP.md: a worker's memory)
    return report.as_dict()


def _ask_for_joiners(at: datetime) -> None:
    """More was due than one batch: the pool's idle processes sweep too (the claims are SKIP LOCKED, the
    escalation stage's tenant-exclusive, so they take other work, never the same). A joiner lost or expired is
    harmless: what it would have done stays due, and the next beat sweep does it."""
    for _ in range(settings.SWEEP_JOINERS):
        sweep_task.apply_async(kwargs={"joiner": True, "at": at.isoformat()}, expires=JOINER_EXPIRES_S)
