"""`GET /api/trending`: what trends globally or in a country, with the inputs of each score."""
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from markets.serializers import EXAMPLE_ITEMS, EXAMPLE_MARKET_ID
from tracking.selectors import market_movers_list, market_trending_list
from tracking.serializers import TrendingQuerySerializer, TrendingSerializer, trending_item

_TRENDING_EXAMPLES = [
    OpenApiExample("Israel", value="IL", parameter_only=("country", "query")),
    OpenApiExample("movers", value="movers", parameter_only=("kind", "query")),
    OpenApiExample("trending worldwide", response_only=True, value={
        "kind": "trending", "country": None, "scope": "global", "as_of": "2026-11-26T10:00:00Z", "results": [{
            **EXAMPLE_ITEMS[EXAMPLE_MARKET_ID], "rank": 1, "trending_score": 0.8105, "rising_score": 0.0146,
            "views_5m": 0, "views_1h": 1, "views_24h": 2, "trades_5m": 0, "trades_1h": 0, "trades_24h": 1,
            "unique_users_5m": 0, "unique_users_1h": 2, "unique_users_24h": 10, "engaged_users_24h": 2,
            "backend_volume_5m": 2515.2, "backend_volume_1h": 14470.7, "backend_volume_24h": 321350.66,
            "backend_trades_5m": 0, "backend_trades_1h": 0, "backend_trades_24h": 0, "backend_daily_volume_7d": 0.0,
            "ctr_24h": 0.0909, "odds_change_1h": 0.0033, "participant_delta_24h": 2163,
            "computed_at": "2026-11-26T10:00:00Z", "inputs": {
                "activity_1h": 2, "activity_24h": 6, "expected_1h": 1.0, "spike": 1.0, "log_activity_24h": 1.9459,
                "raw": 2.9459, "evidence": 0.5455, "backend_raw": 12.6803, "backend_evidence": 1.0,
            },
        }],
    }),
]


class TrendingApi(APIView):
    """Markets trending globally or in one `country` (`scope` is its deprecated name), best first, with the
    inputs of their scores; or, with kind=movers, the biggest odds moves of 24 h weighted by trading activity.

    A country lists only markets with enough distinct users who engaged there in 24 h
    (the smallest `features.local_min_users` of the active feed configs, 5 by default).
    """

    @extend_schema(parameters=[TrendingQuerySerializer], responses=TrendingSerializer, examples=_TRENDING_EXAMPLES)
    def get(self, request):
        query = TrendingQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        country, kind, limit = (query.validated_data[k] for k in ("country", "kind", "limit"))
        scope = country or "global"
        if kind == "movers":
            as_of, items = market_movers_list(limit=limit)
        else:
            as_of, items = market_trending_list(scope=scope, limit=limit)
        results = [trending_item(velocity, rank=rank, inputs=inputs)
                   for rank, (velocity, inputs) in enumerate(items, start=1)]
        payload = {"kind": kind, "country": country, "scope": scope, "as_of": as_of, "results": results}
        return Response(TrendingSerializer(payload).data)
