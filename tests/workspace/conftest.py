"""The cast of the workspace tests: tenant A (acme) with its default SLA policies and matrix, alice (agent,
tier 1, in the Support team), bob (manager, tier 2) and sam (billing specialist, tier 2); tenant B (globex)
with charlie and a ticket of its own. Signed-in browsers are Django test clients over the real URLconf."""

from __future__ import annotations

import pytest
from django.test import Client

from helpdesk import workflows
from helpdesk.models import Role
from helpdesk.services import membership_create, team_create
from helpdesk.tenancy import tenant_context


@pytest.fixture
def acme(db):
    return workflows.tenant_bootstrap(slug="acme", name="Acme Corp", timezone="Europe/Berlin")


@pytest.fixture
def globex(db):
    return workflows.tenant_bootstrap(slug="globex", name="Globex")


@pytest.fixture
def alice(acme):
    return membership_create(tenant=acme, username="alice", password="pw-alice-123!", role=Role.AGENT, tier=1)


@pytest.fixture
def bob(acme):
    return membership_create(tenant=acme, username="bob", password="pw-bob-123!", role=Role.MANAGER, tier=2)


@pytest.fixture
def sam(acme):
    return membership_create(
        tenant=acme, username="sam", password="pw-sam-123!", role=Role.AGENT, tier=2, skills=["billing"]
    )


@pytest.fixture
def support(acme, alice):
    return team_create(tenant=acme, name="Support", tier=1, members=[alice])


@pytest.fixture
def charlie(globex):
    return membership_create(tenant=globex, username="charlie", password="pw-charlie-123!", role=Role.AGENT)


def signed_in(username: str, password: str) -> Client:
    client = Client()
    assert client.login(username=username, password=password)
    return client


@pytest.fixture
def as_alice(alice) -> Client:
    return signed_in("alice", "pw-alice-123!")


@pytest.fixture
def as_bob(bob) -> Client:
    return signed_in("bob", "pw-bob-123!")


@pytest.fixture
def as_charlie(charlie) -> Client:
    return signed_in("charlie", "pw-charlie-123!")


def open_ticket(tenant, **fields):
    values = {
        "subject": "Printer setup",
        "description": "How do I add the new office printer?",
        "requester_email": "pat@example.test",
        "requester_name": "Pat",
    }
    with tenant_context(tenant):
        return workflows.ticket_open(tenant=tenant, actor=None, **{**values, **fields})


@pytest.fixture
def globex_ticket(globex):
    return open_ticket(globex, subject="Globex secret merger", requester_email="ceo@globex.test")
