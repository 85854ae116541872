"""Pieces shared by every JSON endpoint: the size-checked parser and caller identity."""
import io

from django.conf import settings
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, PermissionDenied
from rest_framework.parsers import JSONParser
from rest_framework.views import APIView

from feedproject.identity import caller_resolve


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


class LimitedJSONParser(JSONParser):
    """Refuses a body over TRACK_MAX_BODY_BYTES before reading it (Content-Length), or while reading it."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.TRACK_MAX_BODY_BYTES
        request = parser_context["request"]
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            raise PayloadTooLarge(f"The body is {declared} bytes; the limit is {limit}.")
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise PayloadTooLarge(f"The body is over the limit of {limit} bytes.")
        return super().parse(io.BytesIO(body), media_type, parser_context)


def anon_key_field():
    """The optional `anon_key` of every CallerApi response, for its output serializer to declare."""
    return serializers.CharField(
        required=False,
        help_text="A newly issued signed anonymous key (also set as a cookie and in X-User-Key); send it back.",
    )


class CallerApi(APIView):
    """An APIView that knows its caller and hands a new anonymous key back when it issued one.

    The key goes back in the cookie, the X-User-Key header and, on a successful JSON object,
    as `anon_key`, all in `finalize_response`, so no view can forget one of them. Each view's
    output serializer declares `anon_key_field()` to document it.
    """

    def caller(self, request, acting_for=None):
        if not hasattr(request, "_feed_caller"):
            request._feed_caller = caller_resolve(request, acting_for=acting_for)
        caller = request._feed_caller
        if acting_for and not caller.is_service and acting_for != caller.user_key:
            raise PermissionDenied("Only a service token may act for another user.")
        return caller

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        caller = getattr(request, "_feed_caller", None)
        if caller is not None and caller.issued_token:
            response.set_cookie(
                settings.ANON_KEY_COOKIE, caller.issued_token, max_age=settings.ANON_KEY_MAX_AGE,
                httponly=True, samesite="Lax", secure=not settings.DEBUG,
            )
            response["X-User-Key"] = caller.issued_token
            # Error bodies keep DRF's shape; the cookie and header still carry the key.
            if status.is_success(response.status_code) and isinstance(getattr(response, "data", None), dict):
                response.data["anon_key"] = caller.issued_token
        return response
