"""REST API of the post-escalation reviews: /reviews/ (list, retrieve, PATCH) for managers and admins.

A review is opened by the resolution of a high-priority or repeated escalation (escalation/reviews.py); nobody
creates one by hand. Agents get 403 on the list too: a review weighs colleagues' handling of a case, as a
post-incident review does in the helpdesks managers know, and the issue gives it to managers."""

from __future__ import annotations

import django_filters as filters
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.response import Response

from escalation import selectors
from escalation.models import EscalationRule, Review, ReviewStatus
from helpdesk import workflows
from helpdesk.api import StrictSerializer, TenantViewSet, validated
from helpdesk.fields import IntegerFilter, IsoDateTimeFilter, TenantPrimaryKeyRelatedField
from helpdesk.filtering import FilterSet
from helpdesk.models import Role

TEXT_LIMIT = 5000


class ReviewOutput(serializers.ModelSerializer):
    trigger = serializers.CharField(source="escalation.trigger", help_text='the rule slug, or "manual"')
    ticket_subject = serializers.CharField(source="ticket.subject")
    rule_slug = serializers.CharField(source="rule.slug", allow_null=True, default=None)
    rule_url = serializers.SerializerMethodField(help_text="the rule that fired, in the API")
    rule_to_change_admin_url = serializers.SerializerMethodField(help_text="the rule to change, in the admin's matrix")
    completed_by = serializers.IntegerField(source="completed_by_id", allow_null=True)

    class Meta:
        model = Review
        fields = [
            "id",
            "escalation",
            "ticket",
            "ticket_subject",
            "trigger",
            "rule",
            "rule_slug",
            "rule_url",
            "rule_to_change",
            "rule_to_change_admin_url",
            "reasons",
            "priority",
            "status",
            "what_worked",
            "what_failed",
            "rule_change",
            "created_at",
            "completed_at",
            "completed_by",
        ]

    def get_rule_url(self, review) -> str | None:
        if review.rule_id is None:
            return None
        return reverse("v1:escalation-rule-detail", args=[review.rule_id])

    def get_rule_to_change_admin_url(self, review) -> str | None:
        if review.rule_to_change_id is None:
            return None
        return reverse("admin:escalation_escalationrule_change", args=[review.rule_to_change_id])


class ReviewInput(StrictSerializer):
    what_worked = serializers.CharField(max_length=TEXT_LIMIT, allow_blank=True, required=False)
    what_failed = serializers.CharField(max_length=TEXT_LIMIT, allow_blank=True, required=False)
    rule_change = serializers.CharField(max_length=TEXT_LIMIT, allow_blank=True, required=False)
    status = serializers.ChoiceField(choices=ReviewStatus.choices, required=False)
    rule_to_change = TenantPrimaryKeyRelatedField(model=EscalationRule, required=False, allow_null=True)


class ReviewFilter(FilterSet):
    status = filters.ChoiceFilter(choices=ReviewStatus.choices)
    ticket = IntegerFilter()
    escalation = IntegerFilter()
    rule = IntegerFilter()
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = Review
        fields = []


class ReviewViewSet(mixins.ListModelMixin, TenantViewSet):
    """Post-escalation reviews: what worked, what failed, and the rule to change. Managers and admins."""

    selector = staticmethod(selectors.review_list)
    serializer_class = ReviewOutput
    filterset_class = ReviewFilter
    ordering_fields = ["created_at", "id"]
    read_role = Role.MANAGER
    write_role = Role.MANAGER

    def retrieve(self, request, pk=None):
        return Response(ReviewOutput(self.get_object()).data)

    @extend_schema(request=ReviewInput, responses={200: ReviewOutput})
    def partial_update(self, request, pk=None):
        """`status: done` needs `what_worked` and `what_failed` (400 naming the empty one, nothing written)."""
        review = self.get_object()
        data = validated(ReviewInput, request.data, partial=True)
        review = workflows.review_update(review=review, actor=request.user, **data)
        return Response(ReviewOutput(selectors.review_list(tenant=request.user.tenant).get(pk=review.pk)).data)
