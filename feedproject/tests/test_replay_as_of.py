"""`as_of`: a replay token acts at a given time on the feed, rank, ingestion and market endpoints;
nobody else may move the clock."""
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from rest_framework.test import APIClient

from feedproject.identity import REPLAY_PERMISSION, SERVICE_PERMISSION
from feedproject.tests.clients import token_client
from ingestion.tests.conftest import make_event, make_impression
from markets.models import Market, MarketSnapshot
from markets.tests.factories import MarketFactory
from tracking.models import Impression, Interaction, ServedItem

pytestmark = pytest.mark.django_db
SERVICE, REPLAY = SERVICE_PERMISSION.split(".")[1], REPLAY_PERMISSION.split(".")[1]


@pytest.fixture
def as_of():
    return (timezone.now() - timedelta(hours=2)).replace(microsecond=0)


@pytest.fixture
def replay():
    return token_client("evaluator", SERVICE, REPLAY, "change_market")


@pytest.fixture
def markets(db):
    return [MarketFactory(market_id=f"m-{k}", created_at=timezone.now() - timedelta(days=5)) for k in range(3)]


def test_a_replay_token_gets_the_feed_as_of_the_time_it_names_and_it_is_logged_so(replay, markets, as_of):
    response = replay.get("/api/feed", {"user_key": "u:7", "as_of": as_of.isoformat()})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["generated_at"] == as_of.isoformat().replace("+00:00", "Z")
    items = [item for section in body["sections"].values() for item in section]
    assert items and all(item["pool"] for item in items)
    assert set(ServedItem.objects.values_list("served_at", flat=True)) == {as_of}


def test_a_replay_token_ingests_with_received_at_as_of(replay, markets, as_of):
    at = as_of - timedelta(minutes=1)
    track = replay.post("/api/track?" + _query(as_of),
                        {"events": [make_event("m-0", at=at, user_key="u:7")]}, format="json")
    impressions = replay.post("/api/impressions?" + _query(as_of),
                              {"impressions": [make_impression("m-1", at=at, user_key="u:7")]}, format="json")
    assert (track.json()["accepted"], impressions.json()["accepted"]) == (1, 1)
    assert Interaction.objects.get().received_at == as_of
    assert Impression.objects.get().received_at == as_of


def test_an_event_after_as_of_is_in_the_future_of_the_replay(replay, markets, as_of):
    response = replay.post("/api/track?" + _query(as_of),
                           {"events": [make_event("m-0", at=as_of + timedelta(hours=1), user_key="u:7")]},
                           format="json")
    assert response.json()["results"][0]["status"] == "rejected"


def test_a_replay_token_updates_a_market_at_as_of(replay, markets, as_of):
    response = replay.patch("/api/markets/m-0?" + _query(as_of), {"probability": 0.9}, format="json")
    assert response.status_code == 200, response.json()
    assert Market.objects.get(market_id="m-0").probability == 0.9
    assert MarketSnapshot.objects.get(market__market_id="m-0").taken_at == as_of


def test_a_replay_token_ranks_as_of(replay, markets, as_of):
    response = replay.post("/api/rank?" + _query(as_of), {"market_ids": ["m-0", "m-9"], "user_key": "u:7"},
                           format="json")
    assert response.status_code == 200, response.json()
    assert [r["market_id"] for r in response.json()["ranked"]] == ["m-0"]


@pytest.mark.parametrize("permissions", [(), (SERVICE,), (SERVICE, "change_market")])
@pytest.mark.parametrize("method, path", [
    ("get", "/api/feed"), ("post", "/api/rank"), ("post", "/api/track"), ("post", "/api/impressions"),
    ("patch", "/api/markets/m-0"),
])
def test_without_the_replay_permission_as_of_is_refused_with_403(markets, as_of, permissions, method, path):
    client = token_client("service", *permissions)
    response = getattr(client, method)(f"{path}?{_query(as_of)}", *_body(method, path), format="json")
    if path.startswith("/api/markets") and "change_market" not in permissions:
        assert response.status_code == 403  # the market permission is checked first
        return
    assert response.status_code == 403
    assert response.json() == {"detail": "Only a service token with the ops.replay_as_of permission may pass as_of."}
    assert not Interaction.objects.exists() and not Impression.objects.exists()


def test_a_browser_session_never_passes_as_of_even_with_the_permission(markets, as_of, django_user_model):
    user = django_user_model.objects.create_user("editor", password="x")
    user.user_permissions.add(Permission.objects.get(codename=REPLAY))
    client = APIClient()
    client.force_login(user)
    assert client.get("/api/feed?" + _query(as_of)).status_code == 403


@pytest.mark.parametrize("value, message", [
    ("yesterday", "Datetime has wrong format"),
    ("2026-11-26T10:00:00", "Give the time zone"),
    ("2026-11-26T10:99:00Z", "Datetime has wrong format"),
    ("1970-01-01T00:00:00Z", "Must be from 2000-01-01"),
    ("9999-12-31T23:59:59+00:00", "Must be from 2000-01-01"),
    ("", "Datetime has wrong format"),
])
def test_a_bad_as_of_is_a_400_on_the_field(replay, markets, value, message):
    response = replay.get("/api/feed", {"user_key": "u:7", "as_of": value})
    assert response.status_code == 400
    assert list(response.json()) == ["as_of"] and message in response.json()["as_of"][0]


def test_without_as_of_a_replay_token_acts_now(replay, markets):
    before = timezone.now()
    body = replay.get("/api/feed", {"user_key": "u:7"}).json()
    assert datetime.fromisoformat(body["generated_at"]) >= before


def _query(as_of):
    return "as_of=" + as_of.isoformat().replace("+", "%2B")


def _body(method, path):
    if method == "get":
        return ()
    if path.startswith("/api/markets"):
        return ({"probability": 0.5},)
    if path == "/api/rank":
        return ({"market_ids": ["m-0"]},)
    if path == "/api/track":
        return ({"events": [make_event("m-0", user_key="u:7")]},)
    return ({"impressions": [make_impression("m-0", user_key="u:7")]},)
