"""Rate limits that hold across gunicorn workers and machines: counted in Redis (REDIS_URL).

Two limits live here (sign-in lockouts are django-axes', configured in settings):
- bad API tokens per client address (TenantMiddleware): an address that sent BAD_TOKEN_LIMIT unknown or
  revoked tokens in a window gets 429 for every token-authenticated request until the window ends —
  good tokens included, or the difference between 429 and 200 would tell a guesser which key is right;
- writes per token or member (WriteRateThrottle, a DRF throttle): API_WRITE_RATE_PER_MINUTE
  POST/PATCH/PUT/DELETE a minute. Reads are not limited.

A window opens with its first event and lasts its length (one key with that expiry; counting is one
round trip, SET NX EX + INCR + TTL in a transaction, so concurrent workers never lose a count), and the
answer's Retry-After is what is left of it. If Redis cannot be reached the limits are skipped (logged):
they protect the service, they must not take it down.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis
from django.conf import settings
from django.http import JsonResponse
from rest_framework import throttling
from rest_framework.permissions import SAFE_METHODS

from helpdesk.redis_client import shared_client

logger = logging.getLogger(__name__)

PREFIX = "helpdesk:throttle:"
WRITE_WINDOW_S = 60
MSG_BAD_TOKENS = "Too many requests with an invalid token from this address. Try again in {seconds} s."


@dataclass(frozen=True)
class Window:
    count: int
    retry_after: int  # seconds until the window ends


def hit(name: str, *, window_s: int) -> Window | None:
    """Counts one event in the window of `name` (opened by its first event); None when Redis is unreachable."""
    key = PREFIX + name
    try:
        pipe = shared_client().pipeline(transaction=True)
        pipe.set(key, 0, ex=window_s, nx=True)
        pipe.incr(key)
        pipe.ttl(key)
        _, count, ttl = pipe.execute()
    except redis.RedisError:
        logger.warning("rate limit %s not counted: Redis is unreachable", name, exc_info=True)
        return None
    return Window(count=count, retry_after=max(ttl, 1))


def peek(name: str) -> Window | None:
    """The open window of `name` without counting (count 0 when none is open); None when Redis is unreachable."""
    key = PREFIX + name
    try:
        pipe = shared_client().pipeline(transaction=True)
        pipe.get(key)
        pipe.ttl(key)
        count, ttl = pipe.execute()
    except redis.RedisError:
        logger.warning("rate limit %s not read: Redis is unreachable", name, exc_info=True)
        return None
    return Window(count=int(count or 0), retry_after=max(ttl, 1))


def client_address(request) -> str | None:
    """The caller's address. Behind TRUSTED_PROXY_COUNT proxies it is the address the outermost of them
    saw, read from the right of X-Forwarded-For: a client can write anything on the left. Also the
    address django-axes counts sign-in failures against (AXES_CLIENT_IP_CALLABLE)."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR") or None  # None: a request made in-process (the test client's login)


# --- bad API tokens per address -----------------------------------------------------------------------


def _bad_token_key(address: str) -> str:
    return f"bad-token:{address}"


def bad_token_lockout(request) -> Window | None:
    """The address's window if it sent too many bad tokens in it (the caller answers 429), else None."""
    window = peek(_bad_token_key(client_address(request)))
    return window if window is not None and window.count >= settings.BAD_TOKEN_LIMIT else None


def bad_token_seen(request) -> None:
    hit(_bad_token_key(client_address(request)), window_s=settings.BAD_TOKEN_WINDOW_S)


def rate_limited_response(window: Window) -> JsonResponse:
    message = MSG_BAD_TOKENS.format(seconds=window.retry_after)
    response = JsonResponse({"error": {"code": "rate_limited", "message": message, "fields": {}}}, status=429)
    response["Retry-After"] = str(window.retry_after)
    return response


# --- writes per token -------------------------------------------------------------------------------


class WriteRateThrottle(throttling.BaseThrottle):
    """API_WRITE_RATE_PER_MINUTE writes per API token (or signed-in member) a minute; reads pass. DRF turns
    a refusal into 429 with Retry-After, and helpdesk.errors into the error shape (code rate_limited)."""

    def allow_request(self, request, view) -> bool:
        principal = request.user
        if request.method in SAFE_METHODS or not getattr(principal, "is_authenticated", False):
            return True
        who = f"token:{principal.token.pk}" if principal.token else f"member:{principal.membership.pk}"
        window = hit(f"write:{who}", window_s=WRITE_WINDOW_S)
        self.retry_after = window.retry_after if window else None
        return window is None or window.count <= settings.API_WRITE_RATE_PER_MINUTE

    def wait(self) -> float | None:
        return self.retry_after
