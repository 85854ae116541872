"""Read the catalog; let the trading backend push market state."""
import logging

from django.http import Http404
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, permissions, serializers
from rest_framework.exceptions import ParseError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from feedproject.api import AsOfQuerySerializer, LimitedJSONParser, json_body, request_now
from feedproject.fields import UNSTORABLE
from feedproject.openapi import EXAMPLE_TIME
from feedproject.request_log import request_id
from markets.models import Market
from markets.selectors import event_siblings, market_get, markets_list
from markets.serializers import (
    EXAMPLE_EVENT_MARKET_ID,
    EXAMPLE_MARKET_ID,
    EXAMPLE_RELATED_ID,
    EXAMPLE_SIBLING_ID,
    MarketDetailSerializer,
    MarketListQuerySerializer,
    MarketSerializer,
    MarketStateSerializer,
    MarketStatesPushSerializer,
    MarketStatesResultSerializer,
    example_market,
)
from markets.services import REJECTED, RESULT_STATUSES, market_states_update
from markets.validation import MARKET_ID_MAX_LENGTH, STATE_UPDATES_MAX, Invalid, future_limit, state_update_parse

logger = logging.getLogger(__name__)


class CanChangeMarkets(permissions.BasePermission):
    message = "A service token with the markets.change_market permission is required."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.has_perm("markets.change_market"))


class MarketPagination(LimitOffsetPagination):
    """Always a page: without a limit the catalog would go out whole, and a client could ask for all of it.

    limit=0 or no limit gives the default page; a limit above the maximum gives the maximum.
    """

    default_limit = 50
    max_limit = 200
    limit_query_description = "Markets per page: 50 when absent, 0 or negative; at most 200."

    def get_paginated_response_schema(self, schema):
        """DRF's page shape, with the example values of this API (a page of the demo catalog)."""
        page = super().get_paginated_response_schema(schema)
        examples = {"count": 300, "next": "https://example.org/api/markets?limit=1&offset=1", "previous": None}
        for name, value in examples.items():
            page["properties"][name]["example"] = value
        return page


_DETAIL_EXAMPLES = [
    OpenApiExample("a demo market", value=EXAMPLE_EVENT_MARKET_ID, parameter_only=("market_id", "path")),
]
_DETAIL_EXAMPLE = {**example_market(), "event_siblings": [
    {"market_id": EXAMPLE_SIBLING_ID, "title": "Will Corinthians win the Brasileirão this season?",
     "probability": 0.1544, "status": "open"},
]}


class MarketListApi(generics.ListAPIView):
    """Markets, newest volume first; filter by status, category, tag (slug) or a title search."""

    serializer_class = MarketSerializer
    pagination_class = MarketPagination

    @extend_schema(
        parameters=[MarketListQuerySerializer],
        examples=[
            OpenApiExample("a category", value="Sports", parameter_only=("category", "query")),
            OpenApiExample("title words", value="Brasileirão", parameter_only=("q", "query")),
            OpenApiExample("open only", value="open", parameter_only=("status", "query")),
            # A page of it: drf-spectacular puts the market in the paginator's envelope (MarketPagination).
            OpenApiExample("a page", response_only=True, value=example_market()),
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = MarketListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        return markets_list(status=q.get("status"), category=q.get("category"), tag=q.get("tag"), q=q.get("q"))


class MarketDetailApi(APIView):
    """One market with its event's other outcomes (GET); its trading state pushed by a service token
    (PATCH), which writes a snapshot."""

    parser_classes = [LimitedJSONParser]

    def get_permissions(self):
        if self.request.method == "PATCH":
            return [CanChangeMarkets()]
        return [permissions.AllowAny()]

    @extend_schema(responses=MarketDetailSerializer, examples=[*_DETAIL_EXAMPLES, OpenApiExample(
        "a market", response_only=True, value=_DETAIL_EXAMPLE,
    )])
    def get(self, request, market_id):
        return Response(_market_detail(_market_or_404(market_id)))

    @extend_schema(
        request=MarketStateSerializer, parameters=[AsOfQuerySerializer], responses=MarketDetailSerializer,
        description="The same fields and rules as one update of POST /api/markets/state; `at` defaults to the "
        "request's time. A state older than the market's current one is stored as history and the market "
        "is returned unchanged.",
        examples=[
            *_DETAIL_EXAMPLES,
            OpenApiExample("new odds", request_only=True,
                           value={"at": EXAMPLE_TIME, "probability": 0.0171, "volume_24h": 14790.3, "trades_24h": 12}),
            OpenApiExample("the market now", response_only=True, value=_DETAIL_EXAMPLE),
        ],
    )
    def patch(self, request, market_id):
        _market_or_404(market_id)
        body = json_body(request)
        now = request_now(request)
        try:
            update = state_update_parse(body, now=now, market_id=market_id)
        except Invalid as invalid:
            field = "non_field_errors" if invalid.field == "update" else invalid.field
            raise serializers.ValidationError({field: [invalid.reason]}) from None
        (result,) = market_states_update(updates=[update], now=now)
        if result["status"] == REJECTED:  # deleted since the 404 check
            raise Http404(f"No market {market_id!r}.")
        return Response(_market_detail(market_get(market_id=market_id)))


class MarketStatesPushApi(APIView):
    """`POST /api/markets/state`: the trading backend's batch of market states, each with its time."""

    parser_classes = [LimitedJSONParser]
    permission_classes = [CanChangeMarkets]

    @extend_schema(
        request=MarketStatesPushSerializer,
        parameters=[AsOfQuerySerializer],
        responses={200: MarketStatesResultSerializer},
        description=(
            "Per-update results, in order: applied (the market's current state moved), history (older than "
            "the current state: stored as a snapshot of that moment only), unchanged, duplicate (that moment "
            "is stored with these values already), rejected (with the field and reason; the other updates "
            "are still applied). 400 only for a body that is not JSON or not {\"updates\": [...]}; "
            "413 for a body over the size limit. docs/market-state.md."
        ),
        examples=[
            OpenApiExample(
                "batch",
                value={"updates": [
                    {"market_id": EXAMPLE_MARKET_ID, "at": "2026-11-26T10:00:00Z", "probability": 0.3402,
                     "volume_24h": 53956.39, "trades_24h": 840},
                    {"market_id": EXAMPLE_RELATED_ID, "at": "2026-11-26T09:59:30Z", "participant_count": 1200},
                ]},
                request_only=True,
            ),
            OpenApiExample("results", response_only=True, value={
                "applied": 1, "history": 1, "unchanged": 0, "duplicate": 0, "rejected": 0, "results": [
                    {"market_id": EXAMPLE_MARKET_ID, "status": "applied"},
                    {"market_id": EXAMPLE_RELATED_ID, "status": "history"},
                ],
            }),
        ],
    )
    def post(self, request):
        raw_updates = _updates_envelope(json_body(request))
        now = request_now(request)
        latest = future_limit(now)
        results = [None] * len(raw_updates)
        valid, positions = [], []
        for index, raw in enumerate(raw_updates):
            try:
                if index >= STATE_UPDATES_MAX:
                    raise Invalid("updates", f"over the limit of {STATE_UPDATES_MAX} a request; send it in another")
                valid.append(state_update_parse(raw, now=now, latest=latest))
                positions.append(index)
            except Invalid as invalid:
                results[index] = {"market_id": _market_id_echo(raw), "status": REJECTED, "field": invalid.field,
                                  "reason": invalid.reason}
        for index, result in zip(positions, market_states_update(updates=valid, now=now), strict=True):
            results[index] = result
        # By hand, not through MarketStatesResultSerializer (a serializer per result costs more than the
        # write at 1,000 updates); the tests check the payload against it.
        counts = dict.fromkeys(RESULT_STATUSES, 0)
        for result in results:
            counts[result["status"]] += 1
        if counts[REJECTED]:
            logger.warning("market states with rejections id=%s %s", request_id(request),
                           " ".join(f"{k}={v}" for k, v in counts.items()))
        return Response({**counts, "results": results})


def _updates_envelope(body):
    if not isinstance(body, dict):
        raise ParseError('The body must be a JSON object: {"updates": [...]}.')
    extra = sorted(set(body) - {"updates"})
    if extra:
        raise ParseError(f"Unknown field(s) in the body: {', '.join(repr(k) for k in extra)[:200]}.")
    if "updates" not in body:
        raise ParseError("'updates' is required.")
    if not isinstance(body["updates"], list):
        raise ParseError("'updates' must be a list of update objects.")
    return body["updates"]


def _market_id_echo(raw):
    value = raw.get("market_id") if isinstance(raw, dict) else None
    if not isinstance(value, str):
        return None
    return UNSTORABLE.sub("\ufffd", value[:MARKET_ID_MAX_LENGTH])


def _market_detail(market):
    return MarketDetailSerializer(market, context={"event_siblings": event_siblings(market)}).data


def _market_or_404(market_id):
    try:
        return market_get(market_id=market_id)
    except Market.DoesNotExist:
        raise Http404(f"No market {market_id!r}.") from None
