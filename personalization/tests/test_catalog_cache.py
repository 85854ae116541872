"""The in-memory catalog reloads on the `now` of the request that asks, never on the wall clock."""
from datetime import UTC, datetime, timedelta

import pytest

from markets.services import catalog_version_bump
from markets.tests.factories import MarketFactory
from personalization.selectors import MAX_AGE_SECONDS, MIN_RELOAD_SECONDS, catalog_current

pytestmark = pytest.mark.django_db
T = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # any date: the wall clock plays no part


def seconds(s):
    return T + timedelta(seconds=s)


def test_a_version_bump_reloads_once_the_minimum_interval_has_passed_on_the_request_clock():
    MarketFactory()
    first, _ = catalog_current(now=T)
    MarketFactory()
    catalog_version_bump()
    assert catalog_current(now=seconds(MIN_RELOAD_SECONDS - 1))[0] is first  # a burst reloads once
    reloaded, _ = catalog_current(now=seconds(MIN_RELOAD_SECONDS))
    assert reloaded is not first and reloaded.pk.size == 2


def test_without_a_bump_the_catalog_stays_while_the_cache_answers():
    MarketFactory()
    first, _ = catalog_current(now=T)
    MarketFactory()  # written without a bump
    assert catalog_current(now=seconds(10 * MAX_AGE_SECONDS))[0] is first


def test_with_the_cache_down_it_reloads_after_the_maximum_age_on_the_request_clock(monkeypatch):
    from personalization import selectors

    MarketFactory()
    first, _ = catalog_current(now=T)
    monkeypatch.setattr(selectors, "cache_get", lambda key, default=None: (default, False))
    MarketFactory()
    kept, degraded = catalog_current(now=seconds(MAX_AGE_SECONDS))
    assert degraded and kept is first
    reloaded, degraded = catalog_current(now=seconds(MAX_AGE_SECONDS + 1))
    assert degraded and reloaded.pk.size == 2


def test_a_caller_working_in_the_past_is_served_the_loaded_catalog_without_a_rebuild():
    """Event batches received in the past (a replay, the demo seeder) and a thread whose clock
    read came a moment earlier must not rebuild the arrays: they are the database's state now."""
    MarketFactory()
    first, _ = catalog_current(now=T)
    assert catalog_current(now=T - timedelta(milliseconds=3))[0] is first
    assert catalog_current(now=T - timedelta(days=30))[0] is first
    MarketFactory()
    catalog_version_bump()
    assert catalog_current(now=T - timedelta(days=30))[0] is first  # its age is 0: under the minimum
    assert catalog_current(now=seconds(MIN_RELOAD_SECONDS))[0].pk.size == 2
