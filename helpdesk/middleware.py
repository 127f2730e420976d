"""Runs every authenticated request inside its tenant (see helpdesk/tenancy.py)."""

from helpdesk.auth import membership_principal, resolve_session_tenant, resolve_token_tenant, token_principal
from helpdesk.tenancy import tenant_context


class TenantMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.principal = None
        token_hit = resolve_token_tenant(request)
        if token_hit is not None:
            tenant, token_id = token_hit
            with tenant_context(tenant):
                request.principal = token_principal(tenant=tenant, token_id=token_id)
                return self.get_response(request)
        tenant = resolve_session_tenant(request)
        if tenant is not None:
            with tenant_context(tenant):
                request.principal = membership_principal(tenant=tenant, user=request.user)
                return self.get_response(request)
        return self.get_response(request)
