"""The Celery app. Beat runs the sweep every SWEEP_INTERVAL_S; a second beat started by mistake is
harmless because the sweep claims its work in PostgreSQL."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def schedule_sweep(sender, **kwargs):
    from django.conf import settings

    interval = settings.SWEEP_INTERVAL_S
    # expires: a sweep still queued when the next is due is dropped rather than piling up.
    sender.add_periodic_task(interval, sender.signature("helpdesk.sweep", expires=interval), name="sweep")
