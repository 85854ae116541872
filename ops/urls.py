from django.urls import path

from ops.apis import HealthzApi

urlpatterns = [path("", HealthzApi.as_view(), name="healthz")]
