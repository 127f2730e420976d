"""Runs every authenticated request inside its tenant (see helpdesk/tenancy.py)."""

from django.db import transaction

from helpdesk import throttling
from helpdesk.auth import (
    membership_principal,
    resolve_session_tenant,
    resolve_token,
    token_from_header,
    token_principal,
)
from helpdesk.tenancy import tenant_context


class TenantMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.principal = None
        token = None
        if token_from_header(request) is not None:
            # Before the lookup, so an address that guessed too often learns nothing more, not even
            # whether its next key is right (throttling.py).
            lockout = throttling.bad_token_lockout(request)
            if lockout is not None:
                return throttling.rate_limited_response(lockout)
            token = resolve_token(request)
            if token is None:
                throttling.bad_token_seen(request)  # DRF answers this one 401
        if token is not None:
            tenant = token.tenant
            with tenant_context(tenant):
                request.principal = token_principal(tenant=tenant, token=token)
                return _respond(self.get_response, request)
        tenant = resolve_session_tenant(request)
        if tenant is not None:
            with tenant_context(tenant):
                request.principal = membership_principal(tenant=tenant, user=request.user)
                return _respond(self.get_response, request)
        return self.get_response(request)


def _respond(get_response, request):
    response = get_response(request)
    if response.status_code >= 500:
        # Django turns a view's exception into a 500 response before it reaches us; without this the
        # request's transaction would commit whatever the failed view had written so far.
        transaction.set_rollback(True)
    return response
