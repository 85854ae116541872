"""The site's URLs. Apps are included by name, so this module imports none of them."""
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from feedproject import errors

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("markets.urls")),
    path("api/", include("tracking.urls")),
    path("api/", include("ingestion.urls")),
    path("api/", include("personalization.urls")),
    # After every API include: an unknown /api/ path answers JSON, not Django's HTML 404.
    re_path(r"^api/", errors.api_not_found),
    path("", include("ops.urls")),  # /healthz, with or without the slash
    path("", include("demo.urls")),
]

handler500 = "feedproject.errors.server_error"
