"""`GET /api/trending`: what trends globally or in a country, with the inputs of each score."""
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from tracking.selectors import market_movers_list, market_trending_list
from tracking.serializers import TrendingQuerySerializer, TrendingSerializer, trending_item


class TrendingApi(APIView):
    """Markets trending globally or in one `country` (`scope` is its deprecated name), best first, with the
    inputs of their scores; or, with kind=movers, the biggest odds moves of 24 h weighted by trading activity.

    A country lists only markets with enough distinct users who engaged there in 24 h
    (the smallest `features.local_min_users` of the active feed configs, 5 by default).
    """

    @extend_schema(parameters=[TrendingQuerySerializer], responses=TrendingSerializer)
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
