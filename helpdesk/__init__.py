"""Project package: settings, tenancy, API plumbing, notifications, cross-app workflows."""

# The project's Celery app in every process that loads the project, as Celery's Django guide has it: gunicorn
# imports helpdesk.wsgi, never helpdesk.celery, and `shared_task`s sent there (the outbox's dispatch after commit)
# went through Celery's default app to amqp://localhost instead of REDIS_URL.
from helpdesk.celery import app as celery_app

__all__ = ["celery_app"]
