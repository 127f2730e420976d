"""The cast: tenant A ("acme") with alice (agent, tier 1) and bob (manager); tenant B ("globex") with
charlie (agent). Tokens for each role. `api` clients talk to the real URLconf over the real stack."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from helpdesk.models import Role
from helpdesk.services import api_token_create, membership_create, tenant_create
from helpdesk.tenancy import tenant_context


@pytest.fixture(autouse=True)
def _no_rate_limit_counts():
    """Rate-limit counters live in Redis, outside every test's transaction: each test starts with none (all
    the suite's requests come from 127.0.0.1, so its 401 tests would otherwise add up to a lockout)."""
    import redis
    from django.conf import settings

    from helpdesk.throttling import PREFIX

    client = redis.Redis.from_url(settings.REDIS_URL)
    stale = list(client.scan_iter(match=PREFIX + "*", count=1000))
    if stale:
        client.delete(*stale)
    client.close()


@pytest.fixture
def tenant_a(db):
    return tenant_create(slug="acme", name="Acme Corp")


@pytest.fixture
def tenant_b(db):
    return tenant_create(slug="globex", name="Globex")


@pytest.fixture
def alice(tenant_a):
    return membership_create(
        tenant=tenant_a, username="alice", email="alice@acme.test", password="pw-alice-123!", role=Role.AGENT, tier=1
    )


@pytest.fixture
def bob(tenant_a):
    return membership_create(
        tenant=tenant_a, username="bob", email="bob@acme.test", password="pw-bob-123!", role=Role.MANAGER, tier=2
    )


@pytest.fixture
def charlie(tenant_b):
    return membership_create(
        tenant=tenant_b,
        username="charlie",
        email="charlie@globex.test",
        password="pw-charlie-123!",
        role=Role.AGENT,
        tier=1,
    )


def _client(tenant, role) -> APIClient:
    _, key = api_token_create(tenant=tenant, role=role, label=f"test {role}")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    client.token_key = key
    return client


@pytest.fixture
def api_a(tenant_a):
    """Agent token of tenant A."""
    return _client(tenant_a, Role.AGENT)


@pytest.fixture
def api_a_manager(tenant_a):
    return _client(tenant_a, Role.MANAGER)


@pytest.fixture
def api_a_admin(tenant_a):
    return _client(tenant_a, Role.ADMIN)


@pytest.fixture
def api_b(tenant_b):
    return _client(tenant_b, Role.ADMIN)


@pytest.fixture
def in_a(tenant_a):
    with tenant_context(tenant_a):
        yield tenant_a


@pytest.fixture
def celery_eager():
    """Tasks sent on commit run at once, in this process (Celery's own eager mode: the real task code,
    no broker). Pair with a transactional test so that on_commit callbacks fire."""
    from helpdesk.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


FAILURE_TRIGGER = """
CREATE OR REPLACE FUNCTION pg_temp.injected_failure() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
CREATE TRIGGER {name} BEFORE {event} ON {table}
FOR EACH ROW WHEN (NEW.tenant_id = {tenant}) EXECUTE FUNCTION pg_temp.injected_failure();
"""


@pytest.fixture
def inject_db_failure(db):
    """A real database failure for one tenant's rows: `inject(table, tenant_id, event)` adds a trigger that
    raises, and returns a function that removes it. The test's own connection steps out of the app role for
    the DDL and back in; the test's transaction rolls it back in any case."""
    from django.db import connection

    app_role = connection.settings_dict.get("OPTIONS", {}).get("assume_role") or "helpdesk_app"

    def as_owner(statement: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
            cursor.execute(statement)
            cursor.execute(f'SET ROLE "{app_role}"')

    def inject(table: str, tenant_id: int, event: str = "INSERT"):
        name = f"injected_{table}_{int(tenant_id)}"
        as_owner(FAILURE_TRIGGER.format(name=name, event=event, table=table, tenant=int(tenant_id)))
        return lambda: as_owner(f"DROP TRIGGER {name} ON {table}")

    return inject
