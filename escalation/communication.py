"""What the customer hears during an escalation.

Routine escalations send milestone updates (escalated, acknowledged, resolved) from the tenant's
templates. High-stakes ones — hierarchical, a VIP account, anything legal — get no automatic message:
a person must write it, and the owner is reminded (through the outbox) with the update's deadline: once
as the escalation opens, and again before each deadline of its recurring customer-update clock, when the
clock crosses its policy's first warning threshold (reminders_send, from the sweep). Every update given —
a milestone message here, a public agent reply — starts the clock's next period (slas/schedule.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from django.db.models import Count

from escalation.defaults import HIGH_STAKES_SLUGS
from escalation.models import ACTIVE_STATUSES, Escalation, Kind
from helpdesk import share_reads
from helpdesk.models import ROLE_RANK, Membership, Role, Tenant
from helpdesk.outbox import Emission, outbox_emit_across
from helpdesk.tenancy import current_tenant_or_none
from mail.outbound import message_mail, messages_mail_many
from slas import selectors as sla_selectors
from slas import services as slas
from slas.models import SlaTimer
from tickets.models import Account, AuthorType, Message, ResolutionAttempt
from tickets.selectors import ticket_context
from tickets.services import message_post, system_messages_post_many

_UNREAD = object()

MILESTONES = ("escalated", "acknowledged", "resolved")
DEFAULT_TEMPLATES = {
    "escalated": (
        'Hi {customer}, we have passed your request "{subject}" (#{ticket}) to our {team} specialists, with '
        "everything you have told us so far, so you won't need to repeat anything. We'll update you soon."
    ),
    "acknowledged": 'Hi {customer}, a specialist has picked up your request "{subject}" (#{ticket}) and is on it.',
    "resolved": 'Hi {customer}, your request "{subject}" (#{ticket}) is resolved: {resolution}',
}
HIGH_STAKES_CATEGORIES = ("legal", "security", "data_loss")


def templates_for(tenant: Tenant) -> dict[str, str]:
    """The tenant's own wording (settings["customer_templates"]) over the defaults."""
    custom = (tenant.settings or {}).get("customer_templates", {})
    return {name: custom.get(name) or DEFAULT_TEMPLATES[name] for name in MILESTONES}


def is_high_stakes(escalation: Escalation, *, account: Account | object | None = _UNREAD) -> bool:
    """Pass the ticket's account if you have it read already."""
    ticket = escalation.ticket
    if account is _UNREAD:
        vip = ticket.account_id is not None and Account.objects.filter(pk=ticket.account_id, vip=True).exists()
    else:
        vip = account is not None and account.vip
    return (
        escalation.kind == Kind.HIERARCHICAL
        or vip
        or ticket.category in HIGH_STAKES_CATEGORIES
        or escalation.trigger in HIGH_STAKES_SLUGS
    )


# --- the message to the escalation's receivers, by trigger family --------------------------------------
#
# The seeds give three e-mail templates (seed 004): technical complexity, high-value customer, compliance and
# legal. An escalation.created event names its family (`variant`), and the fan-out uses the tenant's
# "escalation.created.<family>" template when it has an active one, else its "escalation.created" (the generic
# wording, which every other escalation gets). Legal exposure outranks money, money outranks a hard problem:
# a VIP's data-loss report is a compliance matter first.

COMPLIANCE, HIGH_VALUE, TECHNICAL = "compliance", "high_value", "technical"
TECHNICAL_TRIGGERS = ("failed_attempts", "time_open", "back_and_forth", "tag_added")
TECHNICAL_CATEGORIES = ("bug",)
VALUE_TRIGGERS = ("value", "dispute")
# The sign-off an authority cap asked for (escalation/authority.py): money and the relationship.
AUTHORITY_TRIGGER = "authority-limit"
MAX_ATTEMPTS_SHOWN = 10
MAX_NOTE = 300


def trigger_family(escalation: Escalation, *, account: Account | None) -> str:
    """compliance, high_value, technical, or "" (the generic message). Reads the escalation's rule (loaded by
    the caller's select_related or the matrix's cache) and the ticket already in memory."""
    ticket = escalation.ticket
    rule = escalation.rule if escalation.rule_id else None
    trigger = rule.trigger if rule is not None else ""
    categories = set((rule.conditions or {}).get("categories") or []) if trigger == "category" else set()
    if (
        ticket.category in HIGH_STAKES_CATEGORIES
        or escalation.trigger in HIGH_STAKES_SLUGS
        or categories & set(HIGH_STAKES_CATEGORIES)
    ):
        return COMPLIANCE
    # The high-value message is about a company (its contract value, its account manager): without an account on
    # file a dispute or a sign-off is an ordinary customer's, and gets the technical or the generic message.
    vip_authority = account is not None and account.vip and escalation.kind == Kind.HIERARCHICAL
    value_cause = trigger in VALUE_TRIGGERS or escalation.trigger == AUTHORITY_TRIGGER
    if account is not None and (value_cause or vip_authority):
        return HIGH_VALUE
    if (
        trigger in TECHNICAL_TRIGGERS
        or ticket.category in TECHNICAL_CATEGORIES
        or categories & set(TECHNICAL_CATEGORIES)
    ):
        return TECHNICAL
    return ""


# Supporting documentation from the apps above this one (callnotes: calls and their artifacts), registered in
# their AppConfig.ready: ticket ids -> lines by ticket id. This app may not import them (DESIGN.md, Layering).
DOCUMENT_SOURCES: list[Callable[[list[int]], dict[int, list[str]]]] = []


def _account_facts(account: Account | None, manager: Membership | None) -> dict:
    if account is None:
        return {}
    user = manager.user if manager is not None else None
    return {
        "name": account.name,
        "plan": account.plan,
        "vip": account.vip,
        "annual_contract_value": f"{account.annual_contract_value:.2f}",
        "lifetime_value": f"{account.lifetime_value:.2f}",
        "customer_since": account.customer_since.isoformat() if account.customer_since else "",
        "manager_name": (user.get_full_name() or user.get_username()) if user else "",
        "manager_email": user.email if user else "",
    }


def created_facts_many(escalations: Iterable[Escalation], accounts: dict[int, Account | None]) -> dict[int, dict]:
    """What the escalation.created message shows beyond the summary, by escalation id: its family, when the
    customer first reported it, the account, and what the family's message lists — the resolution attempts
    (technical, compliance), the account manager (high value), the documentation on record (compliance).
    Read only for the escalations whose family shows them, a statement per kind for any number of them (the
    sweep's batch opens many; a generic escalation costs nothing more: the rules stage's statement budget)."""
    escalations = list(escalations)
    families = {e.pk: trigger_family(e, account=accounts.get(e.pk)) for e in escalations}

    def tickets_of(*wanted: str) -> list[int]:
        return sorted({e.ticket_id for e in escalations if families[e.pk] in wanted})

    attempts = _attempts(tickets_of(TECHNICAL, COMPLIANCE))
    documents = _documents_of(tickets_of(COMPLIANCE))
    manager_ids = {
        account.account_manager_id
        for e in escalations
        if families[e.pk] == HIGH_VALUE and (account := accounts.get(e.pk)) is not None and account.account_manager_id
    }
    managers = Membership.objects.select_related("user").in_bulk(list(manager_ids)) if manager_ids else {}
    facts = {}
    for escalation in escalations:
        account = accounts.get(escalation.pk)
        manager = managers.get(account.account_manager_id) if account is not None else None
        facts[escalation.pk] = {
            "variant": families[escalation.pk],
            "reported_at": escalation.ticket.created_at.isoformat(),
            "attempts": attempts.get(escalation.ticket_id, [])[-MAX_ATTEMPTS_SHOWN:],
            "account": _account_facts(account, manager),
            "documents": documents.get(escalation.ticket_id, []),
        }
    return facts


def _attempts(ticket_ids: list[int]) -> dict[int, list[dict]]:
    """The steps already taken, by ticket, oldest first."""
    if not ticket_ids:
        return {}
    found: dict[int, list[dict]] = {}
    rows = ResolutionAttempt.objects.filter(ticket_id__in=ticket_ids).order_by("created_at", "id")
    for ticket_id, outcome, tier, note, at in rows.values_list("ticket_id", "outcome", "tier", "note", "created_at"):
        found.setdefault(ticket_id, []).append(
            {"outcome": outcome, "tier": tier, "note": note[:MAX_NOTE], "at": at.isoformat()}
        )
    return found


def _documents_of(ticket_ids: list[int]) -> dict[int, list[str]]:
    """The supporting documentation, as lines by ticket: the correspondence and notes on record, then the calls
    and artifacts the apps above register (DOCUMENT_SOURCES)."""
    if not ticket_ids:
        return {}
    counts: dict[int, dict[str, int]] = {}
    rows = (
        Message.objects.filter(ticket_id__in=ticket_ids)
        .values_list("ticket_id", "author_type", "internal")
        .annotate(n=Count("id"))
        .order_by()
    )
    for ticket_id, author, internal, n in rows:
        key = "internal" if internal else "customer" if author == AuthorType.CUSTOMER else "other"
        counts.setdefault(ticket_id, {}).setdefault(key, 0)
        counts[ticket_id][key] += n
    lines: dict[int, list[str]] = {}
    for ticket_id, count in counts.items():
        if count.get("customer"):
            lines.setdefault(ticket_id, []).append(
                f"Customer correspondence: {count['customer']} message(s) in the ticket's thread"
            )
        if count.get("internal"):
            lines.setdefault(ticket_id, []).append(f"Internal investigation notes: {count['internal']}")
    for source in DOCUMENT_SOURCES:
        for ticket_id, extra in source(ticket_ids).items():
            lines.setdefault(ticket_id, []).extend(extra)
    return lines


def created_facts(escalation: Escalation, *, account: Account | None) -> dict:
    return created_facts_many([escalation], {escalation.pk: account})[escalation.pk]


class _Blank(dict):
    def __missing__(self, key):
        return ""


def render(template: str, escalation: Escalation, **extra) -> str:
    ticket = escalation.ticket
    values = _Blank(
        customer=ticket.requester.name or "there",
        subject=ticket.subject,
        ticket=ticket.pk,
        team=escalation.team.name if escalation.team else "senior",
        **extra,
    )
    return template.format_map(values)


def _tenant(tenant_id: int) -> Tenant:
    # The request's (or sweep's) tenant is already loaded; read it again only outside its context.
    tenant = current_tenant_or_none()
    return tenant if tenant is not None and tenant.pk == tenant_id else Tenant.objects.get(pk=tenant_id)


def milestone(*, escalation: Escalation, name: str, at: datetime, **extra) -> None:
    """A later milestone (acknowledged, resolved): routine escalations tell the customer, and that message is
    their update. High-stakes ones stay silent: a person writes to the customer."""
    if is_high_stakes(escalation):
        return
    ticket = escalation.ticket
    text, mailed = _post_update(escalation, name, at, **extra)
    slas.escalation_customer_updated(ticket=ticket, escalation_ids=[escalation.pk], at=at)
    emission = _update_emission(escalation, name, text, ticket_context(ticket), mailed=mailed)
    outbox_emit_across(emissions=[(ticket.tenant_id, emission)], at=at)


def opened(
    *, escalation: Escalation, at: datetime, high_stakes: bool, update_due_at: datetime | None, context: dict
) -> Emission:
    """The "escalated" milestone, for the caller to emit with the escalation's own event: the customer's message
    for a routine escalation (this message is the update the customer-update clock's first period starts
    with), or the owner's reminder, with the update's deadline, for a high-stakes one."""
    if high_stakes:
        return _reminder(escalation, "opened", OPENED_TEXT, update_due_at, context)
    text, mailed = _post_update(escalation, "escalated", at)
    return _update_emission(escalation, "escalated", text, context, mailed=mailed)


def opened_many(*, opened: list[tuple[Escalation, bool, datetime | None, dict]], at: datetime) -> list[Emission]:
    """`opened` for many escalations at once (the sweep's batch): (escalation, high_stakes, update_due_at,
    context) each. The routine ones' messages to the customer are posted to their threads together."""
    texts = {}
    templates = templates_for(_tenant(opened[0][0].tenant_id)) if opened else {}
    for escalation, high_stakes, _, _ in opened:
        if not high_stakes:
            texts[escalation.pk] = render(templates["escalated"], escalation)
    routine = [escalation for escalation, high_stakes, _, _ in opened if not high_stakes]
    messages = system_messages_post_many(posts=[(e.ticket, texts[e.pk]) for e in routine], at=at)
    # An e-mail ticket's customer gets the milestone as mail in the thread too, as `opened` sends it.
    sent = messages_mail_many(posts=[(e.ticket, m) for e, m in zip(routine, messages, strict=True)], auto=True)
    mailed = {e.pk: was_sent for e, was_sent in zip(routine, sent, strict=True)}
    # Read once whenever a high-stakes one is among them: the share's statements do not hang on who is free.
    managers = _managers_by_team([e.team_id for e, high_stakes, _, _ in opened if high_stakes])
    return [
        _reminder(escalation, "opened", OPENED_TEXT, update_due_at, context, managers_by_team=managers)
        if high_stakes
        else _update_emission(escalation, "escalated", texts[escalation.pk], context, mailed=mailed[escalation.pk])
        for escalation, high_stakes, update_due_at, context in opened
    ]


def _post_update(escalation: Escalation, name: str, at: datetime, **extra) -> tuple[str, bool]:
    """The milestone's text, posted on the ticket, and whether it went to the customer as mail in the ticket's
    thread (an e-mail ticket: an automatic answer, marked so no auto-responder answers it)."""
    ticket = escalation.ticket
    text = render(templates_for(_tenant(ticket.tenant_id))[name], escalation, **extra)
    # A public system message: the customer sees it in the thread, and it counts as their update.
    message = message_post(
        ticket=ticket, actor=None, body=text, author_type=AuthorType.SYSTEM, internal=False, created_at=at
    )
    return text, message_mail(ticket=ticket, message=message, auto=True)


def _update_emission(escalation: Escalation, name: str, text: str, context: dict, *, mailed: bool) -> Emission:
    ticket = escalation.ticket
    return Emission(
        type="customer.update",
        dedupe_key=f"customer.update:{escalation.pk}:{name}",
        payload={
            "ticket": ticket.pk,
            "escalation": escalation.pk,
            "milestone": name,
            "to": ticket.requester.email,
            "text": text,
            "mailed": mailed,
            "ticket_context": context,
        },
    )


CLIMBED_TEXT = (
    "Escalation #{old} was not acknowledged in time: it climbed to level {level}, escalation #{new} ({role})."
)
TOP_TEXT = (
    "Escalation #{old} was not acknowledged in time and is at the top of the ladder: nobody is above its "
    "holder. It needs you now."
)


def ladder_notice(*, escalation: Escalation, climbed: Escalation | None, role: str, at: datetime) -> None:
    """The ladder's notice to the escalation's overseer (escalation/roles.py): it climbed, or could not. Sent
    once per escalation (the climb is claimed once); nobody to tell without an overseer."""
    if escalation.overseer_id is None:
        return
    if climbed is not None:
        text = CLIMBED_TEXT.format(old=escalation.pk, level=climbed.level, new=climbed.pk, role=role)
    else:
        text = TOP_TEXT.format(old=escalation.pk)
    emission = Emission(
        type="escalation.climbed",
        dedupe_key=f"escalation.climbed:{escalation.pk}",
        payload={
            "ticket": escalation.ticket_id,
            "escalation": escalation.pk,
            "climbed_to": climbed.pk if climbed is not None else None,
            "overseer": escalation.overseer_id,
            "kind": escalation.kind,
            "text": text,
            "ticket_context": ticket_context(escalation.ticket),
        },
    )
    outbox_emit_across(emissions=[(escalation.tenant_id, emission)], at=at)


OPENED_TEXT = "High-stakes escalation: write the customer a personal update (no automatic message was sent)."
DUE_SOON_TEXT = (
    "The customer's next update on this high-stakes escalation is due soon: write them a personal one, even "
    "if there is no resolution yet (no automatic message goes out)."
)


def owner_of(escalation: Escalation, managers_by_team: dict | None = None) -> int | None:
    """Who owes the customer their updates: the escalation's customer updater (escalation/roles.py), else its
    receiver, else the ticket's assignee, else a manager of the escalation's team, else of the tenant (as the
    notifications' "manager" recipients are found). The lowest id decides between managers, so repeated
    reminders go to the same person. A caller naming many (the sweep's batch) passes a dict that keeps the
    managers found by team for the next ones."""
    owner = _owner(escalation)
    if owner:
        return owner
    if managers_by_team is None:
        return _manager_of(escalation.team_id)
    if escalation.team_id not in managers_by_team:
        managers_by_team[escalation.team_id] = _manager_of(escalation.team_id)
    return managers_by_team[escalation.team_id]


def _owner(escalation: Escalation) -> int | None:
    return escalation.customer_updater_id or escalation.agent_id or escalation.ticket.assignee_id


def _managers_by_team(team_ids: list[int | None]) -> dict[int | None, int | None]:
    """_manager_of for each of these teams, in one query (the sweep's batch): a dict owner_of keeps using."""
    if not team_ids:
        return {}
    rows = share_reads.take(
        "manager_rows", lambda: list(managers_of(Membership.objects.all()).values_list("pk", "teams__id"))
    )
    first = rows[0][0] if rows else None
    in_team: dict[int, int] = {}
    for pk, team_id in rows:
        in_team.setdefault(team_id, pk)
    return {team_id: (in_team.get(team_id) if team_id else None) or first for team_id in set(team_ids)}


def managers_of(members):
    """The active managers among `members` (a queryset), by id: what _managers_by_team decides from, with their
    teams (the sweep's pass reads them for its whole claim: claim_reads)."""
    ranks = [role for role, rank in ROLE_RANK.items() if rank >= ROLE_RANK[Role.MANAGER]]
    return members.filter(active=True, role__in=ranks).order_by("pk")


def _manager_of(team_id: int | None) -> int | None:
    managers = managers_of(Membership.objects.all()).values_list("pk", flat=True)
    in_team = managers.filter(teams__id=team_id).first() if team_id else None
    return in_team or managers.first()


def reminders_send(*, ticket_ids: list[int], at: datetime) -> int:
    """Reminds the owners of these tickets' high-stakes escalations whose customer-update clock has crossed a
    warning threshold in its current period, before its deadline. Once per period: the outbox row's dedupe
    key names the period, so a second sweep (or a second threshold) adds nothing. Runs in the sweep's
    escalation stage, for the tickets whose clocks just moved; returns the reminders written."""
    warned = share_reads.take(
        "update_clocks", lambda: sla_selectors.update_clocks_warned(ticket_ids=ticket_ids, at=at)
    )  # the sweep's pass reads them for its whole claim (claim_reads)
    clocks = {timer.escalation_id: timer for timer in warned}
    if not clocks:
        return 0
    escalations = Escalation.objects.filter(pk__in=list(clocks), status__in=ACTIVE_STATUSES).select_related(
        "ticket__account", "ticket__requester"
    )
    emissions = [
        (escalation.tenant_id, _due_soon(escalation, clocks[escalation.pk]))
        for escalation in escalations.order_by("pk")
        if is_high_stakes(escalation, account=escalation.ticket.account)
    ]
    return outbox_emit_across(emissions=emissions, at=at)


def _due_soon(escalation: Escalation, clock: SlaTimer) -> Emission:
    period = clock.started_at.isoformat()
    context = ticket_context(escalation.ticket)
    return _reminder(escalation, "due_soon", DUE_SOON_TEXT, clock.due_at, context, period=period)


def _reminder(
    escalation: Escalation,
    kind: str,
    text: str,
    due: datetime | None,
    context: dict,
    *,
    period: str | None = None,
    managers_by_team: dict | None = None,
) -> Emission:
    return Emission(
        type="owner.reminder",
        dedupe_key=f"owner.reminder:{escalation.pk}" + (f":{period}" if period else ""),
        payload={
            "ticket": escalation.ticket_id,
            "escalation": escalation.pk,
            "recipient": owner_of(escalation, managers_by_team),
            "reminder": kind,
            "text": text,
            "due_at": due.isoformat() if due else None,
            "period_started_at": period,
            "ticket_context": context,
        },
    )
