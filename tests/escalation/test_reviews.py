"""Post-escalation reviews: opened by the resolution of a high-priority or repeated escalation, once per
escalation; "done" needs what worked and what failed (escalation/reviews.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from escalation import reviews
from escalation import services as escalations
from escalation.models import Review, ReviewStatus
from escalation.validation import ERR_REVIEW_DONE_NEEDS
from helpdesk import workflows
from helpdesk.services import tenant_create
from helpdesk.tenancy import tenant_context
from tickets.models import Account, Customer, TicketEvent

pytestmark = pytest.mark.django_db

SUMMARY = {
    "problem": "Export fails.",
    "tried": "Retried.",
    "emotional_state": "annoyed",
    "desired_outcome": "A working export.",
    "account_context": "Business plan.",
}
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def acme(db):
    tenant = tenant_create(slug="acme", name="Acme Corp")
    with tenant_context(tenant):
        account = Account.objects.create(tenant=tenant, name="Acme Client")
        Customer.objects.create(tenant=tenant, email="a@client.test", account=account)
        yield tenant


def _ticket(tenant, *, priority="normal", category="billing", email="a@client.test", at=T0):
    return workflows.ticket_open(
        tenant=tenant,
        actor=None,
        subject="Export fails",
        description="The CSV export fails.",
        requester_email=email,
        priority=priority,
        category=category,
        created_at=at,
    )


def _escalate(ticket, at):
    return escalations.escalation_create(
        ticket=ticket, actor=None, kind="functional", trigger="manual", summary_fields=SUMMARY, target_tier=2, at=at
    )


def _resolve(escalation, at, root_cause=""):
    escalations.escalation_resolve(escalation=escalation, actor=None, resolution="Fixed.", root_cause=root_cause, at=at)
    return Review.objects.filter(escalation=escalation).first()


def test_it_opens_a_review_when_a_high_priority_escalation_resolves(acme):
    ticket = _ticket(acme, priority="high", email="b@else.test")
    escalation = _escalate(ticket, T0 + timedelta(minutes=10))
    review = _resolve(escalation, T0 + timedelta(hours=2))
    assert review is not None
    assert (review.ticket_id, review.rule_id, review.reasons, review.priority, review.status) == (
        ticket.pk,
        None,
        ["high_priority"],
        "high",
        "open",
    )
    assert review.created_at == T0 + timedelta(hours=2)
    event = TicketEvent.objects.get(ticket=ticket, kind="review_opened")
    assert event.after == {"review": review.pk, "escalation": escalation.pk, "reasons": ["high_priority"]}


def test_it_opens_none_for_a_normal_first_escalation(acme):
    escalation = _escalate(_ticket(acme, email="b@else.test"), T0)
    assert _resolve(escalation, T0 + timedelta(hours=1)) is None
    assert Review.objects.count() == 0


def test_the_same_tickets_second_escalation_within_30_days_is_reviewed(acme):
    ticket = _ticket(acme, email="b@else.test")
    first = _escalate(ticket, T0)
    assert _resolve(first, T0 + timedelta(hours=1)) is None
    second = _escalate(ticket, T0 + timedelta(days=29))
    assert _resolve(second, T0 + timedelta(days=29, hours=1)).reasons == ["repeated"]


def test_an_escalation_31_days_after_the_last_is_no_repeat(acme):
    ticket = _ticket(acme, email="b@else.test")
    _resolve(_escalate(ticket, T0), T0 + timedelta(hours=1))
    late = _escalate(ticket, T0 + timedelta(days=30, seconds=1))
    assert _resolve(late, T0 + timedelta(days=31)) is None


def test_the_same_account_and_category_is_a_repeat_another_category_is_not(acme):
    _escalate(_ticket(acme, category="billing"), T0)
    other_category = _escalate(_ticket(acme, category="login"), T0 + timedelta(days=1))
    assert _resolve(other_category, T0 + timedelta(days=1, hours=1)) is None
    same = _escalate(_ticket(acme, category="billing"), T0 + timedelta(days=2))
    assert _resolve(same, T0 + timedelta(days=2, hours=1)).reasons == ["repeated"]


def test_the_same_root_cause_case_and_spaces_aside_is_a_repeat(acme):
    earlier = _escalate(_ticket(acme, category="", email="b@else.test"), T0)
    _resolve(earlier, T0 + timedelta(hours=1), root_cause="Expired card")
    later = _escalate(_ticket(acme, category="", email="c@else.test"), T0 + timedelta(days=3))
    assert _resolve(later, T0 + timedelta(days=3, hours=1), root_cause="  EXPIRED CARD ").reasons == ["repeated"]
    third = _escalate(_ticket(acme, category="", email="d@else.test"), T0 + timedelta(days=4))
    assert _resolve(third, T0 + timedelta(days=4, hours=1), root_cause="Expired token") is None


def test_a_returned_or_de_escalated_escalation_opens_none(acme):
    ticket = _ticket(acme, priority="urgent", email="b@else.test")
    returned = _escalate(ticket, T0)
    escalations.escalation_return(escalation=returned, actor=None, reason="Need logs.", at=T0 + timedelta(hours=1))
    lowered = _escalate(ticket, T0 + timedelta(hours=2))
    escalations.escalation_de_escalate(
        escalation=lowered, actor=None, reason="Routine.", to_tier=1, at=T0 + timedelta(hours=3)
    )
    assert Review.objects.count() == 0


def test_a_solved_ticket_ending_its_escalation_opens_the_review_too(acme):
    ticket = _ticket(acme, priority="urgent", email="b@else.test")
    escalation = _escalate(ticket, T0)
    ticket.refresh_from_db()
    workflows.ticket_change_status(ticket=ticket, actor=None, status="solved", at=T0 + timedelta(hours=1))
    assert list(Review.objects.values_list("escalation_id", "reasons")) == [(escalation.pk, ["high_priority"])]


def test_one_review_per_escalation_by_constraint(acme):
    escalation = _escalate(_ticket(acme, priority="high", email="b@else.test"), T0)
    review = _resolve(escalation, T0 + timedelta(hours=1))
    escalation.refresh_from_db()
    assert reviews.review_open_if_due(escalation=escalation, actor=None, at=T0 + timedelta(hours=2)) is None
    assert Review.objects.count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        Review.objects.create(
            tenant=acme, escalation=escalation, ticket=review.ticket, reasons=[], priority="high", created_at=T0
        )


def test_done_needs_what_worked_and_what_failed_and_nothing_is_written(acme):
    review = _resolve(_escalate(_ticket(acme, priority="high", email="b@else.test"), T0), T0 + timedelta(hours=1))
    with pytest.raises(ValidationError) as raised:
        workflows.review_update(review=review, actor=None, status="done", what_worked="Fast handoff.", what_failed=" ")
    assert raised.value.message_dict == {"what_failed": [ERR_REVIEW_DONE_NEEDS]}
    review.refresh_from_db()
    assert (review.status, review.what_worked, review.completed_at) == ("open", "", None)


def test_done_stamps_completion_and_reopening_clears_it(acme):
    review = _resolve(_escalate(_ticket(acme, priority="high", email="b@else.test"), T0), T0 + timedelta(hours=1))
    done = workflows.review_update(
        review=review, actor=None, status="done", what_worked="Quick ack.", what_failed="Summary lacked logs."
    )
    assert done.status == ReviewStatus.DONE and done.completed_at is not None
    reopened = workflows.review_update(review=done, actor=None, status="open")
    assert (reopened.status, reopened.completed_at, reopened.what_worked) == ("open", None, "Quick ack.")
    kinds = list(TicketEvent.objects.filter(ticket_id=review.ticket_id).values_list("kind", flat=True))
    assert kinds.count("review_updated") == 2


def test_a_manager_answers_a_review_in_the_admin_with_the_same_rule(acme):
    from django.test import Client

    from helpdesk.models import Role
    from helpdesk.services import membership_create

    review = _resolve(_escalate(_ticket(acme, priority="high", email="b@else.test"), T0), T0 + timedelta(hours=1))
    membership_create(tenant=acme, username="maya", password="pw-maya-123!", role=Role.MANAGER, tier=2)
    client = Client()
    assert client.login(username="maya", password="pw-maya-123!")
    url = f"/admin/escalation/review/{review.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200 and "(escalated by a person)" in page.content.decode()
    refused = client.post(url, {"status": "done", "what_worked": "Quick.", "what_failed": "", "rule_change": ""})
    assert refused.status_code == 200 and ERR_REVIEW_DONE_NEEDS in refused.content.decode()
    review.refresh_from_db()
    assert review.status == "open"
    saved = client.post(
        url, {"status": "done", "what_worked": "Quick.", "what_failed": "Late ack.", "rule_change": "Page billing."}
    )
    assert saved.status_code == 302
    review.refresh_from_db()
    assert (review.status, review.what_failed, review.rule_change) == ("done", "Late ack.", "Page billing.")
    assert review.completed_by.user.username == "maya"
    assert TicketEvent.objects.filter(ticket_id=review.ticket_id, kind="review_updated").count() == 1
    assert client.get("/admin/escalation/review/add/").status_code == 403
