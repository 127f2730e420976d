"""REST API of calls: POST /tickets/{id}/calls/ (schedule), /calls/ (+ invite.ics, notes, reschedule, cancel,
start, no-show, complete, approve-summary, transcript, attachments, action-items), /action-items/ (+ done),
/attachments/ (+ download), /call-note-templates/ (manager+ to write), the ticket's calls, action items and
attachments. The brief, similar cases, /knowledge/ and the calendar feeds are in api_cases.py.

Each view validates with an input serializer, calls one workflow or selector, and answers with an output
serializer; objects are looked up inside the caller's tenant, so another tenant's id is a 404."""

from __future__ import annotations

import django_filters as filters
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action, api_view, parser_classes
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response

from callnotes import downloads, rights, selectors
from callnotes.errors import CallError
from callnotes.models import (
    MAX_ATTENDEES,
    MAX_CALL_MINUTES,
    SECTIONS,
    ActionItem,
    ActionItemStatus,
    Attachment,
    Call,
    CallNoteTemplate,
    CallStatus,
)
from callnotes.transcript import MAX_TRANSCRIPT_CHARS
from helpdesk import workflows
from helpdesk.api import StrictSerializer, TenantViewSet, validated
from helpdesk.errors import ApiError
from helpdesk.fields import AwareDateTimeField, IntegerFilter, IsoDateTimeFilter, TenantPrimaryKeyRelatedField
from helpdesk.filtering import FilterSet
from helpdesk.models import Membership, Role, validate_timezone
from tickets.models import Message, Ticket
from tickets.selectors import ticket_get

# Multipart framing around the file itself; a request announcing more than limit + this is refused unread.
MULTIPART_OVERHEAD = 64 * 1024
MAX_TRANSCRIPT_BYTES = MAX_TRANSCRIPT_CHARS * 2  # UTF-8 and JSON escaping around half a million characters
ERR_TRANSCRIPT = "Give the transcript as `text` or as an uploaded text `file`."


def _raise(exc: CallError):
    raise ApiError(exc.status, exc.code, str(exc), exc.fields) from None


def _ticket(request, pk: int) -> Ticket:
    try:
        return ticket_get(tenant=request.user.tenant, ticket_id=pk)
    except Ticket.DoesNotExist:
        raise ApiError(404, "not_found", "Not found.") from None


def _refuse_large(request, limit: int) -> None:
    """A body announced larger than the limit is refused before it is read (and so before it is stored)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        message = f"The request is larger than the limit of {limit} bytes."
        raise ApiError(413, "request_too_large", message, {"file": [message]})


# --- outputs ------------------------------------------------------------------------------------------


class CallOutput(serializers.ModelSerializer):
    scheduled_end = serializers.DateTimeField(read_only=True, allow_null=True)
    start_in_tenant_zone = serializers.SerializerMethodField(help_text="the start in the tenant's time zone")
    start_in_customer_zone = serializers.SerializerMethodField(help_text="the start in the customer's time zone")
    agent_name = serializers.SerializerMethodField()
    invite_url = serializers.SerializerMethodField(help_text="the .ics invite (agents of the tenant)")

    class Meta:
        model = Call
        fields = [
            "id",
            "ticket",
            "escalation",
            "status",
            "template",
            "suggested_trigger",
            "suggested_reason",
            "scheduled_start",
            "scheduled_end",
            "duration_minutes",
            "timezone",
            "start_in_tenant_zone",
            "start_in_customer_zone",
            "agent",
            "agent_name",
            "routing",
            "attendees",
            "stakeholders",
            "uid",
            "sequence",
            "created_at",
            "scheduled_at",
            "started_at",
            "ended_at",
            "cancelled_at",
            "cancel_reason",
            "handoff_seconds",
            "root_cause",
            "resolution",
            "customer_summary",
            "summary_sent_at",
            "summary_approved_by",
            "invite_url",
        ]

    def _times(self, call):
        return selectors.call_times(call)

    def get_start_in_tenant_zone(self, call) -> str | None:
        times = self._times(call)
        return times.start_tenant if times else None

    def get_start_in_customer_zone(self, call) -> str | None:
        times = self._times(call)
        return times.start_customer if times else None

    def get_agent_name(self, call) -> str | None:
        return call.agent.user.get_username() if call.agent_id else None

    def get_invite_url(self, call) -> str | None:
        return f"/api/v1/calls/{call.pk}/invite.ics" if call.scheduled_start else None


class NoteFieldOutput(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    type = serializers.CharField()
    required = serializers.CharField()
    visibility = serializers.CharField()
    choices = serializers.ListField(child=serializers.CharField(), required=False)
    value = serializers.JSONField(allow_null=True)


class NoteSectionsOutput(serializers.Serializer):
    pre_call = NoteFieldOutput(many=True)
    live = NoteFieldOutput(many=True)
    post_call = NoteFieldOutput(many=True)


class NoteOutput(serializers.Serializer):
    call = serializers.IntegerField()
    template = serializers.IntegerField()
    template_version = serializers.IntegerField(help_text="the version the note was opened with; later edits leave it")
    sections = NoteSectionsOutput()
    brief = serializers.JSONField(help_text="the pre-call brief as drafted when the note was opened")
    live_draft = serializers.JSONField(help_text="a transcript's draft of the live notes, for review; never sent")
    updated_at = serializers.DateTimeField()
    updated_by = serializers.CharField()


def _note_output(note) -> dict:
    sections = {
        section: [
            {**field, "value": note.values.get(section, {}).get(field["key"])} for field in note.fields.get(section, [])
        ]
        for section in SECTIONS
    }
    return NoteOutput(
        {
            "call": note.call_id,
            "template": note.template_id,
            "template_version": note.template_version,
            "sections": sections,
            "brief": note.brief,
            "live_draft": note.live_draft,
            "updated_at": note.updated_at,
            "updated_by": note.updated_by,
        }
    ).data


class ActionItemOutput(serializers.ModelSerializer):
    owner_name = serializers.SerializerMethodField()

    class Meta:
        model = ActionItem
        fields = [
            "id",
            "call",
            "ticket",
            "description",
            "owner",
            "owner_name",
            "due",
            "status",
            "created_at",
            "done_at",
        ]

    def get_owner_name(self, item) -> str:
        return item.owner.user.get_username()


class AttachmentOutput(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = [
            "id",
            "ticket",
            "message",
            "call",
            "name",
            "content_type",
            "size",
            "sha256",
            "uploaded_by",
            "uploaded_by_label",
            "created_at",
            "download_url",
        ]

    def get_download_url(self, attachment) -> str:
        return f"/api/v1/attachments/{attachment.pk}/download/"


class TemplateOutput(serializers.ModelSerializer):
    class Meta:
        model = CallNoteTemplate
        fields = ["id", "name", "sections", "version", "is_default", "active", "created_at", "updated_at"]


# --- inputs -------------------------------------------------------------------------------------------


class CallScheduleInput(StrictSerializer):
    scheduled_start = AwareDateTimeField()
    duration_minutes = serializers.IntegerField(min_value=1, max_value=MAX_CALL_MINUTES)
    agent = TenantPrimaryKeyRelatedField(
        model=Membership, required=False, allow_null=True, default=None, help_text="absent: routed"
    )
    attendees = serializers.ListField(
        child=serializers.EmailField(max_length=254), max_length=MAX_ATTENDEES, default=list
    )
    stakeholders = serializers.ListField(
        child=TenantPrimaryKeyRelatedField(model=Membership),
        max_length=20,
        default=list,
        help_text="internal people (legal, engineering, product) by member id",
    )
    template = TenantPrimaryKeyRelatedField(model=CallNoteTemplate, required=False, allow_null=True, default=None)
    timezone = serializers.CharField(
        max_length=64, required=False, allow_blank=True, default="", validators=[validate_timezone]
    )
    pre_call = serializers.DictField(required=False, default=dict, help_text="pre-call note fields by key")

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        value["timezone_name"] = value.pop("timezone")
        return value


class RescheduleInput(StrictSerializer):
    scheduled_start = AwareDateTimeField()
    duration_minutes = serializers.IntegerField(min_value=1, max_value=MAX_CALL_MINUTES)


class CancelInput(StrictSerializer):
    reason = serializers.CharField(max_length=2000)


class NoteInput(StrictSerializer):
    pre_call = serializers.DictField(required=False)
    live = serializers.DictField(required=False)
    post_call = serializers.DictField(required=False)


class ActionItemInput(StrictSerializer):
    description = serializers.CharField(max_length=1000)
    owner = TenantPrimaryKeyRelatedField(model=Membership)
    due = serializers.DateField()


class CompleteInput(StrictSerializer):
    # Blank is accepted here so that the completion names every empty required field at once (the service).
    root_cause = serializers.CharField(max_length=300, allow_blank=True, default="", help_text="one sentence")
    resolution = serializers.CharField(max_length=20_000, allow_blank=True, default="")
    customer_summary = serializers.CharField(max_length=20_000, allow_blank=True, default="")
    action_items = ActionItemInput(many=True, required=False, default=list)
    tags = serializers.ListField(child=serializers.SlugField(max_length=50), max_length=20, default=list)


class ApproveInput(StrictSerializer):
    body = serializers.CharField(
        max_length=20_000, required=False, allow_blank=True, default="", help_text="edited text; empty: as drafted"
    )


class TranscriptInput(StrictSerializer):
    text = serializers.CharField(max_length=MAX_TRANSCRIPT_CHARS, required=False)
    file = serializers.FileField(required=False)

    def validate(self, data):
        if ("text" in data) == ("file" in data):
            raise serializers.ValidationError({"text": [ERR_TRANSCRIPT]})
        return data


class UploadInput(StrictSerializer):
    file = serializers.FileField()
    message = TenantPrimaryKeyRelatedField(model=Message, required=False, allow_null=True, default=None)
    call = TenantPrimaryKeyRelatedField(model=Call, required=False, allow_null=True, default=None)
    field = serializers.RegexField(
        r"^([a-z][a-z0-9_]{0,49})?$", required=False, allow_blank=True, default="", help_text="a note's artifact field"
    )


class CallUploadInput(StrictSerializer):
    file = serializers.FileField()
    field = serializers.RegexField(r"^([a-z][a-z0-9_]{0,49})?$", required=False, allow_blank=True, default="")


class TemplateInput(StrictSerializer):
    name = serializers.CharField(max_length=100)
    sections = serializers.JSONField()
    is_default = serializers.BooleanField(default=False)
    active = serializers.BooleanField(default=True)


# --- the ticket's calls, action items, attachments -------------------------------


@extend_schema(methods=["GET"], responses={200: CallOutput(many=True)})
@extend_schema(methods=["POST"], request=CallScheduleInput, responses={201: CallOutput})
@api_view(["GET", "POST"])
def ticket_calls(request, pk: int):
    """Schedule a call on the ticket (its open call request if a rule or an escalation asked for one): a window
    in the future, 1-480 minutes, an agent free then (routed by skill, tier, availability and spare capacity
    when absent), attendees' e-mails; the note's fields required for scheduling must be filled (400 naming
    each). GET lists the ticket's calls."""
    ticket = _ticket(request, pk)
    if request.method == "GET":
        return Response(CallOutput(selectors.calls_of_ticket(ticket=ticket), many=True).data)
    data = validated(CallScheduleInput, request.data)
    try:
        call = workflows.call_schedule(ticket=ticket, actor=request.user, **data)
    except CallError as exc:
        _raise(exc)
    return Response(CallOutput(call).data, status=status.HTTP_201_CREATED)


@extend_schema(
    parameters=[OpenApiParameter("status", str, enum=["open", "done", "all"], description="default: open")],
    responses={200: ActionItemOutput(many=True)},
)
@api_view(["GET"])
def ticket_action_items(request, pk: int):
    """The ticket's action items from its calls: the open ones (listed until done), or ?status=done|all."""
    ticket = _ticket(request, pk)
    wanted = request.query_params.get("status", "open")
    if wanted not in ("open", "done", "all"):
        raise ApiError(400, "invalid", "status: open, done or all.", {"status": ["Use open, done or all."]})
    items = selectors.ticket_action_items(ticket=ticket, open_only=False)
    if wanted != "all":
        items = items.filter(status=wanted)
    return Response(ActionItemOutput(items, many=True).data)


def _upload(request, *, ticket: Ticket, call: Call | None, input_serializer):
    _refuse_large(request, selectors.upload_limit(request.user.tenant) + MULTIPART_OVERHEAD)
    data = validated(input_serializer, request.data)
    call = data.get("call") or call
    try:
        attachment = workflows.attachment_add(
            ticket=ticket,
            actor=request.user,
            upload=data["file"],
            message=data.get("message"),
            call=call,
            field=data.get("field", ""),
        )
    except CallError as exc:
        _raise(exc)
    return Response(AttachmentOutput(attachment).data, status=status.HTTP_201_CREATED)


@extend_schema(methods=["GET"], responses={200: AttachmentOutput(many=True)})
@extend_schema(methods=["POST"], request={"multipart/form-data": UploadInput}, responses={201: AttachmentOutput})
@api_view(["GET", "POST"])
@parser_classes([MultiPartParser])
def ticket_attachments(request, pk: int):
    """Files on the ticket (logs, screenshots, documents), optionally on one of its messages or calls. Over the
    tenant's size limit: 413; HTML, SVG, programs or another type: 415."""
    ticket = _ticket(request, pk)
    if request.method == "GET":
        items = selectors.attachment_list(tenant=request.user.tenant).filter(ticket=ticket).order_by("created_at")
        return Response(AttachmentOutput(items, many=True).data)
    return _upload(request, ticket=ticket, call=None, input_serializer=UploadInput)


# --- calls --------------------------------------------------------------------------------------------


class CallFilter(FilterSet):
    status = filters.MultipleChoiceFilter(choices=CallStatus.choices)
    # The strict filters of helpdesk.fields: a time PostgreSQL can't take (an offset beyond ±16 h, a year
    # before 1 AD once its offset is applied) or a fractional id is a 400 naming the parameter, not a 500.
    agent = IntegerFilter()
    ticket = IntegerFilter()
    escalation = IntegerFilter()
    scheduled_after = IsoDateTimeFilter(field_name="scheduled_start", lookup_expr="gte")
    scheduled_before = IsoDateTimeFilter(field_name="scheduled_start", lookup_expr="lt")

    class Meta:
        model = Call
        fields = []


def _authorize(call: Call, request, action_name: str) -> None:
    """A call's agent acts on it, and so do managers; an integration token acts with its role (API.md)."""
    if not rights.may_act(call, request.user):
        raise ApiError(403, "permission_denied", rights.ERR_NOT_YOURS.format(action=action_name))


class CallViewSet(mixins.ListModelMixin, TenantViewSet):
    """Calls: requested (by a rule with to_call, or "escalate to a call") → scheduled → in_progress →
    completed | no_show | cancelled."""

    selector = staticmethod(selectors.call_list)
    serializer_class = CallOutput
    filterset_class = CallFilter
    ordering_fields = ["created_at", "scheduled_start", "id"]

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()).select_related("ticket__tenant"))
        return self.get_paginated_response(CallOutput(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(CallOutput(self._call()).data)

    def _call(self) -> Call:
        try:
            return selectors.call_get(tenant=self.request.user.tenant, call_id=int(self.kwargs["pk"]))
        except Call.DoesNotExist:
            raise Http404 from None

    def _act(self, request, workflow, input_serializer=None, action_name="change"):
        call = self._call()
        _authorize(call, request, action_name)
        data = validated(input_serializer, request.data) if input_serializer is not None else {}
        try:
            call = workflow(call=call, actor=request.user, **data)
        except CallError as exc:
            _raise(exc)
        return Response(CallOutput(call).data)

    @extend_schema(methods=["GET"], responses={200: NoteOutput})
    @extend_schema(methods=["PATCH"], request=NoteInput, responses={200: NoteOutput})
    @action(detail=True, methods=["get", "patch"])
    def notes(self, request, pk=None):
        """The call's notes in its template's sections (pre_call, live, post_call), each field with its value,
        the pre-call brief and a transcript's draft. PATCH sets values by section and key."""
        call = self._call()
        if request.method == "GET":
            note = selectors.note_of(call)
            if note is None:
                raise ApiError(404, "not_found", "This call has no notes yet: schedule it first.")
            return Response(_note_output(note))
        data = validated(NoteInput, request.data)
        try:
            note = workflows.call_note_update(call=call, actor=request.user, changes=data)
        except CallError as exc:
            _raise(exc)
        return Response(_note_output(note))

    @extend_schema(request=RescheduleInput, responses={200: CallOutput})
    @action(detail=True, methods=["post"])
    def reschedule(self, request, pk=None):
        return self._act(request, workflows.call_reschedule, RescheduleInput, "reschedule")

    @extend_schema(request=CancelInput, responses={200: CallOutput})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._act(request, workflows.call_cancel, CancelInput, "cancel")

    @extend_schema(request=None, responses={200: CallOutput})
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        return self._act(request, workflows.call_start, None, "start")

    @extend_schema(request=None, responses={200: CallOutput})
    @action(detail=True, methods=["post"], url_path="no-show")
    def no_show(self, request, pk=None):
        return self._act(request, workflows.call_no_show, None, "mark")

    @extend_schema(request=CompleteInput, responses={200: CallOutput})
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        """Completes the call: root cause (one sentence), resolution, action items (owner, due date) and the
        customer-facing summary; any field the template requires left empty is a 400 naming it."""
        return self._act(request, workflows.call_complete, CompleteInput, "complete")

    @extend_schema(request=ApproveInput, responses={201: OpenApiResponse(description="the message posted")})
    @action(detail=True, methods=["post"], url_path="approve-summary")
    def approve_summary(self, request, pk=None):
        """A person approves the customer-facing summary (as drafted, or edited in `body`): it is posted on the
        ticket as a public reply, once. Nothing reaches the customer before this."""
        call = self._call()
        _authorize(call, request, "approve the summary of")
        data = validated(ApproveInput, request.data)
        try:
            message = workflows.call_summary_send(call=call, actor=request.user, **data)
        except CallError as exc:
            _raise(exc)
        return Response({"message": message.pk, "body": message.body}, status=status.HTTP_201_CREATED)

    @extend_schema(
        request={"application/json": TranscriptInput, "multipart/form-data": TranscriptInput},
        responses={200: NoteOutput},
    )
    @action(detail=True, methods=["post"], parser_classes=[JSONParser, MultiPartParser])
    def transcript(self, request, pk=None):
        """A pasted (`text`) or uploaded (`file`) transcript becomes a draft of the live notes — key sentences,
        action items with owner and date phrases, sentiment — kept in the note's `live_draft` for review.
        Nothing is sent. Over 500,000 characters (about 1 MB): 413."""
        _refuse_large(request, MAX_TRANSCRIPT_BYTES + MULTIPART_OVERHEAD)
        call = self._call()
        data = validated(TranscriptInput, request.data)
        text = data.get("text")
        if text is None:
            raw = data["file"].read(MAX_TRANSCRIPT_BYTES + 1)
            text = raw.decode("utf-8", errors="replace")
            if len(raw) > MAX_TRANSCRIPT_BYTES or len(text) > MAX_TRANSCRIPT_CHARS:
                raise ApiError(413, "request_too_large", f"A transcript has at most {MAX_TRANSCRIPT_CHARS} characters.")
        try:
            note = workflows.call_transcript_draft(call=call, actor=request.user, text=text)
        except CallError as exc:
            _raise(exc)
        return Response(_note_output(note))

    @extend_schema(methods=["GET"], responses={200: AttachmentOutput(many=True)})
    @extend_schema(
        methods=["POST"], request={"multipart/form-data": CallUploadInput}, responses={201: AttachmentOutput}
    )
    @action(
        detail=True,
        methods=["get", "post"],
        parser_classes=[MultiPartParser],
        filter_backends=[],
        pagination_class=None,
    )
    def attachments(self, request, pk=None):
        """The call's files; an upload naming one of the note's artifact fields (`field`) fills that field."""
        call = self._call()
        if request.method == "GET":
            return Response(AttachmentOutput(selectors.attachments_of_call(call=call), many=True).data)
        return _upload(request, ticket=call.ticket, call=call, input_serializer=CallUploadInput)

    @extend_schema(responses={200: ActionItemOutput(many=True)})
    @action(detail=True, methods=["get"], url_path="action-items", filter_backends=[], pagination_class=None)
    def action_items(self, request, pk=None):
        return Response(ActionItemOutput(selectors.action_items_of_call(call=self._call()), many=True).data)


@extend_schema(responses={(200, "text/calendar"): OpenApiTypes.STR})
@api_view(["GET"])
def call_invite(request, pk: int):
    """The RFC 5545 invite: the same UID for the call's whole life, SEQUENCE raised by each reschedule or
    cancel (METHOD:CANCEL once cancelled), times in the customer's zone with its VTIMEZONE."""
    try:
        call = selectors.call_get(tenant=request.user.tenant, call_id=pk)
    except Call.DoesNotExist:
        raise ApiError(404, "not_found", "Not found.") from None
    if call.scheduled_start is None:
        raise ApiError(409, "not_scheduled", "The call is not scheduled yet.")
    return downloads.invite_response(call)


# --- action items, attachments --------------------------------------------------------------------------


class ActionItemFilter(FilterSet):
    status = filters.ChoiceFilter(choices=ActionItemStatus.choices)
    owner = IntegerFilter()
    ticket = IntegerFilter()
    call = IntegerFilter()
    due_before = filters.DateFilter(field_name="due", lookup_expr="lte")

    class Meta:
        model = ActionItem
        fields = []


class ActionItemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Follow-ups agreed on calls: owner, due date, a reminder on the due date, open until done."""

    selector = staticmethod(selectors.action_item_list)
    serializer_class = ActionItemOutput
    filterset_class = ActionItemFilter
    ordering_fields = ["due", "created_at", "id"]

    @extend_schema(request=None, responses={200: ActionItemOutput})
    @action(detail=True, methods=["post"])
    def done(self, request, pk=None):
        item = workflows.action_item_done(item=self.get_object(), actor=request.user)
        return Response(ActionItemOutput(item).data)


class AttachmentViewSet(mixins.RetrieveModelMixin, TenantViewSet):
    """Attachments: metadata, the download (members of the tenant only, always as a file), and removal
    (managers)."""

    selector = staticmethod(selectors.attachment_list)
    serializer_class = AttachmentOutput

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        """The file, as a download with the type it was accepted as: never rendered inline by the browser
        (Content-Disposition: attachment, X-Content-Type-Options: nosniff, a sandboxing CSP)."""
        return downloads.attachment_response(self.get_object())

    def destroy(self, request, pk=None):
        if not request.user.has_role(Role.MANAGER):
            raise ApiError(403, "permission_denied", "Only a manager may remove an attachment.")
        workflows.attachment_remove(attachment=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- call-note templates --------------------------------------------------------------------------------


class TemplateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Call-note templates (manager or admin to write). Editing the fields raises the version; notes keep the
    version they were opened with. DELETE removes a template nothing refers to, and retires one in use
    (`active: false`, kept for history) — 204 either way."""

    selector = staticmethod(selectors.template_list)
    serializer_class = TemplateOutput
    write_role = Role.MANAGER
    filterset_fields = ["active", "is_default"]
    ordering_fields = ["name", "created_at", "id"]

    @extend_schema(request=TemplateInput, responses={201: TemplateOutput})
    def create(self, request):
        data = validated(TemplateInput, request.data)
        try:
            template = workflows.call_template_create(tenant=request.user.tenant, actor=request.user, **data)
        except CallError as exc:
            _raise(exc)
        return Response(TemplateOutput(template).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TemplateInput, responses={200: TemplateOutput})
    def partial_update(self, request, pk=None):
        template = self.get_object()
        data = validated(TemplateInput, request.data, partial=True)
        try:
            template = workflows.call_template_update(template=template, actor=request.user, **data)
        except CallError as exc:
            _raise(exc)
        return Response(TemplateOutput(template).data)

    def destroy(self, request, pk=None):
        workflows.call_template_delete(template=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
