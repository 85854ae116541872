"""Throttling answers 429 when a client is over its rate, and never a 500 when the cache is down."""
import threading
import uuid
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.settings import api_settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from feedproject.identity import anonymous_key_new
from feedproject.throttling import AnonThrottle
from markets.tests.factories import MarketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def one_window(monkeypatch):
    """The counters are per fixed window: a test that crossed a period boundary would start over
    half-way, so every test here runs inside one window, 0.5 s after it opens."""
    monkeypatch.setattr(SimpleRateThrottle, "timer", lambda self: 7200.5)


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


@pytest.fixture
def rate(monkeypatch):
    def set_rate(scope, value):
        monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**api_settings.DEFAULT_THROTTLE_RATES, scope: value})
    return set_rate


def _statuses(n, **headers):
    client = APIClient()
    return [client.get("/api/markets", **headers).status_code for _ in range(n)]


def test_random_garbage_keys_from_one_address_are_throttled_like_no_key(rate):
    MarketFactory()
    rate("anon", "10/minute")
    garbage = [APIClient().get("/api/markets", HTTP_X_USER_KEY=uuid.uuid4().hex).status_code for _ in range(50)]
    cache.clear()
    assert garbage == _statuses(50) == [200] * 10 + [429] * 40


def test_two_valid_signed_keys_have_separate_budgets(rate):
    MarketFactory()
    rate("anon", "3/minute")
    first, second = anonymous_key_new()[1], anonymous_key_new()[1]
    assert _statuses(4, HTTP_X_USER_KEY=first) == [200, 200, 200, 429]
    assert _statuses(4, HTTP_X_USER_KEY=second) == [200, 200, 200, 429]
    assert _statuses(1) == [200]  # the address has its own budget too


def test_a_forged_forwarded_for_does_not_make_a_new_client(rate, settings):
    MarketFactory()
    rate("anon", "2/minute")
    forged = [APIClient().get("/api/markets", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}").status_code for i in range(4)]
    assert forged == [200, 200, 429, 429]
    settings.THROTTLE_TRUST_X_FORWARDED_FOR = True  # behind a proxy that sets it: the first hop is the client
    assert _statuses(3, HTTP_X_FORWARDED_FOR="10.1.1.1, 10.9.9.9") == [200, 200, 429]
    assert _statuses(1, HTTP_X_FORWARDED_FOR="10.1.1.2, 10.9.9.9") == [200]


def test_a_token_user_is_counted_per_user_whatever_key_it_sends(rate):
    MarketFactory()
    rate("user", "2/minute")
    token = Token.objects.create(user=User.objects.create_user("svc"))
    headers = {"HTTP_AUTHORIZATION": f"Token {token.key}"}
    statuses = [APIClient().get("/api/markets", HTTP_X_USER_KEY=uuid.uuid4().hex, **headers).status_code
                for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_a_throttled_request_says_when_to_retry(two_per_minute):
    client = APIClient()
    client.get("/api/markets")
    client.get("/api/markets")
    response = client.get("/api/markets")
    assert response.status_code == 429
    assert response["Retry-After"] == "60"  # 59.5 s left in the window, rounded up


def test_concurrent_requests_are_each_counted_once(monkeypatch):
    """8 threads at once against the configured cache (Redis with REDIS_URL, else LocMemCache)."""
    threads, per_thread, limit = 8, 50, 150
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": f"{limit}/hour", "user": None})
    request = SimpleNamespace(user=AnonymousUser(), META={"REMOTE_ADDR": "10.2.3.4"}, COOKIES={})
    allowed = []
    start = threading.Barrier(threads)

    def client():
        start.wait()
        mine = sum(AnonThrottle().allow_request(request, None) for _ in range(per_thread))
        allowed.append(mine)

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert sum(allowed) == limit
    assert cache.get("throttle_anon_ip:10.2.3.4:2") == threads * per_thread
