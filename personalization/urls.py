from django.urls import path

from personalization import apis

urlpatterns = [
    path("feed", apis.FeedApi.as_view(), name="feed"),
    path("rank", apis.RankApi.as_view(), name="rank"),
    path("profile", apis.ProfileApi.as_view(), name="profile"),
]
