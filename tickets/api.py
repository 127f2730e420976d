"""REST API of the tickets app: /accounts/, /customers/, /tickets/ (+ messages, attempts, events).

Each view validates with an input serializer, calls one service or selector, and answers with an
output serializer. Objects are looked up inside the caller's tenant, so another tenant's id is a 404.
"""

from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from helpdesk import workflows
from helpdesk.api import StrictSerializer, TenantViewSet, validated
from helpdesk.errors import ApiError
from helpdesk.fields import ActiveMemberField, AwareDateTimeField, TenantPrimaryKeyRelatedField, slug_or_blank
from helpdesk.models import Role, Team, Tenant
from helpdesk.pagination import PAGE_PARAMETERS, ThreadPagination
from tickets import currencies, selectors
from tickets.errors import TicketError
from tickets.filters import TicketFilter
from tickets.models import (
    CLOCK_SKEW,
    EARLIEST_CREATED_AT,
    Account,
    AuthorType,
    Channel,
    Customer,
    Dispute,
    Message,
    Outcome,
    Plan,
    Priority,
    ResolutionAttempt,
    Status,
    Ticket,
    TicketEvent,
)

MAX_TEXT = 100_000
MAX_TAGS = 50
MAX_DISPUTE_AMOUNT = Decimal("1000000000.00")  # more is a typo, not a dispute (escalation.triggers agrees)
ERR_EMAIL_TAKEN = "A customer with this email already exists."
ERR_CREATED_AT_ROLE = "Only admin tokens may set created_at."
ERR_ERASE_ROLE = "Erasing a customer's data needs an admin."


def _raise_ticket_error(exc: TicketError):
    fields = {exc.field: [str(exc)]} if exc.field else {}
    raise ApiError(exc.status, exc.code, str(exc), fields) from None


# --- accounts -----------------------------------------------------------------------------------


class AccountInput(StrictSerializer):
    name = serializers.CharField(max_length=200)
    plan = serializers.ChoiceField(choices=Plan.choices, default=Plan.STANDARD)
    vip = serializers.BooleanField(default=False)
    annual_contract_value = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, default=0)
    lifetime_value = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, default=0)
    customer_since = serializers.DateField(required=False, allow_null=True)
    account_manager = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        help_text="member id: who owns the relationship (an active member of this tenant)",
    )

    def validate(self, data):
        # By id: whether it names an active member of this tenant is the model's one validation (a 400 naming
        # account_manager, from tickets.validation.account_problems).
        if "account_manager" in data:
            data["account_manager_id"] = data.pop("account_manager")
        return data


class AccountOutput(serializers.ModelSerializer):
    class Meta:
        model = Account
        fields = [
            "id",
            "name",
            "plan",
            "vip",
            "annual_contract_value",
            "lifetime_value",
            "customer_since",
            "account_manager",
            "created_at",
            "updated_at",
        ]


class _WriteMixin:
    """Create with POST, update with PUT (whole) or PATCH (partial), all through services."""

    input_serializer: type[serializers.Serializer]
    output_serializer: type[serializers.Serializer]

    def _input(self, request, *, partial=False):
        return validated(self.input_serializer, request.data, partial=partial)

    def retrieve(self, request, pk=None):
        return Response(self.output_serializer(self.get_object()).data)

    def update(self, request, pk=None):
        instance = self.get_object()
        data = self._input(request, partial=request.method == "PATCH")
        return Response(self.output_serializer(self._update(instance, data)).data)

    def partial_update(self, request, pk=None):
        return self.update(request, pk)


class AccountViewSet(_WriteMixin, mixins.ListModelMixin, TenantViewSet):
    """Customer organisations: plan, VIP flag and contract value drive SLAs and escalation."""

    selector = staticmethod(selectors.account_list)
    serializer_class = AccountOutput
    input_serializer = AccountInput
    output_serializer = AccountOutput
    write_role = Role.MANAGER
    filterset_fields = {"plan": ["exact"], "vip": ["exact"], "name": ["exact", "icontains"]}
    ordering_fields = ["created_at", "name", "annual_contract_value"]

    @extend_schema(request=AccountInput, responses={201: AccountOutput})
    def create(self, request):
        account = workflows.account_create(tenant=request.user.tenant, actor=request.user, **self._input(request))
        return Response(AccountOutput(account).data, status=status.HTTP_201_CREATED)

    def _update(self, account, data):
        return workflows.account_update(account=account, actor=self.request.user, **data)


# --- customers ----------------------------------------------------------------------------------


class CustomerInput(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    account = TenantPrimaryKeyRelatedField(model=Account, required=False, allow_null=True, default=None)


class CustomerOutput(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "email", "name", "phone", "account", "erased_at", "created_at", "updated_at"]
        extra_kwargs = {"erased_at": {"help_text": "set when the customer's data was erased on request (DELETE)"}}


def _email_conflict():
    raise ApiError(409, "conflict", ERR_EMAIL_TAKEN, {"email": [ERR_EMAIL_TAKEN]}) from None


class CustomerViewSet(_WriteMixin, mixins.ListModelMixin, TenantViewSet):
    """The people who write in. Email is unique per tenant (case-insensitive)."""

    selector = staticmethod(selectors.customer_list)
    serializer_class = CustomerOutput
    input_serializer = CustomerInput
    output_serializer = CustomerOutput
    filterset_fields = {"email": ["exact"], "account": ["exact"], "name": ["icontains"]}
    ordering_fields = ["created_at", "email", "name"]

    @extend_schema(request=CustomerInput, responses={201: CustomerOutput})
    def create(self, request):
        data = self._input(request)
        try:
            with transaction.atomic():
                customer = workflows.customer_create(tenant=request.user.tenant, actor=request.user, **data)
        except IntegrityError:
            _email_conflict()
        except TicketError as exc:
            _raise_ticket_error(exc)
        return Response(CustomerOutput(customer).data, status=status.HTTP_201_CREATED)

    def _update(self, customer, data):
        try:
            with transaction.atomic():
                return workflows.customer_update(customer=customer, actor=self.request.user, **data)
        except IntegrityError:
            _email_conflict()
        except TicketError as exc:
            _raise_ticket_error(exc)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        """Erasure on request (admins): name, e-mail, phone and the customer's own texts are replaced by
        tombstones and their copies masked; tickets, clocks, escalations and the audit trail's structure
        stay. Logged without the erased values. 204, also for a customer erased before."""
        if not request.user.has_role(Role.ADMIN):
            raise ApiError(403, "permission_denied", ERR_ERASE_ROLE)
        workflows.customer_erase(customer=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- tickets ------------------------------------------------------------------------------------


class RequesterInput(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class TicketCreateInput(StrictSerializer):
    subject = serializers.CharField(max_length=500)
    description = serializers.CharField(max_length=MAX_TEXT)
    requester = RequesterInput()
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.API)
    category = slug_or_blank(required=False, default="")
    tags = serializers.ListField(child=serializers.SlugField(max_length=50), max_length=MAX_TAGS, default=list)
    created_at = AwareDateTimeField(required=False)

    def validate_created_at(self, value):
        if value < EARLIEST_CREATED_AT:
            raise serializers.ValidationError(f"Must not be before {EARLIEST_CREATED_AT:%Y-%m-%d}.")
        if value > timezone.now() + CLOCK_SKEW:
            raise serializers.ValidationError("Must not be in the future.")
        return value


class TicketUpdateInput(StrictSerializer):
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    assignee = ActiveMemberField(required=False, allow_null=True)
    team = TenantPrimaryKeyRelatedField(model=Team, required=False, allow_null=True)
    tags = serializers.ListField(child=serializers.SlugField(max_length=50), max_length=MAX_TAGS, required=False)
    category = slug_or_blank(required=False)
    needs_review = serializers.BooleanField(
        required=False, help_text='false clears a flag rule\'s "Needs review" mark (a person looked); true is refused'
    )

    def validate_needs_review(self, value):
        if value:
            raise serializers.ValidationError("Only rules flag a ticket for review; send false to clear the flag.")
        return value


class DisputeInput(StrictSerializer):
    amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal("0.01"), max_value=MAX_DISPUTE_AMOUNT
    )
    currency = serializers.CharField(min_length=3, max_length=3, help_text="ISO 4217, e.g. USD, EUR")
    reason = serializers.CharField(max_length=2000)

    def validate_currency(self, value):
        code = value.upper()
        if code not in currencies.ISO_4217:
            raise serializers.ValidationError(f"{value!r} is not an ISO 4217 currency code (e.g. USD, EUR, GBP).")
        return code


class DisputeOutput(serializers.ModelSerializer):
    class Meta:
        model = Dispute
        fields = ["id", "ticket", "amount", "currency", "reason", "actor", "created_at"]


class RequesterOutput(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "email", "name"]


class SlaOutput(serializers.Serializer):
    metric = serializers.CharField()
    target_minutes = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField(allow_null=True)
    warn_at = serializers.DateTimeField(allow_null=True)
    status = serializers.CharField(help_text="running | paused | met | breached")
    breached_at = serializers.DateTimeField(allow_null=True, help_text="the breach; a recurring clock's latest miss")
    met_at = serializers.DateTimeField(allow_null=True)
    misses = serializers.IntegerField(
        help_text="a recurring clock (customer_update, while its escalation is open): periods that passed with no "
        "update to the customer; 0 for any other clock"
    )
    met_periods = serializers.IntegerField(
        help_text="a recurring clock: periods ended by an update in time (its started_at is the current "
        "period's start); 0 for any other clock"
    )


# The schema of a ticket as the API shows it, and DRF's reference rendering of a model instance (a comment,
# not a docstring: drf-spectacular publishes docstrings). The API itself renders through ticket_outputs
# (plain rows, no model instances); tests/api/test_ticket_output.py checks the two give the same bytes.
class TicketOutput(serializers.ModelSerializer):
    requester = RequesterOutput()
    sla = serializers.SerializerMethodField()
    needs_review = serializers.SerializerMethodField(
        help_text='in the "Needs review" queue: a flag rule fired; review_reason says which and why'
    )

    class Meta:
        model = Ticket
        fields = [
            "id",
            "subject",
            "description",
            "requester",
            "priority",
            "channel",
            "category",
            "tags",
            "status",
            "tier",
            "assignee",
            "team",
            "account",
            "sentiment",
            "escalated",
            "escalation_count",
            "follow_up_count",
            "sla",
            "sla_breached",
            "sla_at_risk",
            "triage",
            "triage_reasons",
            "needs_review",
            "review_reason",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(SlaOutput(many=True))
    def get_sla(self, ticket) -> list[dict]:
        # The ticket's own clocks; an escalation's clocks are shown on the escalation.
        own = sorted((t for t in ticket.sla_timers.all() if t.escalation_id == 0), key=lambda t: t.metric)
        return SlaOutput(own, many=True).data

    def get_needs_review(self, ticket) -> bool:
        return ticket.review_flagged_at is not None


def ticket_outputs(rows: list[dict], *, tenant: Tenant) -> list[dict]:
    """TicketOutput's rendering of selectors.ticket_rows rows, built by hand with their SLA clocks from one
    more query. Through DRF's field-by-field path (and with model instances) a page of 50 tickets made
    ~1,200 field calls and ~200 model instances: most of a list page's CPU."""
    clocks = selectors.ticket_sla_rows(tenant=tenant, ticket_ids=[row["id"] for row in rows])
    dt = _datetime_formatter()
    utc_text = _utc_text_formatter(dt)
    return [_ticket_output(row, clocks.get(row["id"], ()), dt, utc_text) for row in rows]


def ticket_output_in_memory(ticket: Ticket, clocks: list) -> dict:
    """ticket_outputs' rendering of a ticket the request itself just wrote, from the instance and its own
    clocks (SLA clock instances) instead of reading both back: two statements less on every create.
    Tests compare it byte for byte with the detail read right after."""
    row = {name: getattr(ticket, name) for name in selectors.TICKET_ROW_FIELDS if "__" not in name}
    row["requester__email"], row["requester__name"] = ticket.requester.email, ticket.requester.name
    own = selectors.sort_clocks([tuple(getattr(c, name) for name in selectors.SLA_ROW_FIELDS) for c in clocks])
    dt = _datetime_formatter()
    return _ticket_output(row, own, dt, dt)


def _ticket_output(row: dict, clocks, dt, utc_text) -> dict:
    # Key order is TicketOutput.Meta.fields; values as DRF's fields represent them (ids and counts as
    # ints, choices as their strings, datetimes through dt).
    return {
        "id": row["id"],
        "subject": row["subject"],
        "description": row["description"],
        "requester": {"id": row["requester_id"], "email": row["requester__email"], "name": row["requester__name"]},
        "priority": row["priority"],
        "channel": row["channel"],
        "category": row["category"],
        "tags": [str(tag) for tag in row["tags"]],
        "status": row["status"],
        "tier": row["tier"],
        "assignee": row["assignee_id"],
        "team": row["team_id"],
        "account": row["account_id"],
        "sentiment": row["sentiment"],
        "escalated": row["escalated"],
        "escalation_count": row["escalation_count"],
        "follow_up_count": row["follow_up_count"],
        "sla": [_sla_output(clock, utc_text) for clock in clocks],
        "sla_breached": row["sla_breached"],
        "sla_at_risk": row["sla_at_risk"],
        "triage": row["triage"],
        "triage_reasons": row["triage_reasons"],
        "needs_review": row["review_flagged_at"] is not None,
        "review_reason": row["review_reason"],
        "created_at": dt(row["created_at"]),
        "updated_at": dt(row["updated_at"]),
    }


def _datetime_formatter():
    """serializers.DateTimeField's output (ISO 8601 in the current time zone, UTC as "Z") for the aware
    datetimes the database returns, with the time zone looked up once rather than per value."""
    tz = timezone.get_current_timezone()

    def iso(value):
        if not value:
            return None
        text = value.astimezone(tz).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return iso


def _utc_text_formatter(dt):
    """serializers.DateTimeField's output for the UTC text of selectors.UtcIsoText. In UTC (the settings'
    time zone) that text already is DRF's, but for the microseconds: isoformat() leaves them out when
    they are zero. In any other time zone it goes through a datetime and dt."""
    if timezone.get_current_timezone_name() != "UTC":
        return lambda text: dt(datetime.fromisoformat(text)) if text else None

    def iso(text):
        if text and text.endswith(".000000Z"):
            return text[:-8] + "Z"
        return text

    return iso


def _sla_output(clock: tuple, utc_text) -> dict:
    """One SlaOutput row from a tuple of selectors.SLA_ROW_FIELDS (times as UTC text, hence a formatter of
    its own), built by hand: a serializer instance per ticket deep-copies its ten fields. SlaOutput stays
    the schema; tests compare the two."""
    metric, target_minutes, started_at, due_at, warn_at, status_, breached_at, met_at, misses, met_periods = clock
    return {
        "metric": metric,
        "target_minutes": target_minutes,
        "started_at": utc_text(started_at),
        "due_at": utc_text(due_at),  # None stays None, as in SlaOutput
        "warn_at": utc_text(warn_at),
        "status": status_,
        "breached_at": utc_text(breached_at),
        "met_at": utc_text(met_at),
        "misses": misses,
        "met_periods": met_periods,
    }


class ReopenInput(StrictSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class MessageInput(StrictSerializer):
    body = serializers.CharField(max_length=MAX_TEXT)
    author_type = serializers.ChoiceField(choices=[AuthorType.CUSTOMER, AuthorType.AGENT], default=AuthorType.AGENT)
    internal = serializers.BooleanField(default=False)


class MessageOutput(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = ["id", "ticket", "author_type", "author", "body", "internal", "sentiment", "created_at"]

    def get_author(self, message) -> str | None:
        return message.author.user.get_username() if message.author else None


class AttemptInput(StrictSerializer):
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    tier = serializers.IntegerField(min_value=0, max_value=3)
    note = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True, default="")


class AttemptOutput(serializers.ModelSerializer):
    class Meta:
        model = ResolutionAttempt
        fields = ["id", "ticket", "tier", "outcome", "note", "actor", "created_at"]


class EventOutput(serializers.ModelSerializer):
    class Meta:
        model = TicketEvent
        fields = ["id", "ticket", "kind", "actor", "actor_label", "before", "after", "created_at"]


# A ticket's thread lists (messages, attempts, events): paginated oldest first, and none of the ticket list's
# filters or ordering, which the schema would otherwise document for them.
THREAD = {"pagination_class": ThreadPagination, "filter_backends": [], "query_parameters": PAGE_PARAMETERS}


class TicketViewSet(mixins.ListModelMixin, TenantViewSet):
    """Tickets, their conversation, resolution attempts and audit trail."""

    selector = staticmethod(selectors.ticket_list)
    serializer_class = TicketOutput
    filterset_class = TicketFilter
    # Each one a column of selectors.TICKET_ROW_FIELDS: the cursor reads it from the page's rows.
    ordering_fields = ["created_at", "updated_at", "id"]

    @extend_schema(request=TicketCreateInput, responses={201: TicketOutput})
    def create(self, request):
        data = validated(TicketCreateInput, request.data)
        if "created_at" in data and not request.user.has_role(Role.ADMIN):
            raise ApiError(403, "permission_denied", ERR_CREATED_AT_ROLE, {"created_at": [ERR_CREATED_AT_ROLE]})
        requester = data.pop("requester")
        ticket, clocks = workflows.ticket_open_with_clocks(
            tenant=request.user.tenant,
            actor=request.user,
            requester_email=requester["email"],
            requester_name=requester["name"],
            **data,
        )
        return Response(ticket_output_in_memory(ticket, clocks), status=status.HTTP_201_CREATED)

    def list(self, request):
        # Filters and ordering apply to the model queryset; the page is read as plain rows.
        rows = self.paginate_queryset(selectors.ticket_rows(self.filter_queryset(self.get_queryset())))
        return self.get_paginated_response(ticket_outputs(rows, tenant=request.user.tenant))

    def retrieve(self, request, pk=None):
        return Response(self._output(pk))

    @extend_schema(request=TicketUpdateInput, responses={200: TicketOutput})
    def partial_update(self, request, pk=None):
        ticket = self.get_object()
        changes = validated(TicketUpdateInput, request.data)
        clear_review = changes.pop("needs_review", None) is False
        try:
            with transaction.atomic():
                if changes:
                    workflows.ticket_update(ticket=ticket, actor=request.user, **changes)
                if clear_review:
                    workflows.ticket_review_clear(ticket=ticket, actor=request.user)
        except TicketError as exc:
            _raise_ticket_error(exc)
        return Response(self._output(ticket.pk))

    @extend_schema(methods=["GET"], responses={200: DisputeOutput(many=True)})
    @extend_schema(methods=["POST"], request=DisputeInput, responses={201: DisputeOutput})
    @action(detail=True, methods=["get", "post"], **THREAD)
    def disputes(self, request, pk=None):
        """Billing disputes recorded on the ticket; a new one is evaluated by the matrix's dispute rules ("a
        billing dispute above $Y goes to finance") before the answer."""
        ticket = self.get_object()
        if request.method == "GET":
            return self._thread(Dispute.objects.filter(ticket=ticket).order_by("created_at", "id"), DisputeOutput)
        dispute = workflows.dispute_record(ticket=ticket, actor=request.user, **validated(DisputeInput, request.data))
        return Response(DisputeOutput(dispute).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReopenInput, responses={200: TicketOutput})
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        """Explicitly reopen a solved or closed ticket."""
        ticket = self.get_object()
        try:
            workflows.ticket_reopen(ticket=ticket, actor=request.user, **validated(ReopenInput, request.data or {}))
        except TicketError as exc:
            _raise_ticket_error(exc)
        return Response(self._output(ticket.pk))

    @extend_schema(methods=["GET"], responses={200: MessageOutput(many=True)})
    @extend_schema(methods=["POST"], request=MessageInput, responses={201: MessageOutput})
    @action(detail=True, methods=["get", "post"], **THREAD)
    def messages(self, request, pk=None):
        ticket = self.get_object()
        if request.method == "GET":
            return self._thread(selectors.message_list(tenant=request.user.tenant, ticket=ticket), MessageOutput)
        data = validated(MessageInput, request.data)
        message = workflows.message_receive(ticket=ticket, actor=request.user, **data)
        return Response(MessageOutput(message).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], responses={200: AttemptOutput(many=True)})
    @extend_schema(methods=["POST"], request=AttemptInput, responses={201: AttemptOutput})
    @action(detail=True, methods=["get", "post"], **THREAD)
    def attempts(self, request, pk=None):
        ticket = self.get_object()
        if request.method == "GET":
            return self._thread(ResolutionAttempt.objects.filter(ticket=ticket), AttemptOutput)
        attempt = workflows.attempt_record(ticket=ticket, actor=request.user, **validated(AttemptInput, request.data))
        return Response(AttemptOutput(attempt).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: EventOutput(many=True)})
    @action(detail=True, methods=["get"], **THREAD)
    def events(self, request, pk=None):
        ticket = self.get_object()
        return self._thread(selectors.event_list(tenant=request.user.tenant, ticket=ticket), EventOutput)

    def _output(self, ticket_id: int) -> dict:
        """One ticket as the list shows it, read as a row of this view's tenant-scoped queryset: another
        tenant's ticket is not in it and answers 404, exactly as a missing one."""
        rows = list(selectors.ticket_rows(self.get_queryset().filter(pk=ticket_id)))
        if not rows:
            raise Http404
        return ticket_outputs(rows, tenant=self.request.user.tenant)[0]

    def _thread(self, queryset, serializer):
        paginator = ThreadPagination()
        page = paginator.paginate_queryset(queryset, self.request, view=None)
        return paginator.get_paginated_response(serializer(page, many=True).data)
