"""Filters of the call pages: a moment in a named zone (the customer's), already formatted — Django's `date`
filter would turn an aware datetime back into the current (tenant's) zone."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import template
from django.utils import dateformat

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
