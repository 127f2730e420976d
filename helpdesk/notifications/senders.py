"""The wire: a signed webhook POST, an apprise channel message, an e-mail. Each returns an Outcome and
never raises for a receiver's fault — the dispatcher decides what a failure means (retry or give up).

No database access here, and the callers hold no transaction: network I/O never runs inside one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import certifi
import urllib3
from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection

from helpdesk.notifications import channel_urls, ssrf

USER_AGENT = "Helpdesk-Webhooks/1"
# A customer's threaded mail (mail/outbound.py): the outbox row carries the whole message, headers and all.
THREAD_MAIL = "mail.thread"
THREAD_HEADERS = ("Message-ID", "In-Reply-To", "References", "Reply-To", "Auto-Submitted", "X-Helpdesk-Ticket")
MAX_RESPONSE_BYTES = 64 * 1024  # we keep only the status; the rest of a big body is not read
MAX_RETRY_AFTER_S = 24 * 3600


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    latency_ms: int = 0
    error: str = ""
    retry_after_s: float | None = None
    permanent: bool = False  # retrying can't help (the URL, its address or its port is refused)


@dataclass(frozen=True)
class WebhookRequest:
    url: str
    secret: str
    event_type: str
    delivery_id: str
    body: bytes
    timestamp: int


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def refused(exc: ssrf.UrlRefused, started: float) -> Outcome:
    """A URL the rules refuse is refused for good; a name that does not resolve now may later."""
    permanent = not isinstance(exc, ssrf.HostUnresolved)
    return Outcome(ok=False, latency_ms=_ms(started), error=str(exc), permanent=permanent)


# --- webhooks -------------------------------------------------------------------------------------


def webhook_body(
    *, delivery_id: str, event_type: str, event_id: int, tenant: str, created_at: str, data: dict, timestamp: int
) -> bytes:
    """The signed document. `timestamp` is inside the body, so the signature covers it: a receiver
    checks it against its clock to refuse replays (docs/WEBHOOKS.md)."""
    document = {
        "id": delivery_id,
        "event": event_type,
        "event_id": event_id,
        "tenant": tenant,
        "created_at": created_at,
        "timestamp": timestamp,
        "data": data,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True, default=str).encode()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_headers(request: WebhookRequest) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Helpdesk-Event": request.event_type,
        "X-Helpdesk-Delivery": request.delivery_id,
        "X-Helpdesk-Timestamp": str(request.timestamp),
        "X-Helpdesk-Signature": signature(request.secret, request.body),
    }


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After is either seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _pool(scheme: str, host: str, port: int, timeout: float):
    """A pool to the URL's host. Its connections are opened inside ssrf.outbound, which resolves the
    name once, checks the addresses and connects to a checked one; TLS (SNI and the certificate check)
    and the Host header use the name."""
    timeouts = urllib3.Timeout(connect=timeout, read=timeout)
    if scheme == "https":
        return urllib3.HTTPSConnectionPool(
            host, port, timeout=timeouts, retries=False, cert_reqs="CERT_REQUIRED", ca_certs=certifi.where()
        )
    return urllib3.HTTPConnectionPool(host, port, timeout=timeouts, retries=False)


def pinned_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, dict]:
    """POSTs once, never following a redirect. Raises ssrf.UrlRefused when the URL or the address its
    name resolves to now is refused."""
    ssrf.check_url(url)
    parts = urlsplit(url)
    path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    pool = _pool(parts.scheme, parts.hostname, parts.port or ssrf.default_port(parts.scheme), timeout)
    with ssrf.outbound() as guard:
        try:
            response = pool.urlopen(
                "POST", path, body=body, headers=headers, redirect=False, retries=False, preload_content=False
            )
            response.read(MAX_RESPONSE_BYTES)
            response.release_conn()
            return response.status, dict(response.headers)
        except urllib3.exceptions.HTTPError:
            if guard.refused:
                raise ssrf.UrlRefused(guard.refused) from None
            raise
        finally:
            pool.close()


def send_webhook(request: WebhookRequest) -> Outcome:
    started = time.monotonic()
    try:
        status, headers = pinned_post(request.url, request.body, webhook_headers(request), settings.WEBHOOK_TIMEOUT_S)
    except ssrf.UrlRefused as exc:
        return refused(exc, started)
    except (socket.gaierror, UnicodeError, urllib3.exceptions.NameResolutionError) as exc:
        return Outcome(ok=False, latency_ms=_ms(started), error=f"DNS: {exc}"[:1000])
    except urllib3.exceptions.HTTPError as exc:  # timeouts, refused connections, TLS, protocol errors
        return Outcome(ok=False, latency_ms=_ms(started), error=f"{type(exc).__name__}: {exc}"[:1000])
    except OSError as exc:
        return Outcome(ok=False, latency_ms=_ms(started), error=f"{type(exc).__name__}: {exc}"[:1000])
    ok = 200 <= status < 300
    retry_after = retry_after_seconds(headers.get("Retry-After")) if status in (429, 503) else None
    error = "" if ok else f"HTTP {status}" + (" (redirects are not followed)" if 300 <= status < 400 else "")
    return Outcome(ok=ok, status_code=status, latency_ms=_ms(started), error=error, retry_after_s=retry_after)


# --- apprise channels -----------------------------------------------------------------------------


def sendable_url(url: str, timeout: float) -> str:
    """The URL as apprise gets it: redirects off whatever the URL says (apprise follows them by default,
    and a 307 would carry the message to wherever the receiver points), and apprise's connect/read
    timeouts (cto/rto) unless the URL sets its own."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query["redirect"] = "no"
    query.setdefault("cto", str(timeout))
    query.setdefault("rto", str(timeout))
    return urlunsplit(parts._replace(query=urlencode(query)))


def send_apprise(kind: str, url: str, *, title: str, body: str) -> Outcome:
    """One message to a channel of `kind`. The URL passes the kind's rule again first (a channel saved
    before a rule changed fails here, for good, with the reason), then apprise sends it inside
    ssrf.outbound: each connection it opens is resolved once, checked and pinned to the checked address
    (the kind's hosts only, for Slack and Teams). Pinning at the connection covers every plugin and
    every request a plugin makes, without a second copy of apprise's message formats."""
    started = time.monotonic()
    try:
        rule = channel_urls.check(kind, url)
    except ssrf.UrlRefused as exc:
        return refused(exc, started)
    apprise = channel_urls.apprise_module()
    notifier = apprise.Apprise(asset=apprise.AppriseAsset(http_redirects=False))
    notifier.add(sendable_url(url, settings.WEBHOOK_TIMEOUT_S))
    with ssrf.outbound(hosts=rule.hosts) as guard, apprise.LogCapture(level=logging.WARNING) as log:
        result = notifier.notify(title=title, body=body)
    if guard.refused:
        return Outcome(ok=False, latency_ms=_ms(started), error=guard.refused, permanent=True)
    ok = bool(result)
    error = "" if ok else (log.getvalue().strip().splitlines() or ["apprise reported a failure"])[-1][-1000:]
    return Outcome(ok=ok, latency_ms=_ms(started), error=error)


# --- e-mail ---------------------------------------------------------------------------------------


def send_email(*, to: str, subject: str, body: str, ics: str = "") -> Outcome:
    started = time.monotonic()
    # Django's SMTP connection waits forever by default; a stuck mail server must not hold the worker.
    connection = get_connection(fail_silently=False, timeout=settings.WEBHOOK_TIMEOUT_S)
    message = EmailMessage(
        subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[to], connection=connection
    )
    if ics:
        message.attach("invite.ics", ics, "text/calendar")
    try:
        message.send(fail_silently=False)
    except (OSError, ValueError) as exc:  # smtplib's errors are OSErrors; bad headers are ValueErrors
        return Outcome(ok=False, latency_ms=_ms(started), error=f"{type(exc).__name__}: {exc}"[:1000])
    return Outcome(ok=True, latency_ms=_ms(started))


def send_thread_mail(payload: dict) -> Outcome:
    """A customer's mail in its thread: text and HTML alternatives, our Message-ID and threading headers, the
    tenant's From. Through the configured connection: SMTP by default, a provider's API with django-anymail."""
    started = time.monotonic()
    connection = get_connection(fail_silently=False, timeout=settings.WEBHOOK_TIMEOUT_S)
    headers = {name: str(value) for name, value in (payload.get("headers") or {}).items() if name in THREAD_HEADERS}
    message = EmailMultiAlternatives(
        subject=str(payload.get("subject") or ""),
        body=str(payload.get("text") or ""),
        from_email=str(payload.get("from") or settings.DEFAULT_FROM_EMAIL),
        to=[str(payload.get("to") or "")],
        headers=headers,
        connection=connection,
    )
    if payload.get("html"):
        message.attach_alternative(str(payload["html"]), "text/html")
    try:
        message.send(fail_silently=False)
    except (OSError, ValueError) as exc:
        return Outcome(ok=False, latency_ms=_ms(started), error=f"{type(exc).__name__}: {exc}"[:1000])
    return Outcome(ok=True, latency_ms=_ms(started))
