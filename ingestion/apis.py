"""`POST /api/track` and `POST /api/impressions`: validate the envelope, call the ingestion service.

The caller's new anonymous key, when one was issued, is added by CallerApi.finalize_response.
"""
import logging

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

from feedproject.api import AsOfQuerySerializer, CallerApi, LimitedJSONParser, json_body, request_now
from feedproject.fields import CleanCharField, alias_resolved
from feedproject.openapi import EXAMPLE_ANON_KEY, EXAMPLE_FEED_REQUEST_ID, EXAMPLE_USER_KEY
from feedproject.request_log import request_id
from ingestion.serializers import (
    COUNTRY,
    ImpressionBatchSerializer,
    IngestQuerySerializer,
    IngestResponseSerializer,
    TrackBatchSerializer,
)
from ingestion.services import IMPRESSION, INTERACTION, events_ingest
from markets.serializers import EXAMPLE_MARKET_ID

logger = logging.getLogger(__name__)


class _Envelope(serializers.Serializer):
    """Batch-level values; each event may override them."""

    sent_at = serializers.DateTimeField(required=False)
    country = serializers.RegexField(COUNTRY, required=False, allow_blank=True)
    geo_country = serializers.RegexField(COUNTRY, required=False, allow_blank=True)  # deprecated alias of country
    feed_request_id = serializers.UUIDField(required=False, allow_null=True)
    surface = serializers.CharField(max_length=32, required=False)
    user_key = CleanCharField(max_length=64, required=False)


def _envelope(body, list_key, allowed):
    """Split a request body into (events, batch defaults); ParseError (400) for a wrong shape."""
    if isinstance(body, list):
        raise ParseError(f"The body must be a JSON object: one event, or a batch under {list_key!r}.")
    if not isinstance(body, dict):
        raise ParseError("The body must be a JSON object.")
    if list_key not in body:
        if list_key == "events":
            return [body], {}
        raise ParseError(f"{list_key!r} is required.")
    events = body[list_key]
    if not isinstance(events, list):
        raise ParseError(f"{list_key!r} must be a list of event objects.")
    extra = sorted(set(body) - allowed - {list_key})
    if extra:
        raise ParseError(f"Unknown batch field(s): {', '.join(extra)}.")
    envelope = _Envelope(data={k: v for k, v in body.items() if k != list_key})
    if not envelope.is_valid():
        field, messages = next(iter(envelope.errors.items()))
        raise ParseError(f"{field}: {messages[0]}")
    defaults = alias_resolved(dict(envelope.validated_data), "country", ("geo_country",))
    if "country" in defaults:
        defaults["country"] = defaults["country"].upper()
    return events, defaults


class _IngestApi(CallerApi):
    parser_classes = [LimitedJSONParser]
    kind = list_key = None
    envelope_fields = frozenset()

    def post(self, request):
        events, defaults = _envelope(json_body(request), self.list_key, self.envelope_fields)
        query = IngestQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        if "user_key" in query.validated_data:
            defaults.setdefault("user_key", query.validated_data["user_key"])
        caller = self.caller(request)
        # The batch's user_key is every event's default, checked by events_ingest as an event's own:
        # a service acts for it; anyone else stays itself, and naming another user rejects the events.
        user_key = defaults.get("user_key") if caller.is_service else caller.user_key
        result = events_ingest(
            kind=self.kind,
            raw_events=events,
            user_key=user_key,
            acting_service=caller.is_service,
            defaults=defaults,
            received_at=request_now(request),
        )
        # By hand, not through IngestResponseSerializer: at a batch of 100 the serializer would
        # cost about a millisecond more per request. test_track_api checks the payload against it.
        payload = {"user_key": user_key, **result.as_dict()}
        if payload["rejected"]:
            logger.warning("batch with rejections id=%s kind=%s accepted=%d duplicate=%d rejected=%d",
                           request_id(request), self.kind, payload["accepted"], payload["duplicate"],
                           payload["rejected"])
        return Response(payload, status=status.HTTP_200_OK)


_RESULTS_EXAMPLE = OpenApiExample("results", response_only=True, value={
    "user_key": EXAMPLE_USER_KEY, "anon_key": EXAMPLE_ANON_KEY, "accepted": 1, "duplicate": 0, "rejected": 0,
    "results": [{"event_id": "0b6f4f4e-8a51-4c39-9d3e-3f1c9a1d2b10", "status": "accepted"}],
})


class TrackApi(_IngestApi):
    """Report what a user did: one event object, or up to 500 under `events`."""

    kind, list_key = INTERACTION, "events"
    envelope_fields = frozenset({"sent_at", "country", "geo_country", "user_key"})

    @extend_schema(
        request=TrackBatchSerializer,
        parameters=[IngestQuerySerializer, AsOfQuerySerializer],
        responses={200: IngestResponseSerializer},
        description=(
            "Per-event results: accepted, duplicate (same event_id stored before) or rejected "
            "(with the field and reason; kept for inspection). 400 only for a body that is not JSON "
            "or not the right shape; 413 for a body over the size limit."
        ),
        examples=[
            OpenApiExample(
                "batch",
                value={
                    "sent_at": "2026-11-26T10:00:05Z",
                    "events": [
                        {
                            "event_id": "0b6f4f4e-8a51-4c39-9d3e-3f1c9a1d2b10",
                            "event_type": "click",
                            "market_id": EXAMPLE_MARKET_ID,
                            "occurred_at": "2026-11-26T10:00:01Z",
                            "section": "grid",
                            "position": 3,
                            "feed_request_id": EXAMPLE_FEED_REQUEST_ID,
                            "country": "IL",
                        }
                    ],
                },
                request_only=True,
            ),
            _RESULTS_EXAMPLE,
        ],
    )
    def post(self, request):
        return super().post(request)


class ImpressionsApi(_IngestApi):
    """Report which markets a feed actually showed (cards that became visible)."""

    kind, list_key = IMPRESSION, "impressions"
    envelope_fields = frozenset({"sent_at", "feed_request_id", "surface", "user_key"})

    @extend_schema(
        request=ImpressionBatchSerializer, parameters=[IngestQuerySerializer, AsOfQuerySerializer],
        responses={200: IngestResponseSerializer},
        examples=[
            OpenApiExample("a feed's cards seen", request_only=True, value={
                "feed_request_id": EXAMPLE_FEED_REQUEST_ID, "surface": "home", "sent_at": "2026-11-26T10:00:05Z",
                "impressions": [{"event_id": "0b6f4f4e-8a51-4c39-9d3e-3f1c9a1d2b11", "market_id": EXAMPLE_MARKET_ID,
                                 "shown_at": "2026-11-26T10:00:00Z", "section": "hero", "position": 0}],
            }),
            _RESULTS_EXAMPLE,
        ],
    )
    def post(self, request):
        return super().post(request)
