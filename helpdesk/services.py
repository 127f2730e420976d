"""Writes of tenancy objects: one function per use case, atomic."""

from __future__ import annotations

from axes.utils import reset as axes_reset
from django.contrib.auth import get_user_model
from django.db import transaction

from helpdesk.auth import generate_token_key, hash_token_key
from helpdesk.models import ApiToken, Membership, Role, Team, TeamMember, Tenant
from helpdesk.tenancy import tenant_context

TOKEN_PREFIX_LENGTH = 10


@transaction.atomic
def tenant_create(*, slug: str, name: str, timezone: str = "UTC") -> Tenant:
    tenant = Tenant(slug=slug, name=name, timezone=timezone)
    tenant.full_clean()
    tenant.save()
    return tenant


def api_token_create(*, tenant: Tenant, role: str = Role.AGENT, label: str = "") -> tuple[ApiToken, str]:
    """Returns the token row and the key. The key is shown once and never stored."""
    key = generate_token_key()
    with tenant_context(tenant):
        token = ApiToken.objects.create(
            tenant=tenant,
            role=role,
            label=label,
            prefix=key[:TOKEN_PREFIX_LENGTH],
            key_hash=hash_token_key(key),
        )
    return token, key


def membership_create(
    *,
    tenant: Tenant,
    username: str,
    email: str = "",
    password: str | None = None,
    role: str = Role.AGENT,
    tier: int = 1,
    skills: list[str] | None = None,
    capacity: int = 20,
    first_name: str = "",
    last_name: str = "",
) -> Membership:
    """Finds or creates the user (users are global) and gives them a seat in the tenant."""
    user_model = get_user_model()
    with tenant_context(tenant):
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"email": email, "first_name": first_name, "last_name": last_name}
        )
        # An existing user (a seat in another tenant) keeps their credentials: giving someone a seat
        # here must never be a way to reset a password they use elsewhere.
        if created:
            user.set_password(password) if password else user.set_unusable_password()
            user.save(update_fields=["password"])
        return Membership.objects.create(
            tenant=tenant, user=user, role=role, tier=tier, skills=skills or [], capacity=capacity
        )


def membership_sign_in_unlock(*, memberships: list[Membership]) -> int:
    """Forgets the failed sign-ins recorded for these members' usernames (django-axes), which lifts a
    lockout of the username. Those failures no longer count against the addresses they came from either:
    axes keeps one record per username and address. Returns the number of records removed."""
    usernames = {membership.user.get_username() for membership in memberships}
    return sum(axes_reset(username=username) for username in sorted(usernames))


def team_create(
    *,
    tenant: Tenant,
    name: str,
    skills: list[str] | None = None,
    tier: int = 1,
    members: list[Membership] = (),
) -> Team:
    with tenant_context(tenant):
        team = Team.objects.create(tenant=tenant, name=name, skills=skills or [], tier=tier)
        TeamMember.objects.bulk_create(
            [TeamMember(tenant=tenant, team=team, membership=membership) for membership in members]
        )
    return team
