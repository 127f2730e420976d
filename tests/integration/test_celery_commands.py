"""The standard Celery commands start in any checkout: `celery -A helpdesk beat` and `worker --beat` with the
default schedule file in a folder that does not exist (a checkout that uses external services has no .data/)."""

import os
import subprocess
import sys
import threading
import time
import uuid

import pytest

from tests.integration.conftest import ROOT

pytestmark = pytest.mark.slow

SENT = "Sending due task sweep"


def _run_until(argv: list[str], env: dict, marker: str, budget_s: float = 60) -> tuple[str, int | None]:
    """Runs a Celery command until it prints `marker` (or exits, or the budget runs out); returns its output
    and its exit code (None: it was still running and was stopped)."""
    process = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + budget_s
    while time.monotonic() < deadline and process.poll() is None and marker not in "".join(lines):
        time.sleep(0.2)
    code = process.poll()
    if code is None:
        process.terminate()
        process.wait(timeout=30)
    reader.join(timeout=5)
    return "".join(lines), code


@pytest.fixture
def missing_folder(tmp_path):
    return tmp_path / f"absent-{uuid.uuid4().hex[:6]}" / "celerybeat-schedule"


def _env(schedule) -> dict:
    # A one-second sweep interval: the first sweep is sent a second after the start, not thirty.
    return {**os.environ, "CELERY_BEAT_SCHEDULE_FILENAME": str(schedule), "SWEEP_INTERVAL_S": "1"}


@pytest.mark.parametrize(
    "command",
    [
        ["beat", "--loglevel", "INFO"],
        # A queue of its own: the worker must not take other tests' tasks; its beat sends to the default queue.
        ["worker", "--beat", "--concurrency", "1", "--loglevel", "INFO", "-Q", f"beat-test-{uuid.uuid4().hex[:6]}"],
    ],
    ids=["beat", "worker --beat"],
)
def test_it_starts_beat_when_the_schedule_folder_is_missing(missing_folder, command):
    output, code = _run_until([sys.executable, "-m", "celery", "-A", "helpdesk", *command], _env(missing_folder), SENT)
    assert SENT in output, output[-3000:]
    assert code is None, output[-3000:]  # still running when stopped: no crash at start
    assert "FileNotFoundError" not in output
    assert any(path.name.startswith("celerybeat-schedule") for path in missing_folder.parent.iterdir())
