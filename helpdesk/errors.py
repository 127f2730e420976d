"""The API's one error shape: {"error": {"code", "message", "fields"}}, for every 4xx (and the 5xx)."""

from django.core.exceptions import PermissionDenied, RequestDataTooBig
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


PAYLOAD_TOO_LARGE = "payload_too_large"
ERR_PAYLOAD_TOO_LARGE = "The request body is larger than {limit:,} bytes."
NON_FIELD = "non_field_errors"


def payload_too_large() -> ApiError:
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE: Django raises RequestDataTooBig when it is first read."""
    from django.conf import settings

    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return ApiError(413, PAYLOAD_TOO_LARGE, ERR_PAYLOAD_TOO_LARGE.format(limit=limit))


def _flatten_fields(detail) -> dict:
    """DRF's error detail, nested as the input was, as flat `{"requester.email": ["…"]}` lists of plain
    strings. A nested serializer's own errors (a wrong type for `requester`) stay on its key."""
    if not isinstance(detail, dict | list):
        return {}
    fields: dict[str, list[str]] = {}
    _flatten_into(fields, "", detail)
    return fields


def _flatten_into(fields: dict, path: str, detail) -> None:
    if isinstance(detail, dict):
        for key, value in detail.items():
            key = str(key)
            _flatten_into(fields, path if key == NON_FIELD and path else _join(path, key), value)
    elif isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        # A list field's per-item errors: [{}, {"email": [...]}] names the item by its index.
        for index, item in enumerate(detail):
            if item:
                _flatten_into(fields, _join(path, str(index)) if isinstance(item, dict | list) else path, item)
    else:
        messages = detail if isinstance(detail, list) else [detail]
        fields.setdefault(path or NON_FIELD, []).extend(str(message) for message in messages)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


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
    elif isinstance(exc, RequestDataTooBig):
        exc = payload_too_large()
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


def error_json(status: int, code: str, message: str, fields: dict | None = None) -> JsonResponse:
    """The error shape outside DRF's views (middleware, Django's error handlers)."""
    return JsonResponse({"error": {"code": code, "message": message, "fields": fields or {}}}, status=status)


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def bad_request(request, exception=None):
    """400 raised outside DRF's views (Django's SuspiciousOperation family, e.g. a body over the limit read
    by a middleware): the API keeps its error shape, and an oversized body is a 413 there."""
    from django.views.defaults import bad_request as html_bad_request

    if not _is_api(request):
        return html_bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        too_large = payload_too_large()
        return error_json(too_large.status_code, too_large.error_code, str(too_large.detail))
    return error_json(400, "malformed_request", "The request could not be read.")


def not_found(request, exception=None):
    """404 outside DRF's views (an unknown URL): the API keeps its error shape, the UI its page."""
    from django.views.defaults import page_not_found

    if _is_api(request):
        return error_json(404, "not_found", "Not found.")
    return page_not_found(request, exception)


def server_error(request):
    """500 for a bug; 503 with Retry-After when the exception being handled says the database or Redis is
    down for a moment (helpdesk/unavailable.py). Django calls this inside its `except` block, so
    sys.exc_info() is the view's (or a middleware's) exception."""
    import sys

    from django.views.defaults import server_error as html_server_error

    from helpdesk.unavailable import unavailable_part, unavailable_response

    part = unavailable_part(sys.exc_info()[1])
    if part is not None:
        return unavailable_response(request, part, api=_is_api(request))
    if _is_api(request):
        return error_json(500, "server_error", "Something went wrong on our side.")
    return html_server_error(request)
