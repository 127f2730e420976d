"""The API's one JSON parser (settings.REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]): DRF's, refusing at the
door what no serializer should have to meet — a body nested deeper than JSON_MAX_DEPTH (validators and
copies recurse over it: 1,000 nested arrays raised RecursionError, a 500), and text PostgreSQL can't store
anywhere in the document (helpdesk.fields.json_error)."""

from django.conf import settings
from rest_framework import exceptions, parsers

from helpdesk.errors import NON_FIELD
from helpdesk.fields import ERR_JSON_DEPTH, json_error


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        max_depth = settings.JSON_MAX_DEPTH
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            # The decoder itself gives up on a deep enough document (how deep depends on the stack).
            raise exceptions.ParseError(ERR_JSON_DEPTH.format(depth=max_depth)) from None
        problem = json_error(data, max_depth=max_depth)
        if problem is None:
            return data
        if problem.too_deep:
            raise exceptions.ParseError(problem.message)
        raise exceptions.ValidationError({problem.path or NON_FIELD: [problem.message]})
