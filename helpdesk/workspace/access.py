"""Who may open the workspace's pages: a signed-in person with an active seat in the request's tenant (the
middleware resolved it). API tokens have no pages. Another tenant's objects are 404s, found through the
tenant-scoped selectors, exactly like missing ones."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from helpdesk.models import Role

ERR_NO_SEAT = "You have no active seat in a workspace. Ask an administrator of your team to add you."
ERR_MANAGERS = "This page is for managers and admins."


def _principal(request):
    principal = getattr(request, "principal", None)
    return principal if principal is not None and principal.membership is not None else None


def member_required(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if _principal(request) is None:
            raise PermissionDenied(ERR_NO_SEAT)
        return view(request, *args, **kwargs)

    return wrapped


def manager_required(view):
    @member_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.principal.has_role(Role.MANAGER):
            raise PermissionDenied(ERR_MANAGERS)
        return view(request, *args, **kwargs)

    return wrapped
