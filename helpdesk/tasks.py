from celery import shared_task

from helpdesk import workflows


@shared_task(name="helpdesk.sweep")
def sweep_task() -> dict:
    return workflows.sweep().as_dict()
