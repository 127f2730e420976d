"""The customer-update clock recurs while an escalation is open (slas/schedule.py): every update starts a new
period, every period that passes in silence is a miss, and the owner of a high-stakes escalation is reminded
before each deadline — once per period, never after the escalation ended. Time moves by sweeps run at given
moments (`sweep(now=…)`) over a back-dated escalation."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from escalation import services as escalations
from helpdesk import workflows
from helpdesk.models import OutboxEvent, Role, TeamMember
from helpdesk.services import membership_create, team_create
from helpdesk.tenancy import tenant_context
from slas import defaults
from slas.models import SlaTimer
from tickets.models import AuthorType, Message, Ticket, TicketEvent

# A Monday morning; every moment of the tests is in the past, so each sweep sees exactly what it is told.
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SUMMARY = {
    "problem": "You deleted our quarterly reports.",
    "tried": "Checked the trash and the audit log; nothing there.",
    "emotional_state": "Furious.",
    "desired_outcome": "The reports back before the board meeting.",
    "account_context": "Initech, enterprise.",
}


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


@pytest.fixture
def desk(tenant_a, alice, bob):
    """Tenant A with the default SLA policies (no matrix: only the escalations the tests open) and an
    engineering team of one tier-2 engineer, who receives every escalation to the team."""
    with tenant_context(tenant_a):
        defaults.install(tenant=tenant_a)
    eng = membership_create(tenant=tenant_a, username="eng", role=Role.AGENT, tier=2, skills=["engineering"])
    team = team_create(tenant=tenant_a, name="Engineering", skills=["engineering"], tier=2, members=[eng])
    return SimpleNamespace(tenant=tenant_a, eng=eng, team=team, bob=bob)


def _escalate(desk, *, category: str, priority: str = "urgent", at: datetime = T0, acknowledge: bool = True):
    """An escalation to the engineering team opened at `at` (and acknowledged ten minutes later, so its own
    acknowledge clock is out of the way). Urgent runs on the 24/7 calendar: the update is due each hour."""
    with tenant_context(desk.tenant):
        ticket = workflows.ticket_open(
            tenant=desk.tenant,
            actor=None,
            subject="Quarterly reports gone",
            description="You deleted our quarterly reports.",
            requester_email="pat@example.com",
            requester_name="Pat",
            priority=priority,
            category=category,
            created_at=at - timedelta(minutes=1),
        )
        escalation = escalations.escalation_create(
            ticket=ticket,
            actor=None,
            kind="functional",
            trigger="manual",
            summary_fields=SUMMARY,
            target_team=desk.team,
            at=at,
        )
        if acknowledge:
            escalations.escalation_acknowledge(escalation=escalation, actor=None, at=at + timedelta(minutes=10))
    return ticket, escalation


def _reply(desk, ticket: Ticket, at: datetime) -> None:
    with tenant_context(desk.tenant):
        ticket = Ticket.objects.get(pk=ticket.pk)
        workflows.message_receive(
            ticket=ticket, actor=None, body="We are restoring them now.", author_type=AuthorType.AGENT, created_at=at
        )


def _resolve(desk, escalation, at: datetime) -> None:
    with tenant_context(desk.tenant):
        escalations.escalation_resolve(escalation=escalation, actor=None, resolution="Restored from backup.", at=at)


def _sweep_every_5_minutes(first: datetime, last: datetime) -> None:
    at = first
    while at <= last:
        workflows.sweep(now=at)
        at += timedelta(minutes=5)


def _clock(desk, escalation) -> SlaTimer:
    with tenant_context(desk.tenant):
        return SlaTimer.objects.get(escalation_id=escalation.pk, metric="customer_update")


def _misses_recorded(desk, ticket) -> list[tuple[str, str, int]]:
    """(period start, deadline, count) of each miss in the audit trail."""
    with tenant_context(desk.tenant):
        events = TicketEvent.objects.filter(ticket=ticket, kind="sla_breached", after__metric="customer_update")
        return [(e.after["period_started_at"], e.after["due_at"], e.after["misses"]) for e in events.order_by("id")]


def _breach_rows(desk, escalation) -> int:
    with tenant_context(desk.tenant):
        return OutboxEvent.objects.filter(
            type="sla.breached", payload__escalation=escalation.pk, payload__metric="customer_update"
        ).count()


def _reminders(desk, escalation) -> list[tuple]:
    with tenant_context(desk.tenant):
        rows = OutboxEvent.objects.filter(type="owner.reminder", payload__escalation=escalation.pk).order_by("id")
        return [(r.payload["reminder"], r.payload["period_started_at"], r.payload["recipient"]) for r in rows]


def test_a_high_stakes_escalation_counts_each_silent_hour_and_reminds_the_owner_before_each_deadline(desk, api_a):
    # Open 3 h 10 min with one agent reply at 1 h 30: hours [0, 1) and [1:30, 2:30) pass in silence,
    # [1, 1:30) ends with the reply, and [2:30, 3:10) is cut short by the resolution.
    ticket, escalation = _escalate(desk, category="data_loss")
    _sweep_every_5_minutes(minutes(5), minutes(85))
    _reply(desk, ticket, minutes(90))
    _sweep_every_5_minutes(minutes(95), minutes(185))
    _resolve(desk, escalation, minutes(190))
    _sweep_every_5_minutes(minutes(195), minutes(300))

    clock = _clock(desk, escalation)
    assert (clock.status, clock.misses, clock.met_periods) == ("met", 2, 1)
    assert clock.breached_at == minutes(150) and clock.met_at == minutes(190)
    assert _misses_recorded(desk, ticket) == [
        (minutes(0).isoformat(), minutes(60).isoformat(), 1),
        (minutes(90).isoformat(), minutes(150).isoformat(), 2),
    ]
    assert _breach_rows(desk, escalation) == 2
    # The owner hears at the opening, then at 75 % of each period that reached it (0:45 and 2:15): the reply
    # came before 1:45, the resolution before 3:15, and nothing follows the resolution.
    assert _reminders(desk, escalation) == [
        ("opened", None, desk.eng.pk),
        ("due_soon", minutes(0).isoformat(), desk.eng.pk),
        ("due_soon", minutes(90).isoformat(), desk.eng.pk),
    ]
    sla = {t["metric"]: t for t in api_a.get(f"/api/v1/escalations/{escalation.pk}/").json()["sla"]}
    assert (sla["customer_update"]["misses"], sla["customer_update"]["met_periods"]) == (2, 1)
    assert sla["escalation_acknowledge"]["misses"] == 0
    assert api_a.get(f"/api/v1/tickets/{ticket.pk}/").json()["sla_breached"] is True


def test_a_routine_escalations_milestone_messages_are_updates_and_nobody_is_reminded(desk):
    # The "escalated" message opens the first period at 0:00, the "acknowledged" one meets it at 0:10;
    # [0:10, 1:10) passes in silence, [1:10, 1:30) ends with the reply, [1:30, 2:30) passes in silence.
    ticket, escalation = _escalate(desk, category="bug")
    _sweep_every_5_minutes(minutes(5), minutes(85))
    _reply(desk, ticket, minutes(90))
    _sweep_every_5_minutes(minutes(95), minutes(185))
    _resolve(desk, escalation, minutes(190))
    _sweep_every_5_minutes(minutes(195), minutes(260))

    clock = _clock(desk, escalation)
    assert (clock.status, clock.misses, clock.met_periods) == ("met", 2, 2)
    assert [due for _, due, _ in _misses_recorded(desk, ticket)] == [minutes(70).isoformat(), minutes(150).isoformat()]
    assert _reminders(desk, escalation) == []
    with tenant_context(desk.tenant):
        milestones = Message.objects.filter(ticket=ticket, author_type="system", internal=False).count()
    assert milestones == 3


def test_a_late_sweep_counts_every_deadline_it_passed_once(desk):
    ticket, escalation = _escalate(desk, category="data_loss")
    first = workflows.sweep(now=minutes(130))
    again = workflows.sweep(now=minutes(130))

    clock = _clock(desk, escalation)
    assert (clock.status, clock.misses, clock.met_periods) == ("running", 2, 0)
    # The third period started at the second deadline, not at the sweep.
    assert (clock.started_at, clock.due_at) == (minutes(120), minutes(180))
    assert [due for _, due, _ in _misses_recorded(desk, ticket)] == [minutes(60).isoformat(), minutes(120).isoformat()]
    assert _breach_rows(desk, escalation) == 2
    assert first.breached >= 2 and again.breached == 0
    # Too late to remind anyone of the missed hours: the third is at 17 % when the sweep looks.
    assert [kind for kind, _, _ in _reminders(desk, escalation)] == ["opened"]


def test_an_update_after_a_deadline_no_sweep_saw_counts_that_miss_first(desk):
    ticket, escalation = _escalate(desk, category="data_loss")
    _reply(desk, ticket, minutes(75))

    clock = _clock(desk, escalation)
    assert (clock.misses, clock.met_periods) == (1, 1)
    assert (clock.started_at, clock.due_at) == (minutes(75), minutes(135))
    assert _misses_recorded(desk, ticket) == [(minutes(0).isoformat(), minutes(60).isoformat(), 1)]


def test_an_update_at_the_deadline_is_in_time(desk):
    ticket, escalation = _escalate(desk, category="data_loss")
    _reply(desk, ticket, minutes(60))
    clock = _clock(desk, escalation)
    assert (clock.misses, clock.met_periods, clock.due_at) == (0, 1, minutes(120))


def test_a_returned_escalation_stops_the_clock(desk):
    _, escalation = _escalate(desk, category="data_loss")
    with tenant_context(desk.tenant):
        escalations.escalation_return(escalation=escalation, actor=None, reason="Which reports?", at=minutes(20))
    _sweep_every_5_minutes(minutes(25), minutes(200))
    clock = _clock(desk, escalation)
    assert (clock.status, clock.misses, clock.met_periods) == ("met", 0, 0)
    assert [kind for kind, _, _ in _reminders(desk, escalation)] == ["opened"]


def test_a_standard_ticket_owes_its_update_each_business_hour(desk):
    """The decision at the top of slas/schedule.py: the clock runs on the policy's calendar. Standard is
    Mon-Fri 09:00-17:00, so an escalation opened on Friday at 16:30 owes its update by Monday 09:30, and the
    weekend counts no misses."""
    friday = datetime(2026, 3, 6, 16, 30, tzinfo=UTC)
    _, escalation = _escalate(desk, category="data_loss", priority="normal", at=friday)
    for at in (friday + timedelta(hours=1), friday + timedelta(days=1), friday + timedelta(days=2, hours=16)):
        workflows.sweep(now=at)  # Friday evening, Saturday, Monday 08:30
    assert _clock(desk, escalation).misses == 0
    monday = datetime(2026, 3, 9, 9, 45, tzinfo=UTC)
    workflows.sweep(now=monday)
    clock = _clock(desk, escalation)
    assert clock.misses == 1 and clock.breached_at == datetime(2026, 3, 9, 9, 30, tzinfo=UTC)
    assert clock.due_at == datetime(2026, 3, 9, 10, 30, tzinfo=UTC)


def test_a_queued_escalations_reminder_goes_to_its_teams_manager(desk, tenant_a):
    """Nobody received it and the ticket has no assignee: the team's manager owes the update (not bob, the
    tenant's other manager, although he has the lower id)."""
    carol = membership_create(tenant=tenant_a, username="carol", role=Role.MANAGER, tier=2)
    with tenant_context(tenant_a):
        for member in (desk.eng, carol):  # away: the escalation waits in the team's queue
            member.available = False
            member.save()
        TeamMember.objects.create(tenant=tenant_a, team=desk.team, membership=carol)
    ticket, escalation = _escalate(desk, category="data_loss")
    assert escalation.agent_id is None and ticket.assignee_id is None and carol.pk > desk.bob.pk
    workflows.sweep(now=minutes(50))
    assert [(kind, to) for kind, _, to in _reminders(desk, escalation)] == [
        ("opened", carol.pk),
        ("due_soon", carol.pk),
    ]
