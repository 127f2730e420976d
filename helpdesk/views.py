"""UI views of the platform: the invitation pages and the sign-in page of a lockout (the workspace's pages
are in helpdesk/workspace/)."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render
from django.urls import reverse_lazy

from helpdesk.auth import user_tenant_ids

MSG_LOCKED_OUT = (
    "Too many failed sign-ins for this account or from this address. Try again in {minutes} minutes, "
    "or ask an administrator of your workspace to unlock your account."
)


class InviteConfirmView(auth_views.PasswordResetConfirmView):
    """The link of an invitation e-mail (helpdesk/invitations.py): the new member chooses a password, with
    Django's validators. Django's reset machinery checks the token (and moves it off the URL into the
    session before showing the form, so it can't leak through the Referer header)."""

    template_name = "registration/invite_confirm.html"
    success_url = reverse_lazy("invite-done")

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        # A seat withdrawn before the link was used: the link is dead, even though the token still is valid.
        if user is not None and not user_tenant_ids(user.pk):
            return None
        return user


class InviteDoneView(auth_views.PasswordResetCompleteView):
    template_name = "registration/invite_done.html"


class SignOutView(auth_views.LogoutView):
    """/logout/: signing out is a POST (Django's own view; a GET must not sign anyone out, or any page could
    by linking an image to it). UI.md names "Sign out" a link of the "Main" navigation: the link posts the
    page's sign-out form (static/workspace.js); followed without script, it lands here on GET and asks."""

    http_method_names = ["get", "post", "options"]

    def get(self, request, *args, **kwargs):
        return render(request, "registration/sign_out.html")


def login_locked_out(request, response=None, credentials=None):
    """django-axes' lockout answer (settings.AXES_LOCKOUT_CALLABLE): the sign-in page again, saying why,
    with 429. The password was not even checked."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {
        "form": AuthenticationForm(request),
        "next": request.POST.get("next", ""),
        "locked_out": MSG_LOCKED_OUT.format(minutes=minutes),
    }
    return render(request, "registration/login.html", context, status=429)
