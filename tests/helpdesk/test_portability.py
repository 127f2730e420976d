"""Tenant export and restore: `export_tenant` writes the demo tenant, `import_tickets` reads it back into a
new tenant, and everything the export carries comes back — tickets in their state, conversations,
history, configuration, and the numbers computed from them."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import Count

from escalation import services as escalations
from escalation.models import Escalation, EscalationRule, Review, RuleFiring, TimeWatch
from helpdesk import workflows
from helpdesk.models import Membership, Role, Team, Tenant
from helpdesk.services import membership_create
from helpdesk.tenancy import tenant_context
from slas.models import BusinessCalendar, SLAPolicy, SlaTimer
from tickets.importer import tickets_import
from tickets.models import Account, Customer, Dispute, Message, ResolutionAttempt, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

TICKETS = 25

TICKET_SKIP = {"id", "tenant", "search_vector", "requester", "account", "assignee", "team"}


def _ticket_state(ticket: Ticket) -> dict:
    state = {f.attname: getattr(ticket, f.attname) for f in Ticket._meta.concrete_fields if f.name not in TICKET_SKIP}
    state.update(
        requester=ticket.requester.email,
        account=ticket.account.name if ticket.account_id else None,
        assignee=ticket.assignee.user.username if ticket.assignee_id else None,
        team=ticket.team.name if ticket.team_id else None,
    )
    return state


def _thread(ticket: Ticket) -> list[tuple]:
    return [
        (m.author_type, m.body, m.internal, m.created_at, m.author.user.username if m.author_id else None, m.sentiment)
        for m in ticket.messages.select_related("author__user").order_by("created_at", "pk")
    ]


def _history(ticket: Ticket) -> dict:
    return {
        "attempts": [(a.tier, a.outcome, a.note, a.created_at) for a in ticket.attempts.order_by("created_at", "pk")],
        "escalations": [
            (e.kind, e.status, e.level, e.created_at, e.agent.user.username if e.agent_id else None, e.rule.slug)
            for e in Escalation.objects.filter(ticket=ticket).select_related("agent__user", "rule").order_by("pk")
        ],
        "firings": sorted((f.rule.slug, f.cycle) for f in RuleFiring.objects.filter(ticket=ticket)),
        "clocks": sorted(
            (t.metric, t.status, t.due_at, t.breached_at, t.escalation_id != 0)
            for t in SlaTimer.objects.filter(ticket=ticket)
        ),
        "watches": sorted((w.rule.slug, w.due_at) for w in TimeWatch.objects.filter(ticket=ticket)),
        "events": [
            (e.kind, e.before, e.after, e.created_at)
            for e in TicketEvent.objects.filter(ticket=ticket).order_by("created_at", "pk")
        ],
    }


def _snapshot(tenant: Tenant) -> dict:
    with tenant_context(tenant):
        tickets = list(
            Ticket.objects.select_related("requester", "account", "assignee__user", "team").order_by("created_at", "pk")
        )
        return {
            "tickets": [_ticket_state(t) for t in tickets],
            "threads": [_thread(t) for t in tickets],
            "history": [_history(t) for t in tickets],
            "configuration": {
                "calendars": sorted(BusinessCalendar.objects.values_list("name", flat=True)),
                "policies": sorted(SLAPolicy.objects.values_list("name", "active", "position")),
                "rules": sorted(EscalationRule.objects.values_list("slug", "trigger", "active", "kind")),
                "teams": sorted(Team.objects.annotate(n=Count("members")).values_list("name", "n")),
                "members": sorted(Membership.objects.values_list("user__username", "role", "tier", "active")),
                "accounts": sorted(Account.objects.values_list("name", "plan", "vip")),
                "customers": sorted(Customer.objects.values_list("email", "name", "account__name")),
            },
            "numbers": {
                "by_status": Counter(Ticket.objects.values_list("status", flat=True)),
                "breached": Ticket.objects.filter(sla_breached=True).count(),
                "escalations": Counter(Escalation.objects.values_list("status", flat=True)),
                "attempts": ResolutionAttempt.objects.count(),
                "messages": Message.objects.count(),
                "first_responses": sorted(
                    (t.first_response_at - t.created_at).total_seconds()
                    for t in tickets
                    if t.first_response_at is not None
                ),
            },
        }


@pytest.fixture
def demo(db):
    call_command("seed_demo", "--tickets", str(TICKETS))
    tenant = Tenant.objects.get(slug="demo")
    workflows.sweep()  # clocks warn and breach, time rules escalate: history to carry
    return tenant


def test_an_export_restored_into_a_new_tenant_reproduces_it(demo, tmp_path):
    path = tmp_path / "demo.jsonl"
    call_command("export_tenant", "demo", str(path))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["record"] == "export" and lines[0]["tenant"]["slug"] == "demo"
    kinds = Counter(line.get("record", "ticket line") for line in lines)
    before = _snapshot(demo)
    assert kinds["ticket line"] == kinds["ticket"] == len(before["tickets"]) == TICKETS
    assert kinds["escalation"] > 0 and kinds["clock"] > 0 and kinds["attempt"] > 0 and kinds["event"] > 0

    call_command("create_tenant", "demo-copy", "--name", "Demo copy")
    call_command("import_tickets", "demo-copy", str(path))
    copy = Tenant.objects.get(slug="demo-copy")
    after = _snapshot(copy)

    assert after["tickets"] == [{**t, "updated_at": t["updated_at"]} for t in before["tickets"]]
    assert after["threads"] == before["threads"]
    assert after["configuration"] == before["configuration"]
    assert after["numbers"] == before["numbers"]
    for was, now in zip(before["history"], after["history"], strict=True):
        # The restore is itself recorded: one "imported" event more per ticket, after the exported ones.
        assert now["events"][:-1] == was["events"] and now["events"][-1][0] == "imported"
        assert {k: v for k, v in now.items() if k != "events"} == {k: v for k, v in was.items() if k != "events"}
    with tenant_context(demo):
        assert Ticket.objects.count() == TICKETS  # the source is untouched


def test_the_ticket_lines_are_a_plain_import_and_record_lines_need_a_restore(demo, tmp_path):
    """Without its record lines the export is an ordinary import file: every ticket line is accepted. A
    record line given to a plain import (no restore behind it) is reported, not guessed at."""
    path = tmp_path / "demo.jsonl"
    call_command("export_tenant", "demo", str(path))
    lines = path.read_text().splitlines()
    plain = [line for line in lines if not line.startswith('{"record"')]
    other = workflows.tenant_bootstrap(slug="elsewhere", name="Elsewhere")
    report = tickets_import(tenant=other, lines=plain, helper_process=False)
    assert (report.imported, report.errors) == (TICKETS, [])
    with tenant_context(other):
        assert Message.objects.count() == sum(len(json.loads(line)["messages"]) for line in plain)
    third = workflows.tenant_bootstrap(slug="third", name="Third")
    report = tickets_import(tenant=third, lines=lines[:2], helper_process=False)
    assert report.imported == 0
    assert str(report.errors[0]) == "line 1: a record line of a tenant export (export): only a restore reads it"


def test_export_of_an_unknown_tenant_is_refused(db, tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no tenant 'nope'"):
        call_command("export_tenant", "nope", str(tmp_path / "x.jsonl"))


def _case_with_dispute_and_review(tenant: Tenant, word: str) -> None:
    """A high-priority ticket with a billing dispute whose escalation resolved: a review, completed by a manager."""
    manager = membership_create(tenant=tenant, username=f"{word}-lead", role=Role.MANAGER, tier=2)
    with tenant_context(tenant):
        ticket = workflows.ticket_open(
            tenant=tenant, actor=None, subject=f"{word} invoice", description="Charged twice.",
            requester_email=f"ap@{word}.test", priority="high",
        )  # fmt: skip
        workflows.dispute_record(ticket=ticket, actor=None, amount=Decimal("1500.00"), currency="USD", reason=word)
        [escalation] = Escalation.objects.filter(ticket=ticket)  # the default matrix's dispute rule
        escalations.escalation_resolve(escalation=escalation, actor=None, resolution="Refunded.", root_cause=word)
        review = Review.objects.get(escalation=escalation)
        Review.objects.filter(pk=review.pk).update(
            status="done", what_worked=f"{word} worked", what_failed="slow", completed_by=manager
        )


def _disputes_and_reviews(tenant: Tenant) -> dict:
    with tenant_context(tenant):
        return {
            "disputes": list(
                Dispute.objects.values_list("ticket__subject", "amount", "currency", "reason", "created_at")
            ),
            "reviews": list(
                Review.objects.values_list(
                    "ticket__subject",
                    "escalation__root_cause",
                    "rule__slug",
                    "status",
                    "what_worked",
                    "completed_by__user__username",
                    "reasons",
                    "created_at",
                )
            ),
        }


def test_disputes_and_reviews_are_exported_and_restored_and_no_other_tenants(db, tmp_path):
    # They were missing from the tenant export: a restore lost every dispute and post-escalation review.
    acme = workflows.tenant_bootstrap(slug="acme", name="Acme")
    globex = workflows.tenant_bootstrap(slug="globex", name="Globex")
    _case_with_dispute_and_review(acme, "acme")
    _case_with_dispute_and_review(globex, "globex")
    path = tmp_path / "acme.jsonl"

    call_command("export_tenant", "acme", str(path))

    lines = [json.loads(line) for line in path.read_text().splitlines()]
    [dispute] = [line for line in lines if line.get("record") == "dispute"]
    [review] = [line for line in lines if line.get("record") == "review"]
    assert (dispute["fields"]["amount"], dispute["fields"]["currency"], dispute["fields"]["reason"]) == (
        "1500.00", "USD", "acme",
    )  # fmt: skip
    assert (review["fields"]["what_worked"], review["fields"]["status"]) == ("acme worked", "done")
    assert "globex" not in path.read_text()  # nothing of the other tenant's
    before = _disputes_and_reviews(acme)
    assert len(before["disputes"]) == len(before["reviews"]) == 1

    call_command("create_tenant", "acme-copy", "--name", "Acme copy")
    call_command("import_tickets", "acme-copy", str(path))

    assert _disputes_and_reviews(Tenant.objects.get(slug="acme-copy")) == before
    assert _disputes_and_reviews(globex)["reviews"][0][4] == "globex worked"  # the other tenant's untouched
