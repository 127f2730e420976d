"""Fixtures shared by the API contract tests."""

import pytest


@pytest.fixture
def bootstrapped_api(db):
    """A tenant as create_tenant makes it: SLA policies (so tickets have clocks) and the default matrix."""
    from rest_framework.test import APIClient

    from helpdesk import workflows
    from helpdesk.models import Role
    from helpdesk.services import api_token_create

    tenant = workflows.tenant_bootstrap(slug="initech", name="Initech")
    _, key = api_token_create(tenant=tenant, role=Role.ADMIN)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    client.tenant = tenant
    return client
