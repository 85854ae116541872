from django.urls import path

from ingestion import apis

urlpatterns = [
    path("track", apis.TrackApi.as_view(), name="track"),
    path("impressions", apis.ImpressionsApi.as_view(), name="impressions"),
]
