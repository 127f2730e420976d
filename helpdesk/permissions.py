"""Role checks for the API. Views declare `read_role` / `write_role`; tenant isolation is not done
here (objects of other tenants are simply not in the queryset, so they answer 404)."""

from rest_framework import permissions

from helpdesk.auth import Principal
from helpdesk.models import Role


class IsTenantMember(permissions.BasePermission):
    message = "Your role does not allow this action."

    def has_permission(self, request, view) -> bool:
        principal = request.user
        if not isinstance(principal, Principal):
            return False
        needed = getattr(view, "read_role", Role.AGENT)
        if request.method not in permissions.SAFE_METHODS:
            needed = getattr(view, "write_role", needed)
        return principal.has_role(needed)
