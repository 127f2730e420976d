"""pytest plugin (loaded with -p in pyproject): before pytest-django reads the settings, point
DATABASE_URL / REDIS_URL at the embedded servers when they are unset, and let webhooks reach the
local capture servers the tests start: WEBHOOK_ALLOW_PRIVATE_NETWORKS lifts the guard's address rule
and its port rule (the capture servers listen on random ports). The SSRF table
(tests/notifications/test_ssrf.py) turns both back on with override_settings. It also states the rate
limits the suite runs with."""

import os

import pytest

from helpdesk.embedded import ensure_services

_services = None


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    global _services
    os.environ.setdefault("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "1")
    # The suite runs with the production rate limits, stated here: no test writes 600 times a minute with
    # one token, and the counters are cleared before each test (tests/conftest.py). The tests of the limits
    # themselves set small ones.
    os.environ.setdefault("API_WRITE_RATE_PER_MINUTE", "600")
    os.environ.setdefault("BAD_TOKEN_LIMIT", "20")
    os.environ.setdefault("LOGIN_FAILURE_LIMIT", "10")
    _services = ensure_services()


def pytest_unconfigure(config):
    if _services is not None:
        _services.stop()
