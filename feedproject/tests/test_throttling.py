"""Throttling answers 429 when a client is over its rate, and never a 500 when the cache is down."""
import pytest
from rest_framework.settings import api_settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from markets.tests.factories import MarketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_per_minute(monkeypatch):
    monkeypatch.setattr(
        SimpleRateThrottle, "THROTTLE_RATES", {**api_settings.DEFAULT_THROTTLE_RATES, "anon": "2/minute"}
    )


def test_a_client_over_its_rate_gets_429(two_per_minute):
    MarketFactory()
    client = APIClient()
    assert [client.get("/api/markets").status_code for _ in range(3)] == [200, 200, 429]


def test_a_broken_cache_lets_requests_through_instead_of_failing(two_per_minute, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(SimpleRateThrottle, "cache", type("Broken", (), {"get": broken, "set": broken})())
    client = APIClient()
    assert [client.get("/api/markets").status_code for _ in range(3)] == [200, 200, 200]


def test_visitors_behind_one_address_are_counted_apart(two_per_minute):
    MarketFactory()
    first, second = APIClient(), APIClient()
    first_key = first.get("/api/feed").json()["anon_key"]
    second_key = second.get("/api/feed").json()["anon_key"]
    # The two feed requests above came without a key: they count against the address, not the visitors.
    statuses = [APIClient().get("/api/markets", HTTP_X_USER_KEY=k).status_code for k in (first_key, second_key) * 2]
    assert statuses == [200, 200, 200, 200]
    assert APIClient().get("/api/markets", HTTP_X_USER_KEY=first_key).status_code == 429
