"""Runs every authenticated request inside its tenant (see helpdesk/tenancy.py)."""

from helpdesk.auth import membership_principal, resolve_session_tenant, resolve_token, token_principal
from helpdesk.models import Tenant
from helpdesk.tenancy import tenant_context


class TenantMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.principal = None
        token = resolve_token(request)
        if token is not None:
            tenant = Tenant.objects.get(pk=token.tenant_id)
            with tenant_context(tenant):
                request.principal = token_principal(tenant=tenant, token=token)
                return self.get_response(request)
        tenant = resolve_session_tenant(request)
        if tenant is not None:
            with tenant_context(tenant):
                request.principal = membership_principal(tenant=tenant, user=request.user)
                return self.get_response(request)
        return self.get_response(request)
