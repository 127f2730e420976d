"""Bases for every app's API module: the tenant-scoped viewset and the strict input serializer."""

from rest_framework import exceptions, serializers, viewsets


class TenantViewSet(viewsets.GenericViewSet):
    """Base of every API view. Subclasses give `selector`, a function returning the tenant's queryset;
    get_queryset is final here so no view can hand out an unscoped queryset by accident."""

    selector = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise TypeError(f"{cls.__name__} must not override get_queryset; set `selector` instead")

    lookup_value_converter = "int"

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


class StrictSerializer(serializers.Serializer):
    """Rejects unknown fields and numbers where text belongs: a typo or a type slip in an integration
    should fail loudly, not be ignored or coerced."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            errors = {name: ["Unknown field."] for name in sorted(set(data) - set(self.fields))}
            errors.update(_non_text_values(self.fields, data))
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


def validated(serializer_class, data, **kwargs) -> dict:
    """The request body through an input serializer: its validated data, or the 400 of the error shape."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
