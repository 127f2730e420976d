"""Who is calling: an API token or a logged-in user's membership, resolved to a Principal.

Looking a token up by its hash, or a user's memberships, happens before any tenant is known, so it
goes through two SECURITY DEFINER functions (migration 0002): the one narrow, explicit bypass of
row-level security in the request path. Everything after runs inside the principal's tenant.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from axes.backends import AxesStandaloneBackend
from django.db import connection
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from helpdesk.models import ROLE_RANK, ApiToken, Membership, Tenant

TOKEN_PREFIX = "hd_"
# Writing last_used_at on every request would turn every read into a write; once a minute is plenty.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def generate_token_key() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token_key(key: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class Principal:
    """The authenticated caller. Doubles as DRF's request.user."""

    tenant: Tenant
    role: str
    membership: Membership | None = None
    token: ApiToken | None = None

    is_authenticated = True
    is_anonymous = False

    @property
    def user(self):
        return self.membership.user if self.membership else None

    def has_role(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    def __str__(self) -> str:
        who = self.membership.user.get_username() if self.membership else f"token {self.token.prefix}"
        return f"{who} @ {self.tenant.slug} ({self.role})"


def token_from_header(request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "token" or not key.strip():
        return None
    return key.strip()


TOKEN_LOOKUP = """
SELECT p.token_id, p.tenant_id, p.role, p.prefix, p.label, p.last_used_at,
       t.slug, t.name, t.timezone, t.settings, t.created_at
FROM helpdesk_token_principal(%s) p JOIN helpdesk_tenant t ON t.id = p.tenant_id
"""


def _token_lookup(key: str) -> ApiToken | None:
    """The token's own row, read through the bypass function (only the columns the request needs), with
    its tenant: every API request needs both, and one statement is a round trip less on each."""
    with connection.cursor() as cursor:
        cursor.execute(TOKEN_LOOKUP, [hash_token_key(key)])
        row = cursor.fetchone()
    if row is None:
        return None
    token_id, tenant_id, role, prefix, label, last_used_at, *tenant_row = row
    slug, name, tz, tenant_settings, created_at = tenant_row
    settings_field = Tenant._meta.get_field("settings")
    tenant = Tenant(
        id=tenant_id,
        slug=slug,
        name=name,
        timezone=tz,
        settings=settings_field.from_db_value(tenant_settings, None, connection),
        created_at=created_at,
    )
    tenant._state.adding, tenant._state.db = False, connection.alias
    token = ApiToken(id=token_id, tenant=tenant, role=role, prefix=prefix, label=label, last_used_at=last_used_at)
    token._state.adding, token._state.db = False, connection.alias
    return token


def user_tenant_ids(user_id: int) -> list[int]:
    """The tenants where the user holds an active seat (helpdesk_user_tenants: users are global, seats are
    per tenant, so this is the one read across tenants that concerns a person)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tenant_id FROM helpdesk_user_tenants(%s)", [user_id])
        return [row[0] for row in cursor.fetchall()]


def resolve_token(request) -> ApiToken | None:
    key = token_from_header(request)
    return _token_lookup(key) if key else None


def resolve_session_tenant(request) -> Tenant | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    tenant_ids = user_tenant_ids(user.pk)
    # The pages offer a switch between workspaces when there is more than one (helpdesk/workspace/views.py).
    request.tenant_ids = tenant_ids
    if not tenant_ids:
        return None
    chosen = request.session.get("tenant_id")
    tenant_id = chosen if chosen in tenant_ids else tenant_ids[0]
    return Tenant.objects.get(pk=tenant_id)


def token_principal(*, tenant: Tenant, token: ApiToken) -> Principal:
    """Inside the tenant: note the token's use (at most once a minute)."""
    now = timezone.now()
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return Principal(tenant=tenant, role=token.role, token=token)


def membership_principal(*, tenant: Tenant, user) -> Principal:
    membership = Membership.objects.select_related("user").get(user=user, active=True)
    return Principal(tenant=tenant, role=membership.role, membership=membership)


class TokenPrincipalAuthentication(authentication.BaseAuthentication):
    """DRF side of token auth: the middleware resolved the principal; here a bad token becomes 401."""

    keyword = "Token"

    def authenticate(self, request):
        if token_from_header(request) is None:
            return None
        principal = getattr(request._request, "principal", None)
        if principal is None or principal.token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return principal, principal.token

    def authenticate_header(self, request):
        return self.keyword


class SessionPrincipalAuthentication(authentication.SessionAuthentication):
    """The browser UI calling the API with its session (CSRF enforced by DRF)."""

    def authenticate(self, request):
        principal = getattr(request._request, "principal", None)
        if principal is None or principal.membership is None:
            return None
        self.enforce_csrf(request)
        return principal, None


class TokenSchema(OpenApiAuthenticationExtension):
    target_class = TokenPrincipalAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>` — create one with `manage.py create_api_token SLUG`.",
        }


class SessionSchema(OpenApiAuthenticationExtension):
    target_class = SessionPrincipalAuthentication
    name = "sessionAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


class LoginThrottleBackend(AxesStandaloneBackend):
    """django-axes' lockout check in front of the password check (settings.AUTHENTICATION_BACKENDS). A sign-in
    without a request (the test client's login(), a shell) has no caller to count against; axes would
    raise on it, so it is passed on uncounted. Every sign-in over HTTP (the login page, and the admin,
    which sends people there) carries its request."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
