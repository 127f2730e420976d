"""What a member may be: the one validation of a seat and of the person behind it, used by every door
(the API, the admin, `create_member`) and by the services themselves.

A seat's own rules — role, tier 0..MAX_TIER, skills as slugs, capacity >= 0 — are the Membership model's
field definitions, checked here by `full_clean`; the API's serializer and the admin's form derive their
fields from the same model. What the model can't say is written here once: a username is new (users are
global, see below), a password passes Django's validators, an invitation needs an address, the last
admin stays an admin, and a person with seats elsewhere keeps their name and address.

Usernames are global while seats are per tenant. A new member whose username exists — a seat elsewhere,
or anyone's — is refused with 409 rather than attached: a matching e-mail would prove nothing (an admin
of one tenant can type anyone's address), and an attached seat would let one tenant pull a person of
another into its desk. People who work for two tenants get a seat in the second from an operator
(helpdesk.services.membership_create keeps their password, tested).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError

from helpdesk.auth import user_tenant_ids
from helpdesk.models import Membership, Role

ERR_USERNAME_TAKEN = "This username is taken. Pick another one for the new member."
ERR_EMAIL_FOR_INVITATION = "Give the e-mail address the invitation goes to, or a password."
ERR_LAST_ADMIN = "This is the tenant's last admin: make someone else admin first."
ERR_SHARED_PERSON = (
    "This person also has a seat in another tenant: their name and e-mail address are theirs to change there."
)
# What a seat's row doesn't say about the person: kept on the (global) user.
PERSON_FIELDS = ("email", "name")


class MemberError(Exception):
    """A refused member change: `fields` like a form's errors, `code` the API's slug, `status` its HTTP status."""

    def __init__(self, fields: dict[str, list[str]], *, code: str = "invalid", status: int = 400):
        self.fields, self.code, self.status = fields, code, status
        field, messages = next(iter(fields.items()))
        super().__init__(f"{field}: {messages[0]}")


def _user_field(name: str):
    return get_user_model()._meta.get_field(name)


def _clean_user_field(name: str, value: str, *, field: str | None = None) -> str:
    try:
        return _user_field(name).clean(value, None)
    except ValidationError as exc:
        raise MemberError({field or name: exc.messages}) from None


def clean_username(username: str) -> str:
    """A valid username nobody has yet (see the module's docstring for why an existing one is refused)."""
    user_model = get_user_model()
    username = _clean_user_field(user_model.USERNAME_FIELD, username, field="username")
    if user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).exists():
        raise MemberError({"username": [ERR_USERNAME_TAKEN]}, code="username_taken", status=409)
    return username


def clean_email(email: str) -> str:
    return _clean_user_field("email", (email or "").strip()) if email else ""


def split_name(name: str) -> tuple[str, str]:
    """The user's first and last name from one `name`: get_full_name() joins them back with a space, so any
    split reads the same; the last word goes to last_name."""
    name = " ".join((name or "").split())
    first, _, last = name.rpartition(" ")
    if not first:
        first, last = last, ""
    return _clean_user_field("first_name", first, field="name"), _clean_user_field("last_name", last, field="name")


def check_password(password: str, *, username: str, email: str = "", name: str = "") -> None:
    """Django's password validators (AUTH_PASSWORD_VALIDATORS), with the person's own details to compare."""
    first, last = split_name(name)
    probe = get_user_model()(username=username, email=email, first_name=first, last_name=last)
    try:
        password_validation.validate_password(password, user=probe)
    except ValidationError as exc:
        raise MemberError({"password": exc.messages}) from None


def check_invitable(*, password: str | None, email: str) -> None:
    if not password and not email:
        raise MemberError({"email": [ERR_EMAIL_FOR_INVITATION]})


def clean_seat(membership: Membership) -> None:
    """The model's own rules for a seat: role, tier, skills, capacity."""
    try:
        membership.full_clean(exclude=["user", "tenant"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise MemberError(exc.message_dict) from None


def check_not_last_admin(membership: Membership, *, role: str, active: bool, lock: bool = False) -> None:
    """An active admin may stop being one (demoted or deactivated) only while another active admin remains.
    With `lock`, the tenant's admin seats are locked first, so two admins demoting each other at the same
    moment can't both succeed (the second waits and then counts one)."""
    if membership.role != Role.ADMIN or not membership.active or (role == Role.ADMIN and active):
        return
    admins = Membership.objects.filter(role=Role.ADMIN, active=True)
    if lock:
        admins = admins.select_for_update()
    if list(admins.values_list("pk", flat=True)) == [membership.pk]:
        raise MemberError({"role" if active else "active": [ERR_LAST_ADMIN]}, code="last_admin", status=409)


def check_person_editable(membership: Membership, changes: dict) -> None:
    """Name and e-mail belong to the user, whom every tenant of theirs shares: one tenant's admin must not
    rewrite what another tenant sees (nor point someone's address at their own)."""
    if not any(name in changes for name in PERSON_FIELDS):
        return
    if set(user_tenant_ids(membership.user_id)) - {membership.tenant_id}:
        field = next(name for name in PERSON_FIELDS if name in changes)
        raise MemberError({field: [ERR_SHARED_PERSON]}, code="shared_person", status=409)
