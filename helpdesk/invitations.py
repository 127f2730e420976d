"""Invitations: a member added without a password is e-mailed a link to set one.

The request writes an outbox row (`member.invited`) in its own transaction; the notifications dispatcher
delivers it after commit, straight to the new member's address (fanout.direct_rows: an invitation is
account mail, not a notification, so it needs no channel of the tenant's). The link is made when the mail
is sent, not stored: the outbox keeps no usable credential, and a retried delivery carries a fresh link.

The link is Django's password-reset token (PasswordResetTokenGenerator): it dies when the password is
set (the token signs the password hash), after PASSWORD_RESET_TIMEOUT, and — checked by the page — when
the person holds no active seat any more.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from helpdesk.models import Membership, Tenant
from helpdesk.notifications.rendering import Rendered
from helpdesk.outbox import outbox_emit

INVITED = "member.invited"
SUBJECT = "You're invited to the {tenant} helpdesk"


def invite(*, membership: Membership) -> None:
    """The invitation's outbox row, once per seat (its dedupe key). Carries who and where, never the link."""
    outbox_emit(
        tenant_id=membership.tenant_id,
        type=INVITED,
        dedupe_key=f"{INVITED}:{membership.pk}",
        payload={"membership": membership.pk, "to": membership.user.email, "username": membership.user.get_username()},
    )


def invitation_link(user) -> str:
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return settings.PUBLIC_URL + reverse("invite", kwargs={"uidb64": uidb64, "token": token})


def render(*, payload: dict, tenant: Tenant) -> Rendered | None:
    """The invitation as sent now, inside the tenant; None when it has nothing left to do: the seat was
    deactivated, or the person has set a password already (accepted, or an admin set one)."""
    membership = Membership.objects.select_related("user").filter(pk=payload.get("membership"), active=True).first()
    if membership is None or membership.user.has_usable_password():
        return None
    context = {
        "tenant": tenant.name,
        "username": membership.user.get_username(),
        "role": membership.get_role_display(),
        "link": invitation_link(membership.user),
        "valid_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
    }
    body = render_to_string("registration/invitation_email.txt", context).strip()
    return Rendered(subject=SUBJECT.format(tenant=tenant.name), body=body)
