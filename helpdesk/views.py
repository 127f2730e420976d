"""UI views of the platform: the invitation pages (the workspace's pages are in helpdesk/workspace/)."""

from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy

from helpdesk.auth import user_tenant_ids


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
