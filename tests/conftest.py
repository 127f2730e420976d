"""The cast: tenant A ("acme") with alice (agent, tier 1) and bob (manager); tenant B ("globex") with
charlie (agent). Tokens for each role. `api` clients talk to the real URLconf over the real stack."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from helpdesk.models import Role
from helpdesk.services import api_token_create, membership_create, tenant_create
from helpdesk.tenancy import tenant_context


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
