"""REST API of what calls and resolved cases know: the ticket's escalation brief (JSON and Markdown), similar
resolved cases with repeated root causes, /knowledge/, and the members' private calendar feeds."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.response import Response

from callnotes import brief, knowledge, selectors
from callnotes.api import _ticket
from callnotes.models import KnowledgeEntry
from helpdesk import workflows
from helpdesk.api import StrictSerializer, validated
from helpdesk.errors import ApiError
from helpdesk.fields import TenantPrimaryKeyRelatedField
from helpdesk.models import Membership, Role

ERR_FEED_OTHER = "Only a manager may manage another member's calendar feed."
ERR_FEED_WHO = "Name the member (an API token has no calendar of its own)."


class KnowledgeOutput(serializers.ModelSerializer):
    resolved_by_name = serializers.SerializerMethodField()
    rank = serializers.FloatField(read_only=True, help_text="relevance: root cause weighs most, then resolution")

    class Meta:
        model = KnowledgeEntry
        fields = [
            "id",
            "kind",
            "ticket",
            "call",
            "title",
            "category",
            "root_cause",
            "resolution",
            "tags",
            "resolved_by",
            "resolved_by_name",
            "resolved_at",
            "rank",
        ]

    def get_resolved_by_name(self, entry) -> str | None:
        return entry.resolved_by.user.get_username() if entry.resolved_by_id else None


class RepeatOutput(serializers.Serializer):
    root_cause = serializers.CharField()
    count = serializers.IntegerField()
    days = serializers.IntegerField()
    flag = serializers.CharField(help_text='e.g. "seen 4 times in 30 days"')


class SimilarOutput(serializers.Serializer):
    results = KnowledgeOutput(many=True)
    repeated_root_causes = RepeatOutput(many=True)


class BriefOutput(serializers.Serializer):
    ticket = serializers.JSONField()
    account = serializers.JSONField(allow_null=True)
    reported = serializers.JSONField(help_text="description, first customer messages, key sentences")
    investigated = serializers.JSONField(help_text="internal notes")
    steps_taken = serializers.JSONField(help_text="resolution attempts")
    escalations = serializers.JSONField(help_text="each with its five-field summary and outcome")
    calls = serializers.JSONField()
    status = serializers.JSONField()
    sla = serializers.JSONField()
    sentiment = serializers.JSONField()
    repeated_root_causes = serializers.JSONField()
    generated_at = serializers.DateTimeField()
    markdown = serializers.CharField(help_text="the same brief as Markdown, for printing")


class FeedInput(StrictSerializer):
    member = TenantPrimaryKeyRelatedField(model=Membership, required=False, allow_null=True, default=None)


class FeedOutput(serializers.Serializer):
    member = serializers.IntegerField()
    url = serializers.CharField(help_text="private: whoever has it sees the member's calls; shown once")
    created_at = serializers.DateTimeField()


@extend_schema(responses={200: BriefOutput})
@api_view(["GET"])
def ticket_brief(request, pk: int):
    """The escalation brief: what the customer reported, what was investigated, steps taken, escalations and
    calls, current status and SLA state — as JSON, and as Markdown in `markdown`."""
    return Response(brief.ticket_brief(_ticket(request, pk)))


@extend_schema(responses={200: SimilarOutput})
@api_view(["GET"])
def ticket_similar(request, pk: int):
    """Resolved cases like this ticket, most relevant first, with who resolved them; and root causes that
    similar cases shared in the last 30 days ("seen 4 times in 30 days")."""
    ticket = _ticket(request, pk)
    repeats = knowledge.repeated_root_causes(ticket)
    body = {
        "results": KnowledgeOutput(knowledge.similar(ticket), many=True).data,
        "repeated_root_causes": RepeatOutput(
            [{"root_cause": r.root_cause, "count": r.count, "days": r.days, "flag": r.flag} for r in repeats], many=True
        ).data,
    }
    return Response(body)


# --- knowledge ------------------------------------------------------------------------------------------


class KnowledgePage(serializers.Serializer):
    results = KnowledgeOutput(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


@extend_schema(
    parameters=[OpenApiParameter("q", str, required=True, description="words to look for")],
    responses={200: KnowledgePage},
)
@api_view(["GET"])
def knowledge_search(request):
    """Resolved tickets and call summaries, the most relevant first (root cause weighs most, then resolution
    and title, then category and tags), with who resolved each. At most 50."""
    text = request.query_params.get("q", "").strip()
    if not text or len(text) > 500:
        raise ApiError(400, "invalid", "q: 1 to 500 characters.", {"q": ["Give 1 to 500 characters."]})
    found = selectors.knowledge_search(tenant=request.user.tenant, text=text)[:50]
    # The list shape of every list (API.md); one ranked page: the 50 most relevant, no cursor beyond it.
    return Response({"results": KnowledgeOutput(found, many=True).data, "next": None, "previous": None})


# --- calendar feeds -------------------------------------------------------------------------------------


def _feed_member(request, member: Membership | None) -> Membership:
    principal = request.user
    if member is None:
        if principal.membership is None:
            raise ApiError(400, "invalid", ERR_FEED_WHO, {"member": [ERR_FEED_WHO]})
        return principal.membership
    if principal.membership is not None and member.pk == principal.membership.pk:
        return member
    if not principal.has_role(Role.MANAGER):
        raise ApiError(403, "permission_denied", ERR_FEED_OTHER)
    return member


@extend_schema(request=FeedInput, responses={201: FeedOutput})
@api_view(["POST"])
def calendar_feed_create(request):
    """A private calendar URL listing the member's calls (yours by default; a manager may make one for a
    member). Making a new one revokes the old one. The URL is shown once."""
    member = _feed_member(request, validated(FeedInput, request.data)["member"])
    feed, key = workflows.calendar_feed_create(member=member, actor=request.user)
    url = request.build_absolute_uri(f"/api/v1/calendar-feeds/{key}.ics")
    return Response({"member": member.pk, "url": url, "created_at": feed.created_at}, status=status.HTTP_201_CREATED)


@extend_schema(request=FeedInput, responses={204: None})
@api_view(["POST"])
def calendar_feed_revoke(request):
    """Ends the member's calendar URL (yours by default)."""
    member = _feed_member(request, validated(FeedInput, request.data)["member"])
    workflows.calendar_feed_revoke(member=member, actor=request.user)
    return Response(status=status.HTTP_204_NO_CONTENT)
