"""A fixed dataset for the metrics, built through the services with explicit instants, so every number
can be computed by hand (tests/metrics/test_known_data.py does it in its comments).

Tenant "metrix", time zone Europe/Berlin. Summer time ends on Sunday 2026-10-25 at 03:00 CEST (clocks go
back to 02:00 CET): before it local = UTC+2, after it UTC+1. The period asked is the local days
2026-10-24 .. 2026-10-26, i.e. [2026-10-24 00:00 CEST, 2026-10-27 00:00 CET) =
[2026-10-23 22:00 UTC, 2026-10-26 23:00 UTC). All instants below are UTC.

One SLA policy on a 24/7 calendar, so business minutes are wall minutes: first response 60, resolution
600, escalation acknowledge 30, escalation first response 60.

Account A ("Acme A") holds the customer a@x.test; b@x.test has no account.

T8  2026-10-23 21:30 (23:30 CEST, the day before: outside)  normal, billing, account A
    E0  escalated 21:45 (outside the period, but 30-day lookback of the repeats)
T1  2026-10-24 08:00  high, billing, account A
    agent reply 08:20 (first response met at 20 min)
    E1  escalated 08:30 (manual); acknowledged 08:40; resolved 10:30, root cause "Expired card"
    solved 11:30 (resolution met at 210 min); CSAT 2 at 11:45
T2  2026-10-24 23:30 (01:30 CEST on the 25th)  urgent, login, no account
    E2  escalated 2026-10-25 02:30 (03:30 CET; 180 wall minutes later, 120 on the local clock face);
        never acknowledged; returned 05:30 "Missing information: no logs attached"
    E3  escalated 06:00; acknowledged 06:20; resolved 09:00, root cause "  EXPIRED CARD "
    CSAT 5 at 10:00
T3  2026-10-25 12:00  normal, billing, account A, raised to tier 2 before it escalates
    agent reply 13:30 (first response: 90 min, late: breached)
    E4  escalated 14:00 (trigger keyword-refund) from tier 2 to 3; acknowledged 16:00;
        de-escalated 17:00 to tier 1 (below the tier it came from)
T4  2026-10-26 09:00  high, login, no account
    E5  escalated 09:10 with a call request; acknowledged 10:00; agent reply 09:40 (the escalation's first
        response at 30 min; the ticket's first response at 40 min); still open; then the ticket's priority
        is lowered to normal (now, while E5 is open)
T5  2026-10-26 22:30 (23:30 CET, last hour of the period)  normal, never escalated; solved 23:00; CSAT 1
T6  2026-10-26 10:00  low, never escalated, open
T7  2026-10-26 23:30 (00:30 CET on the 27th: outside)  normal
    E6  escalated 23:40 (outside)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from escalation import services as escalations
from helpdesk import workflows
from helpdesk.services import tenant_create
from helpdesk.tenancy import tenant_context
from slas import services as slas
from tickets.models import Account, Customer, Ticket

PERIOD = (date(2026, 10, 24), date(2026, 10, 27))
NOW = datetime(2026, 10, 28, 12, 0, tzinfo=UTC)
SUMMARY = {
    "problem": "It fails.",
    "tried": "Restarted.",
    "emotional_state": "calm",
    "desired_outcome": "It works.",
    "account_context": "Standard plan.",
}


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, minute, tzinfo=UTC)


@dataclass
class Dataset:
    tenant: object
    tickets: dict
    escalations: dict


def _ticket(tenant, name, when, *, priority="normal", category="", email="b@x.test") -> Ticket:
    return workflows.ticket_open(
        tenant=tenant,
        actor=None,
        subject=f"{name} subject",
        description="Something is not working as expected.",
        requester_email=email,
        priority=priority,
        category=category,
        created_at=when,
    )


def _escalate(ticket, when, *, trigger="manual", tier=2):
    return escalations.escalation_create(
        ticket=ticket,
        actor=None,
        kind="functional",
        trigger=trigger,
        summary_fields=SUMMARY,
        target_tier=tier,
        at=when,
    )


def _reply(ticket, when):
    workflows.message_receive(ticket=ticket, actor=None, body="We are on it.", author_type="agent", created_at=when)


def build(slug: str = "metrix") -> Dataset:
    tenant = tenant_create(slug=slug, name="Metrix", timezone="Europe/Berlin")
    with tenant_context(tenant):
        calendar = slas.calendar_create(tenant=tenant, name="24/7", always_open=True, timezone="Europe/Berlin")
        slas.policy_create(
            tenant=tenant,
            name="All",
            calendar=calendar,
            applies_to={},
            targets={
                "first_response": 60,
                "resolution": 600,
                "escalation_acknowledge": 30,
                "escalation_first_response": 60,
            },
        )
        account = Account.objects.create(tenant=tenant, name="Acme A")
        Customer.objects.create(tenant=tenant, email="a@x.test", account=account)
        Customer.objects.create(tenant=tenant, email="b@x.test")
        t, e = {}, {}

        t[8] = _ticket(tenant, "T8", at(23, 21, 30), category="billing", email="a@x.test")
        e[0] = _escalate(t[8], at(23, 21, 45))

        t[1] = _ticket(tenant, "T1", at(24, 8), priority="high", category="billing", email="a@x.test")
        _reply(t[1], at(24, 8, 20))
        e[1] = _escalate(t[1], at(24, 8, 30))
        escalations.escalation_acknowledge(escalation=e[1], actor=None, at=at(24, 8, 40))
        escalations.escalation_resolve(
            escalation=e[1], actor=None, resolution="New card.", root_cause="Expired card", at=at(24, 10, 30)
        )
        t[1].refresh_from_db()
        workflows.ticket_change_status(ticket=t[1], actor=None, status="solved", at=at(24, 11, 30))
        workflows.csat_record(ticket=t[1], score=2, at=at(24, 11, 45))

        t[2] = _ticket(tenant, "T2", at(24, 23, 30), priority="urgent", category="login")
        e[2] = _escalate(t[2], at(25, 2, 30))
        escalations.escalation_return(
            escalation=e[2], actor=None, reason="Missing information: no logs attached", at=at(25, 5, 30)
        )
        e[3] = _escalate(t[2], at(25, 6))
        escalations.escalation_acknowledge(escalation=e[3], actor=None, at=at(25, 6, 20))
        escalations.escalation_resolve(
            escalation=e[3], actor=None, resolution="New card.", root_cause="  EXPIRED CARD ", at=at(25, 9)
        )
        workflows.csat_record(ticket=t[2], score=5, at=at(25, 10))

        t[3] = _ticket(tenant, "T3", at(25, 12), category="billing", email="a@x.test")
        Ticket.objects.filter(pk=t[3].pk).update(tier=2)
        t[3].refresh_from_db()
        _reply(t[3], at(25, 13, 30))
        e[4] = _escalate(t[3], at(25, 14), trigger="keyword-refund", tier=3)
        escalations.escalation_acknowledge(escalation=e[4], actor=None, at=at(25, 16))
        escalations.escalation_de_escalate(escalation=e[4], actor=None, reason="Routine.", to_tier=1, at=at(25, 17))

        t[4] = _ticket(tenant, "T4", at(26, 9), priority="high", category="login")
        e[5] = _escalate(t[4], at(26, 9, 10))
        from callnotes import services as calls

        calls.call_request_open(escalation=e[5], trigger="manual", reason="Talk it through.", at=at(26, 9, 10))
        _reply(t[4], at(26, 9, 40))
        escalations.escalation_acknowledge(escalation=e[5], actor=None, at=at(26, 10))
        t[4].refresh_from_db()
        workflows.ticket_update(ticket=t[4], actor=None, priority="normal")

        t[5] = _ticket(tenant, "T5", at(26, 22, 30))
        workflows.ticket_change_status(ticket=t[5], actor=None, status="solved", at=at(26, 23))
        workflows.csat_record(ticket=t[5], score=1, at=at(26, 23, 10))

        t[6] = _ticket(tenant, "T6", at(26, 10), priority="low")

        t[7] = _ticket(tenant, "T7", at(26, 23, 30))
        e[6] = _escalate(t[7], at(26, 23, 40))
    return Dataset(tenant=tenant, tickets=t, escalations=e)
