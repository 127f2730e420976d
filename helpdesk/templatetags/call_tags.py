"""Filters of the call pages: a moment in a named zone (the customer's), already formatted — Django's `date`
filter would turn an aware datetime back into the current (tenant's) zone."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import template
from django.utils import dateformat, timezone
from django.utils.dateparse import parse_datetime

register = template.Library()
FORMAT = "D j M Y, H:i T"


@register.filter
def in_zone(moment, zone: str = "") -> str:
    if not moment:
        return ""
    try:
        tz = ZoneInfo(zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    return dateformat.format(moment.astimezone(tz), FORMAT)


@register.filter
def iso_local(text: str) -> str:
    """An ISO 8601 instant of the brief's JSON, in the current (tenant's) zone: the brief is one document for
    the API and the printed page, and a reader of the page reads the tenant's clock, as everywhere else."""
    moment = parse_datetime(text) if text else None
    if moment is None:
        return text or ""
    return dateformat.format(timezone.localtime(moment), FORMAT)
