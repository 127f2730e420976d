"""Fields shared by the apps' API modules, filtersets and admin forms, and the one rule of what input
PostgreSQL can store: text without NUL or lone surrogates, JSON no deeper than JSON_MAX_DEPTH, times whose
UTC offset and year it accepts. The API's JSON parser (helpdesk/parsers.py), every datetime filter and
field, and every JSON field of the admin apply it, so no door lets such a value reach a query."""

import re
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import django_filters
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

SLUG_OR_BLANK = r"^[-a-zA-Z0-9_]*$"

# PostgreSQL refuses text with NUL ("\u0000" in JSON) in text and jsonb columns, and a lone surrogate
# ("\ud800" in JSON) has no UTF-8 encoding: either one turned a request into a 500 at the INSERT.
UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")
ERR_NUL = "Must not contain the NUL character (\\u0000)."
ERR_SURROGATE = "Must be valid Unicode: a lone surrogate (\\ud800-\\udfff) cannot be stored."
ERR_JSON_DEPTH = "JSON is nested more than {depth} levels deep."
# PostgreSQL keeps a time zone displacement below 16 hours (its TZDISP_LIMIT) and answered "time zone
# displacement out of range" to +23:59, which ISO 8601 and Python allow; the world's zones lie within
# -12:00..+14:00, so nothing real is refused.
MAX_UTC_OFFSET = timedelta(hours=16)
ERR_OFFSET = "Give a UTC offset between -15:59 and +15:59."
ERR_YEAR = "Give a time between the years 1 and 9999 (in UTC)."


def text_error(text: str) -> str | None:
    """Why PostgreSQL can't store this text, or None."""
    found = UNSTORABLE_TEXT.search(text)
    if found is None:
        return None
    return ERR_NUL if found.group() == "\x00" else ERR_SURROGATE


class JsonProblem(NamedTuple):
    path: str  # dotted like the API's error fields ("conditions.keywords.0"); "" is the document itself
    message: str
    too_deep: bool


def json_error(value, *, max_depth: int) -> JsonProblem | None:
    """The first thing that makes a parsed JSON value unstorable or too deep, or None. Walks with a stack,
    not recursion, so a hostile depth can't raise RecursionError here."""
    stack = [(value, "", 1)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, str):
            message = text_error(node)
            if message:
                return JsonProblem(path, message, too_deep=False)
            continue
        if not isinstance(node, dict | list):
            continue
        if depth > max_depth:
            return JsonProblem(path, ERR_JSON_DEPTH.format(depth=max_depth), too_deep=True)
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            if isinstance(key, str) and (message := text_error(key)):
                return JsonProblem(path, message, too_deep=False)
            stack.append((child, f"{path}.{key}" if path else str(key), depth + 1))
    return None


def datetime_error(value: datetime) -> str | None:
    """Why PostgreSQL can't take this time as a timestamptz (or Python can't move it to UTC), or None."""
    offset = value.utcoffset()
    if offset is not None and abs(offset) >= MAX_UTC_OFFSET:
        return ERR_OFFSET
    if offset is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            return ERR_YEAR
    return None


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
        if isinstance(value, str):
            _refuse_unstorable(value)
        parsed = super().to_internal_value(value)
        if isinstance(value, str) and not _has_offset(value):
            self.fail("naive")
        return parsed


def _refuse_unstorable(text: str) -> None:
    # Read as given, before DRF moves an aware time to UTC (after which a +23:59 looks like any other).
    try:
        given = parse_datetime(text.strip())
    except ValueError:
        return  # out of range in its own fields: DRF's parsing answers for it
    if given is not None and (message := datetime_error(given)):
        raise serializers.ValidationError(message)


def _has_offset(text: str) -> bool:
    tail = text.strip()[-6:]
    return text.strip().endswith(("Z", "z")) or "+" in tail or (len(tail) == 6 and tail[0] == "-" and ":" in tail)


class StorableIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """django-filter's ISO 8601 form field, refusing the times PostgreSQL can't compare with."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is not None and (message := datetime_error(parsed)):
            raise ValidationError(message, code="invalid")
        return parsed


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """The datetime filter of every filterset (created_after, created_before, …)."""

    field_class = StorableIsoDateTimeField


class StrictBooleanField(forms.NullBooleanField):
    """true/false (or 1/0) and nothing else: Django's NullBooleanField (and django-filter's widget before it)
    read any other word as "not given", so ?escalated=maybe quietly answered the whole list."""

    widget = forms.TextInput  # hands the text over as it came; the select widgets map unknown words to None

    def to_python(self, value):
        if value in (None, ""):
            return None
        word = value.lower() if isinstance(value, str) else value
        if word in (True, "true", "1"):
            return True
        if word in (False, "false", "0"):
            return False
        raise ValidationError("Use true or false.", code="invalid")


class BooleanFilter(django_filters.BooleanFilter):
    """The boolean filter of every filterset (escalated, active, vip, …)."""

    field_class = StrictBooleanField


class IntegerFilter(django_filters.NumberFilter):
    """A whole number, as the schema documents an integer column: django-filter's NumberFilter takes any
    decimal, so ?tier=0.5 answered an empty list instead of a 400."""

    field_class = forms.IntegerField


class StorableJSONField(forms.JSONField):
    """The admin's JSON fields (rule conditions and notify, SLA policy scope and targets, calendar hours,
    channel recipients, an escalation's summary, …): what the API's parser refuses, the admin refuses too."""

    def to_python(self, value):
        try:
            converted = super().to_python(value)
        except RecursionError:
            raise ValidationError(ERR_JSON_DEPTH.format(depth=settings.JSON_MAX_DEPTH), code="nested") from None
        problem = json_error(converted, max_depth=settings.JSON_MAX_DEPTH)
        if problem:
            message = f"{problem.path}: {problem.message}" if problem.path else problem.message
            raise ValidationError(message, code="nested" if problem.too_deep else "invalid")
        return converted

    def bound_data(self, data, initial):
        # A form shown again after an error re-reads and re-renders its text: what to_python refused is
        # shown as typed, never parsed and dumped again (a hostile nesting would crash the page).
        try:
            value = super().bound_data(data, initial)
        except RecursionError:
            return forms.fields.InvalidJSONInput(data)
        if isinstance(data, str) and json_error(value, max_depth=settings.JSON_MAX_DEPTH):
            return forms.fields.InvalidJSONInput(data)
        return value
