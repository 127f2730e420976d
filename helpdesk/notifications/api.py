"""REST API of outbound webhooks (API.md, "Webhooks"): /webhooks/ CRUD for admins, the delivery log of
a subscription at /webhooks/{id}/deliveries/. The secret is write-only: it is never returned."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from helpdesk import workflows
from helpdesk.api import ActiveByDefault, StrictSerializer, TenantViewSet, validated
from helpdesk.errors import ApiError
from helpdesk.models import Role
from helpdesk.notifications import selectors
from helpdesk.notifications.models import WEBHOOK_EVENTS, Delivery, DeliveryStatus, WebhookSubscription
from helpdesk.notifications.validation import NotificationInputError
from helpdesk.pagination import PAGE_PARAMETERS

MIN_SECRET = 16


def _invalid(exc: NotificationInputError):
    field, messages = next(iter(exc.fields.items()))
    raise ApiError(400, "invalid", f"{field}: {messages[0]}", exc.fields) from None


class WebhookInput(StrictSerializer):
    url = serializers.URLField(max_length=2000)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WEBHOOK_EVENTS), min_length=1, max_length=len(WEBHOOK_EVENTS)
    )
    secret = serializers.CharField(
        min_length=MIN_SECRET,
        max_length=200,
        write_only=True,
        required=False,
        help_text="HMAC key; required on create, write-only (never returned); omit on update to keep it",
    )
    # No default: a PUT that leaves it out must not bring a retired subscription back.
    active = serializers.BooleanField(required=False)


class WebhookCreateInput(WebhookInput):
    """A new subscription needs its secret (an update may leave it out, keeping the stored one)."""

    secret = serializers.CharField(
        min_length=MIN_SECRET, max_length=200, write_only=True, help_text="HMAC key; write-only (never returned)"
    )


class WebhookOutput(serializers.ModelSerializer):
    class Meta:
        model = WebhookSubscription
        fields = ["id", "url", "events", "active", "created_at", "updated_at"]


class DeliveryOutput(serializers.ModelSerializer):
    event = serializers.CharField(source="event_type")
    event_id = serializers.IntegerField()

    class Meta:
        model = Delivery
        fields = [
            "delivery_id",
            "event",
            "event_id",
            "status",
            "attempts",
            "last_status_code",
            "last_latency_ms",
            "last_error",
            "next_attempt_at",
            "delivered_at",
            "created_at",
        ]


class WebhookViewSet(ActiveByDefault, mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Signed outbound webhooks. Admins only: a subscription sends the tenant's data to a URL."""

    selector = staticmethod(selectors.webhook_list)
    serializer_class = WebhookOutput
    read_role = Role.ADMIN
    write_role = Role.ADMIN
    ordering_fields = ["created_at", "id"]
    filterset_fields = ["active"]

    @extend_schema(request=WebhookCreateInput, responses={201: WebhookOutput})
    def create(self, request):
        data = validated(WebhookCreateInput, request.data)
        try:
            subscription = workflows.webhook_create(actor=request.user, tenant=request.user.tenant, **data)
        except NotificationInputError as exc:
            _invalid(exc)
        return Response(WebhookOutput(subscription).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=WebhookInput, responses={200: WebhookOutput})
    def update(self, request, pk=None):
        subscription = self.get_object()
        data = validated(WebhookInput, request.data, partial=request.method == "PATCH")
        try:
            subscription = workflows.webhook_update(actor=request.user, subscription=subscription, **data)
        except NotificationInputError as exc:
            _invalid(exc)
        return Response(WebhookOutput(subscription).data)

    @extend_schema(request=WebhookInput, responses={200: WebhookOutput})
    def partial_update(self, request, pk=None):
        return self.update(request, pk)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        """Removes a subscription that never received a delivery; retires one that did (`active: false`:
        no new deliveries, its delivery log kept). 204 either way."""
        workflows.webhook_delete(subscription=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        responses={200: DeliveryOutput(many=True)},
        parameters=[OpenApiParameter("status", str, enum=DeliveryStatus.values, description="only this status")],
    )
    @action(detail=True, methods=["get"], filter_backends=[], query_parameters=("status", *PAGE_PARAMETERS))
    def deliveries(self, request, pk=None):
        """The delivery log of this subscription, newest first: status, attempts, last response."""
        subscription = self.get_object()
        queryset = selectors.webhook_delivery_list(tenant=request.user.tenant, webhook_id=subscription.pk)
        wanted = request.query_params.get("status")
        if wanted is not None:
            if wanted not in DeliveryStatus.values:
                message = f"Use one of {', '.join(DeliveryStatus.values)}."
                raise ApiError(400, "invalid", f"status: {message}", {"status": [message]})
            queryset = queryset.filter(status=wanted)
        page = self.paginator.paginate_queryset(queryset, request, view=self)
        return self.paginator.get_paginated_response(DeliveryOutput(page, many=True).data)
