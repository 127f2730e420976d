"""Issue 20, through the API: the seeds' missing triggers (tag_added, dispute, value's tenure, repeat contact about
the same issue), each firing and not firing at its boundary; rule actions (tag: auto-tagging on intake with no
escalation; flag: the Needs review queue); disputes' bad input; tags as a list filter."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from escalation.models import Escalation, EscalationRule, RuleFiring
from helpdesk import workflows
from helpdesk.models import Role
from helpdesk.services import api_token_create, membership_create
from helpdesk.tenancy import tenant_context
from tests.api.helpers import create_ticket, error_of
from tickets import services as tickets
from tickets.models import Dispute, TicketEvent


@pytest.fixture
def acme(db):
    """A tenant as create_tenant makes it (default policies and matrix), with a manager and a billing engineer."""
    tenant = workflows.tenant_bootstrap(slug="acme", name="Acme")
    membership_create(tenant=tenant, username="maya", role=Role.MANAGER, tier=3)
    membership_create(tenant=tenant, username="eli", role=Role.AGENT, tier=3, skills=["engineering", "billing"])
    return tenant


def _client(tenant, role=Role.MANAGER) -> APIClient:
    _, key = api_token_create(tenant=tenant, role=role)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def api(acme):
    return _client(acme)


def _escalations(api, ticket_id) -> list[dict]:
    return api.get(f"/api/v1/escalations/?ticket={ticket_id}").json()["results"]


def _triggers(api, ticket_id) -> set[str]:
    return {e["trigger"] for e in _escalations(api, ticket_id)}


def _rule(api, **body) -> dict:
    body = {"name": body["slug"], "kind": "functional", "target_tier": 2, **body}
    response = api.post("/api/v1/escalation-rules/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


# --- tag_added ------------------------------------------------------------------------------------------------


def test_a_tag_a_person_adds_fires_the_bug_confirmed_rule_and_another_tag_does_not(api, acme):
    ticket = create_ticket(api, subject="Export question", description="How do I export more than 1000 rows to CSV?")
    url = f"/api/v1/tickets/{ticket['id']}/"

    assert api.patch(url, {"tags": ["needs_logs"]}, format="json").status_code == 200
    assert _escalations(api, ticket["id"]) == []

    assert api.patch(url, {"tags": ["needs_logs", "bug_confirmed"]}, format="json").status_code == 200
    [escalation] = _escalations(api, ticket["id"])
    assert escalation["trigger"] == "bug-confirmed" and escalation["kind"] == "functional"
    assert "tag 'bug_confirmed' added" in escalation["reason"]
    with tenant_context(acme):
        assert Escalation.objects.get(pk=escalation["id"]).agent.user.username == "eli"  # the engineering skill

    # The same tags again add nothing: no second evaluation, no second escalation.
    assert api.patch(url, {"tags": ["bug_confirmed", "needs_logs"]}, format="json").status_code == 200
    assert len(_escalations(api, ticket["id"])) == 1


def test_a_tag_in_capitals_from_the_api_is_the_same_tag_and_fires_the_rule(api):
    # A tester's PATCH {"tags": ["Bug_Confirmed"]} was stored as typed and escalated nothing, while the page
    # lowercased the same word and escalated: tags are one case everywhere.
    ticket = create_ticket(api, subject="Export question", description="How do I export more than 1000 rows to CSV?")
    response = api.patch(
        f"/api/v1/tickets/{ticket['id']}/", {"tags": ["Bug_Confirmed", "bug_confirmed"]}, format="json"
    )
    assert response.status_code == 200 and response.json()["tags"] == ["bug_confirmed"]
    assert _triggers(api, ticket["id"]) == {"bug-confirmed"}


def test_a_ticket_that_arrives_with_the_tag_fires_the_rule(api):
    ticket = create_ticket(api, subject="Export rows", description="Export of 1000 rows.", tags=["bug_confirmed"])
    assert _triggers(api, ticket["id"]) == {"bug-confirmed"}


def test_a_tag_added_rule_on_an_empty_tag_list_is_refused_and_nothing_is_written(api, acme):
    with tenant_context(acme):
        before = EscalationRule.objects.count()
    for tags in ([], None, ["not a tag"]):
        response = api.post(
            "/api/v1/escalation-rules/",
            {"name": "Empty", "slug": "empty", "trigger": "tag_added", "conditions": {"tags": tags},
             "kind": "functional", "target_tier": 2},
            format="json",
        )  # fmt: skip
        assert response.status_code == 400
        assert "conditions.tags" in error_of(response)["fields"]
    with tenant_context(acme):
        assert EscalationRule.objects.count() == before


# --- dispute --------------------------------------------------------------------------------------------------


def test_a_dispute_at_the_threshold_goes_to_billing_and_one_just_below_does_not(api, acme):
    ticket = create_ticket(api, subject="Invoice 2211", description="About the May invoice.")
    url = f"/api/v1/tickets/{ticket['id']}/disputes/"

    below = api.post(url, {"amount": "999.99", "currency": "usd", "reason": "Charged for 3 seats"}, format="json")
    assert below.status_code == 201, below.content
    assert below.json()["amount"] == "999.99" and below.json()["currency"] == "USD"
    assert _escalations(api, ticket["id"]) == []

    at = api.post(url, {"amount": "1000.00", "currency": "USD", "reason": "Annual plan billed twice"}, format="json")
    assert at.status_code == 201
    [escalation] = _escalations(api, ticket["id"])
    assert escalation["trigger"] == "dispute-large"
    assert "billing dispute of 1,000.00 USD (threshold 1,000.00 USD)" in escalation["reason"]
    with tenant_context(acme):
        assert Escalation.objects.get(pk=escalation["id"]).agent.skills == ["engineering", "billing"]
    listed = api.get(url).json()["results"]
    assert [(d["amount"], d["currency"], d["reason"]) for d in listed] == [
        ("999.99", "USD", "Charged for 3 seats"),
        ("1000.00", "USD", "Annual plan billed twice"),
    ]
    events = api.get(f"/api/v1/tickets/{ticket['id']}/events/").json()["results"]
    assert [e["after"]["amount"] for e in events if e["kind"] == "dispute_recorded"] == ["999.99", "1000.00"]


def test_a_dispute_in_another_currency_is_not_compared_with_the_rules_threshold(api, acme):
    # The tester's case: 1,500 JPY passed the default rule's 1000.00 (USD) threshold.
    ticket = create_ticket(api, subject="Invoice 3310", description="About the June invoice.")
    url = f"/api/v1/tickets/{ticket['id']}/disputes/"
    yen = {"amount": "1500", "currency": "JPY", "reason": "Charged twice"}
    assert api.post(url, yen, format="json").status_code == 201
    assert _escalations(api, ticket["id"]) == []
    response = api.post(
        "/api/v1/escalation-rules/",
        {"name": "Yen disputes", "slug": "dispute-yen", "trigger": "dispute",
         "conditions": {"amount_gte": "100000", "currency": "jpy"}, "kind": "functional", "target_tier": 2},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    assert response.json()["conditions"] == {"amount_gte": "100000.00", "currency": "JPY"}
    yen = {"amount": "150000", "currency": "JPY", "reason": "Annual plan"}
    assert api.post(url, yen, format="json").status_code == 201
    assert [e["trigger"] for e in _escalations(api, ticket["id"])] == ["dispute-yen"]


def test_a_dispute_rule_in_an_unknown_currency_is_refused(api, acme):
    response = api.post(
        "/api/v1/escalation-rules/",
        {"name": "Odd", "slug": "odd", "trigger": "dispute", "conditions": {"amount_gte": "10", "currency": "XYZ"},
         "kind": "functional", "target_tier": 2},
        format="json",
    )  # fmt: skip
    assert response.status_code == 400
    assert "conditions.currency" in error_of(response)["fields"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "-5.00", "currency": "USD", "reason": "x"}, "amount"),
        ({"amount": "0", "currency": "USD", "reason": "x"}, "amount"),
        ({"amount": "0.001", "currency": "USD", "reason": "x"}, "amount"),
        ({"amount": "5000000000", "currency": "USD", "reason": "x"}, "amount"),
        ({"amount": "1e30", "currency": "USD", "reason": "x"}, "amount"),
        ({"amount": "NaN", "currency": "USD", "reason": "x"}, "amount"),
        ({"amount": "12.50", "currency": "XYZ", "reason": "x"}, "currency"),
        ({"amount": "12.50", "currency": "US", "reason": "x"}, "currency"),
        ({"amount": "12.50", "currency": "USD"}, "reason"),
        ({"amount": True, "currency": "USD", "reason": "x"}, "amount"),
    ],
)
def test_a_dispute_that_is_no_money_is_refused_and_nothing_is_written(api, acme, body, field):
    ticket = create_ticket(api)
    response = api.post(f"/api/v1/tickets/{ticket['id']}/disputes/", body, format="json")
    assert response.status_code == 400
    assert field in error_of(response)["fields"]
    with tenant_context(acme):
        assert Dispute.objects.count() == 0
        assert not TicketEvent.objects.filter(kind="dispute_recorded").exists()
        assert not Escalation.objects.exists()


def test_another_tenants_ticket_takes_no_dispute_and_an_agent_may_record_one(api, acme):
    other = workflows.tenant_bootstrap(slug="globex", name="Globex")
    theirs = create_ticket(_client(other))
    response = api.post(
        f"/api/v1/tickets/{theirs['id']}/disputes/", {"amount": "5000", "currency": "USD", "reason": "x"}, format="json"
    )
    assert response.status_code == 404
    assert api.get(f"/api/v1/tickets/{theirs['id']}/disputes/").status_code == 404
    with tenant_context(other):
        assert Dispute.objects.count() == 0
    ours = create_ticket(api)
    agent = _client(acme, Role.AGENT)
    assert (
        agent.post(
            f"/api/v1/tickets/{ours['id']}/disputes/", {"amount": "10", "currency": "GBP", "reason": "y"}, format="json"
        ).status_code
        == 201
    )
    assert APIClient().post(f"/api/v1/tickets/{ours['id']}/disputes/", {}, format="json").status_code == 401


# --- value: tenure --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("years_ago_days", "fired"), [(0, True), (-1, False)])
def test_a_customer_of_five_years_fires_the_tenure_rule_on_the_anniversary(api, acme, years_ago_days, fired):
    _rule(api, slug="loyal", trigger="value", conditions={"customer_years_gte": 5}, kind="hierarchical",
          target_tier=None, target_role="manager")  # fmt: skip
    today = timezone.now().date()
    anniversary = (
        date(today.year - 5, today.month, min(today.day, 28)) if today.day > 28 else today.replace(year=today.year - 5)
    )
    since = anniversary - timedelta(days=years_ago_days)
    with tenant_context(acme):
        account = tickets.account_create(tenant=acme, name="Initech", customer_since=since)
        tickets.customer_create(actor=None, tenant=acme, email="ceo@initech.test", account=account)
    ticket = create_ticket(api, requester={"email": "ceo@initech.test"})
    assert ("loyal" in _triggers(api, ticket["id"])) is fired


# --- repeat_contact: the same issue -------------------------------------------------------------------------


def _repeat_rule(api, acme):
    # Only this rule: the default matrix's keyword rules would escalate the billing words below on their own.
    with tenant_context(acme):
        EscalationRule.objects.exclude(trigger="repeat_contact").update(active=False)
        EscalationRule.objects.filter(trigger="repeat_contact").update(conditions={"tickets": 3, "days": 30})


def _open(api, subject, category=""):
    return create_ticket(api, subject=subject, description="See subject.", category=category,
                         requester={"email": "pat@example.test"})  # fmt: skip


def test_repeat_contact_counts_the_same_issue_by_a_similar_subject(api, acme):
    _repeat_rule(api, acme)
    _open(api, "Refund for the March invoice")
    _open(api, "Password reset mail never arrives")  # another issue: not counted
    second = _open(api, "Where is my refund for the March invoice?")
    assert _escalations(api, second["id"]) == []  # 2 about the refund
    third = _open(api, "March invoice refund still missing")
    [escalation] = _escalations(api, third["id"])
    assert escalation["trigger"] == "repeat-contact"
    assert "requester opened 3 tickets about the same issue in the last 30 days" in escalation["reason"]


def test_repeat_contact_counts_the_same_category_and_not_other_issues(api, acme):
    _repeat_rule(api, acme)
    _open(api, "Login broken", category="access")
    _open(api, "Dark mode request", category="feature")
    _open(api, "Export is slow", category="performance")
    different = _open(api, "Printer question", category="hardware")
    assert _escalations(api, different["id"]) == []  # 4 tickets of the requester, each another issue
    _open(api, "Cannot sign in with SSO", category="access")
    third = _open(api, "2FA codes rejected", category="access")
    assert _triggers(api, third["id"]) == {"repeat-contact"}


# --- tag rules: the seeds' auto-tagging ---------------------------------------------------------------------


def test_intake_auto_tags_at_once_and_escalates_nothing(api, acme):
    ticket = create_ticket(
        api,
        subject="Thinking about cancelling",
        description="We are thinking about cancelling our plan. Please look at the disputed charge asap.",
    )
    assert set(ticket["tags"]) == {"cancellation_intent", "billing_dispute", "urgent"}  # in the create answer
    assert ticket["escalated"] is False and _escalations(api, ticket["id"]) == []
    read = api.get(f"/api/v1/tickets/{ticket['id']}/").json()
    assert read["tags"] == ["billing_dispute", "cancellation_intent", "urgent"]
    with tenant_context(acme):
        tagged = TicketEvent.objects.filter(ticket_id=ticket["id"], kind="tagged").order_by("id")
        assert [e.after["rule"] for e in tagged] == ["tag-cancellation-intent", "tag-billing-dispute", "tag-urgent"]
        firings = RuleFiring.objects.filter(ticket_id=ticket["id"])
        assert {f.rule.slug for f in firings} == {"tag-cancellation-intent", "tag-billing-dispute", "tag-urgent"}
        assert all(f.escalation_id is None for f in firings)


def test_a_legal_threat_is_tagged_as_well_as_escalated(api):
    ticket = create_ticket(api, subject="Final warning", description="This is a disgrace. Our lawyer will sue you.")
    assert {"legal_threat", "negative_sentiment"} <= set(ticket["tags"])
    assert "legal-threat" in _triggers(api, ticket["id"])


def test_a_tag_a_rule_adds_fires_a_tag_added_rule_and_rules_feeding_each_other_stop(api, acme):
    _rule(api, slug="reproduced", trigger="keyword", conditions={"keywords": ["reproduced"]}, action="tag",
          tags=["bug_confirmed"], kind="", target_tier=None)  # fmt: skip
    ticket = create_ticket(api, subject="Export rows", description="Our QA reproduced it twice with the CSV export.")
    assert "bug_confirmed" in ticket["tags"]
    assert _triggers(api, ticket["id"]) == {"bug-confirmed"}

    _rule(api, slug="x-to-y", trigger="tag_added", conditions={"tags": ["x"]}, action="tag", tags=["y"], kind="",
          target_tier=None)  # fmt: skip
    _rule(api, slug="y-to-x", trigger="tag_added", conditions={"tags": ["y"]}, action="tag", tags=["x"], kind="",
          target_tier=None)  # fmt: skip
    other = create_ticket(api, subject="Loop", description="Nothing special.")
    assert api.patch(f"/api/v1/tickets/{other['id']}/", {"tags": ["x"]}, format="json").status_code == 200
    assert api.get(f"/api/v1/tickets/{other['id']}/").json()["tags"] == ["x", "y"]
    with tenant_context(acme):
        assert TicketEvent.objects.filter(ticket_id=other["id"], kind="tagged").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "tag", "tags": []}, "tags"),
        ({"action": "tag"}, "tags"),
        ({"action": "flag", "tags": ["x"]}, "tags"),
        ({"action": "shout"}, "action"),
        ({"action": "escalate", "kind": ""}, "kind"),
        ({"trigger": "tag_added", "conditions": {"tags": ["x"]}, "action": "tag", "tags": ["x"]}, "tags"),
    ],
)
def test_a_rule_action_that_does_not_fit_is_refused(api, acme, body, field):
    base = {"name": "R", "slug": "r", "trigger": "keyword", "conditions": {"keywords": ["x"]}, "kind": "functional",
            "target_tier": 2}  # fmt: skip
    response = api.post("/api/v1/escalation-rules/", {**base, **body}, format="json")
    assert response.status_code == 400
    assert field in error_of(response)["fields"]
    with tenant_context(acme):
        assert not EscalationRule.objects.filter(slug="r").exists()


# --- flag rules: the Needs review queue ---------------------------------------------------------------------


def flagged_by_the_sweep(api) -> dict:
    """A ticket a time-based flag rule flags: open an hour (24/7 calendar of urgent tickets) — the sweep's
    watches find it, the rule flags it with its reason, nothing is escalated for it."""
    _rule(api, slug="open-an-hour", trigger="time_open", conditions={"business_hours": 1}, action="flag", kind="",
          target_tier=None)  # fmt: skip
    ticket = create_ticket(api, subject="Printer", description="How do I add a printer?", priority="urgent")
    workflows.sweep(now=timezone.now() + timedelta(minutes=70))
    return ticket


def test_a_time_based_flag_rule_puts_the_ticket_in_needs_review_with_its_reason(api, acme):
    ticket = flagged_by_the_sweep(api)
    read = api.get(f"/api/v1/tickets/{ticket['id']}/").json()
    assert read["needs_review"] is True and read["review_reason"].startswith("open-an-hour: open 1.")
    assert "open-an-hour" not in _triggers(api, ticket["id"])
    flagged = api.get("/api/v1/tickets/?needs_review=true").json()["results"]
    assert [t["id"] for t in flagged] == [ticket["id"]]

    assert api.patch(f"/api/v1/tickets/{ticket['id']}/", {"needs_review": True}, format="json").status_code == 400
    cleared = api.patch(f"/api/v1/tickets/{ticket['id']}/", {"needs_review": False}, format="json")
    assert cleared.status_code == 200
    assert cleared.json()["needs_review"] is False and cleared.json()["review_reason"] == ""
    assert api.get("/api/v1/tickets/?needs_review=true").json()["results"] == []
    with tenant_context(acme):
        kinds = list(TicketEvent.objects.filter(ticket_id=ticket["id"]).values_list("kind", flat=True))
        assert "flagged_for_review" in kinds and "review_cleared" in kinds


def test_the_dry_run_reports_what_tag_and_flag_rules_would_do(api):
    create_ticket(api, subject="Thinking about cancelling", description="We may be cancelling soon.")
    report = api.get("/api/v1/escalation-rules/dry-run/?days=30").json()
    assert report["by_action"]["tag"] == {"tag-cancellation-intent": 1}
    assert report["would_escalate"] == 0 and "tag-cancellation-intent" not in report["by_trigger"]


# --- tags as a list filter -----------------------------------------------------------------------------------


def test_tags_filter_the_ticket_list(api, django_assert_max_num_queries):
    both = create_ticket(api, subject="A", tags=["vip_watch", "renewal"])
    create_ticket(api, subject="B", tags=["renewal"])
    with django_assert_max_num_queries(8):
        response = api.get("/api/v1/tickets/?tags=renewal,vip_watch")
    assert [t["id"] for t in response.json()["results"]] == [both["id"]]
    assert len(api.get("/api/v1/tickets/?tags=renewal").json()["results"]) == 2
    for bad in ("not a tag!", ",".join(f"t{i}" for i in range(21))):
        refused = api.get("/api/v1/tickets/", {"tags": bad})
        assert refused.status_code == 400 and "tags" in error_of(refused)["fields"]
    assert api.get("/api/v1/tickets/?needs_review=maybe").status_code == 400


# --- the message path stays as fast: no query per rule ------------------------------------------------------


def test_the_new_triggers_add_no_query_per_rule_to_a_customer_message(api, acme):
    """bench/TRIGGERS.md: the facts are read in one query. Twenty more rules of the new kinds (none firing) read
    nothing more on a customer message than the default matrix does."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def statements(ticket_id: int, n: int) -> int:
        api.get("/api/v1/me/")  # the configuration cache warm after the rules' writes
        url = f"/api/v1/tickets/{ticket_id}/messages/"
        with CaptureQueriesContext(connection) as captured:
            assert (
                api.post(
                    url, {"body": f"Any update on this? ({n})", "author_type": "customer"}, format="json"
                ).status_code
                == 201
            )
        return len(captured)

    first = create_ticket(api, subject="Export question", description="How do I export 1000 rows?")
    second = create_ticket(api, subject="Import question", description="How do I import 1000 rows?")
    statements(first["id"], 0)
    before = statements(first["id"], 1)
    for i in range(20):
        trigger, conditions = [
            ("tag_added", {"tags": [f"t{i}"]}),
            ("dispute", {"amount_gte": f"{1000 + i}.00"}),
            ("value", {"customer_years_gte": 50 + i}),
            ("repeat_contact", {"tickets": 20 + i, "days": 30}),
        ][i % 4]
        _rule(api, slug=f"extra-{i}", trigger=trigger, conditions=conditions)
    statements(second["id"], 0)
    after = statements(second["id"], 1)
    assert after == before


def test_a_customers_erasure_masks_them_in_a_disputes_reason(api, acme):
    ticket = create_ticket(api, requester={"email": "pat.doe@example.test", "name": "Pat Doe"})
    url = f"/api/v1/tickets/{ticket['id']}/disputes/"
    body = {"amount": "40.00", "currency": "USD", "reason": "Pat Doe (pat.doe@example.test) says card was charged."}
    assert api.post(url, body, format="json").status_code == 201
    admin = _client(acme, Role.ADMIN)
    assert admin.delete(f"/api/v1/customers/{ticket['requester']['id']}/").status_code in (200, 204)
    [dispute] = api.get(url).json()["results"]
    assert "pat.doe@example.test" not in dispute["reason"] and "Pat Doe" not in dispute["reason"]
    assert dispute["amount"] == "40.00"
