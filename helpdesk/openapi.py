"""What drf-spectacular leaves out of the OpenAPI document, added: every operation's 4xx answers in the one
error shape (helpdesk/errors.py) — with only the success responses documented, a generated client (and the
schemathesis run in tests/api/test_fuzz.py) would take a 400 or 404 for a broken contract —, that input
bodies take no unknown fields (StrictSerializer), and links from each create to what it created."""

from http import HTTPStatus

from drf_spectacular.extensions import OpenApiSerializerExtension

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string", "description": "a slug to branch on, e.g. invalid, not_found"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    "description": 'messages per field or query parameter; nested ones dotted ("requester.email")',
                },
            },
        }
    },
}

EVERY_OPERATION = {
    400: "Bad input: a field, a query parameter (unknown ones too) or a cursor, named in `fields`.",
    401: "No token, or a bad or revoked one.",
    403: "Your role does not allow this.",
    404: "Not found, or another tenant's.",
}
WITH_A_BODY = {
    409: "Conflict: a duplicate, or an Idempotency-Key reused for another request.",
    413: "The body is larger than the limit (payload_too_large).",
    415: "The body is not JSON.",
}
WRITES = {"post", "put", "patch"}


class StrictSerializerExtension(OpenApiSerializerExtension):
    """An input serializer refuses unknown fields (helpdesk.api.StrictSerializer): its request schema says so."""

    target_class = "helpdesk.api.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["additionalProperties"] = False
        return schema


def document_errors(result, generator, request, public):
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            errors = {**EVERY_OPERATION, **(WITH_A_BODY if method in WRITES else {})}
            for status, description in errors.items():
                operation["responses"].setdefault(str(status), _error_response(status, description))
    return result


def document_links(result, generator, request, public):
    """OpenAPI links from each create to the operations on what it created (drf-spectacular has none):
    `POST /tickets/` answers an `id` that `GET /tickets/{id}/`, its messages, escalate, … take. Clients can
    follow them, and schemathesis chains them into scenarios (`make fuzz`)."""
    paths = result.get("paths", {})
    for path, operations in paths.items():
        created = operations.get("post", {}).get("responses", {}).get("201")
        if created is None or "{" in path:
            continue
        links = {
            _link_name(method, detail.removeprefix(path)): {
                "operationId": operation["operationId"],
                "parameters": {"id": "$response.body#/id"},
            }
            for detail, detail_operations in paths.items()
            if detail.startswith(f"{path}{{id}}/")
            for method, operation in detail_operations.items()
            if isinstance(operation, dict) and "operationId" in operation
        }
        if links:
            created["links"] = links
    return result


def _link_name(method: str, rest: str) -> str:
    words = [part for part in rest.replace("{id}", "").split("/") if part]
    return "".join(word.title().replace("-", "") for word in [method, *words]) or method


def _error_response(status: int, description: str) -> dict:
    return {
        "description": f"{HTTPStatus(status).phrase}. {description}",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
