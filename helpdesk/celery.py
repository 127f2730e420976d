"""The Celery app. Beat runs the sweep every SWEEP_INTERVAL_S; a second beat started by mistake is
harmless because the sweep claims its work in PostgreSQL."""

import logging
import os
import tempfile
from pathlib import Path

from celery import Celery
from celery.beat import PersistentScheduler
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

logger = logging.getLogger(__name__)


class Scheduler(PersistentScheduler):
    """Celery's persistent scheduler, made to start in any checkout or container. The schedule itself is
    code (schedule_sweep below); the file only remembers when each entry last ran, so losing it costs at
    most one early sweep, which is harmless. Its folder is made when missing (a checkout using external
    services has no .data/), and an unwritable folder falls back to the temporary directory."""

    def setup_schedule(self):
        self.schedule_filename = writable_schedule_path(self.schedule_filename)
        super().setup_schedule()


def writable_schedule_path(wanted: str) -> str:
    path = Path(wanted)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if os.access(path.parent, os.W_OK):
            return str(path)
    except OSError:
        pass
    fallback = Path(tempfile.gettempdir()) / "helpdesk-celerybeat-schedule"
    logger.warning("beat: %s is not writable; keeping the schedule's state in %s", path.parent, fallback)
    return str(fallback)


COMPACT_TICKET_DAYS_S = 300

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def schedule_sweep(sender, **kwargs):
    from django.conf import settings

    interval = settings.SWEEP_INTERVAL_S
    # expires: a sweep still queued when the next is due is dropped rather than piling up.
    sender.add_periodic_task(interval, sender.signature("helpdesk.sweep", expires=interval), name="sweep")
    poll = settings.MAIL_POLL_INTERVAL_S
    sender.add_periodic_task(poll, sender.signature("mail.poll", expires=poll), name="mail poll")
    # The daily ticket counts' delta rows folded per key (metrics/0006): intake only appends, this keeps the
    # metrics' reads at about one row per key and day.
    sender.add_periodic_task(
        COMPACT_TICKET_DAYS_S,
        sender.signature("metrics.compact_ticket_days", expires=COMPACT_TICKET_DAYS_S),
        name="metrics-ticket-days-compact",
    )
    # The managers' weekly digest of the escalation metrics (metrics/digest.py): Monday morning, UTC; one
    # outbox row per tenant and week, so a repeated run sends nothing twice.
    sender.add_periodic_task(
        crontab(minute=0, hour=6, day_of_week="mon"),
        sender.signature("metrics.weekly_digest", expires=6 * 3600),
        name="metrics-digest",
    )
