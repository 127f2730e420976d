"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server.

The browser is never downloaded: CHROMIUM (default /usr/bin/chromium) must exist, else these tests
fail with a message saying how to install it (`apt-get install chromium`)."""

import os
import shutil

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# The flags keep Chromium from reaching for Google's services, which this network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
]


@pytest.fixture
def browser_page():
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls made by fixture teardown
    # afterwards are still synchronous, so Django's async-safety check must not trip on them.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        yield page
        browser.close()
    # This thread read the database after the browser's requests; an open connection here was seen still open
    # when the run dropped the test database ("is being accessed by other users"). Closed, the drop succeeds.
    from django.db import connection

    connection.close()


@pytest.fixture(scope="session", autouse=True)
def _live_server_connections_closed(django_db_setup):
    """After the browser tests, before the run drops the test database: a request thread of the live server that
    was answering as a browser closed (a poll, a heartbeat) can leave its connection idle and open, and the drop
    then fails ("being accessed by other users"). Such idle sessions are ended here; nothing is running."""
    yield
    import psycopg
    from django.db import connection

    settings = connection.settings_dict
    with psycopg.connect(
        dbname="postgres", host=settings["HOST"] or None, port=settings["PORT"] or None, user=settings["USER"]
    ) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND state = 'idle' AND pid <> pg_backend_pid()",
            [settings["NAME"]],
        )
