"""The matrix in action: event rules inside the request, the default matrix, exactly once."""

import threading

import pytest
from django.db import connection

from callnotes.models import Call
from escalation.models import Escalation, EscalationRule, RuleFiring
from helpdesk import workflows
from helpdesk.models import OutboxEvent, Role
from helpdesk.services import membership_create
from helpdesk.tenancy import tenant_context
from tests.api.helpers import create_ticket, error_of
from tickets import services as tickets


@pytest.fixture
def acme(db):
    """A tenant as create_tenant makes it (default calendars, policies and matrix), with a manager."""
    tenant = workflows.tenant_bootstrap(slug="acme", name="Acme")
    membership_create(tenant=tenant, username="maya", role=Role.MANAGER, tier=3, skills=["escalations"])
    return tenant


@pytest.fixture
def api(acme):
    from rest_framework.test import APIClient

    from helpdesk.services import api_token_create

    _, key = api_token_create(tenant=acme, role=Role.MANAGER)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_the_default_matrix_covers_every_trigger(acme):
    from escalation.triggers import TRIGGERS

    with tenant_context(acme):
        assert set(EscalationRule.objects.values_list("trigger", flat=True)) == set(TRIGGERS)


def test_a_lawyer_on_a_vip_ticket_is_escalated_to_a_manager_before_the_call_returns(api, acme):
    with tenant_context(acme):
        account = tickets.account_create(tenant=acme, name="Initech", vip=True, plan="enterprise")
        tickets.customer_create(actor=None, tenant=acme, email="ceo@initech.test", account=account)
    ticket = create_ticket(
        api, subject="Invoice", description="Question about my invoice.", requester={"email": "ceo@initech.test"}
    )
    api.post(f"/api/v1/tickets/{ticket['id']}/messages/", {"body": "On it."}, format="json")
    api.post(
        f"/api/v1/tickets/{ticket['id']}/messages/",
        {"body": "This is ridiculous. I'm calling my lawyer.", "author_type": "customer"},
        format="json",
    )
    escalations = api.get(f"/api/v1/escalations/?ticket={ticket['id']}").json()["results"]
    legal = next(e for e in escalations if "legal-threat" in e["fired_rules"])
    assert legal["kind"] == "hierarchical"
    assert legal["summary_drafted"] is True
    assert all(
        legal["summary"][f] for f in ("problem", "tried", "emotional_state", "desired_outcome", "account_context")
    )
    assert "Initech" in legal["summary"]["account_context"]
    with tenant_context(acme):
        from helpdesk.models import Membership

        assert Membership.objects.get(pk=legal["agent"]).role == Role.MANAGER
        assert OutboxEvent.objects.filter(type="escalation.created", payload__escalation=legal["id"]).count() == 1
    after = api.get(f"/api/v1/tickets/{ticket['id']}/").json()
    assert after["escalated"] is True and after["priority"] == "urgent"


def test_a_rule_fires_once_per_cycle(api, acme):
    ticket = create_ticket(api, subject="Refund", description="I want a refund.")
    url = f"/api/v1/tickets/{ticket['id']}/messages/"
    api.post(url, {"body": "refund please", "author_type": "customer"}, format="json")
    api.post(url, {"body": "REFUND!", "author_type": "customer"}, format="json")
    with tenant_context(acme):
        assert RuleFiring.objects.filter(ticket_id=ticket["id"], rule__slug="billing").count() == 1
        assert Escalation.objects.filter(ticket_id=ticket["id"], trigger="billing").count() == 1


def test_a_quiet_ticket_is_not_escalated(api, acme):
    ticket = create_ticket(api, subject="Dark mode?", description="Would love a dark theme. Thanks!")
    assert api.get(f"/api/v1/escalations/?ticket={ticket['id']}").json()["results"] == []


def test_two_failed_attempts_escalate_to_tier_two_with_a_call(api, acme):
    ticket = create_ticket(api, subject="Sync broken", description="Sync does not work.")
    url = f"/api/v1/tickets/{ticket['id']}/attempts/"
    api.post(url, {"outcome": "failed", "tier": 0, "note": "bot: reinstall"}, format="json")
    assert api.get(f"/api/v1/escalations/?ticket={ticket['id']}").json()["results"] == []
    api.post(url, {"outcome": "failed", "tier": 1, "note": "cleared cache"}, format="json")
    escalation = api.get(f"/api/v1/escalations/?ticket={ticket['id']}").json()["results"][0]
    assert (escalation["trigger"], escalation["to_tier"], escalation["to_call"]) == ("failed-attempts", 2, True)
    assert "bot: reinstall" in escalation["summary"]["tried"]


def test_the_matrix_api_validates_conditions(api, acme):
    response = api.post(
        "/api/v1/escalation-rules/",
        {
            "name": "Empty",
            "slug": "empty",
            "trigger": "keyword",
            "conditions": {"keywords": []},
            "kind": "functional",
            "target_tier": 2,
        },
        format="json",
    )
    assert response.status_code == 400
    assert any(f.startswith("conditions") for f in error_of(response)["fields"])
    unknown = api.post(
        "/api/v1/escalation-rules/",
        {
            "name": "Moon",
            "slug": "moon",
            "trigger": "full_moon",
            "conditions": {},
            "kind": "functional",
            "target_tier": 2,
        },
        format="json",
    )
    assert unknown.status_code == 400 and "trigger" in error_of(unknown)["fields"]


def test_the_matrix_api_creates_a_rule_and_removes_it_while_it_never_fired(api, acme):
    created = api.post(
        "/api/v1/escalation-rules/",
        {
            "name": "Churn",
            "slug": "churn",
            "trigger": "keyword",
            "conditions": {"keywords": ["churn"]},
            "kind": "functional",
            "target_skill": "retention",
            "response_minutes": 5,
            "position": 1,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    rule = created.json()
    assert rule["conditions"]["keywords"] == ["churn"]
    assert api.delete(f"/api/v1/escalation-rules/{rule['id']}/").status_code == 204
    # Nothing refers to it (it never fired): removed, not retired (tests/api/test_config_delete.py).
    assert api.get(f"/api/v1/escalation-rules/{rule['id']}/").status_code == 404


def test_agents_cannot_edit_the_matrix(acme):
    from rest_framework.test import APIClient

    from helpdesk.services import api_token_create

    _, key = api_token_create(tenant=acme, role=Role.AGENT)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.post(
        "/api/v1/escalation-rules/",
        {
            "name": "x",
            "slug": "x",
            "trigger": "follow_ups",
            "conditions": {"count": 2},
            "kind": "functional",
            "target_tier": 2,
        },
        format="json",
    )
    assert response.status_code == 403
    with tenant_context(acme):
        assert not EscalationRule.objects.filter(slug="x").exists()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_messages_fire_a_rule_once():
    tenant = workflows.tenant_bootstrap(slug="race", name="Race")
    with tenant_context(tenant):
        ticket = workflows.ticket_open(
            tenant=tenant, actor=None, subject="Question", description="Hello", requester_email="r@x.test"
        )
    barrier = threading.Barrier(2)
    errors = []

    def post(body):
        try:
            with tenant_context(tenant):
                fresh = type(ticket).objects.get(pk=ticket.pk)
                barrier.wait(timeout=10)
                workflows.message_receive(ticket=fresh, actor=None, body=body, author_type="customer")
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(f"I want a refund {n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with tenant_context(tenant):
        assert RuleFiring.objects.filter(rule__slug="billing").count() == 1
        assert Escalation.objects.filter(trigger="billing").count() == 1


def test_every_ticket_carries_an_explained_triage_class(api, acme):
    calm = create_ticket(api, subject="Dark mode?", description="Would love a dark theme. Thanks!")
    legal = create_ticket(api, subject="GDPR request", description="Please export my data.", category="legal")
    refund = create_ticket(api, subject="Refund", description="Please refund my last invoice.")
    assert api.get(f"/api/v1/tickets/{calm['id']}/").json()["triage"] == "autonomous"
    legal_body = api.get(f"/api/v1/tickets/{legal['id']}/").json()
    assert legal_body["triage"] == "human_first"
    assert any("legal" in reason for reason in legal_body["triage_reasons"])
    assert api.get(f"/api/v1/tickets/{refund['id']}/").json()["triage"] == "guardrailed"
    human_first = api.get("/api/v1/tickets/?triage=human_first").json()["results"]
    assert [t["id"] for t in human_first] == [legal["id"]]


OPENINGS = [
    # (subject, description, category, requester, created days ago): one per triage fact a new ticket can carry.
    ("Dark mode?", "Would love a dark theme. Thanks!", "", "pat@acme.test", 0),
    ("Refund", "Please refund my last invoice.", "", "pat@acme.test", 0),
    ("GDPR request", "Please export my data.", "legal", "pat@acme.test", 0),
    ("Login", "I want to speak to a manager.", "", "pat@acme.test", 0),
    ("Export", "This is terrible, useless and broken. I hate it.", "", "pat@acme.test", 0),
    ("Invoice", "Question about my invoice.", "", "ceo@initech.test", 0),
    ("Slow", "The page is slow and annoying, quite bad really.", "", "boss@globex.test", 0),
    # Back-dated past its deadlines: the clocks start running (the sweep breaches them), so nothing breached yet.
    ("Old one", "Imported from the old desk.", "", "pat@acme.test", 30),
]


def test_an_opened_ticket_stores_the_triage_the_evaluation_after_its_insert_would(acme):
    """The class goes into the ticket's INSERT (engine.triage_opening) with its trail beside the created event;
    read back from the database and triaged again as any later evaluation does, nothing is left to change."""
    from datetime import timedelta

    from django.utils import timezone

    from escalation import engine
    from escalation.snapshot import TicketSnapshot
    from tickets.models import Ticket, TicketEvent

    with tenant_context(acme):
        initech = tickets.account_create(tenant=acme, name="Initech", plan="enterprise")
        globex = tickets.account_create(tenant=acme, name="Globex", vip=True)
        tickets.customer_create(actor=None, tenant=acme, email="ceo@initech.test", account=initech)
        tickets.customer_create(actor=None, tenant=acme, email="boss@globex.test", account=globex)
        levels = set()
        for subject, description, category, email, days in OPENINGS:
            opened = workflows.ticket_open(
                tenant=acme, actor=None, subject=subject, description=description, category=category,
                requester_email=email, created_at=timezone.now() - timedelta(days=days),
            )  # fmt: skip
            ticket = Ticket.objects.select_related("requester", "account").get(pk=opened.pk)
            facts = engine.ticket_facts(ticket, text="", now=timezone.now(), snapshot=TicketSnapshot(ticket))
            expected = engine.triage_of(ticket, facts)
            level, reasons = expected.level, list(expected.reasons)
            assert (ticket.triage, ticket.triage_reasons) == (level, reasons), subject
            assert tickets.ticket_set_triage(ticket=ticket, level=level, reasons=reasons) is False
            trail = list(
                TicketEvent.objects.filter(ticket=ticket, kind__in=["created", "triage_changed"])
                .order_by("id")
                .values_list("kind", "before", "after", "actor_label", "created_at")
            )
            change = ("triage_changed", {"triage": "autonomous"}, {"triage": level, "reasons": reasons}, "system")
            assert trail[0][0] == "created", subject
            assert trail[1:] == ([(*change, ticket.created_at)] if level != "autonomous" else []), subject
            levels.add(expected.level)
    assert levels == {"autonomous", "guardrailed", "human_first"}


def test_a_manager_request_earlier_in_the_thread_keeps_the_ticket_human_first(api, acme):
    ticket = create_ticket(api, subject="Login", description="Cannot log in.")
    url = f"/api/v1/tickets/{ticket['id']}/messages/"
    api.post(url, {"body": "I want to speak to a manager.", "author_type": "customer"}, format="json")
    api.post(url, {"body": "Ok.", "author_type": "customer"}, format="json")
    assert api.get(f"/api/v1/tickets/{ticket['id']}/").json()["triage"] == "human_first"


def test_an_unacknowledged_escalation_climbs_the_ladder_once(api, acme):
    from datetime import timedelta

    from django.utils import timezone

    membership_create(tenant=acme, username="ada", role=Role.ADMIN, tier=3)
    membership_create(tenant=acme, username="tim", role=Role.AGENT, tier=2, skills=["engineering"])
    with tenant_context(acme):
        # Only the ladder here: the ticket's own breached clocks would fire the SLA rules as well.
        EscalationRule.objects.filter(trigger="sla_risk").update(active=False)
    # Urgent runs on the 24/7 calendar: "two hours later" is past the 30-minute target whatever the day.
    ticket = create_ticket(api, subject="Export", description="The export job stopped.", priority="urgent")
    summary = {f: f"{f} text" for f in ("problem", "tried", "emotional_state", "desired_outcome", "account_context")}
    first = api.post(
        f"/api/v1/tickets/{ticket['id']}/escalate/",
        {"kind": "functional", "reason": "engineering", "target_tier": 2, "summary": summary},
        format="json",
    ).json()
    later = timezone.now() + timedelta(hours=2)  # the 30-minute acknowledge target is long gone
    first_sweep, second_sweep = workflows.sweep(now=later), workflows.sweep(now=later)
    assert second_sweep.escalated == 0
    assert first_sweep.failed_tenants == 0
    escalations = api.get(f"/api/v1/escalations/?ticket={ticket['id']}&trigger=sla-ladder").json()["results"]
    assert len(escalations) == 1
    climbed = escalations[0]
    assert (climbed["kind"], climbed["level"], climbed["to_tier"]) == ("hierarchical", 2, 3)
    assert climbed["summary"] == summary
    assert climbed["agent"] != first["agent"], (climbed, first)
    with tenant_context(acme):
        from helpdesk.models import Membership

        assert Membership.objects.get(pk=climbed["agent"]).role in {"manager", "admin"}


def test_a_ticket_open_four_business_hours_at_tier_one_escalates_from_the_sweep(api, acme):
    from datetime import timedelta

    from escalation.models import TimeWatch

    with tenant_context(acme):
        # Only the time_open rule: the SLA-risk rules would fire first, the first-response clock being shorter.
        EscalationRule.objects.filter(trigger="sla_risk").update(active=False)
    ticket = create_ticket(api, subject="Question", description="How do I export a report?")
    with tenant_context(acme):
        watch = TimeWatch.objects.get(ticket_id=ticket["id"], rule__slug="time-open-tier1")
    # Before the watch is due nothing happens; at its due moment the rule fires, once.
    assert workflows.sweep(now=watch.due_at - timedelta(seconds=1)).escalated == 0
    assert workflows.sweep(now=watch.due_at).escalated == 1
    assert workflows.sweep(now=watch.due_at + timedelta(hours=1)).escalated == 0
    escalation = api.get(f"/api/v1/escalations/?ticket={ticket['id']}").json()["results"][0]
    assert (escalation["trigger"], escalation["to_tier"]) == ("time-open-tier1", 2)


def test_a_time_open_rule_switched_on_later_watches_the_tickets_already_open(
    api, acme, celery_eager, django_capture_on_commit_callbacks
):
    from escalation.models import TimeWatch

    with tenant_context(acme):
        EscalationRule.objects.filter(trigger="sla_risk").update(active=False)
        rule = EscalationRule.objects.get(slug="time-open-tier1")
    url = f"/api/v1/escalation-rules/{rule.pk}/"
    with django_capture_on_commit_callbacks(execute=True):
        assert api.patch(url, {"active": False}, format="json").status_code == 200
    ticket = create_ticket(api, subject="Question", description="How do I export a report?")
    with tenant_context(acme):
        assert not TimeWatch.objects.filter(rule=rule).exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert api.patch(url, {"active": True}, format="json").status_code == 200
    with tenant_context(acme):
        watch = TimeWatch.objects.get(ticket_id=ticket["id"], rule=rule)
        from slas import clock
        from slas import services as slas
        from tickets.models import Ticket

        opened = Ticket.objects.get(pk=ticket["id"])
        expected = clock.deadline(opened.created_at, 4 * 60, slas.ticket_clock(ticket=opened))
    assert watch.due_at == expected and watch.fired_at is None
    assert workflows.sweep(now=watch.due_at).escalated == 1
    later = create_ticket(api, subject="Another", description="And the PDF export?")
    with tenant_context(acme):
        assert TimeWatch.objects.filter(ticket_id=later["id"], rule=rule, fired_at__isnull=True).exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(url).status_code == 204
    with tenant_context(acme):
        # A deleted (switched-off) rule leaves nothing pending behind.
        assert not TimeWatch.objects.filter(rule=rule, fired_at__isnull=True).exists()


def test_the_dry_run_reports_what_the_matrix_would_have_done_without_writing(api, acme):
    from tickets.models import TicketEvent

    with tenant_context(acme):
        for n, (subject, description) in enumerate(
            [
                ("Refund", "I want a refund for the double charge."),
                ("Question", "Where is the export button?"),
                ("Question 2", "How do I add a user?"),
                ("Lawyer", "My lawyer will contact you."),
            ]
        ):
            # Through the services, not the workflow: these tickets never met the matrix.
            tickets.ticket_open(
                tenant=acme, actor=None, subject=subject, description=description, requester_email=f"c{n}@x.test"
            )
        events_before = TicketEvent.objects.count()
    body = api.get("/api/v1/escalation-rules/dry-run/?days=30").json()
    assert body["tickets"] == 4 and body["would_escalate"] == 2
    assert body["escalation_rate"] == 50.0
    assert body["by_trigger"]["billing"] == 1 and body["by_trigger"]["legal-threat"] == 1
    assert body["verdict"].startswith("bad")
    with tenant_context(acme):
        assert Escalation.objects.count() == 0
        assert TicketEvent.objects.count() == events_before
    assert api.get("/api/v1/escalation-rules/dry-run/?days=0").status_code == 400


def test_the_dry_run_is_a_button_in_the_admin(client, acme):
    membership_create(tenant=acme, username="mona", password="pw-mona-123!", role=Role.MANAGER, tier=3)
    with tenant_context(acme):
        tickets.ticket_open(
            tenant=acme, actor=None, subject="Refund", description="Refund me now.", requester_email="r@x.test"
        )
    client.login(username="mona", password="pw-mona-123!")
    listing = client.get("/admin/escalation/escalationrule/").content.decode()
    assert "Dry run: last 30 days" in listing
    page = client.get("/admin/escalation/escalationrule/dry-run/").content.decode()
    assert "<strong>1</strong> of 1 tickets would have escalated" in page
    assert "billing" in page


def _breached_urgent_ticket(api):
    """An urgent ticket (24/7 calendar, 30-minute first response) and a moment past its deadline. Calm
    words: an outage would escalate it at once, and its escalation's clocks would breach too."""
    from datetime import timedelta

    from django.utils import timezone

    ticket = create_ticket(api, subject="Printer", description="How do I add a printer?", priority="urgent")
    return ticket, timezone.now() + timedelta(hours=2)


def _sla_escalations(acme, ticket_id):
    with tenant_context(acme):
        return list(Escalation.objects.filter(ticket_id=ticket_id, rule__trigger="sla_risk"))


def test_the_sla_stage_hands_the_ticket_to_the_rules_in_its_own_transaction(api, acme):
    from tickets.models import Ticket

    ticket, later = _breached_urgent_ticket(api)
    report = workflows.SweepReport()
    # Only the SLA stage, as if the process died right after its commit.
    assert workflows._sweep_timers(later, report) == 1 and report.breached == 1
    with tenant_context(acme):
        assert Ticket.objects.get(pk=ticket["id"]).rules_due_at == later
    assert _sla_escalations(acme, ticket["id"]) == []
    # The next sweep has no clock left to fire, and still runs the rules the breach owes.
    following = workflows.sweep(now=later)
    assert (following.claimed, following.breached) == (0, 0)
    assert following.escalated >= 1
    assert len(_sla_escalations(acme, ticket["id"])) >= 1
    with tenant_context(acme):
        assert Ticket.objects.get(pk=ticket["id"]).rules_due_at is None
    assert workflows.sweep(now=later).escalated == 0


# The rules stage for one breached ticket opens one escalation (sla-breached, hierarchical, to a manager; the
# sla-at-risk rule fired too and joins it — one escalation per cause): the claim, the ticket's facts read once, the
# escalation's writes, and one read of the customer-update clocks whose owners may be due a reminder (per tenant's
# share, not per ticket). Set-based (escalation/batch.py): the share's reads (tickets, thread, attempts, clocks, tier
# moves, requesters' tickets, escalations, earlier-ticket counts), one firing claim, the routing board (members,
# teams, team members, loads), then one statement per table written — the same count for 1 ticket or 100. 35 one at
# a time; 46 when at-risk opened a second escalation; 97 before firing read each thing once per ticket.
RULES_STAGE_STATEMENTS = 40


def test_the_rules_stage_fires_a_breach_in_a_bounded_number_of_statements(api, acme, django_assert_max_num_queries):
    ticket, later = _breached_urgent_ticket(api)
    assert ticket["escalated"] is False
    report = workflows.SweepReport()
    assert workflows._sweep_timers(later, report) == 1
    with django_assert_max_num_queries(RULES_STAGE_STATEMENTS):
        assert workflows._sweep_rules(later, report) == 1
    assert report.escalated == 1


def test_at_risk_and_breached_in_one_sweep_open_one_escalation_listing_both_rules(api, acme):
    """Issue 19: a clock that went from under 75 % to breached between two sweeps made the sweep open two
    escalations at the same moment (sla-breached to a manager, sla-at-risk to tier 2). Breached supersedes
    at-risk: one escalation, whose fired_rules name both, each firing with its own reason."""
    from slas.models import SlaTimer
    from tickets.models import TicketEvent

    ticket, later = _breached_urgent_ticket(api)
    report = workflows.sweep(now=later)
    assert report.escalated == 1
    [escalation] = _sla_escalations(acme, ticket["id"])
    assert (escalation.trigger, escalation.kind) == ("sla-breached", "hierarchical")
    output = api.get(f"/api/v1/escalations/{escalation.pk}/").json()
    assert sorted(output["fired_rules"]) == ["sla-at-risk", "sla-breached"]
    assert "also sla-at-risk:" in output["reason"]
    with tenant_context(acme):
        assert escalation.agent.role == Role.MANAGER and escalation.to_call is True
        firings = {f.rule.slug: f for f in RuleFiring.objects.filter(ticket_id=ticket["id"])}
        assert set(firings) == {"sla-at-risk", "sla-breached"}
        assert all(f.escalation_id == escalation.pk and f.reason for f in firings.values())
        assert list(Call.objects.filter(ticket_id=ticket["id"]).values_list("escalation_id", flat=True)) == [
            escalation.pk
        ]
        assert escalation.response_due_at is not None
        assert SlaTimer.objects.filter(escalation_id=escalation.pk).count() == 3
        assert TicketEvent.objects.filter(ticket_id=ticket["id"], kind="escalated").count() == 1
        created = OutboxEvent.objects.filter(type="escalation.created", payload__ticket=ticket["id"])
        assert list(created.values_list("payload__escalation", flat=True)) == [escalation.pk]
    # Nothing left to fire in this cycle.
    assert workflows.sweep(now=later).escalated == 0


def test_a_later_different_cause_still_escalates(api, acme):
    ticket, later = _breached_urgent_ticket(api)
    assert workflows.sweep(now=later).escalated == 1
    api.post(
        f"/api/v1/tickets/{ticket['id']}/messages/",
        {"body": "This is a security incident: we were hacked.", "author_type": "customer"},
        format="json",
    )
    escalations = api.get(f"/api/v1/escalations/?ticket={ticket['id']}").json()["results"]
    assert sorted(tuple(sorted(e["fired_rules"])) for e in escalations) == [
        ("security-reported",),
        ("sla-at-risk", "sla-breached"),
    ]


def test_a_rule_names_what_it_supersedes(api, acme):
    """An explicit `supersedes`: the manager-request rule takes the call-request rule's place when both fire for
    one message (without it, the hierarchical manager escalation and a functional tier-2 one would both open)."""
    rules = {r["slug"]: r for r in api.get("/api/v1/escalation-rules/?page_size=100").json()["results"]}
    response = api.patch(
        f"/api/v1/escalation-rules/{rules['manager-request']['id']}/", {"supersedes": ["Call-Request"]}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["supersedes"] == ["call-request"]
    ticket = create_ticket(api, subject="Invoice", description="Question about my invoice.")
    api.post(
        f"/api/v1/tickets/{ticket['id']}/messages/",
        {"body": "Let me speak to your manager. Please call me back.", "author_type": "customer"},
        format="json",
    )
    escalations = api.get(f"/api/v1/escalations/?ticket={ticket['id']}").json()["results"]
    assert [sorted(e["fired_rules"]) for e in escalations] == [["call-request", "manager-request"]]
    assert escalations[0]["kind"] == "hierarchical"


def test_supersedes_is_checked_by_the_one_validation(api, acme):
    rules = {r["slug"]: r for r in api.get("/api/v1/escalation-rules/?page_size=100").json()["results"]}
    url = f"/api/v1/escalation-rules/{rules['vip']['id']}/"
    for bad in (["vip"], ["not a slug"], ["x" * 61], ["a"] * 21):
        response = api.patch(url, {"supersedes": bad}, format="json")
        assert response.status_code == 400, (bad, response.json())
    with tenant_context(acme):
        assert EscalationRule.objects.get(slug="vip").supersedes == []


def test_a_failing_tenant_keeps_its_tickets_due_for_the_rules_and_spares_the_others(api, acme, inject_db_failure):
    from rest_framework.test import APIClient

    from helpdesk.services import api_token_create
    from tickets.models import Ticket

    other = workflows.tenant_bootstrap(slug="globex", name="Globex")
    _, key = api_token_create(tenant=other, role=Role.MANAGER)
    other_api = APIClient()
    other_api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    ticket, later = _breached_urgent_ticket(api)
    other_ticket, _ = _breached_urgent_ticket(other_api)
    remove = inject_db_failure("escalation_escalation", acme.pk)
    failing = workflows.sweep(now=later)
    assert failing.failed_tenants == 1 and failing.breached == 2
    assert _sla_escalations(acme, ticket["id"]) == []
    assert len(_sla_escalations(other, other_ticket["id"])) >= 1
    with tenant_context(acme):
        assert Ticket.objects.get(pk=ticket["id"]).rules_due_at == later
    remove()
    healed = workflows.sweep(now=later)
    assert healed.failed_tenants == 0 and healed.escalated >= 1
    assert len(_sla_escalations(acme, ticket["id"])) >= 1
    with tenant_context(acme):
        assert Ticket.objects.get(pk=ticket["id"]).rules_due_at is None


@pytest.mark.parametrize(
    "function",
    [
        "escalation_claim_due_tickets",
        "escalation_claim_due_watches",
        "slas_claim_due_timers",
        "callnotes_claim_call_reminders",
        "callnotes_claim_action_reminders",
    ],
)
def test_every_claim_function_caps_its_limit_for_the_app_role(acme, function):
    from django.utils import timezone

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {function}(%s, %s)", [timezone.now(), -5])
        assert cursor.fetchone()[0] == 0
        cursor.execute(f"SELECT pg_get_functiondef('{function}(timestamptz, integer)'::regprocedure)")
        assert "LEAST(GREATEST(p_limit, 0), 10000)" in cursor.fetchone()[0]


def test_an_sla_risk_percent_must_be_a_warning_threshold_the_sweep_checks(api, acme):
    body = {
        "name": "At risk, 85",
        "slug": "at-risk-85",
        "trigger": "sla_risk",
        "conditions": {"percent": 85},
        "kind": "functional",
        "target_tier": 2,
        "response_minutes": 30,
    }
    refused = api.post("/api/v1/escalation-rules/", body, format="json")
    assert refused.status_code == 400
    assert "75, 90" in error_of(refused)["fields"]["conditions.percent"][0]
    with tenant_context(acme):
        assert not EscalationRule.objects.filter(slug="at-risk-85").exists()
    accepted = api.post("/api/v1/escalation-rules/", {**body, "conditions": {"percent": 90}}, format="json")
    assert accepted.status_code == 201, accepted.content
