"""The e-mail tests' world: the cast's tenants as create_tenant makes them (default matrix and SLA policies),
each with its sender and inbound addresses; admin tokens; uploads in a temporary MEDIA_ROOT."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from helpdesk import workflows
from helpdesk.models import Role
from helpdesk.services import api_token_create
from helpdesk.tenancy import tenant_context
from mail.models import InboundAddress, MailSetup

WEBHOOK_SECRET_A = "acme-inbound:5f1f0c0f8e2b4f7c9a1d"


@pytest.fixture
def tenant_a(db):
    tenant = workflows.tenant_bootstrap(slug="acme", name="Acme Corp")
    with tenant_context(tenant):
        billing = workflows.team_create(tenant=tenant, actor=None, name="Billing", skills=["billing"])
        workflows.mail_setup_save(
            setup=MailSetup(tenant=tenant, from_address="support@acme.test", from_name="Acme Support"),
            actor=None,
            webhook_secret=WEBHOOK_SECRET_A,
        )
        workflows.inbound_address_save(address=InboundAddress(tenant=tenant, address="support@acme.test"), actor=None)
        workflows.inbound_address_save(
            address=InboundAddress(tenant=tenant, address="billing@acme.test", team=billing, category="billing"),
            actor=None,
        )
    return tenant


@pytest.fixture
def tenant_b(db):
    tenant = workflows.tenant_bootstrap(slug="globex", name="Globex")
    with tenant_context(tenant):
        workflows.mail_setup_save(setup=MailSetup(tenant=tenant, from_address="help@globex.test"), actor=None)
        workflows.inbound_address_save(address=InboundAddress(tenant=tenant, address="help@globex.test"), actor=None)
    return tenant


def client_for(tenant, role=Role.ADMIN) -> APIClient:
    _, key = api_token_create(tenant=tenant, role=role, label=f"mail {role}")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def inbound_a(tenant_a):
    return client_for(tenant_a)


@pytest.fixture
def inbound_b(tenant_b):
    return client_for(tenant_b)


@pytest.fixture(autouse=True)
def media_root(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def post_mail(client: APIClient, raw: bytes):
    return client.post("/api/v1/inbound/email/", data=raw, content_type="message/rfc822")
