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
from django.core.mail import EmailMessage, get_connection

from helpdesk.notifications import ssrf

USER_AGENT = "Helpdesk-Webhooks/1"
MAX_RESPONSE_BYTES = 64 * 1024  # we keep only the status; the rest of a big body is not read
MAX_RETRY_AFTER_S = 24 * 3600
# apprise plugins whose URL host is the host they post to: the SSRF guard checks it at delivery.
# (Provider schemes such as slack://, msteams:// or twilio:// post to the provider's fixed endpoints.)
HOST_SCHEMES = {"json", "jsons", "form", "forms", "xml", "xmls", "workflow", "workflows"}
SECURE_SCHEMES = {"jsons", "forms", "xmls", "workflows"}


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    latency_ms: int = 0
    error: str = ""
    retry_after_s: float | None = None
    permanent: bool = False  # retrying can't help (the address is refused)


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


def _pool(scheme: str, address: str, host: str, port: int, timeout: float):
    """A connection to the address we checked, not to whatever the name resolves to next: Host header
    and TLS (SNI and certificate check) still use the name."""
    timeouts = urllib3.Timeout(connect=timeout, read=timeout)
    if scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            port,
            timeout=timeouts,
            retries=False,
            server_hostname=host,
            assert_hostname=host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
        )
    return urllib3.HTTPConnectionPool(address, port, timeout=timeouts, retries=False)


def pinned_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, dict]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = ssrf.safe_address(parts.hostname, port)
    path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    pool = _pool(parts.scheme, address, parts.hostname, port, timeout)
    try:
        response = pool.urlopen(
            "POST",
            path,
            body=body,
            headers={**headers, "Host": parts.netloc.rsplit("@", 1)[-1]},
            redirect=False,
            retries=False,
            preload_content=False,
        )
        response.read(MAX_RESPONSE_BYTES)
        response.release_conn()
        return response.status, dict(response.headers)
    finally:
        pool.close()


def send_webhook(request: WebhookRequest) -> Outcome:
    started = time.monotonic()
    try:
        status, headers = pinned_post(request.url, request.body, webhook_headers(request), settings.WEBHOOK_TIMEOUT_S)
    except ssrf.UrlRefused as exc:
        return Outcome(ok=False, latency_ms=_ms(started), error=str(exc), permanent=True)
    except (socket.gaierror, UnicodeError) as exc:
        return Outcome(ok=False, latency_ms=_ms(started), error=f"DNS: {exc}")
    except urllib3.exceptions.HTTPError as exc:  # timeouts, refused connections, TLS, protocol errors
        return Outcome(ok=False, latency_ms=_ms(started), error=f"{type(exc).__name__}: {exc}"[:1000])
    except OSError as exc:
        return Outcome(ok=False, latency_ms=_ms(started), error=f"{type(exc).__name__}: {exc}"[:1000])
    ok = 200 <= status < 300
    retry_after = retry_after_seconds(headers.get("Retry-After")) if status in (429, 503) else None
    error = "" if ok else f"HTTP {status}" + (" (redirects are not followed)" if 300 <= status < 400 else "")
    return Outcome(ok=ok, status_code=status, latency_ms=_ms(started), error=error, retry_after_s=retry_after)


# --- apprise channels -----------------------------------------------------------------------------


def with_timeouts(url: str, timeout: float) -> str:
    """apprise's connect/read timeouts (cto/rto) unless the URL sets its own."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.setdefault("cto", str(timeout))
    query.setdefault("rto", str(timeout))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _apprise():
    # Imported when a channel is used: loading its ~100 plugins costs web processes ~0.1 s at start.
    import apprise

    return apprise


def check_channel_url(url: str) -> None:
    """Raises ssrf.UrlRefused for a URL apprise can't use or whose host is a forbidden address."""
    plugin = _apprise().Apprise.instantiate(url)
    if plugin is None:
        raise ssrf.UrlRefused("apprise does not recognise this URL.")
    scheme = urlsplit(url).scheme.lower()
    if scheme in HOST_SCHEMES:
        parts = urlsplit(url)
        ssrf.check_host(parts.hostname or "", parts.port or (443 if scheme in SECURE_SCHEMES else 80))


def send_apprise(url: str, *, title: str, body: str) -> Outcome:
    started = time.monotonic()
    try:
        check_channel_url(url)
    except ssrf.UrlRefused as exc:
        permanent = str(exc) != ssrf.ERR_RESOLVE  # a name that does not resolve now may later
        return Outcome(ok=False, latency_ms=_ms(started), error=str(exc), permanent=permanent)
    apprise = _apprise()
    notifier = apprise.Apprise()
    notifier.add(with_timeouts(url, settings.WEBHOOK_TIMEOUT_S))
    with apprise.LogCapture(level=logging.WARNING) as log:
        result = notifier.notify(title=title, body=body)
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
