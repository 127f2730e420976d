"""Reads of tenancy objects. Every selector takes the tenant explicitly (and the manager checks it)."""

from django.db.models import QuerySet

from helpdesk.models import Team, Tenant


def team_list(*, tenant: Tenant) -> QuerySet[Team]:
    return Team.objects.filter(tenant=tenant).order_by("name")
