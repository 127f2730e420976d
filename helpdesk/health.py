"""GET /healthz: is this process able to reach its database and its Redis? 503 names the part that is
down ("unavailable": ["database"]) and says when to look again (Retry-After)."""

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse

from helpdesk.unavailable import DATABASE, REDIS, RETRY_AFTER_S


def _check_db() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure is the answer here, not an error
        return f"error: {exc.__class__.__name__}"
    return "ok"


def _check_redis() -> str:
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
    except Exception as exc:
        return f"error: {exc.__class__.__name__}"
    return "ok"


def healthz(request):
    checks = {DATABASE: _check_db(), REDIS: _check_redis()}
    down = [part for part, state in checks.items() if state != "ok"]
    body = {"status": "error" if down else "ok", "db": checks[DATABASE], "redis": checks[REDIS]}
    if not down:
        return JsonResponse(body)
    response = JsonResponse({**body, "unavailable": down}, status=503)
    response["Retry-After"] = str(RETRY_AFTER_S)
    response["Cache-Control"] = "no-store"
    return response
