"""Cursor pagination with a strict page_size (1..200): a bad value is a 400, not a silent default."""

from rest_framework import pagination, status

from helpdesk.errors import ApiError


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


class ThreadPagination(CursorPagination):
    """Conversation and audit lists read oldest first, like the thread they are."""

    ordering = ("created_at", "id")
    page_size = 100
