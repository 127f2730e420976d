"""API of the tenancy objects: /me/, /teams/ (read for every member; teams are managed in admin) and
/members/ (read for every member, written by admins). Member writes go through helpdesk.workflows; what a
member may be is checked in one place, helpdesk.members."""

import django_filters as filters
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework import mixins, serializers, status
from rest_framework.decorators import api_view
from rest_framework.response import Response

from helpdesk import workflows
from helpdesk.api import StrictSerializer, TenantViewSet, validated
from helpdesk.errors import ApiError
from helpdesk.fields import BooleanFilter, IntegerFilter, TenantPrimaryKeyRelatedField
from helpdesk.filtering import FilterSet
from helpdesk.filters import TenantModelChoiceFilter
from helpdesk.members import MemberError
from helpdesk.models import Membership, Role, Team
from helpdesk.selectors import membership_list, team_list
from helpdesk.tenancy import introspection_only

# Long enough for any passphrase, short enough that hashing it costs nothing unusual.
MAX_PASSWORD = 256


class TeamOutput(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "skills", "tier", "created_at"]


class TeamViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    serializer_class = TeamOutput
    selector = staticmethod(team_list)
    ordering_fields = ["name", "tier", "created_at"]
    filterset_fields = ["tier"]


# --- members ------------------------------------------------------------------------------------


class MemberOutput(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")
    email = serializers.CharField(source="user.email")
    name = serializers.CharField(source="user.get_full_name")
    teams = serializers.PrimaryKeyRelatedField(many=True, read_only=True, help_text="team ids")

    class Meta:
        model = Membership
        fields = [
            "id",
            "username",
            "email",
            "name",
            "role",
            "tier",
            "skills",
            "capacity",
            "available",
            "teams",
            "active",
            "created_at",
        ]


# The seat's fields come from the Membership model (role, tier 0..3, skills as slugs, capacity >= 0): the
# same definitions the services check with full_clean, so the API can't accept what they refuse.
class MemberUpdateInput(StrictSerializer, serializers.ModelSerializer):
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    name = serializers.CharField(max_length=300, required=False, allow_blank=True)
    teams = TenantPrimaryKeyRelatedField(model=Team, many=True, required=False, help_text="team ids")

    class Meta:
        model = Membership
        fields = ["email", "name", "role", "tier", "skills", "capacity", "available", "active", "teams"]
        extra_kwargs = {"active": {"help_text": "false deactivates (as DELETE does); true gives the seat back"}}


class MemberCreateInput(MemberUpdateInput):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(
        write_only=True,
        required=False,
        trim_whitespace=False,
        max_length=MAX_PASSWORD,
        help_text="write-only; checked by the password validators. Omit it to e-mail an invitation instead "
        "(then `email` is required).",
    )

    class Meta(MemberUpdateInput.Meta):
        # A new seat is active: `active` is for changes only.
        fields = ["username", "password", *(name for name in MemberUpdateInput.Meta.fields if name != "active")]


class MemberFilterSet(FilterSet):
    role = filters.ChoiceFilter(choices=Role.choices)
    tier = IntegerFilter()
    skill = filters.CharFilter(method="filter_skill", max_length=50)
    team = TenantModelChoiceFilter(model=Team, field_name="teams")
    active = BooleanFilter()
    available = BooleanFilter()

    class Meta:
        model = Membership
        fields = []

    def filter_skill(self, queryset, name, value):
        return queryset.filter(skills__contains=[value])


def _refused(exc: MemberError):
    raise ApiError(exc.status, exc.code, str(exc), exc.fields) from None


class MemberViewSet(mixins.ListModelMixin, TenantViewSet):
    """The tenant's people and their seats (role, tier, skills, capacity, teams). Every member reads; admins
    add, change and deactivate. Users are global: a username that exists anywhere is refused (409)."""

    selector = staticmethod(membership_list)
    serializer_class = MemberOutput
    filterset_class = MemberFilterSet
    write_role = Role.ADMIN
    ordering_fields = ["created_at", "id"]

    def retrieve(self, request, pk=None):
        return Response(MemberOutput(self.get_object()).data)

    @extend_schema(request=MemberCreateInput, responses={201: MemberOutput})
    def create(self, request):
        data = validated(MemberCreateInput, request.data)
        try:
            membership = workflows.member_add(tenant=request.user.tenant, actor=request.user, **data)
        except MemberError as exc:
            _refused(exc)
        return Response(MemberOutput(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MemberUpdateInput, responses={200: MemberOutput})
    def partial_update(self, request, pk=None):
        membership = self.get_object()
        changes = validated(MemberUpdateInput, request.data, partial=True)
        try:
            membership = workflows.member_update(membership=membership, actor=request.user, **changes)
        except MemberError as exc:
            _refused(exc)
        return Response(MemberOutput(membership).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        """Deactivates the seat: the person can't sign in here or receive work; history keeps their name."""
        membership = self.get_object()
        try:
            workflows.member_deactivate(membership=membership, actor=request.user)
        except MemberError as exc:
            _refused(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- me -----------------------------------------------------------------------------------------


class TenantOutput(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()


class MeOutput(serializers.Serializer):
    """The caller. A person (a signed-in member) gets their member record; an integration token is no
    person: `id` and the member fields are null, and `principal` says "token"."""

    principal = serializers.ChoiceField(choices=["member", "token"])
    id = serializers.IntegerField(allow_null=True, help_text="the member id that `assignee=…` filters take")
    username = serializers.CharField(allow_null=True)
    email = serializers.CharField(allow_null=True)
    name = serializers.CharField(allow_null=True)
    role = serializers.ChoiceField(choices=Role.choices)
    tier = serializers.IntegerField(allow_null=True)
    skills = serializers.ListField(child=serializers.CharField(), allow_null=True)
    capacity = serializers.IntegerField(allow_null=True)
    available = serializers.BooleanField(allow_null=True)
    teams = serializers.ListField(child=serializers.IntegerField(), allow_null=True)
    active = serializers.BooleanField(allow_null=True)
    tenant = TenantOutput()
    user = serializers.CharField(allow_null=True, help_text="the username (null for a token)")
    token = serializers.CharField(allow_null=True, help_text="the token's prefix")


MEMBER_FIELDS = [name for name in MemberOutput.Meta.fields if name != "created_at"]


@extend_schema(responses={200: MeOutput})
@api_view(["GET"])
def me(request):
    """Who the API thinks you are: your member record, tenant and role (for a token: its tenant and role)."""
    principal = request.user
    membership = principal.membership
    if membership is not None:
        membership = membership_list(tenant=principal.tenant).get(pk=membership.pk)
        record = {name: value for name, value in MemberOutput(membership).data.items() if name in MEMBER_FIELDS}
    else:
        record = dict.fromkeys(MEMBER_FIELDS)
    return Response(
        {
            "principal": "member" if membership is not None else "token",
            **record,
            "role": principal.role,
            "tenant": {"id": principal.tenant.pk, "slug": principal.tenant.slug, "name": principal.tenant.name},
            "user": principal.user.get_username() if principal.user else None,
            "token": principal.token.prefix if principal.token else None,
        }
    )


class SchemaView(SpectacularAPIView):
    """The OpenAPI document. django-filter builds (never runs) tenant querysets while describing
    filters, so generation happens in an introspection-only tenant context."""

    schema = None  # not an operation of the API it describes

    def get(self, request, *args, **kwargs):
        with introspection_only():
            return super().get(request, *args, **kwargs)
