"""While the cache is down, the log gets one traceback and then one warning per interval, not one per call."""
import logging
import threading

import pytest

import feedproject.cache
from feedproject.cache import _OutageLog, cache_get, cache_set

CLOSED = "redis://127.0.0.1:1/0"


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def cache_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CLOSED,
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    assert cache_get("probe") == (None, False)  # really down


@pytest.fixture
def clock(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(feedproject.cache, "outage_log", _OutageLog(interval=60, clock=clock))
    return clock


def _records(caplog):
    return [r for r in caplog.records if r.name == "feedproject.cache"]


def test_an_outage_logs_one_traceback_then_one_counted_warning_per_interval(cache_down, clock, caplog):
    caplog.set_level(logging.WARNING, logger="feedproject.cache")
    for _ in range(200):
        assert cache_get("k") == (None, False)
        assert cache_set("k", 1) is False
    records = _records(caplog)
    assert len(records) == 1 and records[0].exc_info is not None

    clock.now += 59
    cache_get("k")
    assert len(_records(caplog)) == 1
    clock.now += 1
    cache_get("k")
    records = _records(caplog)
    assert len(records) == 2 and records[1].exc_info is None
    assert "401 failed calls" in records[1].getMessage()  # 399 after the first, the one at 59 s, this one


def test_the_outage_log_is_thread_safe(cache_down, clock, caplog):
    caplog.set_level(logging.WARNING, logger="feedproject.cache")

    def hammer():
        for _ in range(25):
            cache_get("k")

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(_records(caplog)) == 1
    clock.now += 60
    cache_get("k")
    assert "200 failed calls" in _records(caplog)[-1].getMessage()  # 199 suppressed + this one


def test_a_recovered_cache_says_so_and_the_next_outage_logs_its_traceback(settings, clock, caplog):
    caplog.set_level(logging.WARNING, logger="feedproject.cache")
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CLOSED,
                                   "OPTIONS": {"socket_connect_timeout": 0.2}}}
    cache_get("k")
    cache_get("k")
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert cache_set("k", 1) is True
    assert "reachable again (1 failed calls" in _records(caplog)[-1].getMessage()
    cache_get("k")
    assert len(_records(caplog)) == 2  # a working cache logs nothing
