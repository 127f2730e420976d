"""GET /healthz: is this process able to reach its database and its Redis?"""

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse


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
    db, cache = _check_db(), _check_redis()
    healthy = db == "ok" and cache == "ok"
    return JsonResponse(
        {"status": "ok" if healthy else "error", "db": db, "redis": cache}, status=200 if healthy else 503
    )
