from django.urls import path

from markets import apis

urlpatterns = [
    path("markets", apis.MarketListApi.as_view(), name="market-list"),
    path("markets/<slug:market_id>", apis.MarketDetailApi.as_view(), name="market-detail"),
]
