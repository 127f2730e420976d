"""Notification text from the tenant's editable templates.

The Django template language, on an engine of its own: autoescape off (the output is plain text for
e-mail, chat and SMS, not HTML), no template loaders (so no {% include %} / {% extends %} of files), no
tag libraries beyond the built-ins, and {% debug %} refused (it would print the context and the
modules loaded), like {% lorem %} (it writes as many words as it is asked for). The context is plain
data built from the event's payload — dicts, strings and numbers, no model instances — so a template can
reach nothing but what we chose to give it.

Every render is bounded while it runs (helpdesk/notifications/bounds.py: loop iterations, output, time),
and a template is checked when it is saved by rendering it against the largest context an event can
carry (worst_case_context): the context's strings and lists are clipped to the sizes that sample uses,
so the sample really is the worst case.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.template import Engine, TemplateSyntaxError
from django.template.defaulttags import DebugNode, LoremNode
from django.template.loader_tags import ExtendsNode, IncludeNode

from helpdesk.notifications.bounds import (
    MAX_DEPTH,
    MAX_SOURCE,
    SOURCE,
    BudgetContext,
    RenderBudget,
    RenderLimitExceeded,
    meter,
)

FORBIDDEN_NODES = (DebugNode, IncludeNode, ExtendsNode, LoremNode)
ERR_FORBIDDEN_TAG = "The tags debug, include, extends and lorem are not available in notification templates."
ERR_TOO_DEEP = f"The template nests its tags more than {MAX_DEPTH} deep."
ERR_FAILS = "The template fails to render: {error}"
MAX_RENDERED = 20_000  # an SMS or a chat message, not a book
MAX_SUBJECT = 300

# The engine's built-in filters are replaced by bounded copies of themselves (bounds.register).
ENGINE = Engine(
    dirs=[],
    app_dirs=False,
    loaders=[],
    libraries={},
    builtins=["helpdesk.notifications.bounds"],
    autoescape=False,
    debug=False,
)


class TemplateInvalid(Exception):
    pass


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def compile_checked(source: str):
    """Parses a template, refuses the tags that reach outside the context, and makes it charge a render
    budget as it renders. Raises TemplateInvalid, or RenderLimitExceeded for a source past MAX_SOURCE."""
    if len(source) > MAX_SOURCE:
        raise RenderLimitExceeded(SOURCE)
    try:
        template = ENGINE.from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateInvalid(str(exc)) from None
    except RecursionError:
        raise TemplateInvalid(ERR_TOO_DEEP) from None
    if any(template.nodelist.get_nodes_by_type(node) for node in FORBIDDEN_NODES):
        raise TemplateInvalid(ERR_FORBIDDEN_TAG)
    if meter(template.nodelist) > MAX_DEPTH:
        raise TemplateInvalid(ERR_TOO_DEEP)
    return template


def render_text(source: str, context: dict, *, clock: Callable[[], float] = time.monotonic) -> str:
    """One template text rendered within its own budget. Raises RenderLimitExceeded at the first bound
    crossed, TemplateInvalid for a source that does not compile."""
    template = compile_checked(source)
    return template.render(BudgetContext(context, budget=RenderBudget(clock=clock)))


def render(*, subject: str, body: str, context: dict) -> Rendered:
    rendered_subject = " ".join(render_text(subject, context).split())  # one line: a mail header
    rendered_body = render_text(body, context).strip()
    return Rendered(subject=rendered_subject[:MAX_SUBJECT], body=rendered_body[:MAX_RENDERED])


def check_worst_case(source: str) -> None:
    """The save-time check: the template renders within the bounds against the largest context an event
    can carry. Raises RenderLimitExceeded (which names the bound) or TemplateInvalid."""
    try:
        render_text(source, worst_case_context())
    except (RenderLimitExceeded, TemplateInvalid):
        raise
    except Exception as exc:  # a template that raises on the sample raises on real events too
        raise TemplateInvalid(ERR_FAILS.format(error=exc)) from None


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


# The largest values a context holds. Emitters' payloads stay within them (API and model limits: a subject
# of 500 characters, names of 200, a summary field or a resolution of 5,000, a feedback note of about
# 5,600, a rule's notify list of 20 names); event_context clips anything longer (text edited in the
# admin has no limit), so worst_case_context below is the real worst case.
MAX_SHORT = 500  # the ticket's subject, names, e-mail addresses, slugs: anything named in the context itself
MAX_TEXT = 6_000  # any other string of the payload: reasons, notes, the summary's fields
MAX_ITEMS = 50  # items of a list or keys of a mapping
MAX_ITEM = 100  # characters of a string inside a list (notify names, changed fields)


def _clip(value, limit: int = MAX_TEXT):
    if isinstance(value, str):
        return value[:limit]
    if isinstance(value, list | tuple):
        return [_clip(item, MAX_ITEM) for item in value[:MAX_ITEMS]]
    if isinstance(value, dict):
        return {key: _clip(item) for key, item in list(value.items())[:MAX_ITEMS]}
    return value


def _short(value) -> str:
    return _clip(str(value or ""), MAX_SHORT)


# escalation.created's extra facts (escalation/communication.py, created_facts_many): the account beyond the
# ticket context, the resolution attempts (steps already taken), the documentation on record.
ACCOUNT_KEYS = ("annual_contract_value", "lifetime_value", "customer_since", "manager_name", "manager_email")
MAX_ATTEMPTS = 10
MAX_NOTE = 300


def _attempt(item, timezone: str) -> dict:
    item = item if isinstance(item, dict) else {}
    return {
        "at": _when(item.get("at"), timezone)[:MAX_ITEM],
        "tier": str(item.get("tier", ""))[:MAX_ITEM],
        "outcome": str(item.get("outcome") or "")[:MAX_ITEM],
        "note": str(item.get("note") or "")[:MAX_NOTE],
    }


def event_context(*, event_type: str, payload: dict, tenant_name: str, timezone: str = "UTC") -> dict:
    """What a template may use: the ticket (number, subject, customer, account, link), the trigger, the
    five-field summary, the SLA figures and the event's own text. Everything the emitter put in the
    payload is there too, under `event`. Strings and lists are clipped to the sizes above."""
    payload = _clip(payload)
    facts = payload.get("ticket_context") or {}
    account = payload.get("account") if isinstance(payload.get("account"), dict) else {}
    ticket_id = payload.get("ticket")
    return {
        "event_type": event_type,
        "tenant": {"name": _short(tenant_name)},
        "ticket": {
            "number": facts.get("number", ticket_id),
            "subject": _short(facts.get("subject")),
            "status": _short(facts.get("status")),
            "priority": _short(facts.get("priority")),
            "category": _short(facts.get("category")),
            "link": ticket_link(ticket_id),
        },
        "customer": {"name": _short(facts.get("customer_name")), "email": _short(facts.get("customer_email"))},
        "account": {
            "name": _short(facts.get("account_name")),
            "plan": _short(facts.get("account_plan")),
            "vip": bool(facts.get("vip")),
            **{key: _short(account.get(key)) for key in ACCOUNT_KEYS},
        },
        "reported_at": _short(_when(payload.get("reported_at"), timezone)),
        "attempts": [_attempt(item, timezone) for item in (payload.get("attempts") or [])[:MAX_ATTEMPTS]],
        "documents": [_short(line) for line in payload.get("documents") or []],
        "trigger": _short(payload.get("trigger")),
        "summary": payload.get("summary") or {},
        "sla": {
            "metric": _short(payload.get("metric")),
            "due_at": _short(_when(payload.get("due_at") or payload.get("response_due_at"), timezone)),
            "percent": payload.get("percent", ""),
        },
        "text": payload.get("text") or payload.get("note") or "",
        "event": payload,
    }


# What emitters put in payloads (escalation/services.py, escalation/communication.py, slas/services.py,
# tickets/services.py, escalation/authority.py), by the shape of the worst case each can take.
SAMPLE_TEXT_KEYS = ("reason", "note", "text", "resolution", "root_cause", "amount")
SAMPLE_LIST_KEYS = ("notify", "changed")
SAMPLE_SHORT_KEYS = (
    "kind", "trigger", "status", "milestone", "to", "metric", "due_at", "response_due_at", "requester",
    "channel", "category", "priority", "subject",
)  # fmt: skip
SAMPLE_ID_KEYS = ("ticket", "escalation", "team", "agent", "recipient", "to_tier", "target_minutes", "percent")
SAMPLE_SUMMARY_KEYS = ("problem", "tried", "emotional_state", "desired_outcome", "account_context")
SAMPLE_FACT_KEYS = (
    "subject", "status", "priority", "category", "customer_name", "customer_email", "account_name",
    "account_plan",
)  # fmt: skip


def worst_case_payload() -> dict:
    short, text = "W" * MAX_SHORT, "W" * MAX_TEXT
    facts = {key: short for key in SAMPLE_FACT_KEYS} | {"number": 10**12, "vip": True, "assignee": 1, "team": 1}
    return {
        **{key: 10**12 for key in SAMPLE_ID_KEYS},
        **{key: short for key in SAMPLE_SHORT_KEYS},
        **{key: text for key in SAMPLE_TEXT_KEYS},
        **{key: ["W" * MAX_ITEM] * MAX_ITEMS for key in SAMPLE_LIST_KEYS},
        "to_call": True,
        "summary": {key: text for key in SAMPLE_SUMMARY_KEYS},
        "ticket_context": facts,
        "reported_at": short,
        "account": {key: short for key in ACCOUNT_KEYS},
        "attempts": [{"at": "W" * MAX_ITEM, "tier": "W" * MAX_ITEM, "outcome": "W" * MAX_ITEM, "note": "W" * MAX_NOTE}]
        * MAX_ATTEMPTS,
        "documents": ["W" * MAX_ITEM] * MAX_ITEMS,
    }


def worst_case_context() -> dict:
    """The largest context an event can carry: every string and list at the size event_context clips to."""
    return event_context(event_type="W" * 64, payload=worst_case_payload(), tenant_name="W" * MAX_SHORT)
