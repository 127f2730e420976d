"""Reads of tenancy objects. Every selector takes the tenant explicitly (and the manager checks it)."""

from django.db.models import QuerySet

from helpdesk.models import ApiToken, Membership, Team, Tenant


def team_list(*, tenant: Tenant) -> QuerySet[Team]:
    return Team.objects.filter(tenant=tenant).order_by("name")


def membership_list(*, tenant: Tenant) -> QuerySet[Membership]:
    return Membership.objects.filter(tenant=tenant).select_related("user").order_by("user__username")


def api_token_list(*, tenant: Tenant) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(tenant=tenant).order_by("-created_at")


def tenant_get_by_slug(*, slug: str) -> Tenant:
    return Tenant.objects.get(slug=slug)
