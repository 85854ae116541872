from django.urls import path

from tracking import apis

urlpatterns = [
    path("trending", apis.TrendingApi.as_view(), name="trending"),
]
