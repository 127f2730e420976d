"""Reads of tenancy objects. Every selector takes the tenant explicitly (and the manager checks it)."""

from django.db.models import QuerySet

from helpdesk.models import Membership, Team, Tenant


def team_list(*, tenant: Tenant) -> QuerySet[Team]:
    return Team.objects.filter(tenant=tenant).order_by("name")


def membership_list(*, tenant: Tenant) -> QuerySet[Membership]:
    """Every seat of the tenant, deactivated ones included (they are history: tickets name them)."""
    return Membership.objects.filter(tenant=tenant).select_related("user").prefetch_related("teams")


def skills_in_use(*, tenant: Tenant) -> list[str]:
    """The skills someone active has, or an active team routes by: what a rule may sensibly ask for."""
    from helpdesk.models import Membership

    skills: set[str] = set()
    for rows in (
        Membership.objects.filter(tenant=tenant, active=True).values_list("skills", flat=True),
        Team.objects.filter(tenant=tenant, active=True).values_list("skills", flat=True),
    ):
        for row in rows:
            skills.update(row)
    return sorted(skills)
