"""/api/v1/reviews/: managers and admins list, read and answer the post-escalation reviews; agents get 403;
another tenant's review is a 404 and nothing is written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from escalation import services as escalations
from escalation.models import EscalationRule, Review
from escalation.validation import ERR_REVIEW_DONE_NEEDS
from helpdesk import workflows
from helpdesk.tenancy import tenant_context
from tests.api.helpers import error_of

pytestmark = pytest.mark.django_db

SUMMARY = {
    "problem": "Export fails.",
    "tried": "Retried.",
    "emotional_state": "annoyed",
    "desired_outcome": "A working export.",
    "account_context": "Business plan.",
}
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _rule(tenant, slug="legal-words"):
    return EscalationRule.objects.create(
        tenant=tenant, name=slug.title(), slug=slug, trigger="keyword", conditions={"keywords": ["lawyer"]},
        kind="functional", target_tier=2,
    )  # fmt: skip


def _reviewed(tenant, *, subject="Export fails", hours=0, rule=None) -> Review:
    """A high-priority ticket whose escalation (by `rule`, else manual) resolved: its review."""
    with tenant_context(tenant):
        ticket = workflows.ticket_open(
            tenant=tenant,
            actor=None,
            subject=subject,
            description="The CSV export fails.",
            requester_email=f"{subject.split()[0].lower()}@client.test",
            priority="high",
            created_at=T0 + timedelta(hours=hours),
        )
        escalation = escalations.escalation_create(
            ticket=ticket,
            actor=None,
            kind="functional",
            trigger=rule.slug if rule else "manual",
            rule=rule,
            summary_fields=SUMMARY,
            target_tier=2,
            at=T0 + timedelta(hours=hours, minutes=5),
        )
        escalations.escalation_resolve(
            escalation=escalation, actor=None, resolution="Fixed.", at=T0 + timedelta(hours=hours, minutes=50)
        )
        return Review.objects.get(escalation=escalation)


def _stored(tenant, pk) -> Review:
    with tenant_context(tenant):
        return Review.objects.get(pk=pk)


def test_managers_list_the_reviews_newest_first_with_their_links(
    tenant_a, api_a_manager, django_assert_max_num_queries
):
    with tenant_context(tenant_a):
        rule = _rule(tenant_a)
    older = _reviewed(tenant_a, subject="Export fails", rule=rule)
    newer = _reviewed(tenant_a, subject="Login loops", hours=3)
    with django_assert_max_num_queries(8):  # token, tenant setting, the page (one query with its joins), savepoints
        response = api_a_manager.get("/api/v1/reviews/")
    assert response.status_code == 200
    body = response.json()
    assert [r["id"] for r in body["results"]] == [newer.pk, older.pk]
    first = body["results"][1]
    assert first == {
        "id": older.pk,
        "escalation": older.escalation_id,
        "ticket": older.ticket_id,
        "ticket_subject": "Export fails",
        "trigger": "legal-words",
        "rule": rule.pk,
        "rule_slug": "legal-words",
        "rule_url": f"/api/v1/escalation-rules/{rule.pk}/",
        "rule_to_change": rule.pk,
        "rule_to_change_admin_url": f"/admin/escalation/escalationrule/{rule.pk}/change/",
        "reasons": ["high_priority"],
        "priority": "high",
        "status": "open",
        "what_worked": "",
        "what_failed": "",
        "rule_change": "",
        "created_at": "2026-11-02T09:50:00Z",
        "completed_at": None,
        "completed_by": None,
    }
    assert body["results"][0]["rule"] is None and body["results"][0]["trigger"] == "manual"


def test_the_list_stays_at_one_query_whatever_its_length(tenant_a, api_a_manager, django_assert_max_num_queries):
    for hour in range(6):
        _reviewed(tenant_a, subject=f"Case{hour} fails", hours=hour)
    with django_assert_max_num_queries(8):
        response = api_a_manager.get("/api/v1/reviews/?page_size=200")
    assert len(response.json()["results"]) == 6


def test_the_list_filters_by_status_and_refuses_unknown_values(tenant_a, api_a_admin):
    open_one = _reviewed(tenant_a, subject="Export fails")
    done_one = _reviewed(tenant_a, subject="Login loops", hours=1)
    with tenant_context(tenant_a):
        workflows.review_update(review=done_one, actor=None, status="done", what_worked="a", what_failed="b")
    assert [r["id"] for r in api_a_admin.get("/api/v1/reviews/?status=open").json()["results"]] == [open_one.pk]
    assert [r["id"] for r in api_a_admin.get("/api/v1/reviews/?status=done").json()["results"]] == [done_one.pk]
    bad = api_a_admin.get("/api/v1/reviews/?status=closed")
    assert bad.status_code == 400 and "status" in error_of(bad)["fields"]
    typo = api_a_admin.get("/api/v1/reviews/?stauts=open")
    assert typo.status_code == 400 and "stauts" in error_of(typo)["fields"]


def test_a_manager_completes_a_review(tenant_a, api_a_manager):
    with tenant_context(tenant_a):
        other_rule = _rule(tenant_a, slug="refund-words")
    review = _reviewed(tenant_a)
    response = api_a_manager.patch(
        f"/api/v1/reviews/{review.pk}/",
        {
            "what_worked": "The summary spared the customer a repeat.",
            "what_failed": "Acknowledged after 50 minutes.",
            "rule_change": "Route refunds to billing directly.",
            "rule_to_change": other_rule.pk,
            "status": "done",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["rule_to_change"], body["completed_by"]) == ("done", other_rule.pk, None)
    assert body["completed_at"] is not None
    stored = _stored(tenant_a, review.pk)
    assert (stored.status, stored.what_failed, stored.rule_change) == (
        "done",
        "Acknowledged after 50 minutes.",
        "Route refunds to billing directly.",
    )


def test_done_without_what_worked_and_what_failed_is_a_400_naming_them(tenant_a, api_a_manager):
    review = _reviewed(tenant_a)
    response = api_a_manager.patch(
        f"/api/v1/reviews/{review.pk}/", {"status": "done", "rule_change": "Lower the threshold."}, format="json"
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["fields"] == {"what_worked": [ERR_REVIEW_DONE_NEEDS], "what_failed": [ERR_REVIEW_DONE_NEEDS]}
    stored = _stored(tenant_a, review.pk)
    assert (stored.status, stored.rule_change) == ("open", "")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"status": "closed"}, "status"),
        ({"what_worked": 5}, "what_worked"),
        ({"what_failed": "x" * 5001}, "what_failed"),
        ({"verdict": "good"}, "verdict"),
        ({"rule_to_change": 999999}, "rule_to_change"),
    ],
)
def test_bad_input_is_a_400_and_writes_nothing(tenant_a, api_a_manager, body, field):
    review = _reviewed(tenant_a)
    response = api_a_manager.patch(f"/api/v1/reviews/{review.pk}/", body, format="json")
    assert response.status_code == 400
    assert field in error_of(response)["fields"]
    stored = _stored(tenant_a, review.pk)
    assert (stored.status, stored.what_worked, stored.what_failed) == ("open", "", "")


def test_agents_may_neither_list_nor_answer_reviews(tenant_a, api_a):
    review = _reviewed(tenant_a)
    assert api_a.get("/api/v1/reviews/").status_code == 403
    assert api_a.get(f"/api/v1/reviews/{review.pk}/").status_code == 403
    response = api_a.patch(f"/api/v1/reviews/{review.pk}/", {"what_worked": "Me."}, format="json")
    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"
    assert _stored(tenant_a, review.pk).what_worked == ""


def test_another_tenants_review_is_a_404_and_nothing_is_written(tenant_a, tenant_b, api_b):
    review = _reviewed(tenant_a)
    assert api_b.get(f"/api/v1/reviews/{review.pk}/").status_code == 404
    response = api_b.patch(
        f"/api/v1/reviews/{review.pk}/", {"what_worked": "x", "what_failed": "y", "status": "done"}, format="json"
    )
    assert response.status_code == 404
    assert api_b.get("/api/v1/reviews/").json()["results"] == []
    assert _stored(tenant_a, review.pk).status == "open"


def test_a_rule_of_another_tenant_is_no_rule_to_change(tenant_a, tenant_b, api_a_manager):
    with tenant_context(tenant_b):
        theirs = _rule(tenant_b)
    review = _reviewed(tenant_a)
    response = api_a_manager.patch(f"/api/v1/reviews/{review.pk}/", {"rule_to_change": theirs.pk}, format="json")
    assert response.status_code == 400 and "rule_to_change" in error_of(response)["fields"]
    assert _stored(tenant_a, review.pk).rule_to_change_id is None


def test_nobody_creates_or_deletes_a_review_through_the_api(tenant_a, api_a_admin):
    review = _reviewed(tenant_a)
    assert api_a_admin.post("/api/v1/reviews/", {}, format="json").status_code == 405
    assert api_a_admin.delete(f"/api/v1/reviews/{review.pk}/").status_code == 405
    assert api_a_admin.put(f"/api/v1/reviews/{review.pk}/", {}, format="json").status_code == 405


def test_resolving_a_high_priority_escalation_through_the_api_opens_its_review(tenant_a, api_a_manager):
    with tenant_context(tenant_a):
        ticket = workflows.ticket_open(
            tenant=tenant_a, actor=None, subject="Data gone", description="All our invoices vanished.",
            requester_email="ops@client.test", priority="urgent",
        )  # fmt: skip
    escalated = api_a_manager.post(
        f"/api/v1/tickets/{ticket.pk}/escalate/",
        {"kind": "functional", "reason": "Data loss.", "target_tier": 2, "summary": SUMMARY},
        format="json",
    )
    assert escalated.status_code == 201, escalated.content
    assert api_a_manager.get("/api/v1/reviews/").json()["results"] == []  # nothing until it resolves
    escalation_id = escalated.json()["id"]
    resolved = api_a_manager.post(
        f"/api/v1/escalations/{escalation_id}/resolve/",
        {"resolution": "Restored from backup.", "root_cause": "A failed migration."},
        format="json",
    )
    assert resolved.status_code == 200, resolved.content
    [review] = api_a_manager.get(f"/api/v1/reviews/?escalation={escalation_id}").json()["results"]
    assert (review["ticket"], review["reasons"], review["priority"], review["status"], review["trigger"]) == (
        ticket.pk,
        ["high_priority"],
        "urgent",
        "open",
        "manual",
    )


def test_a_customers_erasure_masks_the_reviews_of_their_tickets(tenant_a, api_a_admin):
    review = _reviewed(tenant_a, subject="Export fails")
    with tenant_context(tenant_a):
        customer = review.ticket.requester
        customer.name = "Pat Quill"
        customer.save(update_fields=["name"])
        workflows.review_update(
            review=review, actor=None, what_worked="Quick.", what_failed="Pat Quill was told twice to wait."
        )
    response = api_a_admin.delete(f"/api/v1/customers/{customer.pk}/")
    assert response.status_code == 204, response.content
    stored = _stored(tenant_a, review.pk)
    assert "Pat Quill" not in stored.what_failed and stored.what_worked == "Quick."
