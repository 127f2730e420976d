"""API of the tenancy objects: /me/, /teams/ (read for every member; teams are managed in admin)."""

from rest_framework import mixins, serializers
from rest_framework.decorators import api_view
from rest_framework.response import Response

from helpdesk.api import TenantViewSet
from helpdesk.models import Team
from helpdesk.selectors import team_list


class TeamOutput(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "skills", "tier", "created_at"]


class TeamViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    serializer_class = TeamOutput
    selector = staticmethod(team_list)
    ordering_fields = ["name", "tier", "created_at"]
    filterset_fields = ["tier"]


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
