"""A real HTTP receiver on 127.0.0.1 (webhooks, apprise json:// channels) and the cast's notification
setup. Nothing of ours is mocked: deliveries go over real sockets to this server."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpdesk.notifications import defaults, services
from helpdesk.notifications.models import ChannelKind, NotificationChannel
from helpdesk.tenancy import tenant_context

SECRET = "whsec-test-0123456789abcdef"


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    method: str = "POST"

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


class _CountingServer(ThreadingHTTPServer):
    """Counts the connections it accepts: "nothing reached the receiver" means not even a TLS hello."""

    daemon_threads = True
    connections = 0

    def verify_request(self, request, client_address) -> bool:
        self.connections += 1
        return True


class CaptureServer:
    """Records every request; answers from a script of replies (then 200). `hold` makes the next
    request wait until released (a receiver stuck while a worker dies)."""

    def __init__(self):
        self.requests: list[Received] = []
        self.script: list[Reply] = []
        self.lock = threading.Lock()
        self.arrived = threading.Event()
        self.server = _CountingServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def connections(self) -> int:
        return self.server.connections

    @property
    def json_url(self) -> str:
        """The receiver as an apprise json:// channel URL."""
        return f"json://127.0.0.1:{self.server.server_address[1]}"

    def reply(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.requests) < count:
            time.sleep(0.05)
        return list(self.requests)

    def _next_reply(self) -> Reply:
        with self.lock:
            return self.script.pop(0) if self.script else Reply()

    def _handler(self):
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with capture.lock:
                    capture.requests.append(Received(self.path, dict(self.headers), body, self.command))
                capture.arrived.set()
                reply = capture._next_reply()
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the client gave up (timeout) or died

            do_GET = do_PUT = do_POST  # a client that follows a 302/303 comes back with a GET

            def log_message(self, *args):
                pass

        return Handler

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = CaptureServer()
    yield server
    server.close()


@pytest.fixture
def templates_a(in_a):
    defaults.install(tenant=in_a)
    return in_a


def email_channel(tenant, **fields) -> NotificationChannel:
    with tenant_context(tenant):
        channel = NotificationChannel(tenant=tenant, name=fields.pop("name", "Mail"), kind=ChannelKind.EMAIL, **fields)
        return services.channel_save(channel=channel, url="")


def json_channel(tenant, url: str, **fields) -> NotificationChannel:
    with tenant_context(tenant):
        channel = NotificationChannel(tenant=tenant, name=fields.pop("name", "Chat"), kind=ChannelKind.JSON, **fields)
        return services.channel_save(channel=channel, url=url)


def webhook(tenant, url: str, events=("escalation.created",), secret: str = SECRET):
    with tenant_context(tenant):
        return services.webhook_create(tenant=tenant, url=url, events=list(events), secret=secret)
