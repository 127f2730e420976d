"""REST API of the SLA engine: /calendars/ and /sla-policies/ (manager or admin to write).

A change to a calendar or a policy recomputes the running clocks that depend on it, in a task after
commit (competitors only apply such changes to tickets touched afterwards)."""

from django.db import IntegrityError, transaction
from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from helpdesk import workflows
from helpdesk.api import ActiveByDefault, StrictSerializer, TenantViewSet, validated
from helpdesk.errors import ApiError
from helpdesk.fields import TenantPrimaryKeyRelatedField
from helpdesk.models import Role, Team, validate_timezone
from slas import clock, selectors, services
from slas.models import BusinessCalendar, ClockSource, Metric, SLAPolicy
from slas.tasks import recalculate_after_commit
from tickets.models import Account, Channel, Plan, Priority

MAX_TARGET_MINUTES = 366 * 24 * 60  # over a year is a typo, not a target
ERR_NAME_TAKEN = "This name is already used."


def _conflict():
    raise ApiError(409, "conflict", ERR_NAME_TAKEN, {"name": [ERR_NAME_TAKEN]}) from None


# --- calendars ----------------------------------------------------------------------------------


class CalendarInput(StrictSerializer):
    name = serializers.CharField(max_length=100)
    timezone = serializers.CharField(max_length=64, default="UTC")
    hours = serializers.DictField(
        child=serializers.ListField(
            child=serializers.ListField(child=serializers.CharField(max_length=5), min_length=2, max_length=2)
        ),
        default=dict,
    )
    holidays = serializers.ListField(child=serializers.DateField(), default=list, max_length=1000)
    country = serializers.CharField(max_length=8, required=False, allow_blank=True, default="")
    subdivision = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")
    always_open = serializers.BooleanField(default=False)
    team = TenantPrimaryKeyRelatedField(model=Team, required=False, allow_null=True, default=None)
    account = TenantPrimaryKeyRelatedField(model=Account, required=False, allow_null=True, default=None)
    # No default: a PUT that leaves it out must not bring a retired calendar back.
    active = serializers.BooleanField(required=False, help_text="false: retired (see DELETE); true brings it back")

    def validate_timezone(self, value):
        try:
            validate_timezone(value)
        except Exception:
            raise serializers.ValidationError(f"{value!r} is not an IANA time zone.") from None
        return value

    def validate(self, data):
        merged = {**self._current(), **data}
        try:
            clock.validate(
                clock.Calendar(
                    timezone=merged["timezone"],
                    hours={d: [tuple(i) for i in ivs] for d, ivs in merged["hours"].items()},
                    holidays=frozenset(merged["holidays"]),
                    country=merged["country"] or None,
                    subdivision=merged["subdivision"] or None,
                    always_open=merged["always_open"],
                )
            )
        except clock.CalendarError as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from None
        return data

    def _current(self) -> dict:
        instance = self.context.get("instance")
        if instance is None:
            return {
                "timezone": "UTC",
                "hours": {},
                "holidays": [],
                "country": "",
                "subdivision": "",
                "always_open": False,
            }
        return {
            name: getattr(instance, name)
            for name in ("timezone", "hours", "holidays", "country", "subdivision", "always_open")
        }


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
        return services.calendar_create(tenant=principal.tenant, **data)

    def _update(self, principal, calendar, data):
        calendar = services.calendar_update(calendar=calendar, **data)
        recalculate_after_commit(principal.tenant.pk, calendar_id=calendar.pk)
        return calendar

    def _delete(self, principal, calendar):
        return workflows.calendar_delete(calendar=calendar, actor=principal)


# --- policies -----------------------------------------------------------------------------------


class AppliesToInput(StrictSerializer):
    priorities = serializers.ListField(child=serializers.ChoiceField(choices=Priority.choices), required=False)
    plans = serializers.ListField(child=serializers.ChoiceField(choices=Plan.choices), required=False)
    channels = serializers.ListField(child=serializers.ChoiceField(choices=Channel.choices), required=False)
    categories = serializers.ListField(child=serializers.SlugField(max_length=50), required=False)
    vip = serializers.BooleanField(required=False, allow_null=True)


class OfferedCalendarField(TenantPrimaryKeyRelatedField):
    """A calendar a policy may be given: an active one. A retired calendar is not offered, though a policy
    that has it may repeat it (a PUT that changes nothing else is no change)."""

    def __init__(self, **kwargs):
        super().__init__(model=BusinessCalendar, **kwargs)

    def get_queryset(self):
        current = getattr(self.context.get("instance"), "calendar_id", None)
        return BusinessCalendar.objects.filter(Q(active=True) | Q(pk=current))


class PolicyInput(StrictSerializer):
    name = serializers.CharField(max_length=100)
    calendar = OfferedCalendarField()
    clock_source = serializers.ChoiceField(choices=ClockSource.choices, default=ClockSource.POLICY)
    applies_to = AppliesToInput(default=dict)
    targets = serializers.DictField(child=serializers.IntegerField(min_value=1, max_value=MAX_TARGET_MINUTES))
    warn_percent = serializers.JSONField(default=[75, 90], help_text="a percentage or a list of them, 1..99")
    on_hold_pauses = serializers.ListField(
        child=serializers.ChoiceField(choices=Metric.choices), default=["resolution"]
    )
    position = serializers.IntegerField(min_value=0, max_value=1_000_000, default=100)
    # No default: a PUT that leaves it out must not bring a retired policy back (new ones start active).
    active = serializers.BooleanField(required=False)

    def validate_targets(self, value):
        unknown = sorted(set(value) - set(Metric.values))
        if unknown:
            raise serializers.ValidationError(f"Unknown metrics: {', '.join(unknown)}. Use {', '.join(Metric.values)}.")
        if not value:
            raise serializers.ValidationError("Give at least one target.")
        return value

    def validate_warn_percent(self, value):
        values = [value] if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(values, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 99 for v in values
        ):
            raise serializers.ValidationError("Give a whole percentage from 1 to 99, or a list of them.")
        return sorted(set(values))

    def validate(self, data):
        instance = self.context.get("instance")
        calendar = data.get("calendar", getattr(instance, "calendar", None))
        targets = data.get("targets", getattr(instance, "targets", None)) or {}
        if calendar is not None:
            week = clock.weekly_minutes(services.calendar_to_clock(calendar))
            limit = week * 52 * clock.MAX_DEADLINE_YEARS
            far = sorted(metric for metric, minutes in targets.items() if minutes > limit)
            if far:
                raise serializers.ValidationError(
                    {
                        "targets": [
                            f"{', '.join(far)}: over {clock.MAX_DEADLINE_YEARS} years on calendar "
                            f"{calendar.name!r} ({week} working minutes a week); lower the target or widen the hours."
                        ]
                    }
                )
        return data


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
        return services.policy_create(tenant=principal.tenant, **data)

    def _update(self, principal, policy, data):
        policy = services.policy_update(policy=policy, **data)
        recalculate_after_commit(principal.tenant.pk, policy_id=policy.pk)
        return policy

    def _delete(self, principal, policy):
        return workflows.policy_delete(policy=policy, actor=principal)
