"""Bases for every app's API module: the tenant-scoped viewset and the strict input serializer."""

from types import SimpleNamespace

from rest_framework import exceptions, negotiation, serializers, viewsets

from helpdesk.errors import ApiError
from helpdesk.filtering import list_query_parameters

ERR_UNKNOWN_PARAMETER = "Unknown query parameter."


class JsonOnlyNegotiation(negotiation.DefaultContentNegotiation):
    """DRF's negotiation without its ?format= switch: the API speaks JSON only (and its routes have no format
    suffixes), so `format` is no parameter of it — TenantViewSet answers it as unknown, like any other, instead
    of DRF's 404 for a format it has no renderer for. (/api/schema/?format=json keeps drf-spectacular's.)"""

    settings = SimpleNamespace(URL_FORMAT_OVERRIDE=None)  # DRF's api_settings, as far as select_renderer reads


class TenantViewSet(viewsets.GenericViewSet):
    """Base of every API view. Subclasses give `selector`, a function returning the tenant's queryset;
    get_queryset is final here so no view can hand out an unscoped queryset by accident."""

    selector = None
    content_negotiation_class = JsonOnlyNegotiation
    # Query parameters an action takes beyond a list's own (filters, ordering, pagination), named on the
    # action: @action(..., query_parameters=("days",)). Its @extend_schema documents them.
    query_parameters: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise TypeError(f"{cls.__name__} must not override get_queryset; set `selector` instead")

    lookup_value_converter = "int"

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication and role come first: 401 and 403 say more
        if request.method in ("GET", "HEAD"):
            _refuse_unknown_parameters(request, self.accepted_query_parameters())

    def accepted_query_parameters(self) -> frozenset[str]:
        """The query parameters this action documents in the OpenAPI schema, and so the only ones it takes."""
        if self.action == "list":
            return list_query_parameters(self) | set(self.query_parameters)
        return frozenset(self.query_parameters)

    def filter_queryset(self, queryset):
        # One object by id (retrieve, update, detail actions): the list's filters and ordering have
        # nothing to select there, and running django-filter cost a third of a ticket read.
        if self.detail:
            return queryset
        return super().filter_queryset(queryset)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            # Schema generation runs outside any tenant: describe the model, read nothing.
            return self.get_serializer_class().Meta.model.unscoped.none()
        principal = self.request.user
        return type(self).selector(tenant=principal.tenant)


class ActiveByDefault:
    """For the configuration lists (calendars, SLA policies, escalation rules, webhooks): what is in force.
    A DELETE retires what is in use (helpdesk/retirement.py) and the list stops showing it; `?active=false`
    lists the retired and switched-off ones, `?active=true` says the default out loud. One object by id is
    found either way: history links to it."""

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if not self.detail and "active" not in self.request.query_params:
            queryset = queryset.filter(active=True)
        return queryset


def _refuse_unknown_parameters(request, accepted: frozenset[str]) -> None:
    # A typo such as ?stauts=open must not silently answer the whole list (API.md, Conventions).
    unknown = sorted(set(request.query_params) - accepted)
    if unknown:
        names = ", ".join(unknown)
        raise ApiError(
            400,
            "invalid",
            f"Unknown query parameter{'s' if len(unknown) > 1 else ''}: {names}.",
            {name: [ERR_UNKNOWN_PARAMETER] for name in unknown},
        )


class StrictSerializer(serializers.Serializer):
    """Rejects unknown fields and numbers where text belongs: a typo or a type slip in an integration
    should fail loudly, not be ignored or coerced."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            errors = {name: ["Unknown field."] for name in sorted(set(data) - set(self.fields))}
            errors.update(_non_text_values(self.fields, data))
            errors.update(_overlong_values(self.fields, data))
            if errors:
                raise exceptions.ValidationError(errors)
        return super().to_internal_value(data)


def _non_text_values(fields, data: dict) -> dict:
    return {
        name: ["Must be a string."]
        for name, field in fields.items()
        if isinstance(field, serializers.CharField)
        and name in data
        and data[name] is not None
        and not isinstance(data[name], str)
    }


def _overlong_values(fields, data: dict) -> dict:
    # DRF trims whitespace before it counts, so 41 characters of which one is a leading space passed a
    # max_length of 40; the schema (maxLength) and the integrations count what was sent.
    errors = {}
    for name, field in fields.items():
        value = data.get(name)
        if isinstance(field, serializers.ListField) and isinstance(value, list):
            texts = [(f"{name}.{i}", item, field.child) for i, item in enumerate(value)]
        else:
            texts = [(name, value, field)]
        for path, text, text_field in texts:
            limit = getattr(text_field, "max_length", None) if isinstance(text_field, serializers.CharField) else None
            if limit is not None and isinstance(text, str) and len(text) > limit:
                errors[path] = [f"Ensure this field has no more than {limit} characters."]
    return errors


def validated(serializer_class, data, **kwargs) -> dict:
    """The request body through an input serializer: its validated data, or the 400 of the error shape."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
