"""Notification text from the tenant's editable templates.

The Django template language, on an engine of its own: autoescape off (the output is plain text for
e-mail, chat and SMS, not HTML), no template loaders (so no {% include %} / {% extends %} of files), no
tag libraries beyond the built-ins, and {% debug %} refused (it would print the context and the
modules loaded). The context is plain data built from the event's payload — dicts, strings and
numbers, no model instances — so a template can reach nothing but what we chose to give it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.template import Context, Engine, TemplateSyntaxError
from django.template.defaulttags import DebugNode
from django.template.loader_tags import ExtendsNode, IncludeNode

FORBIDDEN_NODES = (DebugNode, IncludeNode, ExtendsNode)
ERR_FORBIDDEN_TAG = "The tags debug, include and extends are not available in notification templates."
MAX_RENDERED = 20_000  # an SMS or a chat message, not a book

ENGINE = Engine(dirs=[], app_dirs=False, loaders=[], libraries={}, autoescape=False, debug=False)


class TemplateInvalid(Exception):
    pass


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def compile_checked(source: str):
    """Parses a template and refuses the tags that reach outside the context. Raises TemplateInvalid."""
    try:
        template = ENGINE.from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateInvalid(str(exc)) from None
    if any(template.nodelist.get_nodes_by_type(node) for node in FORBIDDEN_NODES):
        raise TemplateInvalid(ERR_FORBIDDEN_TAG)
    return template


def render(*, subject: str, body: str, context: dict) -> Rendered:
    ctx = Context(context, autoescape=False)
    rendered_subject = " ".join(compile_checked(subject).render(ctx).split())  # one line: a mail header
    rendered_body = compile_checked(body).render(ctx).strip()
    return Rendered(subject=rendered_subject[:300], body=rendered_body[:MAX_RENDERED])


def ticket_link(ticket_id) -> str:
    return f"{settings.PUBLIC_URL}/tickets/{ticket_id}/" if ticket_id else ""


def _when(value, timezone: str) -> str:
    """Timestamps in payloads are ISO strings in UTC; people read them in their tenant's time zone,
    with the zone's abbreviation so nobody has to guess."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value))
        return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")
    except (ValueError, KeyError, ZoneInfoNotFoundError):
        return str(value)


def event_context(*, event_type: str, payload: dict, tenant_name: str, timezone: str = "UTC") -> dict:
    """What a template may use: the ticket (number, subject, customer, account, link), the trigger, the
    five-field summary, the SLA figures and the event's own text. Everything the emitter put in the
    payload is there too, under `event`."""
    facts = payload.get("ticket_context") or {}
    ticket_id = payload.get("ticket")
    return {
        "event_type": event_type,
        "tenant": {"name": tenant_name},
        "ticket": {
            "number": facts.get("number", ticket_id),
            "subject": facts.get("subject", ""),
            "status": facts.get("status", ""),
            "priority": facts.get("priority", ""),
            "link": ticket_link(ticket_id),
        },
        "customer": {"name": facts.get("customer_name", ""), "email": facts.get("customer_email", "")},
        "account": {
            "name": facts.get("account_name", ""),
            "plan": facts.get("account_plan", ""),
            "vip": bool(facts.get("vip")),
        },
        "trigger": payload.get("trigger", ""),
        "summary": payload.get("summary") or {},
        "sla": {
            "metric": payload.get("metric", ""),
            "due_at": _when(payload.get("due_at") or payload.get("response_due_at"), timezone),
            "percent": payload.get("percent", ""),
        },
        "text": payload.get("text") or payload.get("note") or "",
        "event": payload,
    }
