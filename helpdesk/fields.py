"""Serializer fields shared by the apps' API modules."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

SLUG_OR_BLANK = r"^[-a-zA-Z0-9_]*$"


def slug_or_blank(**kwargs) -> serializers.RegexField:
    """A slug, or nothing: (DRF's SlugField documents a pattern that the empty default breaks)."""
    return serializers.RegexField(
        SLUG_OR_BLANK,
        max_length=50,
        allow_blank=True,
        error_messages={"invalid": "Use letters, numbers, hyphens or underscores."},
        **kwargs,
    )


@extend_schema_field(OpenApiTypes.INT)
class TenantPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A reference to another object by id, looked up *inside* the caller's tenant at validation time:
    an id of another tenant is indistinguishable from one that does not exist."""

    def __init__(self, *, model, **kwargs):
        self.model = model
        super().__init__(**kwargs)

    def get_queryset(self):
        return self.model.objects.all()


class ActiveMemberField(TenantPrimaryKeyRelatedField):
    """A member who can take new work. A deactivated seat stays readable (history names it) but is offered
    nothing new: its id answers like one that does not exist."""

    def __init__(self, **kwargs):
        from helpdesk.models import Membership  # fields are imported while the API settings load

        super().__init__(model=Membership, **kwargs)

    def get_queryset(self):
        return self.model.objects.filter(active=True)


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with an explicit offset. A naive time is ambiguous (whose midnight?), so it is refused
    rather than silently read as UTC."""

    default_error_messages = {"naive": "Give the time with an offset, e.g. 2026-03-01T09:00:00Z."}

    def to_internal_value(self, value):
        parsed = super().to_internal_value(value)
        if isinstance(value, str) and not _has_offset(value):
            self.fail("naive")
        return parsed


def _has_offset(text: str) -> bool:
    tail = text.strip()[-6:]
    return text.strip().endswith(("Z", "z")) or "+" in tail or (len(tail) == 6 and tail[0] == "-" and ":" in tail)
