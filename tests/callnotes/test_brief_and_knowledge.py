"""The escalation brief's content (JSON and Markdown), knowledge ranking a relevant resolved case first and
naming who resolved it, a repeated root cause flagged ("seen N times in 30 days"), reopening unindexes."""

from __future__ import annotations

from callnotes.models import Call
from helpdesk import workflows
from helpdesk.tenancy import tenant_context
from tickets.models import AuthorType

from .conftest import escalate_to_call, open_ticket, schedule_body


def _solve(tenant, ticket, *, assignee, reply: str, root_cause: str = ""):
    with tenant_context(tenant):
        workflows.ticket_update(ticket=ticket, actor=None, assignee=assignee)
        workflows.message_receive(ticket=ticket, actor=None, body=reply, author_type=AuthorType.AGENT)
        if root_cause:
            escalation = workflows.escalate_manually(
                ticket=ticket,
                actor=None,
                kind="functional",
                reason="needs engineering",
                summary=dict.fromkeys(
                    ("problem", "tried", "emotional_state", "desired_outcome", "account_context"), "x"
                ),
                target_agent=assignee,
            )
            workflows.escalation_resolve(escalation=escalation, actor=None, resolution=reply, root_cause=root_cause)
        workflows.ticket_update(ticket=ticket, actor=None, status="solved")


def test_the_brief_tells_what_was_reported_investigated_tried_escalated_and_called(tenant_a, api_a, alice):
    ticket = open_ticket(tenant_a, subject="Invoices export fails", description="The invoices export stops halfway.")
    with tenant_context(tenant_a):
        workflows.message_receive(
            ticket=ticket, actor=None, body="It stops at row 500 every time.", author_type=AuthorType.CUSTOMER
        )
        workflows.message_receive(
            ticket=ticket,
            actor=None,
            body="Reproduced with a 600-row file.",
            author_type=AuthorType.AGENT,
            internal=True,
        )
        workflows.attempt_record(ticket=ticket, actor=None, outcome="failed", tier=1, note="Cleared the cache")
    escalate_to_call(tenant_a, ticket, alice)
    api_a.post(f"/api/v1/tickets/{ticket.pk}/calls/", schedule_body(), format="json")
    response = api_a.get(f"/api/v1/tickets/{ticket.pk}/brief/")
    assert response.status_code == 200
    brief = response.json()
    assert brief["reported"]["description"] == "The invoices export stops halfway."
    assert brief["reported"]["customer_messages"] == ["It stops at row 500 every time."]
    assert [n["note"] for n in brief["investigated"]] == ["Reproduced with a 600-row file."]
    assert [(s["outcome"], s["note"]) for s in brief["steps_taken"]] == [("failed", "Cleared the cache")]
    assert brief["escalations"][-1]["summary"]["problem"] == "Records vanish after the nightly sync."
    assert all(set(e["summary"]) == {"problem", "tried", "emotional_state", "desired_outcome", "account_context"}
               for e in brief["escalations"])  # fmt: skip
    # The failed attempt fired a to_call rule first (a request on its escalation); ours was scheduled.
    assert [(c["status"], c["agent"]) for c in brief["calls"]] == [("requested", None), ("scheduled", "alice")]
    assert brief["status"]["escalated"] is True
    assert {c["metric"] for c in brief["sla"]} >= {"first_response", "resolution", "escalation_acknowledge"}
    markdown = brief["markdown"]
    for heading in ("## What the customer reported", "## What was investigated", "## Steps taken", "## Escalations",
                    "## Calls", "## Current status and SLA"):  # fmt: skip
        assert heading in markdown
    assert "Cleared the cache" in markdown and "Reproduced with a 600-row file." in markdown


def test_knowledge_ranks_the_case_whose_root_cause_matches_first_and_names_its_resolver(tenant_a, api_a, alice, bob):
    noise = open_ticket(tenant_a, subject="Dark mode request", description="Please add a dark theme.")
    _solve(tenant_a, noise, assignee=bob, reply="Added to the roadmap; the export is unaffected.")
    match = open_ticket(tenant_a, subject="Numbers look odd", description="Totals differ from last month.")
    _solve(
        tenant_a,
        match,
        assignee=alice,
        reply="Rebuilt the currency table and re-ran the export.",
        root_cause="A stale currency conversion table skewed the export totals.",
    )
    weak = open_ticket(tenant_a, subject="Export button hidden", description="Where is the export button?")
    _solve(tenant_a, weak, assignee=bob, reply="It moved to the Reports menu.")
    response = api_a.get("/api/v1/knowledge/", {"q": "currency conversion export totals"})
    assert response.status_code == 200
    assert response.json()["next"] is None and response.json()["previous"] is None
    results = response.json()["results"]
    assert results[0]["ticket"] == match.pk and results[0]["resolved_by_name"] == "alice"
    assert results[0]["root_cause"] == "A stale currency conversion table skewed the export totals."
    assert noise.pk not in [r["ticket"] for r in results]
    similar = api_a.get(
        f"/api/v1/tickets/{open_ticket(tenant_a, subject='Export totals wrong after currency change').pk}/similar/"
    )
    assert similar.json()["results"][0]["ticket"] == match.pk


def test_a_root_cause_seen_before_is_flagged_and_a_reopened_ticket_leaves_the_index(tenant_a, api_a, alice):
    cause = "The nightly sync drops rows with an empty region."
    solved = []
    for n in range(3):
        ticket = open_ticket(tenant_a, subject=f"Sync lost customer rows {n}", description="Rows missing after sync.")
        _solve(tenant_a, ticket, assignee=alice, reply="Restored the rows.", root_cause=cause)
        solved.append(ticket)
    fresh = open_ticket(tenant_a, subject="Customer rows missing after sync", description="Rows gone again.")
    body = api_a.get(f"/api/v1/tickets/{fresh.pk}/similar/").json()
    assert body["repeated_root_causes"] == [
        {"root_cause": cause.lower(), "count": 3, "days": 30, "flag": "seen 3 times in 30 days"}
    ]
    assert api_a.get(f"/api/v1/tickets/{fresh.pk}/brief/").json()["repeated_root_causes"][0]["count"] == 3
    api_a.post(f"/api/v1/tickets/{solved[0].pk}/reopen/", {}, format="json")
    assert api_a.get(f"/api/v1/tickets/{fresh.pk}/similar/").json()["repeated_root_causes"][0]["count"] == 2


def test_knowledge_needs_a_query_and_stays_inside_the_tenant(tenant_a, tenant_b, api_a, api_b, alice):
    ticket = open_ticket(tenant_a, subject="Currency table stale", description="Totals wrong.")
    _solve(tenant_a, ticket, assignee=alice, reply="Rebuilt the currency table.")
    assert api_a.get("/api/v1/knowledge/").status_code == 400
    found_in_b = api_b.get("/api/v1/knowledge/", {"q": "currency table"}).json()
    assert found_in_b == {"results": [], "next": None, "previous": None}
    assert api_b.get(f"/api/v1/tickets/{ticket.pk}/brief/").status_code == 404
    assert api_b.get(f"/api/v1/tickets/{ticket.pk}/similar/").status_code == 404


def test_the_brief_dates_an_ended_call_by_when_it_ended_not_by_its_plan(tenant_a, api_a, alice):
    """A tester saw "#38 completed at <tomorrow's planned start>": an ended call carries its real end."""
    ticket = open_ticket(tenant_a, subject="Sync loses records", description="Records vanish.")
    call_id = api_a.post(f"/api/v1/tickets/{ticket.pk}/calls/", schedule_body(), format="json").json()["id"]
    with tenant_context(tenant_a):
        ended = workflows.call_no_show(call=Call.objects.get(pk=call_id), actor=None).ended_at
    brief = api_a.get(f"/api/v1/tickets/{ticket.pk}/brief/").json()
    call = next(c for c in brief["calls"] if c["id"] == call_id)
    assert call["ended_at"] == ended.isoformat()
    assert f"- #{call_id} no_show at {ended.isoformat()[:16]} UTC" in brief["markdown"]
    assert call["scheduled_start"][:16] not in brief["markdown"]  # the plan (tomorrow) is no record of the end
