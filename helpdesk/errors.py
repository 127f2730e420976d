"""The API's one error shape: {"error": {"code", "message", "fields"}}, for every 4xx."""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions

# One slug per DRF exception class, so integrations can branch on `code` rather than on text.
ERROR_CODES = {
    exceptions.ParseError: "malformed_request",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.ValidationError: "invalid",
}


class ApiError(exceptions.APIException):
    """A domain error with its own slug, e.g. ApiError(409, "conflict", "…")."""

    def __init__(self, status_code: int, code: str, message: str, fields: dict | None = None):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.fields = fields or {}


def _flatten_fields(detail) -> dict:
    if isinstance(detail, dict):
        return {key: [str(m) for m in (value if isinstance(value, list) else [value])] for key, value in detail.items()}
    if isinstance(detail, list):
        return {"non_field_errors": [str(m) for m in detail]}
    return {}


def _message_for(exc, fields: dict) -> str:
    if fields:
        first = next(iter(fields))
        return f"Invalid input: {', '.join(fields)}." if len(fields) > 1 else f"{first}: {fields[first][0]}"
    return str(exc.detail) if hasattr(exc, "detail") else str(exc)


def exception_handler(exc, context):
    """Every error leaves as {"error": {"code", "message", "fields"}}."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    # Imported here: rest_framework.views reads the API settings, which name this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiError):
        code, fields = exc.error_code, exc.fields
    else:
        code = next((slug for cls, slug in ERROR_CODES.items() if isinstance(exc, cls)), "error")
        fields = _flatten_fields(exc.detail) if isinstance(exc, exceptions.ValidationError) else {}
    response.data = {"error": {"code": code, "message": _message_for(exc, fields), "fields": fields}}
    return response


def error_response(status_code: int, code: str, message: str, fields: dict | None = None):
    from rest_framework.response import Response

    return Response({"error": {"code": code, "message": message, "fields": fields or {}}}, status=status_code)


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    """404 outside DRF's views (an unknown URL): the API keeps its error shape, the UI its page."""
    from django.views.defaults import page_not_found

    if _is_api(request):
        return JsonResponse({"error": {"code": "not_found", "message": "Not found.", "fields": {}}}, status=404)
    return page_not_found(request, exception)


def server_error(request):
    from django.views.defaults import server_error as html_server_error

    if _is_api(request):
        return JsonResponse(
            {"error": {"code": "server_error", "message": "Something went wrong on our side.", "fields": {}}},
            status=500,
        )
    return html_server_error(request)
