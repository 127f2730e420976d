"""The filter backend of every API list (settings.REST_FRAMEWORK); a module of its own because DRF
reads the setting while helpdesk.api defines its viewset base."""

from django_filters.rest_framework import DjangoFilterBackend

# Query parameters that are pagination, not filters (see helpdesk.pagination and OrderingFilter).
NON_FILTER_PARAMS = frozenset({"cursor", "page_size", "ordering"})


class FilterBackend(DjangoFilterBackend):
    """django-filter, run only when the request has a filter parameter. Without one it would filter
    nothing, yet build its form and the querysets of its choice filters on every list request."""

    def filter_queryset(self, request, queryset, view):
        if not request.query_params.keys() - NON_FILTER_PARAMS:
            return queryset
        return super().filter_queryset(request, queryset, view)
