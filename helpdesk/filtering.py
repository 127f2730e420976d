"""The filter backends of every API list (settings.REST_FRAMEWORK) and the query parameters a list takes; a
module of its own because DRF reads the setting while helpdesk.api defines its viewset base."""

from django.db import models
from django_filters import rest_framework as django_filters
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import filters

from helpdesk.errors import ApiError
from helpdesk.fields import BooleanFilter, IntegerFilter, IsoDateTimeFilter
from helpdesk.pagination import PAGE_PARAMETERS

# Query parameters that are pagination, not filters (see helpdesk.pagination and OrderingFilter).
NON_FILTER_PARAMS = frozenset({*PAGE_PARAMETERS, "ordering"})
ERR_EMPTY_FILTER = "Give a value, or leave the parameter out."
ERR_ORDERING = "Order by one of: {choices} (a leading - reverses; several, comma-separated)."

_list_parameters: dict[type, frozenset[str]] = {}


class FilterSet(django_filters.FilterSet):
    """Base of every filterset, the ones a view builds from `filterset_fields` included: datetime, boolean and
    integer columns are filtered through the strict filters of helpdesk.fields."""

    FILTER_DEFAULTS = {
        **django_filters.FilterSet.FILTER_DEFAULTS,
        models.DateTimeField: {"filter_class": IsoDateTimeFilter},
        models.BooleanField: {"filter_class": BooleanFilter},
        **{
            field: {"filter_class": IntegerFilter}
            for field in (
                models.AutoField,
                models.BigAutoField,
                models.IntegerField,
                models.BigIntegerField,
                models.SmallIntegerField,
                models.PositiveIntegerField,
                models.PositiveSmallIntegerField,
                models.PositiveBigIntegerField,
            )
        },
    }


class FilterBackend(DjangoFilterBackend):
    """django-filter, run only when the request has a filter parameter. Without one it would filter
    nothing, yet build its form and the querysets of its choice filters on every list request."""

    filterset_base = FilterSet

    def filter_queryset(self, request, queryset, view):
        if not request.query_params.keys() - NON_FILTER_PARAMS:
            return queryset
        _refuse_empty_filters(request)
        return super().filter_queryset(request, queryset, view)


def _refuse_empty_filters(request) -> None:
    # django-filter reads ?status= as "no filter": a value lost on the way (a template, an unset variable)
    # would answer the whole list, the very thing refusing unknown parameters prevents.
    empty = sorted(
        name for name, values in request.query_params.lists() if name not in NON_FILTER_PARAMS and "" in values
    )
    if empty:
        raise ApiError(400, "invalid", f"{empty[0]}: {ERR_EMPTY_FILTER}", {name: [ERR_EMPTY_FILTER] for name in empty})


class OrderingFilter(filters.OrderingFilter):
    """DRF's ?ordering=, refusing a field it doesn't know: DRF drops it and orders by the default, so a typo
    would quietly answer in another order."""

    def get_ordering(self, request, queryset, view):
        raw = request.query_params.get(self.ordering_param)
        if raw is not None:  # an empty ?ordering= is no field at all, not the default
            terms = [term.strip() for term in raw.split(",")]
            if len(self.remove_invalid_fields(queryset, terms, view, request)) != len(terms):
                valid = [name for name, _ in self.get_valid_fields(queryset, view, {"request": request})]
                message = ERR_ORDERING.format(choices=", ".join(valid))
                raise ApiError(400, "invalid", f"{self.ordering_param}: {message}", {self.ordering_param: [message]})
        return super().get_ordering(request, queryset, view)

    def get_schema_operation_parameters(self, view):
        """The valid terms as an enum (DRF documents a free string, which every typo matches)."""
        fields = [name for name, _ in self.get_valid_fields(view.get_queryset(), view, {"request": view.request})]
        terms = [term for name in fields for term in (name, f"-{name}")]
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": "Order by these fields, comma-separated; a leading - reverses.",
                "schema": {"type": "array", "items": {"type": "string", "enum": terms}},
                "style": "form",
                "explode": False,
            }
        ]


def list_query_parameters(view) -> frozenset[str]:
    """What a list takes, as the OpenAPI schema documents it: its filterset's filters, `ordering`, and its
    paginator's `cursor` and `page_size`. The same for every request of a view class, so built once."""
    names = _list_parameters.get(type(view))
    if names is None:
        names = frozenset(_filter_parameters(view) | _page_parameters(view))
        _list_parameters[type(view)] = names
    return names


def _filter_parameters(view) -> set[str]:
    names: set[str] = set()
    for backend_class in view.filter_backends:
        backend = backend_class()
        if isinstance(backend, DjangoFilterBackend):
            # django-filter builds the filterset of `filterset_fields` from the queryset's model (lazy: no query).
            filterset_class = backend.get_filterset_class(view, view.get_queryset())
            names |= set(filterset_class.base_filters) if filterset_class else set()
        else:
            names |= {parameter["name"] for parameter in backend.get_schema_operation_parameters(view)}
    return names


def _page_parameters(view) -> set[str]:
    paginator = view.paginator
    return {parameter["name"] for parameter in paginator.get_schema_operation_parameters(view)} if paginator else set()
