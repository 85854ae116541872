"""Read the catalog; let the trading backend push market state."""
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, permissions
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from feedproject.api import AsOfQuerySerializer, LimitedJSONParser, json_body, request_now
from markets.models import Market
from markets.selectors import event_siblings, market_get, markets_list
from markets.serializers import (
    MarketDetailSerializer,
    MarketListQuerySerializer,
    MarketSerializer,
    MarketStateSerializer,
)
from markets.services import market_state_update


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


class MarketListApi(generics.ListAPIView):
    """Markets, newest volume first; filter by status, category, tag (slug) or a title search."""

    serializer_class = MarketSerializer
    pagination_class = MarketPagination

    @extend_schema(parameters=[MarketListQuerySerializer])
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

    @extend_schema(responses=MarketDetailSerializer)
    def get(self, request, market_id):
        return Response(_market_detail(_market_or_404(market_id)))

    @extend_schema(request=MarketStateSerializer, parameters=[AsOfQuerySerializer], responses=MarketDetailSerializer)
    def patch(self, request, market_id):
        _market_or_404(market_id)
        serializer = MarketStateSerializer(data=json_body(request))
        serializer.is_valid(raise_exception=True)
        market_state_update(market_id=market_id, changes=serializer.validated_data, at=request_now(request))
        return Response(_market_detail(market_get(market_id=market_id)))


def _market_detail(market):
    return MarketDetailSerializer(market, context={"event_siblings": event_siblings(market)}).data


def _market_or_404(market_id):
    try:
        return market_get(market_id=market_id)
    except Market.DoesNotExist:
        raise Http404(f"No market {market_id!r}.") from None
