"""The OpenAPI schema's error answers: every 4xx an operation can give, documented once for all views.

drf-spectacular documents what a view declares (its 200); the errors come from the DRF machinery
every view shares (authentication, throttling, parsing, validation), so they are added here, from
what the view is, not per view. The shapes are those of docs/api-errors.md.
"""
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny

from feedproject.api import CallerApi, LimitedJSONParser

_DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
# DRF's validation body: each invalid field with its messages; a nested field nests (a list's
# items by index, a batch's events in order). A body that is not JSON, or not the right shape,
# gets {"detail": "..."}, which this covers too.
_FIELD_ERRORS = {
    "type": "object",
    "description": 'Field name -> messages, e.g. {"limit": ["Ensure this value is less than or equal to 100."]}; '
    '"non_field_errors" for the request as a whole; {"detail": "..."} for a body that is not JSON.',
    "additionalProperties": {
        "anyOf": [
            {"type": "array", "items": {}},
            {"type": "object"},
            {"type": "string"},
        ]
    },
}
_WHEN = {
    400: "A query parameter or body field is invalid (or X-User-Key holds a bare user_key, not the signed key).",
    401: "The token is invalid, or the operation needs one.",
    403: "The caller may not do this (act for another user, change markets, pass as_of, run the periodic tasks); "
    "or a session without its CSRF token.",
    404: "No object with this id.",
    406: "The Accept header asks for something other than JSON.",
    411: "A chunked body: send it with a Content-Length.",
    413: "The body is over the size limit (checked before it is read).",
    415: "The body is not JSON (Content-Type).",
    429: "Throttled: wait Retry-After seconds.",
    503: "The database is unavailable: nothing was stored; retry after Retry-After seconds.",
}
# One example body per error status, shown beside the shape (docs/api-errors.md).
_ERROR_EXAMPLES = {
    400: {"limit": ["Ensure this value is less than or equal to 100."]},
    401: {"detail": "Invalid token."},
    403: {"detail": "You do not have permission to perform this action."},
    404: {"detail": "No market 'no-such-market'."},
    406: {"detail": "Could not satisfy the request Accept header."},
    411: {"detail": "A body needs a Content-Length: chunked bodies are not accepted."},
    413: {"detail": "The body is over the size limit of 1048576 bytes."},
    415: {"detail": "Unsupported media type \"text/plain\" in request."},
    429: {"detail": "Request was throttled. Expected available in 42 seconds."},
    503: {"detail": "The database is unavailable; retry the request shortly."},
}

# Example values every app's examples share. The market ids of the examples are in the demo catalog
# (markets.serializers.EXAMPLE_*), so "Try it out" works on a seeded site (feedproject/tests/test_openapi_examples.py).
EXAMPLE_USER_KEY = "a:3f2c9a1d2b104c39a3e1f1c9a1d2b10e"
EXAMPLE_ANON_KEY = EXAMPLE_USER_KEY + ":1xZ3kK:iXG2hyj8RxiVDErtbDl02YMiTQf1y-JBFz43g6lA0Pg"
EXAMPLE_FEED_REQUEST_ID = "1bdd874d-e461-4bf9-973c-13c79466818f"
EXAMPLE_TIME = "2026-11-26T10:00:00Z"

_RETRY_AFTER = {
    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before trying again."},
}


USER_KEY_SCHEME = "userKey"
USER_KEY_SECURITY_SCHEME = {
    "type": "apiKey", "in": "header", "name": "X-User-Key",
    "description": "An anonymous visitor's signed key. Store the `anon_key` an answer gives you (it looks like "
    "`a:3f2c…:1wXyZ…:Ab…`, the user key with its signature) and send it back on every request; do not send "
    "`user_key` (`a:3f2c…`), which is refused with a 400 so a visitor never silently becomes someone new. "
    "Without any key, the first answer issues one. Browsers on this site carry it as the `feed_uk` cookie instead.",
}


class ErrorsAutoSchema(AutoSchema):
    """AutoSchema that adds, to each operation, the 4xx answers of the DRF machinery its view uses, and the 503;
    and, to the operations of a visitor's own data (CallerApi), the anonymous key as a security scheme."""

    def get_auth(self):
        auth = super().get_auth()
        if isinstance(self.view, CallerApi):
            self.registry.register_on_missing(ResolvedComponent(
                name=USER_KEY_SCHEME, type=ResolvedComponent.SECURITY_SCHEMA, object=USER_KEY_SCHEME,
                schema=USER_KEY_SECURITY_SCHEME,
            ))
            auth = [{USER_KEY_SCHEME: []}, *(a for a in auth if a != {})]
        return auth

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        for parameter in operation.get("parameters", ()):
            # A query serializer's deprecated field (a deprecated alias: feedproject.fields.resolve_alias) is a
            # deprecated parameter, not only a deprecated schema.
            if parameter.get("schema", {}).get("deprecated"):
                parameter["deprecated"] = True
        responses = operation["responses"]
        for status in self._error_statuses(operation):
            responses.setdefault(str(status), self._error_response(status))
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _error_statuses(self, operation):
        view = self.view
        has_body = "requestBody" in operation
        has_query = any(parameter["in"] == "query" for parameter in operation.get("parameters", ()))
        authenticators = view.get_authenticators()
        unsafe = self.method not in ("GET", "HEAD", "OPTIONS")
        statuses = set()
        if has_body or has_query or isinstance(view, CallerApi):  # CallerApi: an unsigned X-User-Key
            statuses.add(400)
        if authenticators:
            statuses.add(401)
        csrf = unsafe and any(isinstance(a, SessionAuthentication) for a in authenticators)
        if csrf or isinstance(view, CallerApi) or self._needs_permission(view):
            statuses.add(403)
        if any(parameter["in"] == "path" or parameter["name"] == "market_id"  # a market named in the query
               for parameter in operation.get("parameters", ())):
            statuses.add(404)
        statuses.add(406)  # every APIView negotiates its renderer
        if has_body:
            statuses.add(415)
            if any(isinstance(parser, LimitedJSONParser) for parser in view.get_parsers()):
                statuses.update((411, 413))
        if view.get_throttles():
            statuses.add(429)
        statuses.add(503)  # every API view's exception handler answers a database outage so (feedproject/errors.py)
        return sorted(statuses)

    def _needs_permission(self, view):
        # The generator gives the view a mock request of this method (MarketDetailApi asks for one).
        return any(not isinstance(permission, AllowAny) for permission in view.get_permissions())

    def _error_response(self, status):
        if status == 400:
            ref = self._component("FieldErrors", _FIELD_ERRORS)
        else:
            ref = self._component("Error", _DETAIL)
        content = {"schema": ref, "examples": {"error": {"value": _ERROR_EXAMPLES[status]}}}
        response = {"description": _WHEN[status], "content": {"application/json": content}}
        if status in (429, 503):
            response["headers"] = _RETRY_AFTER
        return response

    def _component(self, name, schema):
        component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema)
        self.registry.register_on_missing(component)
        return component.ref
