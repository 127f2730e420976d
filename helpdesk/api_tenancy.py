"""API of the tenancy objects: /me/, /teams/ (read for every member; teams are managed in admin)."""

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework import mixins, serializers
from rest_framework.decorators import api_view
from rest_framework.response import Response

from helpdesk.api import TenantViewSet
from helpdesk.models import Team
from helpdesk.selectors import team_list
from helpdesk.tenancy import introspection_only


class TeamOutput(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "skills", "tier", "created_at"]


class TeamViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    serializer_class = TeamOutput
    selector = staticmethod(team_list)
    ordering_fields = ["name", "tier", "created_at"]
    filterset_fields = ["tier"]


class MeOutput(serializers.Serializer):
    tenant = serializers.DictField()
    role = serializers.CharField()
    user = serializers.CharField(allow_null=True)
    token = serializers.CharField(allow_null=True, help_text="the token's prefix")


@extend_schema(responses={200: MeOutput})
@api_view(["GET"])
def me(request):
    """Who the API thinks you are: tenant and role of the token (or session)."""
    principal = request.user
    return Response(
        {
            "tenant": {
                "id": principal.tenant.pk,
                "slug": principal.tenant.slug,
                "name": principal.tenant.name,
            },
            "role": principal.role,
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
