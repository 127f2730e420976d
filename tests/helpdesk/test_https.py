"""HTTPS settings from the environment: off by default (`make run` serves plain http), on with HTTPS=on
(the container): Secure cookies, HSTS, plain http redirected except /healthz, the proxy's header trusted
only when named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, override_settings

ROOT = Path(__file__).resolve().parents[2]
READ_SETTINGS = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({name: getattr(s, name, None) for name in (
    "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
    "SECURE_PROXY_SSL_HEADER")}))
"""


def _settings_with(**env) -> dict:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "helpdesk.settings", **env}
    for name in ("HTTPS", "PROXY_SSL_HEADER", "SECURE_COOKIES", "HSTS_SECONDS", "SECURE_SSL_REDIRECT"):
        if name not in env:
            environment.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-c", READ_SETTINGS], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_plain_http_is_the_default():
    assert _settings_with() == {
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_PROXY_SSL_HEADER": None,
    }


def test_https_on_turns_on_secure_cookies_hsts_and_the_redirect():
    assert _settings_with(HTTPS="on", PROXY_SSL_HEADER="X-Forwarded-Proto") == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
    }


HTTPS_ON = {
    "SECURE_SSL_REDIRECT": True,
    "SECURE_HSTS_SECONDS": 31536000,
    "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
}


@pytest.mark.django_db
@override_settings(**HTTPS_ON)
def test_behind_the_proxy_pages_carry_hsts_and_plain_http_is_redirected():
    client = Client()
    redirected = client.get("/login/")
    assert redirected.status_code == 301 and redirected["Location"] == "https://testserver/login/"
    page = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert page.status_code == 200 and page["Strict-Transport-Security"] == "max-age=31536000"
    assert page.cookies["csrftoken"]["secure"] is True
    assert client.get("/healthz").status_code in {200, 503}  # answered over plain http, never redirected
