"""Reads of the escalation engine."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import BooleanField, F, Func, Q, QuerySet

from escalation import summary, triggers
from escalation.models import ACTIVE_STATUSES, Escalation, EscalationRule, EscalationStatus, Review
from helpdesk import config_cache
from helpdesk.config_cache import tenant_config
from helpdesk.models import ROLE_RANK, Membership, Role, Tenant
from tickets.models import Account, AuthorType, Ticket


def escalation_list(*, tenant: Tenant) -> QuerySet[Escalation]:
    return Escalation.objects.filter(tenant=tenant).prefetch_related("firings__rule")


def rule_list(*, tenant: Tenant) -> QuerySet[EscalationRule]:
    return EscalationRule.objects.filter(tenant=tenant)


@dataclass(frozen=True)
class Matrix:
    """The current tenant's active rules: as the evaluator sees them (`rules`, in matrix order), and the rows
    themselves by id (`by_id`), which firing a rule reads (kind, target, response minutes, notify)."""

    rules: tuple[triggers.Rule, ...]
    by_id: Mapping[int, EscalationRule]


def matrix() -> Matrix:
    """Cached per process until a rule changes (helpdesk/config_cache.py), and shared between the threads of
    a worker: evaluator rules are frozen, and the rows must be treated as read-only — firing only reads their
    own columns (the target team is read by id, never through the relation, which would cache onto the row)."""

    def load() -> Matrix:
        return _matrix_of(list(EscalationRule.objects.filter(active=True).order_by("position", "id")))

    return tenant_config("escalation_matrix", load)


def _matrix_of(rows: list[EscalationRule]) -> Matrix:
    return Matrix(rules=tuple(rule_shape(r) for r in rows), by_id={r.pk: r for r in rows})


def matrices_preload(tenant_ids: list[int]) -> None:
    """matrix() of these tenants cached in one statement (the sweep's escalation pass, inside tenancy.tenant_batch
    and config_cache.pinned(): the batch policy opens the rules read-only); each tenant's rows its own."""

    def load_many(ids: list[int]) -> dict[int, Matrix]:
        rows: dict[int, list[EscalationRule]] = {}
        for row in EscalationRule.unscoped.filter(tenant_id__in=ids, active=True).order_by(
            "tenant_id", "position", "id"
        ):
            rows.setdefault(row.tenant_id, []).append(row)
        return {pk: _matrix_of(tenant_rows) for pk, tenant_rows in rows.items()}

    config_cache.preload("escalation_matrix", tenant_ids, load_many, _matrix_of([]))


def with_time_rules(tenant_ids: list[int]) -> set[int]:
    """Those of these tenants whose matrix has an active time rule (batch.open_due decides nothing for the others),
    from the matrices matrices_preload cached; a tenant whose matrix is not cached counts as having some."""
    out = set()
    for pk in tenant_ids:
        matrix = config_cache.pinned_entry("escalation_matrix", pk)
        if not isinstance(matrix, Matrix) or any(r.trigger in triggers.TIME_TRIGGERS for r in matrix.rules):
            out.add(pk)
    return out


def rule_shape(row: EscalationRule) -> triggers.Rule:
    """A rule row as the evaluator and supersession (triggers.merge) see it."""
    return triggers.Rule(
        id=row.pk,
        slug=row.slug,
        trigger=row.trigger,
        conditions=row.conditions,
        position=row.position,
        active=row.active,
        kind=row.kind,
        target_tier=row.target_tier,
        by_skill_or_team=bool(row.target_skill or row.target_team_id),
        supersedes=tuple(row.supersedes or ()),
        action=row.action or "escalate",
    )


def rule_matrix() -> tuple[triggers.Rule, ...]:
    """The current tenant's active rules as the evaluator sees them, in matrix order (cached: see matrix())."""
    return matrix().rules


# --- whose work an escalation is -------------------------------------------------------------------


def addressed_to(member: Membership, team_ids: list[int]) -> Q:
    """Escalations a member is to act on: received by them; waiting unassigned in one of their teams' queues,
    or in a tier's queue at or below their tier; and, for managers and admins, the managers' queue (escalations
    whose target went stale, escalation/routing.py)."""
    addressed = (
        Q(agent_id=member.pk)
        | Q(agent__isnull=True, team_id__in=team_ids)
        | Q(agent__isnull=True, team__isnull=True, to_tier__lte=member.tier)
    )
    if ROLE_RANK[member.role] >= ROLE_RANK[Role.MANAGER]:
        addressed |= Q(agent__isnull=True, team__isnull=True) & ~Q(fallback_reason="")
    return addressed


def escalations_for(*, tenant: Tenant, member: Membership, team_ids: list[int]) -> QuerySet[Escalation]:
    """The escalations addressed to a member (addressed_to), newest first."""
    return escalation_list(tenant=tenant).filter(addressed_to(member, team_ids)).order_by("-created_at", "-id")


class _AnyOf(Func):
    """`column = ANY(ARRAY(subquery))`: the subquery runs once, before the outer query, and its rows are then
    found by the column's index. As EXISTS, the planner joined the escalations' tickets to the rest of a queue's
    filters first (a VIP filter: 614 tickets x 83 accounts = 50,962 probes, 0.7 s; bench/WORKSPACE.md)."""

    template = "%(expressions)s)"
    arg_joiner = " = ANY("
    output_field = BooleanField()


def tickets_escalated_to(member: Membership, team_ids: list[int], *, awaiting_ack: bool = False) -> _AnyOf:
    """A ticket filter: it has an open escalation addressed to the member (only unacknowledged ones with
    awaiting_ack)."""
    statuses = (EscalationStatus.REQUESTED,) if awaiting_ack else ACTIVE_STATUSES
    found = Escalation.objects.filter(addressed_to(member, team_ids), status__in=statuses).values("ticket_id")
    return _AnyOf(F("pk"), ArraySubquery(found))


# --- the drafted summary ------------------------------------------------------------------------


def _account_line(ticket: Ticket, account: Account | None) -> str:
    if account is None:
        return f"{ticket.requester.email}: no account on file"
    vip = ", VIP" if account.vip else ""
    since = f", customer since {account.customer_since:%Y}" if account.customer_since else ""
    return f"{account.name}: {account.plan} plan{vip}, ACV {account.annual_contract_value:,.0f}{since}"


def draft_summary(ticket: Ticket, snapshot=None) -> dict[str, str]:
    """The five fields drafted from the thread (a rule's escalation carries it; a person's escalation dialog
    starts from it); an evaluation passes its snapshot, so a second escalation it opens reads nothing again."""
    if snapshot is None:
        # Imported here: the snapshot reads the time watches, which read the matrix from this module.
        from escalation.snapshot import TicketSnapshot

        snapshot = TicketSnapshot(ticket)
    public = snapshot.public_messages
    facts = summary.ThreadFacts(
        subject=ticket.subject,
        description=ticket.description,
        customer_texts=tuple(body for author, body in public if author == AuthorType.CUSTOMER),
        agent_replies=tuple(body for author, body in public if author == AuthorType.AGENT),
        attempts=tuple((outcome, note) for outcome, _, note in snapshot.attempts),
        sentiment=ticket.sentiment,
        account_line=_account_line(ticket, snapshot.account),
        history_line=f"{snapshot.earlier_tickets} earlier ticket(s) from {ticket.requester.email}; "
        f"escalated {ticket.escalation_count} time(s) before",
    )
    return summary.draft(facts)


def review_list(*, tenant: Tenant) -> QuerySet[Review]:
    """Post-escalation reviews, newest first, with what a list shows of each in the one query."""
    return (
        Review.objects.filter(tenant=tenant)
        .select_related("escalation", "ticket", "rule", "rule_to_change", "completed_by__user")
        .order_by("-created_at", "-id")
    )
