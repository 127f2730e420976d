"""The sweep's escalations, set-based (issue 17): one tenant's share of due tickets is decided in memory and
written with a handful of multi-row statements, instead of ~25 statements per escalation opened one at a time.

Decide (in memory, from one read of each input for the whole share; in the sweep's pass, for the whole claim of
many tenants before any share runs: escalation/claim_reads.py, each share handed its own through
helpdesk.share_reads):
    the tickets with requester and account, what the facts read (snapshot.snapshots), their escalations, the
    requesters' earlier-ticket counts; the time rules evaluated and grouped by cause (triggers.merge); the
    firings claimed in one statement (the unique (tenant, ticket, rule, cycle) still decides exactly-once);
    routing on a `RoutingBoard` read once: the members, teams, skills, tiers, availability, current load and
    when each last received one. Capacity and round robin are consumed on the board as each escalation is
    routed, in the order the one-at-a-time path opens them (ticket id, then cause), so every decision equals
    routing.route's over the same data (tests/escalation/test_batch.py compares them one by one).
Write (helpdesk.bulk: statements built from the models' columns):
    ids reserved, escalations, ticket moves, their audit events, the escalations' clocks, the firings linked,
    the routine escalations' messages to the customer, the outbox rows. What stays per row: a reinforcement (an
    open escalation of the kind: rare in a burst), re-arming the
    ticket's time watches when a time_open rule applies at its new tier, the ladder's climbs.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Exists, OuterRef
from django.utils.dateparse import parse_datetime

from escalation import communication, engine, routing, selectors, services, triggers, watches
from escalation.models import ACTIVE_STATUSES, Escalation, EscalationRule, RuleFiring
from escalation.snapshot import TicketSnapshot, _from_json, across_template, snapshots
from helpdesk import bulk, share_reads
from helpdesk.audit import actor_label
from helpdesk.models import Membership, Team
from helpdesk.outbox import Emission, outbox_emit_across
from helpdesk.tenancy import across, current_tenant
from slas.models import SlaTimer
from tickets.models import Status, Ticket, TicketEvent, raises_priority
from tickets.selectors import ticket_context
from tickets.services import ticket_escalation_move, ticket_update, tickets_set_triage_many

# --- routing, in memory ----------------------------------------------------------------------------


# What routing reads, for one tenant in one statement: active members (with their username), team memberships,
# each agent's open escalations and latest one received, the teams.
BOARD = """
SELECT
 (SELECT coalesce(json_agg(row_to_json(m) ORDER BY m.id), '[]'::json) FROM (
    SELECT s.*, u.{name} AS _username FROM helpdesk_membership s JOIN {users} u ON u.id = s.user_id
    WHERE s.tenant_id = %(tenant)s AND s.active) m),
 (SELECT coalesce(json_agg(json_build_array(tm.team_id, tm.membership_id)), '[]'::json)
  FROM helpdesk_teammember tm WHERE tm.tenant_id = %(tenant)s),
 (SELECT coalesce(json_agg(json_build_array(x.agent_id, x.active, x.latest)), '[]'::json) FROM (
    SELECT e.agent_id, count(*) FILTER (WHERE e.status = ANY(%(active)s)) AS active, max(e.created_at) AS latest
    FROM escalation_escalation e WHERE e.tenant_id = %(tenant)s AND e.agent_id IS NOT NULL GROUP BY e.agent_id) x),
 (SELECT coalesce(json_agg(row_to_json(t) ORDER BY t.id), '[]'::json)
  FROM helpdesk_team t WHERE t.tenant_id = %(tenant)s)
"""


# BOARD for many tenants in one statement (the sweep's pass: claim_reads), a row per tenant, each part read under
# the tenant of its row.
if not BOARD.strip().startswith("SELECT"):
    raise RuntimeError("BOARD no longer starts with SELECT")
BOARD_ACROSS = (
    "SELECT x.tenant,"
    + across_template(BOARD.strip().removeprefix("SELECT"), "%(tenant)s", "x.tenant")
    + "\nFROM unnest(%(tenants)s::bigint[]) AS x(tenant)"
)


def _board_sql(template: str) -> str:
    from django.contrib.auth import get_user_model
    from django.db import connection

    user = get_user_model()
    return template.format(users=connection.ops.quote_name(user._meta.db_table), name=user.USERNAME_FIELD)


def _board_row() -> tuple:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(_board_sql(BOARD), {"tenant": current_tenant().pk, "active": list(ACTIVE_STATUSES)})
        return cursor.fetchone()


def boards_across(tenant_ids: list[int]) -> dict[int, tuple]:
    """BOARD's row of each of these tenants, in one statement (inside tenancy.tenant_batch and tenant_reads)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(_board_sql(BOARD_ACROSS), {"tenants": list(tenant_ids), "active": list(ACTIVE_STATUSES)})
        return {row[0]: row[1:] for row in cursor.fetchall()}


@dataclass
class RoutingBoard:
    """What routing.RANKED and routing.CAPABLE read, read once for a tenant: active members (with username),
    their teams, the active teams' skills and tiers, each member's open escalations (load) and latest
    escalation received (round robin). `take` consumes them as an escalation is routed."""

    members: list[Membership]
    teams: dict[int, Team]
    team_members: dict[int, set[int]]
    load: Counter = field(default_factory=Counter)
    last_assigned: dict[int, datetime] = field(default_factory=dict)

    @classmethod
    def read(cls) -> RoutingBoard:
        """The board of the current tenant, in one round trip (BOARD), or as the sweep's pass read it for its whole
        claim (boards_across)."""
        return cls.from_row(share_reads.take("board", _board_row))

    @classmethod
    def from_row(cls, row: tuple) -> RoutingBoard:
        """The board from BOARD's row."""
        members_json, pairs, loads, teams_json = row
        members = []
        for row in members_json:  # inactive members are never capable
            member = _from_json(Membership, row)
            member.username = row["_username"]
            members.append(member)
        team_members: dict[int, set[int]] = defaultdict(set)
        for team_id, member_id in pairs:
            team_members[team_id].add(member_id)
        load, last = Counter(), {}
        for agent_id, active, latest in loads:
            load[agent_id], last[agent_id] = active, parse_datetime(latest)
        teams = {team.pk: team for team in (_from_json(Team, row) for row in teams_json)}
        return cls(members=members, teams=teams, team_members=team_members, load=load, last_assigned=last)

    def team_for_skill(self, skill: str) -> Team | None:
        if not skill:
            return None
        teams = [t for t in self.teams.values() if t.active and skill in (t.skills or [])]
        return min(teams, key=lambda t: (t.tier, t.pk), default=None)

    def _capable(self, *, team: Team | None, tier: int | None, role: str, skill: str) -> list[Membership]:
        roles = routing._roles_at_least(role) if role else None
        in_team = self.team_members.get(team.pk, set()) if team is not None else None
        return [
            m
            for m in self.members
            if (in_team is None or m.pk in in_team)
            and (team is not None or not skill or skill in (m.skills or []))
            and (tier is None or m.tier >= tier)
            and (roles is None or m.role in roles)
        ]

    def _best(self, *, team, tier, role, skill, exclude_ids) -> Membership | None:
        ranked = [
            m
            for m in self._capable(team=team, tier=tier, role=role, skill=skill)
            if m.available and m.pk not in exclude_ids and m.capacity - self.load[m.pk] > 0
        ]
        if not ranked:
            return None
        # RANKED's ORDER BY: most spare, then least recently assigned (never first), then the oldest seat.
        best = min(
            ranked,
            key=lambda m: (
                -(m.capacity - self.load[m.pk]),
                self.last_assigned.get(m.pk) is not None,
                self.last_assigned.get(m.pk) or datetime.min,
                m.pk,
            ),
        )
        best.spare = best.capacity - self.load[best.pk]
        return best

    def _fallback(self, reason: str, exclude_ids) -> routing.Route:
        manager = self._best(team=None, tier=None, role=routing.FALLBACK_ROLE, skill="", exclude_ids=exclude_ids)
        who = f"{manager.username}: {manager.spare} of {manager.capacity} capacity free" if manager else "unassigned"
        return routing.Route(
            team=None, agent=manager, explanation=f"{reason}: sent to the managers' queue ({who})", fallback=reason
        )

    def route(self, *, target_team=None, target_tier=None, target_role="", target_skill="", exclude_ids=()):
        """routing.route, on the board."""
        stale = routing._stale_on_its_face(target_team, target_role)
        if stale:
            return self._fallback(stale, exclude_ids)
        team = target_team or self.team_for_skill(target_skill)
        target = {"team": team, "tier": target_tier, "role": target_role, "skill": target_skill}
        best = self._best(**target, exclude_ids=exclude_ids)
        if best is not None:
            return routing.Route(
                team=team, agent=best, explanation=f"{best.username}: {best.spare} of {best.capacity} capacity free"
            )
        if not self._capable(**target):
            return self._fallback(f"no active member {routing._who(**target)}", exclude_ids)
        return routing.Route(team=team, agent=None, explanation="nobody available: left in the team queue")

    def take(self, agent: Membership | None, at: datetime) -> None:
        """An escalation went to `agent`: one more open, and the most recent received."""
        if agent is None:
            return
        self.load[agent.pk] += 1
        previous = self.last_assigned.get(agent.pk)
        self.last_assigned[agent.pk] = at if previous is None else max(previous, at)


# --- deciding -----------------------------------------------------------------------------------


@dataclass
class Opening:
    """One escalation decided, not stored yet."""

    ticket: Ticket
    snapshot: TicketSnapshot
    escalation: Escalation
    handoff: services.Handoff
    route: routing.Route
    before: dict
    timers: list
    high_stakes: bool
    firings: list[int]  # the claimed firings that point to it
    lead: EscalationRule
    after_priority: str = ""  # the ticket's priority as this escalation left it (its audit event's)
    # The ticket as this escalation left it, for its outbox payloads: a second opening of the ticket in the share
    # moves it again before the payloads are built (the one-at-a-time path builds them right after each move).
    context: dict = field(default_factory=dict)


@dataclass
class ShareRows:
    """What _read reads of a share's tickets: the open ones with requester and account, their escalations (with
    the ladder's flag), the requesters' ticket counts and, when read for a whole claim, the facts' parts (None:
    snapshots reads them) and the escalations of the claimed tickets not open (`others`). `by_ticket`: the open
    tickets' escalations as the share left them (_read's lists, which the share's openings join and its
    reinforcements change), for the call requests (callnotes: call_requests_for_tickets). `tickets_read` False: read
    for a claim's tenant without time rules (claim_reads), its tickets, counts and parts were not read and all its
    escalations are in `others` (for the ladder and the call requests)."""

    ticket_ids: list[int]
    tickets: list[Ticket]
    escalations: list[Escalation] = field(default_factory=list)
    counts: dict[int, int] = field(default_factory=dict)
    parts: dict[int, tuple] | None = None
    others: list[Escalation] = field(default_factory=list)
    by_ticket: dict[int, list[Escalation]] | None = None
    tickets_read: bool = True


def open_tickets(tickets) -> list[Ticket]:
    """The open ones of these tickets (a queryset), with requester and account, by id."""
    return list(
        tickets.exclude(status__in=[Status.SOLVED, Status.CLOSED]).select_related("requester", "account").order_by("pk")
    )


def escalations_with_ladder(escalations) -> list[Escalation]:
    """These escalations (a queryset) as firing reads them, by id, each with what engine._ladder_due asks of it (a
    breached ladder clock: `ladder_breached`): the share's ladder then needs no read of its own. The clock is
    looked up by tenant and ticket too, so the clocks' ticket index bounds the lookup."""
    breached = SlaTimer.unscoped.filter(
        tenant_id=OuterRef("tenant_id"), ticket_id=OuterRef("ticket_id"), escalation_id=OuterRef("pk"),
        metric__in=engine.LADDER_METRICS, breached_at__isnull=False,
    )  # fmt: skip
    rows = escalations.only("tenant_id", "ticket_id", "kind", "status", "to_call", "climbed_at", "trigger", "reason")
    return list(rows.annotate(ladder_breached=Exists(breached)).order_by("pk"))


def requester_counts(tickets, requester_ids) -> dict[int, int]:
    """How many tickets (of the queryset `tickets`) each of these requesters has."""
    # count(*), not count(id): the id is in no index with the requester, so counting it read every ticket of a
    # claim's requesters from the table (the storm's ~1,000,000, about 2 s); counted rows come from the index
    # ticket_tenant_requester alone, where the visibility map allows.
    rows = tickets.filter(requester_id__in=set(requester_ids)).values("requester_id").annotate(n=Count("*"))
    return dict(rows.values_list("requester_id", "n"))


def ladder_of(rows: ShareRows, ladder: dict) -> None:
    """engine._ladder_due's answer from the rows read: `ladder` gets the tickets covered ("read") and their
    escalations due to climb ("due"). Read for a whole claim (claim_reads: `parts` given), the rows hold the
    escalations of every claimed ticket, open or not; read by the share (_rows), those of its open tickets."""
    claim = rows.parts is not None
    for escalation in rows.escalations + rows.others if claim else rows.escalations:
        if escalation.ladder_breached and escalation.climbed_at is None and escalation.status in ACTIVE_STATUSES:
            ladder.setdefault("due", []).append(escalation.pk)
    ladder["read"] = set(rows.ticket_ids) if claim else {t.pk for t in rows.tickets}


def _rows(ticket_ids: list[int]) -> ShareRows:
    """ShareRows of the current tenant's share, one query per kind."""
    tickets = open_tickets(Ticket.objects.filter(pk__in=ticket_ids))
    if not tickets:
        return ShareRows(ticket_ids, [])
    escalations = escalations_with_ladder(Escalation.objects.filter(ticket_id__in=[t.pk for t in tickets]))
    counts = requester_counts(Ticket.objects.all(), [t.requester_id for t in tickets])
    return ShareRows(ticket_ids, tickets, escalations, counts)


def _read(ticket_ids: list[int], at: datetime, *, requesters: bool, ladder: dict) -> list[TicketSnapshot]:
    """The share's open tickets and everything their evaluation and firing read, one query per kind, or as the
    sweep's pass read them for its whole claim (claim_reads). `ladder` gets the ids of the tickets read ("read")
    and of their escalations due to climb ("due", engine._ladder_due's answer for those tickets, read with the
    escalations)."""
    rows = share_reads.take("tickets", lambda: _rows(ticket_ids))
    if rows.ticket_ids != ticket_ids or not rows.tickets_read:  # handed for other tickets, or without them
        rows = _rows(ticket_ids)
    ladder_of(rows, ladder)
    tickets = rows.tickets
    if not tickets:
        return []
    shots = snapshots(tickets, between=(at, at), requesters=requesters, parts=rows.parts)
    escalations: dict[int, list[Escalation]] = defaultdict(list)
    for escalation in rows.escalations:
        escalations[escalation.ticket_id].append(escalation)
    rows.by_ticket = escalations
    counts = rows.counts
    for shot in shots:
        ticket = shot.ticket
        for escalation in escalations[ticket.pk]:
            escalation.ticket = ticket
        shot.__dict__.update(escalations=escalations[ticket.pk], earlier_tickets=counts.get(ticket.requester_id, 1) - 1)
    return shots


def _decide(shots: list[TicketSnapshot], rules: list[triggers.Rule], at: datetime) -> list[tuple]:
    """(snapshot, [(rule row, reason)]) of the tickets some time rule fires for, in ticket order; triage is
    refreshed on the way (stored for all the tickets at once), as the one-at-a-time evaluation does."""
    matrix = selectors.matrix()
    for_triggers = triggers.triggers_evaluated(rules, time_based=True)
    out, triage = [], []
    for shot in shots:
        facts = engine.ticket_facts(shot.ticket, text="", now=at, snapshot=shot, for_triggers=for_triggers)
        result = engine.triage_of(shot.ticket, facts, shot.customer_thread)
        triage.append((shot.ticket, result.level, list(result.reasons)))
        decisions = triggers.evaluate(facts, rules, at, time_based=True)
        if decisions:
            by_id = engine._rule_rows(matrix, [d.rule_id for d in decisions])
            out.append((shot, [(by_id[d.rule_id], d.reason) for d in decisions]))
    tickets_set_triage_many(changes=triage, at=at)
    return out


CLAIM_MANY = """
INSERT INTO escalation_rulefiring (tenant_id, ticket_id, rule_id, cycle, reason, created_at)
SELECT %b, f.ticket_id, f.rule_id, f.cycle, f.reason, %b
FROM unnest(%b::bigint[], %b::bigint[], %b::integer[], %b::text[]) AS f(ticket_id, rule_id, cycle, reason)
ON CONFLICT (tenant_id, ticket_id, rule_id, cycle) DO NOTHING
RETURNING ticket_id, rule_id, id
"""


def _claim(fired: list[tuple], at: datetime) -> dict[tuple[int, int], int]:
    """services._claim for the whole share in one statement: the firing id by (ticket, rule) of those claimed. In the
    sweep's pass, from the claim's firings read at once (claim_reads) and written for the claim at its end."""
    rows = [(shot.ticket.pk, rule.pk, shot.cycle, reason) for shot, pairs in fired for rule, reason in pairs]
    if not rows:
        return {}
    known = share_reads.take("firings", lambda: None)
    if known is not None and bulk.gathering():
        return _claim_gathered(rows, known, at)
    from django.db import connection

    # Outside the sweep's pass (its shares are handed their firings and claim them gathered, above): one tenant's
    # claim, in its tenant_context. Every row names its tenant, on a batch table: run inside a share of
    # tenant_shares, it would need no tenant entered (across), though the pass never gets here.
    with across(), connection.bound_cursor() as cursor:
        cursor.execute(CLAIM_MANY, [current_tenant().pk, at, *(list(column) for column in zip(*rows, strict=True))])
        return {(ticket_id, rule_id): pk for ticket_id, rule_id, pk in cursor.fetchall()}


CLAIM_GATHERED = """
INSERT INTO escalation_rulefiring (id, tenant_id, ticket_id, rule_id, cycle, reason, escalation_id, fallback_reason,
                                   created_at)
SELECT f.id, f.tenant_id, f.ticket_id, f.rule_id, f.cycle, f.reason, f.escalation_id, f.fallback_reason, %b
FROM unnest(%b::bigint[], %b::bigint[], %b::bigint[], %b::bigint[], %b::integer[], %b::text[], %b::bigint[],
            %b::text[])
  AS f(id, tenant_id, ticket_id, rule_id, cycle, reason, escalation_id, fallback_reason)
ON CONFLICT (tenant_id, ticket_id, rule_id, cycle) DO NOTHING
"""

CLAIMED_MEANWHILE = "bulk: {} of {} firings claimed (another transaction claimed some meanwhile)"


def _claim_gathered(rows: list[tuple], known: set[tuple[int, int, int]], at: datetime) -> dict[tuple[int, int], int]:
    """_claim in the sweep's pass: the (ticket, rule, cycle) not among the firings the claim read (`known`, this
    share's: claim_reads) are claimed, with ids from the sequence, and written with the claim's other rows at its
    end (bulk.defer). The unique index still decides there: a firing another transaction claimed meanwhile makes
    the write raise, so the pass rolls back and the claim goes tenant by tenant, claiming one share at a time."""
    fresh = [row for row in rows if (row[0], row[1], row[2]) not in known]
    if not fresh:
        return {}
    known.update((ticket_id, rule_id, cycle) for ticket_id, rule_id, cycle, _ in fresh)
    ids = bulk.ids_reserve(RuleFiring, len(fresh))
    tenant_id = current_tenant().pk
    rows = [[pk, tenant_id, *row, None, ""] for pk, row in zip(ids, fresh, strict=True)]  # unlinked yet
    bulk.defer(("escalation.firings", at), rows, lambda claimed: _claim_write(claimed, at))
    bulk.deferred_rows(services.UNWRITTEN_FIRINGS).update((row[0], row) for row in rows)
    return {(ticket_id, rule_id): pk for pk, (ticket_id, rule_id, _, _) in zip(ids, fresh, strict=True)}


def _claim_write(rows: list[tuple], at: datetime) -> None:
    from django.db import connection

    with connection.bound_cursor() as cursor:
        cursor.execute(CLAIM_GATHERED, [at, *(list(column) for column in zip(*rows, strict=True))])
        if cursor.rowcount != len(rows):
            raise RuntimeError(CLAIMED_MEANWHILE.format(cursor.rowcount, len(rows)))


def _plan(shot, lead, joined, board: RoutingBoard, claimed, at) -> Opening:
    """services._open up to the writes: the handoff, its route on the board, the record, the ticket's move in
    memory and the clocks planned on the moved ticket."""
    ticket = shot.ticket
    rule, reason = lead
    team = board.teams.get(rule.target_team_id) if rule.target_team_id else None
    handoff = services.handoff_by_rule(ticket, rule, reason, shot, joined, target_team=team)
    route = board.route(
        target_team=handoff.target_team,
        target_tier=handoff.target_tier,
        target_role=handoff.target_role,
        target_skill=handoff.target_skill,
        exclude_ids=[ticket.assignee_id] if ticket.assignee_id else [],
    )
    board.take(route.agent, at)
    to_tier = services._target_tier(ticket, handoff.target_tier, route.agent, route.team)
    escalation = services._record(
        ticket=ticket, actor=None, handoff=handoff, route=route, to_tier=to_tier, cycle=shot.cycle, at=at
    )
    high_stakes = communication.is_high_stakes(escalation, account=shot.account)
    priority = handoff.priority_override or None
    before = ticket_escalation_move(
        ticket=ticket, to_tier=to_tier, team=route.team, assignee=route.agent, priority=priority
    )
    timers = services._clocks_plan(ticket, handoff, high_stakes, shot, at)
    escalation.response_due_at = services._due(timers, services.Metric.ESCALATION_ACKNOWLEDGE)
    firings = [claimed[(ticket.pk, r.pk)] for r in [rule, *(r for r, _ in joined)]]
    return Opening(
        ticket, shot, escalation, handoff, route, before, timers, high_stakes, firings, rule,
        context=ticket_context(ticket),
    )  # fmt: skip


@dataclass
class Reinforced:
    """services._reinforce's audit event, decided: written with the share's other events (its escalation may be
    one of the share's openings, whose id is known only then)."""

    escalation: Escalation
    rule: str
    reason: str
    priority: str
    to_call: bool


def _reinforce(escalation: Escalation, rule: EscalationRule, reason: str, shot, to_call_saved: dict) -> Reinforced:
    """services._reinforce with its writes deferred to the share's statements: the escalation's to_call (an
    opening of this share carries it into its INSERT; a stored one is updated with the others), the event. A
    priority raise stays one at a time (ticket_update: the policy and its clocks may change; rare in a burst)."""
    ticket = escalation.ticket
    if rule.to_call and not escalation.to_call:
        escalation.to_call = True
        if escalation.pk is not None:
            to_call_saved[escalation.pk] = escalation
        shot.calls_wanted.append((escalation, rule.slug, reason))
    if raises_priority(rule.priority_override, ticket.priority):
        ticket_update(ticket=ticket, actor=None, priority=rule.priority_override)
    return Reinforced(escalation, rule.slug, reason, ticket.priority, escalation.to_call)


def _reinforced_event(reinforced: Reinforced, at: datetime) -> TicketEvent:
    escalation = reinforced.escalation
    return bulk.new(
        TicketEvent,
        tenant_id=escalation.tenant_id,
        ticket_id=escalation.ticket_id,
        kind="escalation_reinforced",
        actor=None,
        actor_label=actor_label(None),
        before={},
        after={
            "escalation": escalation.pk,
            "rule": reinforced.rule,
            "reason": reinforced.reason,
            "priority": reinforced.priority,
            "to_call": reinforced.to_call,
        },
        created_at=at,
    )


# --- writing ------------------------------------------------------------------------------------


def _write(openings: list[Opening], reinforced: list[Reinforced], at: datetime) -> None:
    """Every opening's rows, a statement per table (the reinforcements' events with the openings')."""
    ids = bulk.ids_reserve(Escalation, len(openings))
    for opening, pk in zip(openings, ids, strict=True):
        opening.escalation.pk = pk
    # Gathered: the call requests decide from the escalations in memory, and the ladder flushes before it climbs.
    bulk.insert_rows(Escalation, [o.escalation for o in openings])
    moved = list({o.ticket.pk: o.ticket for o in openings}.values())
    for ticket in moved:
        ticket.updated_at = at
    bulk.update_rows(
        Ticket, moved, ["tier", "team", "assignee", "priority", "escalated", "escalation_count", "updated_at"]
    )
    events = [_escalated_event(o, at) for o in openings] + [_reinforced_event(r, at) for r in reinforced]
    bulk.insert_rows(TicketEvent, events)
    timers = [timer for o in openings for timer in o.timers]
    for opening in openings:
        for timer in opening.timers:
            timer.escalation_id = opening.escalation.pk
    bulk.insert_rows(SlaTimer, timers)


def _escalated_event(opening: Opening, at: datetime) -> TicketEvent:
    """tickets.services.ticket_record_escalation's event, for the ticket as this escalation left it."""
    ticket, escalation = opening.ticket, opening.escalation
    return bulk.new(
        TicketEvent,
        tenant_id=ticket.tenant_id,
        ticket_id=ticket.pk,
        kind="escalated",
        actor=None,
        actor_label=actor_label(None),
        before=opening.before,
        after={
            "escalation": escalation.pk,
            "kind": escalation.kind,
            "tier": escalation.to_tier,
            "team": escalation.team_id,
            "assignee": escalation.agent_id,
            "priority": opening.after_priority,
        },
        created_at=at,
    )


def _emissions(openings: list[Opening], at: datetime) -> list[Emission]:
    """The outbox rows of the openings (created, the customer's milestone or the owner's reminder, a stale
    target's admin alert); the routine ones' messages to the customer are posted on the way."""
    contexts = [o.context for o in openings]
    milestones = communication.opened_many(
        opened=[
            (o.escalation, o.high_stakes, services._due(o.timers, services.Metric.CUSTOMER_UPDATE), context)
            for o, context in zip(openings, contexts, strict=True)
        ],
        at=at,
    )
    facts = communication.created_facts_many(
        [o.escalation for o in openings], {o.escalation.pk: o.snapshot.account for o in openings}
    )
    emissions = []
    for opening, context, milestone in zip(openings, contexts, milestones, strict=True):
        escalation = opening.escalation
        explanation = opening.route.explanation
        # to_call as the escalation opened: a reinforcement later in the share may have asked for a call since (its
        # own audit event says so), after the one-at-a-time path had emitted this payload.
        created = services._emission(
            escalation, "escalation.created", context, routing=explanation, **facts[escalation.pk],
            to_call=opening.handoff.to_call,
        )  # fmt: skip
        emissions.append(created)
        emissions.append(milestone)
        if escalation.fallback_reason:
            emissions.append(services.stale_emission(opening.lead, escalation))
    return emissions


def _act(shot: TicketSnapshot, fired: list[tuple], at: datetime) -> None:
    """Time rules that flag or tag (e.g. "open 8 business hours: flag for review, not silently missed"): rare
    beside the escalations, applied one ticket at a time; tags they add run the tag_added rules."""
    if not fired:
        return
    added = services.rules_act(ticket=shot.ticket, fired=fired, at=at)
    if added:
        engine.evaluate(
            shot.ticket, text="", time_based=False, at=at, snapshot=shot, only=frozenset({"tag_added"}),
            added_tags=tuple(added),
        )  # fmt: skip


def open_due(*, ticket_ids: list[int], at: datetime, hand_over: bool = False, ladder: dict | None = None) -> int:
    """The time rules of one tenant's claimed tickets, set-based (see the module's docstring); returns the
    escalations opened. Runs in the caller's transaction and tenant context. With `hand_over` (the rules stage),
    the tickets' mark from the SLA stage (rules_due_at) is cleared in the same UPDATE as their triage, moves and
    search documents: bulk.gathered() writes each table once for the share, so a ticket row is rewritten once.
    `ladder`, if given, gets what _read found of the ladder (see there)."""
    with bulk.gathered():
        return _open_due(ticket_ids, at, hand_over, {} if ladder is None else ladder)


def _hand_over(ticket_ids: list[int], shots: list[TicketSnapshot]) -> None:
    """Clears the SLA stage's mark: recorded with the share's other ticket changes; the claimed tickets not
    read (solved or closed since, or a tenant without time rules) get a statement of their own: one for the whole
    claim in the sweep's pass (deferred, each row naming its tenant, under the batch policy), else at once."""
    for shot in shots:
        shot.ticket.rules_due_at = None
    bulk.update_rows(Ticket, [shot.ticket for shot in shots], ["rules_due_at"])
    rest = sorted(set(ticket_ids) - {shot.ticket.pk for shot in shots})
    tenant_id = current_tenant().pk
    if rest and not bulk.defer("escalation.unmark", [(tenant_id, pk) for pk in rest], _unmark):
        Ticket.objects.filter(pk__in=rest).update(rules_due_at=None)


def _unmark(rows: list[tuple[int, int]]) -> None:
    """The mark of these (tenant id, ticket id) cleared in one statement (ids are unique across tenants)."""
    tickets = Ticket.unscoped.filter(tenant_id__in={t for t, _ in rows}, pk__in=[pk for _, pk in rows])
    tickets.update(rules_due_at=None)


def _open_due(ticket_ids: list[int], at: datetime, hand_over: bool, ladder: dict) -> int:
    rules = [r for r in engine.active_rules() if r.trigger in triggers.TIME_TRIGGERS]
    if not rules or not ticket_ids:
        rows = share_reads.take("tickets", lambda: None) if ticket_ids else None
        if rows is not None and rows.ticket_ids == ticket_ids:  # the claim's read: the ladder needs no read
            ladder_of(rows, ladder)
        if hand_over and ticket_ids:
            _hand_over(ticket_ids, [])
        return 0
    reads = triggers.triggers_evaluated(rules, time_based=True)
    shots = _read(ticket_ids, at, requesters="repeat_contact" in reads, ladder=ladder)
    if hand_over:
        _hand_over(ticket_ids, shots)
    fired = _decide(shots, rules, at)
    claimed = _claim(fired, at)
    board: RoutingBoard | None = None
    openings, links, reinforced, to_call_saved = [], [], [], {}
    for shot, pairs in fired:
        ticket = shot.ticket
        acting = [(r, why) for r, why in pairs if (ticket.pk, r.pk) in claimed]
        acts = [(r, why) for r, why in acting if r.action != "escalate"]
        if acts:  # the tags' rules may open escalations one at a time: the board read before is stale, and the
            share_reads.drop("calls")  # call requests must read the escalations (the in-memory lists miss those)
            if board is None:
                share_reads.drop("board")
        _act(shot, acts, at)
        for (rule, reason), joined in services.causes([(r, why) for r, why in acting if r.action == "escalate"]):
            kind_open = next((e for e in shot.escalations if e.status in ACTIVE_STATUSES and e.kind == rule.kind), None)
            if kind_open is not None:
                for member, why in [(rule, reason), *joined]:
                    reinforced.append(_reinforce(kind_open, member, why, shot, to_call_saved))
                    links.append((claimed[(ticket.pk, member.pk)], kind_open, False))
                continue
            board = board or RoutingBoard.read()
            opening = _plan(shot, (rule, reason), joined, board, claimed, at)
            opening.after_priority = ticket.priority
            shot.escalations.append(opening.escalation)
            openings.append(opening)
    if to_call_saved:
        bulk.update_rows(Escalation, list(to_call_saved.values()), ["to_call"], gather=False)  # read by the calls
    if openings:
        _write(openings, reinforced, at)
        for opening in openings:
            links.extend((pk, opening.escalation, True) for pk in opening.firings)
        watches.watches_arm_many(tickets=list({o.ticket.pk: o.ticket for o in openings}.values()), since=at)
        tenant_id = openings[0].ticket.tenant_id
        outbox_emit_across(emissions=[(tenant_id, e) for e in _emissions(openings, at)], at=at, gather=True)
    elif reinforced:
        bulk.insert_rows(TicketEvent, [_reinforced_event(r, at) for r in reinforced])
    if links:
        services._link_many(links, gather=True)
    return len(openings)
