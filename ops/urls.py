from django.urls import path

from ops.apis import HealthzApi, PeriodicTasksRunApi

urlpatterns = [
    path("healthz", HealthzApi.as_view(), name="healthz"),
    # Monitors are configured with and without the slash; both get the same answer, not a redirect.
    # Kept out of the schema, which publishes one path per operation.
    path("healthz/", HealthzApi.as_view(schema=None)),
    path("api/ops/periodic-tasks/run", PeriodicTasksRunApi.as_view(), name="periodic-tasks-run"),
]
