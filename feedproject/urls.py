from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from personalization import pages

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("markets.urls")),
    path("api/", include("tracking.urls")),
    path("healthz", include("ops.urls")),
    path("api/", include("personalization.urls")),
    path("", pages.FeedPage.as_view(), name="demo-feed"),
    path("markets/<slug:market_id>", pages.MarketPage.as_view(), name="demo-market"),
]
