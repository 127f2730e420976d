"""Post-escalation reviews (seeds: "After high-priority or repeated escalations, conduct quick reviews to evaluate
what worked and what didn't. Use insights to refine protocols and training.").

When one is opened (decisions)
    By the escalation's resolution, inside its transaction (escalation.services._resolve: a person's resolve and
    a solved ticket ending its escalations alike), when
    - high priority: the ticket is high or urgent at the resolution; or
    - repeated: the escalation is the second one within REPEAT_WINDOW_DAYS (30) of the same ticket, or of the
      same account and category, or of the same recorded root cause (case and spaces aside). Account+category
      and root cause are metrics/queries.py's "repeat escalation" (another ticket escalated in the 30 days
      before); the same ticket's earlier escalation (a re-escalation) counts here too. "Before" orders by
      (created_at, id), as the metrics' window functions do.
    Returned and de-escalated escalations are not resolutions and open none.
    One per escalation, by the unique constraint (not by a read), so two resolutions racing open one.

What a review says
    what_worked, what_failed, rule_change (free text), and rule_to_change (a rule of the matrix; the rule that
    fired, unless the reviewer names another). A review is `done` only with what_worked and what_failed both
    written (review_problems: the one validation, for the API, the admin and the page); done can be reopened.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Lower, Trim
from django.utils import timezone

from escalation.models import Escalation, Review, ReviewStatus
from escalation.validation import review_problems
from helpdesk import redaction
from helpdesk.audit import actor_membership
from helpdesk.auth import Principal
from helpdesk.erasure import mask_rows
from helpdesk.validation import full_check
from tickets.models import Priority
from tickets.services import event_record

REPEAT_WINDOW_DAYS = 30
HIGH_PRIORITIES = (Priority.HIGH, Priority.URGENT)
HIGH_PRIORITY, REPEATED = "high_priority", "repeated"
EDITABLE = ("what_worked", "what_failed", "rule_change", "status", "rule_to_change")


def _earlier(escalation: Escalation) -> Q:
    start = escalation.created_at - timedelta(days=REPEAT_WINDOW_DAYS)
    before = Q(created_at__lt=escalation.created_at) | Q(created_at=escalation.created_at, pk__lt=escalation.pk)
    return before & Q(created_at__gte=start)


def is_repeated(escalation: Escalation) -> bool:
    """Another escalation in the 30 days before of the same ticket, the same account and category, or the same
    recorded root cause (module docstring; the cause compared as metrics/queries.py does: lower(btrim(...)))."""
    ticket = escalation.ticket
    same = Q(ticket_id=ticket.pk)
    if ticket.account_id is not None and ticket.category:
        same |= Q(ticket__account_id=ticket.account_id, ticket__category=ticket.category)
    cause = (escalation.root_cause or "").strip(" ").lower()
    found = Escalation.objects.filter(_earlier(escalation)).exclude(pk=escalation.pk)
    if cause:
        found = found.annotate(cause=Lower(Trim("root_cause")))
        same |= Q(cause=cause)
    return found.filter(same).exists()


def review_reasons(escalation: Escalation) -> list[str]:
    reasons = []
    if escalation.ticket.priority in HIGH_PRIORITIES:
        reasons.append(HIGH_PRIORITY)
    if is_repeated(escalation):
        reasons.append(REPEATED)
    return reasons


def review_open_if_due(*, escalation: Escalation, actor: Principal | None, at: datetime) -> Review | None:
    """Called by the resolution (escalation.services._resolve), in its transaction."""
    reasons = review_reasons(escalation)
    if not reasons:
        return None
    review = Review(
        tenant_id=escalation.tenant_id,
        escalation=escalation,
        ticket_id=escalation.ticket_id,
        rule_id=escalation.rule_id,
        rule_to_change_id=escalation.rule_id,
        reasons=reasons,
        priority=escalation.ticket.priority,
        created_at=at,
    )
    try:
        with transaction.atomic():  # the constraint decides: one review per escalation
            review.save(force_insert=True)
    except IntegrityError:
        return None
    event_record(
        ticket=escalation.ticket,
        kind="review_opened",
        actor=actor,
        at=at,
        after={"review": review.pk, "escalation": escalation.pk, "reasons": reasons},
    )
    return review


@transaction.atomic
def review_update(*, review: Review, actor: Principal | None, at: datetime | None = None, **changes) -> Review:
    """A manager's answers; `status: done` needs what_worked and what_failed (ValidationError otherwise, nothing
    written). Done stamps who completed it and when; reopened, the stamp goes."""
    at = at or timezone.now()
    review = Review.objects.select_for_update().get(pk=review.pk)
    before = {name: _plain(getattr(review, name)) for name in changes if name in EDITABLE}
    for name, value in changes.items():
        if name not in EDITABLE:
            raise TypeError(f"review_update() got an unexpected field {name!r}")
        setattr(review, name, value)
    full_check(review, review_problems)
    if review.status == ReviewStatus.DONE and review.completed_at is None:
        review.completed_at, review.completed_by = at, actor_membership(actor)
    elif review.status == ReviewStatus.OPEN:
        review.completed_at, review.completed_by = None, None
    review.save()
    after = {name: _plain(getattr(review, name)) for name in before}
    if before != after:
        event_record(
            ticket=review.ticket,
            kind="review_updated",
            actor=actor,
            at=at,
            before=before,
            after=after | {"review": review.pk},
        )
    return review


def _plain(value):
    return value.pk if hasattr(value, "pk") else value


REVIEW_TEXT = ("what_worked", "what_failed", "rule_change")


def reviews_redact(*, ticket_ids: list[int], redactor: redaction.Redactor) -> int:
    """A customer's erasure (workflows.customer_erase): the reviews of their tickets are staff text that may quote
    or name them, masked like the escalations' resolutions. Returns the rows changed."""
    return mask_rows(Review.objects.filter(ticket_id__in=ticket_ids), REVIEW_TEXT, redactor)
