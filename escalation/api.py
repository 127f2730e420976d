"""REST API of the escalation engine: POST /tickets/{id}/escalate/, /escalations/ (+ acknowledge,
resolve, return, de-escalate), /escalation-rules/ (the matrix; manager or admin to write)."""

import django_filters as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action, api_view
from rest_framework.response import Response

from escalation import authority, dryrun, routing, selectors
from escalation.errors import EscalationError
from escalation.models import (
    MAX_POSITION,
    MAX_RESPONSE_MINUTES,
    SUMMARY_FIELDS,
    Escalation,
    EscalationRule,
    EscalationStatus,
    Kind,
)
from escalation.triggers import ACTIONS
from escalation.validation import MAX_NOTIFY, MAX_SUPERSEDES, missing_summary_fields
from helpdesk import workflows
from helpdesk.api import ActiveByDefault, StrictSerializer, TenantViewSet, validated
from helpdesk.errors import ApiError
from helpdesk.fields import (
    ActiveMemberField,
    IntegerFilter,
    IsoDateTimeFilter,
    TenantPrimaryKeyRelatedField,
    slug_or_blank,
)
from helpdesk.filtering import FilterSet
from helpdesk.filters import MemberFilter
from helpdesk.models import MAX_TIER, Role, Team
from tickets.api import SlaOutput
from tickets.models import Ticket
from tickets.selectors import ticket_get

ERR_ONE_TARGET = "Give exactly one of target_team, target_tier, target_agent."


def _raise(exc: EscalationError):
    raise ApiError(exc.status, exc.code, str(exc), exc.fields) from None


class SummaryInput(serializers.Serializer):
    problem = serializers.CharField(max_length=2000, allow_blank=True, required=False, default="")
    tried = serializers.CharField(max_length=5000, allow_blank=True, required=False, default="")
    emotional_state = serializers.CharField(max_length=500, allow_blank=True, required=False, default="")
    desired_outcome = serializers.CharField(max_length=2000, allow_blank=True, required=False, default="")
    account_context = serializers.CharField(max_length=2000, allow_blank=True, required=False, default="")


class EscalateInput(StrictSerializer):
    kind = serializers.ChoiceField(choices=Kind.choices)
    reason = serializers.CharField(max_length=2000)
    target_team = TenantPrimaryKeyRelatedField(model=Team, required=False, allow_null=True, default=None)
    target_tier = serializers.IntegerField(
        min_value=0, max_value=MAX_TIER, required=False, allow_null=True, default=None
    )
    target_agent = ActiveMemberField(required=False, allow_null=True, default=None)
    to_call = serializers.BooleanField(default=False)
    summary = SummaryInput(help_text=f"all five required: {', '.join(SUMMARY_FIELDS)}")

    def validate(self, data):
        targets = [data.get("target_team"), data.get("target_tier"), data.get("target_agent")]
        if sum(t is not None for t in targets) != 1:
            raise serializers.ValidationError({"target": [ERR_ONE_TARGET]})
        missing = missing_summary_fields(data.get("summary"))
        if missing:
            raise serializers.ValidationError({f"summary.{name}": ["This field is required."] for name in missing})
        return data


class EscalationOutput(serializers.ModelSerializer):
    sla = serializers.SerializerMethodField()
    fired_rules = serializers.SerializerMethodField(help_text="slugs of the rules that fired into it")

    class Meta:
        model = Escalation
        fields = [
            "id",
            "ticket",
            "kind",
            "status",
            "trigger",
            "rule",
            "reason",
            "level",
            "cycle",
            "from_tier",
            "to_tier",
            "team",
            "agent",
            "summary",
            "summary_drafted",
            "to_call",
            "created_at",
            "acknowledged_at",
            "resolved_at",
            "returned_at",
            "response_due_at",
            "resolution",
            "root_cause",
            "return_reason",
            "fallback_reason",
            "resolver",
            "customer_updater",
            "overseer",
            "fired_rules",
            "sla",
        ]

    def get_fired_rules(self, escalation) -> list[str]:
        return [firing.rule.slug for firing in escalation.firings.all()]

    @extend_schema_field(SlaOutput(many=True))
    def get_sla(self, escalation) -> list[dict]:
        timers = self.context.get("timers", {}).get(escalation.pk, [])
        return SlaOutput(timers, many=True).data


class CollaboratorOutput(serializers.Serializer):
    member = serializers.IntegerField(source="member.pk")
    name = serializers.CharField(source="member.user.get_username")
    tier = serializers.IntegerField(source="member.tier")
    resolved_similar = serializers.IntegerField(help_text="similar solved tickets this person resolved")
    examples = serializers.ListField(child=serializers.IntegerField(), help_text="ids of such tickets, newest first")


def _output(escalations, *, many=False):
    from slas import selectors as slas

    items = escalations if many else [escalations]
    timers: dict[int, list] = {}
    for timer in slas.escalation_timers(escalation_ids=[e.pk for e in items]):
        timers.setdefault(timer.escalation_id, []).append(timer)
    return EscalationOutput(escalations, many=many, context={"timers": timers}).data


@extend_schema(request=EscalateInput, responses={201: EscalationOutput})
@api_view(["POST"])
def escalate(request, pk: int):
    """Manual escalation of a ticket, functional (a skill) or hierarchical (authority), with the summary."""
    try:
        ticket = ticket_get(tenant=request.user.tenant, ticket_id=pk)
    except Ticket.DoesNotExist:
        raise ApiError(404, "not_found", "Not found.") from None
    data = validated(EscalateInput, request.data)
    try:
        escalation = workflows.escalate_manually(ticket=ticket, actor=request.user, **data)
    except EscalationError as exc:
        _raise(exc)
    return Response(_output(escalation), status=status.HTTP_201_CREATED)


class RefundInput(StrictSerializer):
    # The sign is the use case's rule (authority.amount_problem): a contract change may be negative, a downgrade.
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    reason = serializers.CharField(max_length=2000)


class RefundOutput(serializers.Serializer):
    status = serializers.ChoiceField(choices=["approved", "needs_approval"])
    limit = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    escalation = EscalationOutput(allow_null=True)


def _authority_view(action: str, doc: str):
    """POST /tickets/{id}/refunds/, /credits/, /contract-changes/: one rule (escalation/authority.py)."""

    @extend_schema(request=RefundInput, responses={201: RefundOutput, 202: RefundOutput}, description=doc)
    @api_view(["POST"])
    def view(request, pk: int):
        try:
            ticket = ticket_get(tenant=request.user.tenant, ticket_id=pk)
        except Ticket.DoesNotExist:
            raise ApiError(404, "not_found", "Not found.") from None
        data = validated(RefundInput, request.data)
        try:
            decision = workflows.authority_request(ticket=ticket, actor=request.user, action=action, **data)
        except EscalationError as exc:
            _raise(exc)
        body = {
            "status": "approved" if decision.approved else "needs_approval",
            "limit": None if decision.limit is None else f"{decision.limit:.2f}",
            "escalation": _output(decision.escalation) if decision.escalation else None,
        }
        return Response(body, status=status.HTTP_201_CREATED if decision.approved else status.HTTP_202_ACCEPTED)

    view.__name__ = view.cls.__name__ = f"{action}_request"
    return view


_WITHIN = "within the caller's approval cap it is recorded (201); above it, the ticket is escalated hierarchically "
_SIGN_OFF = "for sign-off — to a manager, or to an executive above a manager's cap (202) — and nothing is done yet."
refund = _authority_view(authority.REFUND, f"A refund (`amount` above 0): {_WITHIN}{_SIGN_OFF}")
credit = _authority_view(
    authority.CREDIT, f"A credit to the customer's account (`amount` above 0): {_WITHIN}{_SIGN_OFF}"
)
contract_change = _authority_view(
    authority.CONTRACT_CHANGE,
    f"A contract change (`amount`: what it moves the annual contract value by, negative for a downgrade; the caps "
    f"bound its size): {_WITHIN}{_SIGN_OFF}",
)


class EscalationFilter(FilterSet):
    status = filters.MultipleChoiceFilter(choices=EscalationStatus.choices)
    kind = filters.ChoiceFilter(choices=Kind.choices)
    ticket = IntegerFilter()
    trigger = filters.CharFilter()
    team = IntegerFilter()
    agent = MemberFilter()
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = Escalation
        fields = []


class ResolveInput(StrictSerializer):
    resolution = serializers.CharField(max_length=5000)
    root_cause = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ReasonInput(StrictSerializer):
    reason = serializers.CharField(max_length=2000)


class DeEscalateInput(ReasonInput):
    to_tier = serializers.IntegerField(min_value=0, max_value=MAX_TIER)


class RolesInput(StrictSerializer):
    """Member ids (null clears a role). Whether each names an active member of this tenant is the model's one
    validation (escalation/roles.py), answered as a 400 naming the field."""

    resolver = serializers.IntegerField(min_value=1, allow_null=True, required=False, help_text="works the fix")
    customer_updater = serializers.IntegerField(
        min_value=1, allow_null=True, required=False, help_text="owns the hourly customer-update clock"
    )
    overseer = serializers.IntegerField(
        min_value=1, allow_null=True, required=False, help_text="receives the ladder's notices"
    )

    def validate(self, data):
        if not data:
            raise serializers.ValidationError({"roles": ["Give resolver, customer_updater or overseer."]})
        return data


class EscalationViewSet(mixins.ListModelMixin, TenantViewSet):
    """Escalations and their lifecycle: requested → acknowledged → resolved, or returned / de-escalated."""

    selector = staticmethod(selectors.escalation_list)
    serializer_class = EscalationOutput
    filterset_class = EscalationFilter
    ordering_fields = ["created_at", "id"]

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(_output(page, many=True))

    def retrieve(self, request, pk=None):
        return Response(_output(self.get_object()))

    @extend_schema(request=RolesInput, responses={200: EscalationOutput})
    def partial_update(self, request, pk=None):
        """Sets the seeds' roles: `resolver`, `customer_updater`, `overseer` (member ids, null clears). A manager
        sets any; the escalation's receiver may name the resolver. Each must be an active member of this
        tenant (else 400 naming the field, nothing written)."""
        return self._act(request, workflows.escalation_roles_set, RolesInput)

    def _act(self, request, service, input_serializer=None):
        escalation = self.get_object()
        data = validated(input_serializer, request.data) if input_serializer is not None else {}
        try:
            escalation = service(escalation=escalation, actor=request.user, **data)
        except EscalationError as exc:
            _raise(exc)
        return Response(_output(escalation))

    @extend_schema(responses={200: CollaboratorOutput(many=True)})
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def collaborators(self, request, pk=None):
        """People who resolved similar tickets before: whom the receiver may pull in."""
        escalation = self.get_object()
        ticket = escalation.ticket
        exclude = [pk for pk in (escalation.agent_id, ticket.assignee_id) if pk]
        found = routing.collaborators(ticket=ticket, exclude_ids=exclude)
        return Response(CollaboratorOutput(found, many=True).data)

    @extend_schema(request=None, responses={200: EscalationOutput})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        return self._act(request, workflows.escalation_acknowledge)

    @extend_schema(request=ResolveInput, responses={200: EscalationOutput})
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        return self._act(request, workflows.escalation_resolve, ResolveInput)

    @extend_schema(request=ReasonInput, responses={200: EscalationOutput})
    @action(detail=True, methods=["post"], url_path="return")
    def bounce(self, request, pk=None):
        return self._act(request, workflows.escalation_return, ReasonInput)

    @extend_schema(request=DeEscalateInput, responses={200: EscalationOutput})
    @action(detail=True, methods=["post"], url_path="de-escalate")
    def de_escalate(self, request, pk=None):
        return self._act(request, workflows.escalation_de_escalate, DeEscalateInput)


# --- the matrix ---------------------------------------------------------------------------------


def _model_choices(name: str) -> list[tuple[str, str]]:
    return [("", ""), *EscalationRule._meta.get_field(name).choices]


class RuleInput(StrictSerializer):
    """The body's types. What a rule may say is checked once, by escalation/validation.py, for every door."""

    name = serializers.CharField(max_length=100)
    slug = serializers.SlugField(max_length=60)
    trigger = serializers.ChoiceField(choices=EscalationRule._meta.get_field("trigger").choices)
    conditions = serializers.JSONField(default=dict)
    # Required for an escalating rule (escalation/validation.py says so, naming "kind"); tag and flag rules have none.
    kind = serializers.ChoiceField(choices=Kind.choices, required=False, allow_blank=True, default="")
    action = serializers.ChoiceField(
        choices=list(ACTIONS),
        default="escalate",
        help_text="escalate (default); tag: adds `tags` at once and escalates nothing; flag: puts the ticket in the "
        "Needs review queue with the reason",
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), default=list, max_length=20, help_text="the tags a tag rule adds"
    )
    target_team = TenantPrimaryKeyRelatedField(model=Team, required=False, allow_null=True, default=None)
    target_tier = serializers.IntegerField(
        min_value=0, max_value=MAX_TIER, required=False, allow_null=True, default=None
    )
    target_role = serializers.ChoiceField(choices=_model_choices("target_role"), required=False, default="")
    target_skill = slug_or_blank(required=False, default="")
    response_minutes = serializers.IntegerField(
        min_value=1, max_value=MAX_RESPONSE_MINUTES, required=False, allow_null=True, default=None
    )
    notify = serializers.ListField(child=serializers.CharField(max_length=100), default=list, max_length=MAX_NOTIFY)
    to_call = serializers.BooleanField(default=False)
    priority_override = serializers.ChoiceField(
        choices=_model_choices("priority_override"), required=False, allow_null=True, default=""
    )
    supersedes = serializers.ListField(
        child=serializers.CharField(max_length=60),
        default=list,
        max_length=MAX_SUPERSEDES,
        help_text="slugs of rules that, fired in the same evaluation, join this rule's escalation instead of "
        "opening their own",
    )
    active = serializers.BooleanField(default=True)
    position = serializers.IntegerField(min_value=0, max_value=MAX_POSITION, default=100)

    def validate(self, data):
        if "priority_override" in data:
            data["priority_override"] = data["priority_override"] or ""
        return data


class RuleOutput(serializers.ModelSerializer):
    class Meta:
        model = EscalationRule
        fields = [
            "id",
            "name",
            "slug",
            "trigger",
            "conditions",
            "kind",
            "action",
            "tags",
            "target_team",
            "target_tier",
            "target_role",
            "target_skill",
            "response_minutes",
            "notify",
            "to_call",
            "priority_override",
            "supersedes",
            "active",
            "position",
            "created_at",
            "updated_at",
        ]


class MergeOutput(serializers.Serializer):
    slug = serializers.CharField(help_text="the rule whose escalation would open")
    supersedes = serializers.ListField(child=serializers.CharField(), help_text="the rules that would join it")
    count = serializers.IntegerField(help_text="tickets")
    examples = serializers.ListField(child=serializers.IntegerField())


class DryRunOutput(serializers.Serializer):
    days = serializers.IntegerField()
    tickets = serializers.IntegerField()
    would_escalate = serializers.IntegerField()
    escalation_rate = serializers.FloatField(help_text="percent of the window's tickets")
    by_trigger = serializers.DictField(child=serializers.IntegerField())
    examples = serializers.DictField(child=serializers.ListField(child=serializers.IntegerField()))
    verdict = serializers.CharField()
    truncated = serializers.BooleanField()
    merges = MergeOutput(many=True, help_text="rules that would fire together and open one escalation between them")
    by_action = serializers.DictField(
        child=serializers.DictField(child=serializers.IntegerField()),
        help_text="tag and flag rules: tickets each would have tagged or flagged (no escalation, in no rate)",
    )


class RuleViewSet(ActiveByDefault, mixins.ListModelMixin, TenantViewSet):
    """The escalation matrix. A rule fires at most once per ticket and escalation cycle."""

    selector = staticmethod(selectors.rule_list)
    serializer_class = RuleOutput
    write_role = Role.MANAGER
    filterset_fields = ["trigger", "kind", "active"]
    ordering_fields = ["position", "created_at", "name"]

    def retrieve(self, request, pk=None):
        return Response(RuleOutput(self.get_object()).data)

    @extend_schema(request=RuleInput, responses={201: RuleOutput})
    def create(self, request):
        data = validated(RuleInput, request.data)
        try:
            rule = workflows.rule_create(tenant=request.user.tenant, actor=request.user, **data)
        except EscalationError as exc:
            _raise(exc)
        return Response(RuleOutput(rule).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RuleInput, responses={200: RuleOutput})
    def partial_update(self, request, pk=None):
        rule = self.get_object()
        data = validated(RuleInput, request.data, partial=True)
        try:
            rule = workflows.rule_update(rule=rule, actor=request.user, **data)
        except EscalationError as exc:
            _raise(exc)
        return Response(RuleOutput(rule).data)

    @extend_schema(
        responses={200: DryRunOutput},
        parameters=[
            OpenApiParameter(
                "days",
                {"type": "integer", "minimum": 1, "maximum": 365, "default": 30},
                description="the window: the tickets opened in the last N days",
            )
        ],
    )
    @action(detail=False, methods=["get"], url_path="dry-run", query_parameters=("days",))
    def dry_run(self, request):
        """Had the active matrix run over the last `days` days (default 30): the tickets that would have
        escalated, by rule, and the escalation rate against the healthy 10-20 % range. Writes nothing."""
        try:
            days = int(request.query_params.get("days", 30))
        except ValueError:
            days = 0
        if not 1 <= days <= 365:
            raise ApiError(
                400,
                "invalid",
                "days must be a whole number from 1 to 365.",
                {"days": ["Must be a whole number from 1 to 365."]},
            )
        if not request.user.has_role(Role.MANAGER):
            raise ApiError(403, "permission_denied", "The dry run is for managers.")
        return Response(dryrun.dry_run(days=days).as_dict())

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        """Removes a rule that never fired; retires one that did (`active: false`: out of the matrix, kept
        for the escalations and firings that name it). 204 either way."""
        workflows.rule_delete(rule=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
