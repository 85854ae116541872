"""The site's URLs. Apps are included by name, so this module imports none of them."""
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from feedproject import errors

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view loads Swagger UI's setup as a script from this same URL instead of inline,
    # so the docs page runs under the site's CSP without 'unsafe-inline' (docs/configuration.md).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("markets.urls")),
    path("api/", include("tracking.urls")),
    path("api/", include("ingestion.urls")),
    path("api/", include("personalization.urls")),
    path("", include("ops.urls")),  # /healthz, with or without the slash; /api/ops/periodic-tasks/run
    # After every API include: an unknown /api/ path answers JSON, not Django's HTML 404.
    re_path(r"^api/", errors.api_not_found),
    path("", include("demo.urls")),
]

handler500 = "feedproject.errors.server_error"
