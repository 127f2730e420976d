"""Query-parameter filters shared by the apps' API lists (django-filter)."""

from __future__ import annotations

import django_filters as filters
from django import forms
from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema_field

from helpdesk.models import Membership

ME = "me"
ERR_ME_WITHOUT_PERSON = (
    "`me` is the calling member, and this token belongs to an integration, not a member: give a member id."
)


class TenantModelChoiceFilter(filters.ModelChoiceFilter):
    """Choices come from the tenant-scoped manager at request time, never another tenant's rows."""

    def __init__(self, *args, model, **kwargs):
        kwargs.setdefault("queryset", lambda request: model.objects.all())
        super().__init__(*args, **kwargs)


class _MemberChoiceField(forms.ModelChoiceField):
    def __init__(self, *args, me: Membership | None = None, **kwargs):
        self.me = me
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        if isinstance(value, str) and value.strip().lower() == ME:
            if self.me is None:
                raise ValidationError(ERR_ME_WITHOUT_PERSON, code="no_person")
            return self.me
        return super().to_python(value)


MEMBER_HELP = "a member id (see /api/v1/members/), or `me` for the calling member"


@extend_schema_field({"type": "string", "description": MEMBER_HELP})
class MemberFilter(TenantModelChoiceFilter):
    """A member by id, or `me`: the calling member (a session's person; an integration token has none,
    and `me` is then a 400 naming the parameter)."""

    field_class = _MemberChoiceField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("help_text", MEMBER_HELP)
        super().__init__(*args, model=Membership, **kwargs)

    @property
    def field(self):
        principal = getattr(self.get_request(), "user", None)
        self.extra["me"] = getattr(principal, "membership", None)
        return super().field
