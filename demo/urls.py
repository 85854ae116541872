from django.urls import path

from demo import pages

urlpatterns = [
    path("", pages.FeedPage.as_view(), name="demo-feed"),
    path("markets/<slug:market_id>", pages.MarketPage.as_view(), name="demo-market"),
]
