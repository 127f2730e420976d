"""`make run`: services, migrate, seed once, then web + Celery worker + beat in the foreground.

Ctrl-C (or SIGTERM) stops all three and the embedded servers; the data under .data/ stays.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from helpdesk.embedded import BASE_DIR, DATA_DIR, EmbeddedError, ensure_services

PYTHON = sys.executable
BIN = Path(PYTHON).parent
HEALTH_TIMEOUT_S = 60
PRIVATE_NETWORKS = "WEBHOOK_ALLOW_PRIVATE_NETWORKS"
PRIVATE_NETWORKS_NOTE = (
    "  Webhooks and channels may reach this machine and private networks on any port: turned on for\n"
    "  the local demo (WEBHOOK_ALLOW_PRIVATE_NETWORKS=1). Turn it off with:\n"
    "    WEBHOOK_ALLOW_PRIVATE_NETWORKS=0 make run\n"
)


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _manage(*args: str) -> None:
    result = subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR)
    if result.returncode != 0:
        raise SystemExit(f"error: 'manage.py {' '.join(args)}' failed (exit {result.returncode}); see above.")


def _children(host: str, port: int) -> dict[str, subprocess.Popen]:
    web = [
        str(BIN / "gunicorn"),
        "helpdesk.wsgi",
        "--config",
        "python:helpdesk.gunicorn_conf",
        "--bind",
        f"{host}:{port}",
        "--workers",
        os.environ.get("WEB_CONCURRENCY", "2"),
        "--threads",
        "4",
        "--access-logfile",
        "-",
    ]
    worker = [
        str(BIN / "celery"),
        "-A",
        "helpdesk",
        "worker",
        "--loglevel",
        "INFO",
        "--concurrency",
        os.environ.get("WORKER_CONCURRENCY", "2"),
        "--without-gossip",
        "--without-mingle",
    ]
    beat = [
        str(BIN / "celery"),
        "-A",
        "helpdesk",
        "beat",
        "--loglevel",
        "INFO",
        "--schedule",
        str(DATA_DIR / "celerybeat-schedule"),
    ]
    # Each child in its own process group, so Ctrl-C reaches us once and we stop them in order.
    start = lambda argv: subprocess.Popen(argv, cwd=BASE_DIR, start_new_session=True)  # noqa: E731
    return {"web": start(web), "worker": start(worker), "beat": start(beat)}


def _wait_healthy(url: str, children: dict[str, subprocess.Popen]) -> bool:
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children.values()):
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def _stop(children: dict[str, subprocess.Popen]) -> None:
    # A second Ctrl-C or SIGTERM while stopping must not cut the stop short and orphan the children.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for child in children.values():
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)


def allow_private_networks_for_the_demo() -> bool:
    """The local demo lets webhooks and channels reach services on this machine, unless the caller chose
    otherwise. True when this turned the SSRF guard's private-network rule off (the banner says so)."""
    if PRIVATE_NETWORKS in os.environ:
        return False
    os.environ[PRIVATE_NETWORKS] = "1"
    return True


def _banner(url: str, *, private_networks: bool = False) -> str:
    note = "\n" + PRIVATE_NETWORKS_NOTE if private_networks else ""
    return f"""
  Helpdesk is running at {url}
    API docs      {url}api/docs/
    Admin         {url}admin/
    Health        {url}healthz

  Demo logins (tenant "demo", password "demo-pass-123" for all):
    admin    ada       (admin)
    manager  maya      (manager)
    agents   tom (tier 1), tina (tier 1), sam (tier 2, billing), eli (tier 3, engineering),
             lea (tier 2, legal), bo (tier 0, self-service bot)

  An API token:  .venv/bin/python manage.py create_api_token demo --role manager
  Stop with Ctrl-C (the data in .data/ is kept).
{note}"""


def main() -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    if not _port_free(host, port):
        print(
            f"error: port {port} on {host} is in use. Stop what holds it, or run: PORT={port + 1} make run",
            file=sys.stderr,
        )
        return 1
    private_networks = allow_private_networks_for_the_demo()
    os.environ.setdefault("PUBLIC_URL", f"http://{host}:{port}")
    try:
        services = ensure_services()
    except EmbeddedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    children: dict[str, subprocess.Popen] = {}
    # Ctrl-C and SIGTERM both stop everything. SIGINT is set explicitly: a process started in the
    # background of a non-interactive shell (CI, nohup) inherits SIGINT as ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        _manage("migrate", "--noinput", "-v", "0")
        _manage("seed_demo", "--if-empty")
        children = _children(host, port)
        url = f"http://{host}:{port}/"
        if not _wait_healthy(url + "healthz", children):
            print("error: the web server did not become healthy; see the log above.", file=sys.stderr)
            return 1
        print(_banner(url, private_networks=private_networks), flush=True)
        while all(child.poll() is None for child in children.values()):
            time.sleep(1)
        dead = [name for name, child in children.items() if child.poll() is not None]
        print(f"error: {', '.join(dead)} stopped; stopping the rest.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
        return 0
    finally:
        _stop(children)
        services.stop()


if __name__ == "__main__":
    sys.exit(main())
