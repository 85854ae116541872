"""The site's URLs. Apps are included by name, so this module imports none of them."""
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("markets.urls")),
    path("api/", include("tracking.urls")),
    path("api/", include("ingestion.urls")),
    path("api/", include("personalization.urls")),
    path("healthz", include("ops.urls")),
    path("", include("demo.urls")),
]
