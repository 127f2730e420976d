"""REST API of the SLA engine: /calendars/ and /sla-policies/ (manager or admin to write).

A change to a calendar or a policy recomputes the running clocks that depend on it, in a task after
commit (competitors only apply such changes to tickets touched afterwards)."""

from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from helpdesk import workflows
from helpdesk.api import ActiveByDefault, StrictSerializer, TenantViewSet, validated
from helpdesk.errors import ApiError
from helpdesk.fields import TenantPrimaryKeyRelatedField
from helpdesk.models import Role, Team
from slas import selectors
from slas.models import BusinessCalendar, ClockSource, Metric, SLAPolicy
from tickets.models import Account

METRICS = ", ".join(Metric.values)
ERR_NAME_TAKEN = "This name is already used."


def _conflict():
    raise ApiError(409, "conflict", ERR_NAME_TAKEN, {"name": [ERR_NAME_TAKEN]}) from None


# --- calendars ----------------------------------------------------------------------------------


class CalendarInput(StrictSerializer):
    """The body's types. What a calendar may say is checked once, in slas/validation.py, for every door."""

    name = serializers.CharField(max_length=100)
    timezone = serializers.CharField(max_length=64, default="UTC")
    hours = serializers.JSONField(default=dict, help_text='weekly hours: {"mon": [["09:00", "17:00"]], ...}')
    holidays = serializers.ListField(child=serializers.DateField(), default=list, max_length=1000)
    country = serializers.CharField(max_length=8, required=False, allow_blank=True, default="")
    subdivision = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")
    always_open = serializers.BooleanField(default=False)
    team = TenantPrimaryKeyRelatedField(model=Team, required=False, allow_null=True, default=None)
    account = TenantPrimaryKeyRelatedField(model=Account, required=False, allow_null=True, default=None)
    # No default: a PUT that leaves it out must not bring a retired calendar back.
    active = serializers.BooleanField(required=False, help_text="false: retired (see DELETE); true brings it back")


class CalendarOutput(serializers.ModelSerializer):
    class Meta:
        model = BusinessCalendar
        fields = [
            "id",
            "name",
            "timezone",
            "hours",
            "holidays",
            "country",
            "subdivision",
            "always_open",
            "team",
            "account",
            "active",
            "created_at",
            "updated_at",
        ]


class _CrudMixin:
    input_serializer: type[serializers.Serializer]
    output_serializer: type[serializers.Serializer]

    def _input(self, request, *, instance=None, partial=False) -> dict:
        return validated(self.input_serializer, request.data, partial=partial, context={"instance": instance})

    def retrieve(self, request, pk=None):
        return Response(self.output_serializer(self.get_object()).data)

    def create(self, request):
        data = self._input(request)
        try:
            with transaction.atomic():
                instance = self._create(request.user, data)
        except IntegrityError:
            _conflict()
        return Response(self.output_serializer(instance).data, status=status.HTTP_201_CREATED)

    def update(self, request, pk=None):
        instance = self.get_object()
        data = self._input(request, instance=instance, partial=request.method == "PATCH")
        try:
            with transaction.atomic():
                instance = self._update(request.user, instance, data)
        except IntegrityError:
            _conflict()
        return Response(self.output_serializer(instance).data)

    def partial_update(self, request, pk=None):
        return self.update(request, pk)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        """Removes it if nothing refers to it; retires it (`active: false`, kept for history) if something
        does. 204 either way; running clocks keep their policy and calendar."""
        self._delete(request.user, self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class CalendarViewSet(ActiveByDefault, _CrudMixin, mixins.ListModelMixin, TenantViewSet):
    """Business calendars: weekly hours in a timezone, minus holidays; or 24/7."""

    selector = staticmethod(selectors.calendar_list)
    serializer_class = CalendarOutput
    input_serializer = CalendarInput
    output_serializer = CalendarOutput
    write_role = Role.MANAGER
    ordering_fields = ["created_at", "name"]
    filterset_fields = ["active"]

    @extend_schema(request=CalendarInput, responses={201: CalendarOutput})
    def create(self, request):
        return super().create(request)

    @extend_schema(request=CalendarInput, responses={200: CalendarOutput})
    def update(self, request, pk=None):
        return super().update(request, pk)

    def _create(self, principal, data):
        return workflows.calendar_create(tenant=principal.tenant, actor=principal, **data)

    def _update(self, principal, calendar, data):
        return workflows.calendar_update(calendar=calendar, actor=principal, **data)

    def _delete(self, principal, calendar):
        return workflows.calendar_delete(calendar=calendar, actor=principal)


# --- policies -----------------------------------------------------------------------------------


class PolicyInput(StrictSerializer):
    """The body's types. What a policy may say is checked once, in slas/validation.py, for every door."""

    name = serializers.CharField(max_length=100)
    calendar = TenantPrimaryKeyRelatedField(model=BusinessCalendar, help_text="an active calendar")
    clock_source = serializers.ChoiceField(choices=ClockSource.choices, default=ClockSource.POLICY)
    applies_to = serializers.JSONField(
        default=dict, help_text="any of priorities, plans, channels, categories (lists) and vip (bool or null)"
    )
    targets = serializers.DictField(child=serializers.IntegerField(), help_text=f"minutes per metric: {METRICS}")
    warn_percent = serializers.JSONField(default=[75, 90], help_text="a percentage or a list of them, 1..99")
    on_hold_pauses = serializers.ListField(
        child=serializers.ChoiceField(choices=Metric.choices), default=["resolution"]
    )
    position = serializers.IntegerField(min_value=0, max_value=1_000_000, default=100)
    # No default: a PUT that leaves it out must not bring a retired policy back (new ones start active).
    active = serializers.BooleanField(required=False)

    def validate_warn_percent(self, value):
        # One percentage is a list of one; the rest is the policy's validation.
        return [value] if isinstance(value, int) and not isinstance(value, bool) else value


class PolicyOutput(serializers.ModelSerializer):
    class Meta:
        model = SLAPolicy
        fields = [
            "id",
            "name",
            "calendar",
            "clock_source",
            "applies_to",
            "targets",
            "warn_percent",
            "on_hold_pauses",
            "position",
            "active",
            "created_at",
            "updated_at",
        ]


class PolicyViewSet(ActiveByDefault, _CrudMixin, mixins.ListModelMixin, TenantViewSet):
    """SLA policies: the first active one by position whose conditions match a ticket applies."""

    selector = staticmethod(selectors.policy_list)
    serializer_class = PolicyOutput
    input_serializer = PolicyInput
    output_serializer = PolicyOutput
    write_role = Role.MANAGER
    ordering_fields = ["position", "name", "created_at"]
    filterset_fields = ["active"]

    @extend_schema(request=PolicyInput, responses={201: PolicyOutput})
    def create(self, request):
        return super().create(request)

    @extend_schema(request=PolicyInput, responses={200: PolicyOutput})
    def update(self, request, pk=None):
        return super().update(request, pk)

    def _create(self, principal, data):
        return workflows.policy_create(tenant=principal.tenant, actor=principal, **data)

    def _update(self, principal, policy, data):
        return workflows.policy_update(policy=policy, actor=principal, **data)

    def _delete(self, principal, policy):
        return workflows.policy_delete(policy=policy, actor=principal)
