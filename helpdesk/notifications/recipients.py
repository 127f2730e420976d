"""Who receives a notification by e-mail: the recipient specs of the template (and of the channel),
resolved against the event's payload and the tenant's people.

Specs: "agent" (the escalation's receiver), "assignee" (the ticket's), "recipient" (a member the event
names, e.g. the owner to remind), "requester" (the customer), "attendees" (the addresses a call's invite
names, from the payload), "team" (members of the event's team), "team:<id>", "user:<membership id>",
"overseer" (the escalation's overseer, escalation/roles.py), "on_call" (the on-call member of the event's team,
or of every team when the event has none), "role:<role>" or a bare role name ("manager": the managers of the event's
team, else the tenant's), and "notify" (the matrix rule's own notify list, carried in the payload).
"""

from __future__ import annotations

from django.db.models import Q

from helpdesk import redaction
from helpdesk.models import ROLE_RANK, Membership, Role, Team

ROLE_NAMES = set(Role.values)
# Specs that name someone by the event alone, and whom; the others carry a value ("role:manager", "team:3",
# "user:7").
EVENT_SPECS = {
    "agent": "the escalation's receiver",
    "assignee": "the ticket's assignee",
    "recipient": "the member the event names (the owner to remind)",
    "requester": "the customer",
    "attendees": "the people invited to the event's call",
    "team": "the members of the event's team",
    "on_call": "the on-call member of the event's team",
    "notify": "the matrix rule's own notify list",
    "overseer": "the escalation's overseer",
}
BARE_SPECS = set(EVENT_SPECS) | ROLE_NAMES


def is_spec(spec: str) -> bool:
    """Whether `spec` is a recipient spec this module understands (see the docstring)."""
    if spec in BARE_SPECS:
        return True
    kind, _, value = spec.partition(":")
    return (kind == "role" and value in ROLE_NAMES) or (kind in ("team", "user") and value.isdigit())


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _event_team(payload: dict) -> int | None:
    return _int(payload.get("team")) or _int((payload.get("ticket_context") or {}).get("team"))


def _role_members(role: str, payload: dict) -> Q:
    team = _event_team(payload)
    ranks = [r for r, rank in ROLE_RANK.items() if rank >= ROLE_RANK[role]]
    in_team = Membership.objects.filter(role__in=ranks, teams__id=team) if team else Membership.objects.none()
    if team and in_team.exists():
        return Q(pk__in=in_team.values("pk"))
    return Q(role__in=ranks)


def _spec_query(spec: str, payload: dict) -> Q | None:
    facts = payload.get("ticket_context") or {}
    simple = {
        "agent": payload.get("agent"),
        "assignee": facts.get("assignee"),
        "recipient": payload.get("recipient"),
        "overseer": payload.get("overseer"),
    }
    if spec in simple:
        member = _int(simple[spec])
        return Q(pk=member) if member else None
    kind, _, value = spec.partition(":")
    if spec in ROLE_NAMES or kind == "role":
        role = value if kind == "role" else spec
        return _role_members(role, payload) if role in ROLE_NAMES else None
    if spec == "team" or kind == "team":
        team = _int(value) if kind == "team" and value else _event_team(payload)
        return Q(teams__id=team) if team else None
    if kind == "user":
        member = _int(value)
        return Q(pk=member) if member else None
    if spec == "on_call":
        team = _event_team(payload)
        teams = Team.objects.filter(pk=team) if team else Team.objects.all()
        return Q(pk__in=teams.exclude(on_call=None).values("on_call"))
    return None


def expand(specs: list, payload: dict) -> list[str]:
    """The rule's notify list stands in for "notify"; channel ids in it are handled by the fan-out."""
    out: list[str] = []
    for spec in specs:
        if spec == "notify":
            out += [str(s) for s in payload.get("notify") or [] if isinstance(s, str) and not s.isdigit()]
        elif isinstance(spec, str):
            out.append(spec)
    return out


def email_addresses(specs: list, payload: dict) -> list[str]:
    """The distinct, lower-cased addresses of the people the specs name (active members only)."""
    specs = expand(specs, payload)
    addresses: set[str] = set()
    # A customer mailed in their ticket's thread (mail/outbound.py) is not mailed the same news again.
    if "requester" in specs and not payload.get("mailed"):
        customer = payload.get("to") or (payload.get("ticket_context") or {}).get("customer_email")
        # An erased customer's tombstone address (helpdesk.redaction): nothing is sent to it.
        if customer and not redaction.is_erased_address(str(customer)):
            addresses.add(str(customer).strip().lower())
    if "attendees" in specs:
        addresses |= {str(a).strip().lower() for a in payload.get("attendees") or [] if isinstance(a, str) and a}
    query = Q(pk__in=[])
    for spec in specs:
        part = _spec_query(spec, payload)
        if part is not None:
            query |= part
    members = Membership.objects.filter(query, active=True).exclude(user__email="")
    addresses |= {email.strip().lower() for email in members.values_list("user__email", flat=True)}
    return sorted(addresses)


def notify_channel_ids(payload: dict) -> list[int]:
    """Channel ids a matrix rule names in its notify list (API.md: "channel ids or role names")."""
    return sorted({n for n in (_int(s) for s in payload.get("notify") or []) if n})
