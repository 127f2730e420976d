"""`Idempotency-Key` on POST: the same key with the same request within 24 h gets the first response
and creates nothing new; the same key with a different request gets 409.

The key row is inserted before the view runs, in the request's transaction. A concurrent duplicate
blocks on the unique index until the first request commits, then finds the stored response — so two
racing retries can never both create.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone

from helpdesk.errors import error_json
from helpdesk.models import IdempotencyKey

HEADER = "Idempotency-Key"
TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255
# Replaying these would be wrong: a rate limit or a server error says nothing about the request itself.
NOT_STORED = {429}


def _request_hash(request) -> str:
    digest = hashlib.sha256()
    # The caller is part of the request: another token of the same tenant replaying a key must not get
    # the first caller's response (it could carry what that caller's role was allowed to do).
    principal = request.principal
    who = f"token:{principal.token.pk}" if principal.token else f"member:{principal.membership.pk}"
    digest.update(who.encode() + b"\0")
    digest.update(request.method.encode())
    digest.update(b"\0" + request.get_full_path().encode() + b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def _claim(*, tenant, key: str, request_hash: str) -> IdempotencyKey | None:
    """Inserts the key; returns None when we own it, else the existing row (after any racer commits)."""
    now = timezone.now()
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(tenant=tenant, key=key, request_hash=request_hash, created_at=now)
            return None
    except IntegrityError:
        pass
    # An expired key is reused as if new: claimed by a conditional UPDATE so only one request wins it.
    taken = IdempotencyKey.objects.filter(key=key, created_at__lt=now - TTL).update(
        request_hash=request_hash, status_code=None, content_type="", response_body=b"", created_at=now
    )
    if taken:
        return None
    return IdempotencyKey.objects.get(key=key)


def _replay(record: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(bytes(record.response_body), status=record.status_code, content_type=record.content_type)
    response["Idempotent-Replayed"] = "true"
    return response


class IdempotencyMiddleware:
    """Runs inside TenantMiddleware, so the key table is tenant-scoped like everything else."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = request.headers.get(HEADER)
        principal = getattr(request, "principal", None)
        if request.method != "POST" or key is None or principal is None:
            return self.get_response(request)
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            return error_json(400, "invalid", f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters.")
        # A body over the limit raises RequestDataTooBig here: Django's handler400 (helpdesk.errors.bad_request)
        # answers it with the API's 413.
        request_hash = _request_hash(request)
        existing = _claim(tenant=principal.tenant, key=key, request_hash=request_hash)
        if existing is not None:
            if existing.request_hash != request_hash:
                return error_json(409, "idempotency_key_reused", f"This {HEADER} was used for a different request.")
            return _replay(existing)
        response = self.get_response(request)
        self._store(key, response)
        return response

    def _store(self, key: str, response) -> None:
        if response.status_code >= 500 or response.status_code in NOT_STORED:
            IdempotencyKey.objects.filter(key=key).delete()
            return
        IdempotencyKey.objects.filter(key=key).update(
            status_code=response.status_code,
            content_type=response.get("Content-Type", ""),
            response_body=response.content,
        )
