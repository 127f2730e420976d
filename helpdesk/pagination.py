"""Cursor pagination with a strict page_size (1..200) and a strict cursor: a bad value of either is a 400
naming it, not a silent default or a 404."""

from datetime import datetime

from django.core.exceptions import FieldDoesNotExist, ValidationError
from rest_framework import pagination, status
from rest_framework.exceptions import NotFound

from helpdesk.errors import ApiError
from helpdesk.fields import datetime_error, text_error

# The query parameters of a paginated action that is not a viewset's `list` (it names them itself, see
# helpdesk.api.TenantViewSet.query_parameters).
PAGE_PARAMETERS = ("cursor", "page_size")
ERR_CURSOR = "Not a cursor of this list: follow the list's next or previous link."


class CursorPagination(pagination.CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("-created_at", "-id")

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size:
            raise ApiError(
                status.HTTP_400_BAD_REQUEST,
                "invalid",
                f"page_size must be a whole number from 1 to {self.max_page_size}.",
                {"page_size": [f"Must be a whole number from 1 to {self.max_page_size}."]},
            )
        return size

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Where the page starts: take it from the `next` or `previous` link of a page.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Results per page (default {self.page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model  # decode_cursor checks the cursor's position against its field
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise _invalid_cursor() from None
        if cursor is not None and cursor.position is not None and not self._is_position(cursor.position):
            raise _invalid_cursor()
        return cursor

    def _is_position(self, position: str) -> bool:
        """Whether a cursor's position (unsigned: anyone can write one) is a value of the column the page is
        ordered by. It lands in a WHERE clause: a '2026-01-01T00:00+23:59', 'abc' for an id or a NUL was a 500."""
        try:
            field = self._model._meta.get_field(self.ordering[0].lstrip("-"))
        except FieldDoesNotExist:
            return True  # an annotation: the database compares it as it is
        try:
            value = field.to_python(position)
            field.run_validators(value)
        except ValidationError:
            return False
        if isinstance(value, str):
            return text_error(value) is None
        if isinstance(value, datetime):
            return datetime_error(value) is None
        return True


def _invalid_cursor() -> ApiError:
    return ApiError(status.HTTP_400_BAD_REQUEST, "invalid", f"cursor: {ERR_CURSOR}", {"cursor": [ERR_CURSOR]})


class ThreadPagination(CursorPagination):
    """Conversation and audit lists read oldest first, like the thread they are."""

    ordering = ("created_at", "id")
    page_size = 100
