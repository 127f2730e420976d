"""Small presentation filters of the agent workspace's templates."""

from __future__ import annotations

import json
from datetime import UTC

from django import template
from django.utils import timezone
from django.utils.html import format_html

from helpdesk.workspace import queues

register = template.Library()


@register.filter
def split(value: str) -> list[str]:
    return value.split()


@register.filter
def view_count(count: int) -> str:
    """A view's count as the queue shows it: exact up to the cap, "1,000+" beyond (queues.view_counts says why)."""
    return f"{queues.COUNT_CAP:,}+" if count > queues.COUNT_CAP else f"{count:,}"


@register.filter
def humanize_slug(value) -> str:
    """on_hold -> on hold, escalation_acknowledged -> escalation acknowledged."""
    return str(value or "").replace("_", " ")


@register.filter
def epoch_ms(moment) -> int | str:
    return int(moment.timestamp() * 1000) if moment else ""


@register.filter
def windows_json(windows) -> str:
    """A clock's working windows as [[start_ms, end_ms], …] for the countdown (static/workspace.js)."""
    return json.dumps([[int(a.timestamp() * 1000), int(b.timestamp() * 1000)] for a, b in windows])


@register.simple_tag
def moment(value) -> str:
    """A moment as the pages show it: in the page's zone (the tenant's, views.render), the exact UTC instant on
    hover — <time datetime="…" title="… UTC">Dec 6, 14:05</time>. Formatted here rather than with three `date`
    filters: a queue page shows 50 of them, and the filters were a fifth of its rendering (bench/WORKSPACE.md)."""
    if not value:
        return ""
    exact = value.astimezone(UTC)
    shown = timezone.localtime(value)
    return format_html(
        '<time datetime="{}" title="{} UTC">{} {}, {}</time>',
        exact.isoformat(),
        exact.strftime("%Y-%m-%d %H:%M:%S"),
        shown.strftime("%b"),
        shown.day,
        shown.strftime("%H:%M"),
    )


CLOCK_RUNNING = (
    '<span class="clock tone-{tone}{compact}" role="timer" aria-label="{label}"\n'
    '  data-clock data-name="{name}" data-due-at="{due}"\n'
    '  data-left-minutes="{left}" data-target-minutes="{target}"\n'
    '  data-rendered-at="{rendered}" data-zone="{zone}" data-windows="{windows}"\n'
    '  title="{title}"><span class="clock-name">{name}</span> <span class="clock-text">{text}</span></span>'
)
CLOCK_STOPPED = (
    '<span class="clock tone-{tone} stopped{compact}" aria-label="{label}"><span class="clock-name">{name}</span> '
    '<span class="clock-text">{text}{misses}</span></span>'
)


@register.simple_tag
def sla_clock(clock, now=None, compact=False) -> str:
    """An SLA clock (helpdesk/workspace/clocks.py ClockView): a running one is a live countdown (role timer, its
    business minutes left and working windows for static/workspace.js), a stopped one says met, paused or how
    long overdue. Built here in one step: as a template include it was a quarter of a queue page's rendering."""
    if clock is None:
        return ""
    values = {"tone": clock.tone, "compact": " compact" if compact else "", "label": clock.label, "name": clock.name}
    if clock.left_minutes is None:
        misses = f" · {clock.misses} missed update{'s' if clock.misses != 1 else ''}" if clock.misses else ""
        return format_html(CLOCK_STOPPED, text=clock.text, misses=misses, **values)
    return format_html(
        CLOCK_RUNNING,
        due=clock.due_iso,
        left=clock.left_text,
        target=clock.target_minutes,
        rendered=epoch_ms(now),
        zone=clock.zone,
        windows=clock.windows_json,
        title=clock.due_title,
        text=clock.text,
        **values,
    )


@register.filter
def local(moment, zone: str = ""):
    """A moment in the tenant's time zone (the pages' times are the tenant's; the exact instant is on hover)."""
    if not moment:
        return moment
    return timezone.localtime(moment, timezone=_zone(zone))


def _zone(name: str):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name or "UTC")


@register.filter
def sparkline(values: list[float], size: str = "160x32") -> str:
    """The points of an SVG polyline for sentiments in -1..1, oldest first."""
    width, height = (int(n) for n in size.split("x"))
    if not values:
        return ""
    if len(values) == 1:
        values = [values[0], values[0]]
    step = width / (len(values) - 1)
    return " ".join(f"{i * step:.1f},{(1 - (v + 1) / 2) * height:.1f}" for i, v in enumerate(values))
