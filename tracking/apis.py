"""`GET /api/trending`: what trends in a scope, with the inputs of each score."""
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from tracking.selectors import market_movers_list, market_trending_list
from tracking.serializers import TrendingQuerySerializer, TrendingSerializer


class TrendingApi(APIView):
    """Markets trending in one scope, best first, with the inputs of their scores; or, with kind=movers, the
    biggest odds moves of 24 h weighted by trading activity.

    A country scope lists only markets with enough distinct users who engaged there in 24 h
    (the smallest `features.local_min_users` of the active feed configs, 5 by default).
    """

    @extend_schema(parameters=[TrendingQuerySerializer], responses=TrendingSerializer)
    def get(self, request):
        query = TrendingQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        scope, kind, limit = (query.validated_data[k] for k in ("scope", "kind", "limit"))
        scope = scope if scope == "global" else scope.upper()
        if kind == "movers":
            as_of, items = market_movers_list(limit=limit)
        else:
            as_of, items = market_trending_list(scope=scope, limit=limit)
        results = []
        for rank, (velocity, inputs) in enumerate(items, start=1):
            velocity.rank, velocity.inputs = rank, inputs
            results.append(velocity)
        return Response(TrendingSerializer({"kind": kind, "scope": scope, "as_of": as_of, "results": results}).data)
