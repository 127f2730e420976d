"""pytest plugin (loaded with -p in pyproject): before pytest-django reads the settings, point
DATABASE_URL / REDIS_URL at the embedded servers when they are unset."""

import pytest

from helpdesk.embedded import ensure_services

_services = None


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    global _services
    _services = ensure_services()


def pytest_unconfigure(config):
    if _services is not None:
        _services.stop()
