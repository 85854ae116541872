from django.urls import path

from markets import apis

urlpatterns = [
    path("markets", apis.MarketListApi.as_view(), name="market-list"),
    # Before the detail route, which would take "state" for a market_id.
    path("markets/state", apis.MarketStatesPushApi.as_view(), name="market-states-push"),
    path("markets/<slug:market_id>", apis.MarketDetailApi.as_view(), name="market-detail"),
]
