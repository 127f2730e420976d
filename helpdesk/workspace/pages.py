"""What the ticket page and the escalations page show, read through the apps' selectors in a fixed number of
queries whatever the thread's length (tests assert the count)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from escalation import rights, roles
from escalation import selectors as escalations
from escalation.models import ACTIVE_STATUSES, Escalation, EscalationStatus, RuleFiring
from helpdesk.auth import Principal
from helpdesk.models import MAX_TIER, Membership, Role, Team
from helpdesk.workspace.clocks import ClockView, clock_view
from slas import selectors as slas
from tickets import selectors as tickets
from tickets.errors import TicketError
from tickets.models import AuthorType, Message, Status, Ticket, TicketEvent
from tickets.validation import check_status_change

# Events the activity list leaves out: the messages are the conversation itself. Everything else a ticket lives
# through is there (escalations, reassignments, pauses, SLA warnings and breaches, calls); the full trail with
# its before and after values is the API's /events/.
HIDDEN_KINDS = {"message_posted"}
ACTIVITY_LIMIT = 50
# The lifecycle's buttons: (action in the URL, label, the services' name of the step, statuses it applies to)
LIFECYCLE = (
    ("acknowledge", "Acknowledge", "acknowledged", (EscalationStatus.REQUESTED,)),
    ("resolve", "Resolve", "resolved", ACTIVE_STATUSES),
    ("return", "Return", "returned", ACTIVE_STATUSES),
    ("de-escalate", "De-escalate", "de-escalated", ACTIVE_STATUSES),
)


def team_ids_of(principal: Principal) -> list[int]:
    return list(principal.membership.teams.values_list("pk", flat=True))


def ticket_for(principal: Principal, ticket_id: int) -> Ticket:
    """The ticket with what its page shows of its people; Ticket.DoesNotExist for another tenant's alike."""
    return (
        tickets.ticket_list(tenant=principal.tenant)
        .select_related("requester", "account", "assignee__user", "team")
        .get(pk=ticket_id)
    )


# The seeds' roles as the card names them, and what an empty one means.
ROLE_LABELS = (
    ("resolver", "Resolver", "the receiver"),
    ("customer_updater", "Customer updater", "the receiver"),
    ("overseer", "Overseer", "the managers"),
)


@dataclass
class RoleView:
    field: str
    label: str
    member: Membership | None
    default: str
    options: list[Membership] = field(default_factory=list)  # whom this role may name (escalation.roles.eligible)


@dataclass
class EscalationCard:
    escalation: Escalation
    clocks: list[ClockView]
    actions: list[tuple[str, str]]  # (action, label) the person may press now
    firings: list[RuleFiring]
    roles: list[RoleView] = field(default_factory=list)
    role_fields: list[RoleView] = field(default_factory=list)  # those this person may set now


@dataclass
class StatusChoice:
    value: str
    label: str
    allowed: bool
    reason: str = ""


@dataclass
class TicketPage:
    ticket: Ticket
    messages: list[Message]
    activity: list[TicketEvent]
    clocks: list[ClockView]
    escalations: list[EscalationCard]
    why: list[RuleFiring]
    statuses: list[StatusChoice]
    sentiments: list[float]
    version: str
    now: datetime = field(default_factory=timezone.now)
    attempts: list = field(default_factory=list)  # resolution attempts, oldest first (the main column shows them)

    @property
    def active_escalations(self) -> list[EscalationCard]:
        return [card for card in self.escalations if card.escalation.status in ACTIVE_STATUSES]


def _statuses(ticket: Ticket, principal: Principal) -> list[StatusChoice]:
    """Every status, and whether this person may move the ticket there now — the services' own check
    (tickets/validation.py), so "solving a VIP ticket needs a manager" shows before the click."""
    choices = []
    for value, label in Status.choices:
        try:
            check_status_change(ticket=ticket, status=value, actor=principal)
        except TicketError as exc:
            choices.append(StatusChoice(value, label, False, str(exc)))
        else:
            choices.append(StatusChoice(value, label, True))
    return choices


def escalation_cards(
    ticket_escalations: list[Escalation], clocks: list[ClockView], timers, principal: Principal, team_ids: list[int]
) -> list[EscalationCard]:
    by_escalation: dict[int, list[ClockView]] = {}
    for timer, view in zip(timers, clocks, strict=True):
        if timer.escalation_id:
            by_escalation.setdefault(timer.escalation_id, []).append(view)
    cards = []
    for escalation in ticket_escalations:
        actions = [
            (action, label)
            for action, label, step, statuses in LIFECYCLE
            if escalation.status in statuses and rights.may(escalation, principal, step, team_ids)
        ]
        views = [RoleView(name, label, getattr(escalation, name), default) for name, label, default in ROLE_LABELS]
        settable = [
            view
            for view in views
            if escalation.status in ACTIVE_STATUSES and roles.may_set_roles(escalation, principal, [view.field])
        ]
        cards.append(
            EscalationCard(
                escalation=escalation,
                clocks=by_escalation.get(escalation.pk, []),
                actions=actions,
                firings=list(escalation.firings.all()),
                roles=views,
                role_fields=settable,
            )
        )
    if any(card.role_fields for card in cards):
        # One read per role for the page, by the rule the service checks (escalation.roles.eligible): the bot, an
        # inactive seat or an agent as overseer is never offered.
        wanted = {view.field for card in cards for view in card.role_fields}
        options = {name: _eligible(name) for name in sorted(wanted)}
        for card in cards:
            for view in card.role_fields:
                # Whoever holds the role stays offered even if no longer eligible (roles.py keeps a stored member
                # valid): missing from the list, the browser would submit "(default)" and a save of another role
                # would clear this one.
                kept = [view.member] if view.member and view.member not in options[view.field] else []
                view.options = [*kept, *options[view.field]]
    return cards


def _eligible(role_field: str) -> list[Membership]:
    eligible = Membership.objects.filter(roles.eligible(role_field))
    return list(eligible.select_related("user").order_by("user__username"))


# What the escalation cards read of their people, joined in the cards' own query.
CARD_RELATED = ("agent__user", "team", "resolver__user", "customer_updater__user", "overseer__user")


def ticket_page(principal: Principal, ticket: Ticket, team_ids: list[int]) -> TicketPage:
    now = timezone.now()
    tenant = principal.tenant
    messages = list(tickets.message_list(tenant=tenant, ticket=ticket).order_by("created_at", "id"))
    events = list(tickets.event_list(tenant=tenant, ticket=ticket).order_by("-created_at", "-id")[:ACTIVITY_LIMIT])
    timers = slas.ticket_clocks(ticket_ids=[ticket.pk])
    calendars: dict = {}
    views = [clock_view(timer, now, calendars) for timer in timers]
    ticket_escalations = list(
        escalations.escalation_list(tenant=tenant)
        .filter(ticket=ticket)
        .select_related(*CARD_RELATED, "rule")
        .order_by("-created_at", "-id")
    )
    cards = escalation_cards(ticket_escalations, views, timers, principal, team_ids)
    return TicketPage(
        ticket=ticket,
        messages=messages,
        activity=[event for event in events if event.kind not in HIDDEN_KINDS],
        clocks=[view for timer, view in zip(timers, views, strict=True) if not timer.escalation_id],
        escalations=cards,
        why=[firing for card in cards for firing in card.firings],
        statuses=_statuses(ticket, principal),
        sentiments=_sentiments(ticket, messages),
        version=version_of(events[0] if events else None),
        now=now,
        attempts=list(tickets.attempt_list(tenant=tenant, ticket=ticket)),
    )


def _sentiments(ticket: Ticket, messages: list[Message]) -> list[float]:
    """The customer's scores, oldest first: the description (the ticket's opening score, stored when it opened:
    scoring it here cost up to seconds a render for a long description) is the first message, so the card never
    says "nothing scored" beside a score taken from it. Tickets opened before the score was stored and answered
    since have none (migration tickets 0016): their card starts at the first message."""
    scored = [m.sentiment for m in messages if m.author_type == AuthorType.CUSTOMER and m.sentiment is not None]
    opening = [] if ticket.opening_sentiment is None else [ticket.opening_sentiment]
    return [*opening, *scored]


def version_of(event: TicketEvent | None) -> str:
    """What the page was rendered from: its latest audit event (every change of a ticket writes one)."""
    return str(event.pk) if event is not None else "0"


def ticket_version(principal: Principal, ticket_id: int) -> str:
    """The ticket's version in one indexed read, for polls: the newest event of the ticket."""
    latest = (
        TicketEvent.objects.filter(tenant=principal.tenant, ticket_id=ticket_id)
        .order_by("-created_at", "-id")
        .values_list("pk", flat=True)
        .first()
    )
    return str(latest) if latest is not None else "0"


def tenant_version(principal: Principal) -> str:
    """The tenant's newest audit event in one indexed read: a queue poll that finds it unchanged has nothing
    to redraw (every change of a ticket, its clocks or its escalations writes one)."""
    latest = TicketEvent.objects.filter(tenant=principal.tenant).order_by("-id").values_list("pk", flat=True).first()
    return str(latest) if latest is not None else "0"


# --- the escalate dialog ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    value: str  # "team:3", "tier:2", "role:manager"
    label: str


def escalation_targets() -> list[Target]:
    """What a person may hand a ticket to: a team, a tier, or authority (a manager, an executive, an admin)."""
    teams = Team.objects.filter(active=True).order_by("tier", "name")
    targets = [Target(f"team:{t.pk}", f"{t.name} (team, tier {t.tier}{_skills(t.skills)})") for t in teams]
    targets += [Target(f"tier:{n}", f"Tier {n}") for n in range(1, MAX_TIER + 1)]
    targets += [
        Target(f"role:{Role.MANAGER}", "A manager"),
        Target(f"role:{Role.EXECUTIVE}", "An executive"),
        Target(f"role:{Role.ADMIN}", "An admin"),
    ]
    return targets


def suggested_target(ticket, targets: list[Target]) -> str:
    """The dialog's preselected target: up, never sideways. A team above the ticket's tier with the skill of its
    category, else the next tier, else a manager (a tester's dialog preselected the lowest tier's team)."""
    values = {target.value for target in targets}
    teams = Team.objects.filter(active=True, tier__gt=ticket.tier).order_by("tier", "name")
    skilled = [team for team in teams if ticket.category and ticket.category in team.skills]
    for team in skilled:
        if f"team:{team.pk}" in values:
            return f"team:{team.pk}"
    if ticket.tier < MAX_TIER:
        return f"tier:{ticket.tier + 1}"
    return f"role:{Role.MANAGER}"


def _skills(skills: list[str]) -> str:
    return f", {', '.join(skills)}" if skills else ""


def parse_target(value: str) -> dict:
    """A dialog's target as escalate_manually's arguments; {} when it names nothing of this tenant."""
    kind, _, ident = (value or "").partition(":")
    if kind == "team" and ident.isdigit():
        team = Team.objects.filter(pk=int(ident), active=True).first()
        return {"target_team": team} if team else {}
    if kind == "tier" and ident.isdigit() and 0 < int(ident) <= MAX_TIER:
        return {"target_tier": int(ident)}
    if kind == "role" and ident in (Role.MANAGER, Role.EXECUTIVE, Role.ADMIN):
        return {"target_role": ident}
    return {}


def member_label(member: Membership | None) -> str:
    """ "Sam (agent, tier 2, billing)": who someone is at a glance."""
    if member is None:
        return "unassigned"
    skills = f", {', '.join(member.skills)}" if member.skills else ""
    return f"{member.user.get_username()} ({member.role}, tier {member.tier}{skills})"


def route_preview(route, target: dict) -> str:
    """Where routing would send it now, in a sentence: "Would go to: sam (agent, tier 2, billing), 3 open"."""
    if route.fallback:
        return f"Nobody can take this target ({route.fallback}): it would go to the managers' queue."
    if route.agent is not None:
        agent = route.agent
        skills = "".join(f", {skill}" for skill in agent.skills)
        busy = agent.capacity - agent.spare
        return f"Would go to: {agent.username} ({agent.role}, tier {agent.tier}{skills}), {busy} open"
    if route.team is not None:
        return f"Would wait in the queue of {route.team.name}: nobody there is free now."
    tier = target.get("target_tier")
    return f"Would wait in the tier {tier} queue: nobody is free now." if tier else "Would wait: nobody is free now."
