"""A web process (gunicorn imports helpdesk.wsgi, never helpdesk.celery) queues its tasks through the project's
Celery app, to REDIS_URL: the dispatch queued after each outbox write (helpdesk/outbox.py) went to Celery's
default app instead, amqp://localhost, a broker no worker of ours reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import redis
from django.conf import settings

from tests.integration.conftest import ROOT

WEB_PROCESS = """
import json
import os
import helpdesk.wsgi  # what gunicorn loads, and nothing else
from helpdesk.notifications.tasks import dispatch_task

app = dispatch_task.app
# Checked before sending: Celery's default app would send to amqp://localhost, a broker that is not ours.
assert app.main == "helpdesk", (app.main, app.conf.broker_url)
# A queue of the test's own: no worker on this Redis consumes it, and it is deleted after.
sent = dispatch_task.apply_async(expires=60, queue=os.environ["TEST_QUEUE"])
print(json.dumps({"id": sent.id}))
"""


def test_a_web_process_queues_its_tasks_to_the_projects_broker():
    queue = f"test-celery-app-{uuid.uuid4().hex}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "helpdesk.settings", "TEST_QUEUE": queue}
    done = subprocess.run(
        [sys.executable, "-c", WEB_PROCESS], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    task_id = json.loads(done.stdout.strip().splitlines()[-1])["id"]
    with redis.Redis.from_url(settings.REDIS_URL) as client:
        try:
            queued = [raw for raw in client.lrange(queue, 0, -1) if json.loads(raw)["headers"]["id"] == task_id]
            assert len(queued) == 1 and json.loads(queued[0])["headers"]["task"] == "helpdesk.dispatch"
        finally:
            client.delete(queue)
