"""Pieces shared by every JSON endpoint: the size-checked parser, caller identity, the request's clock."""
import io
from datetime import UTC, datetime

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import APIException, ParseError, PermissionDenied
from rest_framework.parsers import JSONParser
from rest_framework.views import APIView

from feedproject.identity import REPLAY_PERMISSION, caller_resolve, replay_allowed


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


class LengthRequired(APIException):
    status_code = status.HTTP_411_LENGTH_REQUIRED
    default_code = "length_required"
    default_detail = "Send the body with a Content-Length; chunked bodies are not accepted."


# Deeper JSON is no API's data; refusing it keeps recursive code (json.dumps, serializers,
# the renderer) off the stack limit. Event metadata has its own, smaller limit (per event).
MAX_JSON_DEPTH = 128


def _too_deep(value, limit):
    """Whether `value` nests lists/objects deeper than `limit`; iterative, so it cannot overflow itself."""
    stack = [(value, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            continue
        if depth > limit:
            return True
        stack.extend((item, depth + 1) for item in value if isinstance(item, (dict, list)))
    return False


def _declared_size_check(meta):
    """The body's declared Content-Length (None if it is not a number); PayloadTooLarge over the limit."""
    try:
        declared = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    limit = settings.TRACK_MAX_BODY_BYTES
    if declared > limit:
        raise PayloadTooLarge(f"The body is {declared} bytes; the limit is {limit}.")
    return declared


def json_body(request):
    """`request.data` of a JSON endpoint, after the checks DRF makes too late or not at all.

    DRF reads a body without Content-Length as empty (and never calls the parser): a chunked
    body would be silently dropped, so it is refused with 411, and an empty body is a 400.
    The size is checked here before anything reads the body: past
    DATA_UPLOAD_MAX_MEMORY_SIZE Django's own check would answer an HTML 400 instead of the 413.
    """
    meta = request.META
    if "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
        raise LengthRequired()
    declared = _declared_size_check(meta)
    if declared is None:
        raise ParseError("Content-Length is not a number.")
    if declared <= 0:
        raise ParseError("The body is empty; send a JSON object.")
    return request.data


class LimitedJSONParser(JSONParser):
    """Refuses a body over TRACK_MAX_BODY_BYTES before reading it (Content-Length), or while reading it,
    and JSON nested deeper than MAX_JSON_DEPTH."""

    def parse(self, stream, media_type=None, parser_context=None):
        _declared_size_check(parser_context["request"].META)
        limit = settings.TRACK_MAX_BODY_BYTES
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise PayloadTooLarge(f"The body is over the limit of {limit} bytes.")
        too_deep = ParseError(f"The JSON is nested too deep; the limit is {MAX_JSON_DEPTH} levels.")
        try:
            data = super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:
            raise too_deep from None
        if _too_deep(data, MAX_JSON_DEPTH):
            raise too_deep
        return data


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
            # On the Django request under DRF's, where the request log reads the caller's kind.
            request._request._feed_caller = caller_resolve(request, acting_for=acting_for)
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


# A replay acts within these; outside them a lease or a retention window would overflow a datetime.
AS_OF_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
AS_OF_LATEST = datetime(2100, 1, 1, tzinfo=UTC)
AS_OF_HELP = (
    f"Act as at this time (ISO 8601 with a time zone, from {AS_OF_EARLIEST:%Y} to before {AS_OF_LATEST:%Y}) "
    f"instead of now: replays and evaluators (docs/replay.md). Only a service token with the "
    f"{REPLAY_PERMISSION} permission; anyone else gets 403."
)


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time that names its time zone, within AS_OF_EARLIEST and AS_OF_LATEST.

    DRF would read a time without a zone in the server's zone: for a replay's clock that is a guess.
    """

    def to_internal_value(self, value):
        try:
            parsed = parse_datetime(value) if isinstance(value, str) else None
        except ValueError:  # well formed but not a time (minute 99): DRF's own message below
            parsed = None
        if parsed is not None and parsed.tzinfo is None:
            raise serializers.ValidationError("Give the time zone, e.g. 2026-11-26T10:00:00Z.")
        value = super().to_internal_value(value)
        if not AS_OF_EARLIEST <= value < AS_OF_LATEST:
            raise serializers.ValidationError(
                f"Must be from {AS_OF_EARLIEST.isoformat()} to before {AS_OF_LATEST.isoformat()}."
            )
        return value


class AsOfQuerySerializer(serializers.Serializer):
    as_of = AwareDateTimeField(required=False, help_text=AS_OF_HELP)


def request_now(request):
    """The request's clock: the wall clock, or its `as_of` query parameter for a replay token.

    PermissionDenied (403) for any other caller who passes `as_of`, before its value is looked at;
    a ValidationError (400, on `as_of`) for a bad value.
    """
    if "as_of" not in request.query_params:
        return timezone.now()
    if not replay_allowed(request):
        raise PermissionDenied(f"Only a service token with the {REPLAY_PERMISSION} permission may pass as_of.")
    # The field by itself: in a serializer, DRF would take an empty `?as_of=` for an absent one.
    try:
        return AwareDateTimeField().run_validation(request.query_params["as_of"])
    except serializers.ValidationError as exc:
        raise serializers.ValidationError({"as_of": exc.detail}) from None


class CanReplay(permissions.BasePermission):
    """A view for replay tokens only (REPLAY_PERMISSION): running the periodic tasks at a given time."""

    message = f"A service token with the {REPLAY_PERMISSION} permission is required."

    def has_permission(self, request, view):
        return replay_allowed(request)
