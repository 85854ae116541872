"""market_trending_refresh: spike against the day, ranked per scope, with local minimum support."""
from datetime import timedelta

import pytest

from markets.models import MarketVelocity
from markets.scores import evidence_weight
from markets.tests.factories import MarketFactory
from personalization.feed_configs import feed_config_save_version
from personalization.ranking.config import default_params
from personalization.services import market_trending_refresh_configured
from tracking.tests.pipeline_data import T0, event, ingest, velocity_table
from tracking.velocity import market_trending_refresh, market_velocity_refresh

pytestmark = pytest.mark.django_db
NOW = T0


def refresh(now=NOW):
    """Velocity first, as beat and run_periodic_tasks order them: local support reads its users."""
    market_velocity_refresh(now=now)
    return market_trending_refresh_configured(now=now)


def trending(market, scope="global"):
    return MarketVelocity.objects.get(market=market, scope=scope).trending_score


def ranked(share, engagements):
    """The trending score of a market with this rank share in its scope and this many engagements in 24 h."""
    return pytest.approx(share * float(evidence_weight(engagements)))


def steady(market, per_hour, hours=24, country="", users=3):
    return [
        event(market, f"u:{market.pk}-{k % users}", "view_market", NOW - timedelta(hours=h, minutes=7 + k),
              country=country)
        for h in range(1, hours) for k in range(per_hour)
    ]


def burst(market, count, country="", users=None):
    users = users or count
    return [event(market, f"u:b{market.pk}-{k % users}", "click", NOW - timedelta(minutes=2 + k % 50),
                  country=country) for k in range(count)]


def test_a_market_spiking_in_the_last_hour_outranks_a_busier_steady_one():
    steady_market, spiking, quiet = MarketFactory.create_batch(3)
    ingest(steady(steady_market, 6) + burst(spiking, 20) + steady(quiet, 1), received_at=NOW)
    market_trending_refresh(now=NOW, min_users=5)
    assert trending(spiking) == ranked(1.0, 20)
    assert trending(steady_market) == ranked(2 / 3, 6 * 23)
    assert trending(quiet) == ranked(1 / 3, 23)


def test_scores_are_ranked_within_each_scope_separately():
    a, b = MarketFactory.create_batch(2)
    ingest(burst(a, 12, country="IL") + burst(b, 30, country="US"), received_at=NOW)
    refresh()
    assert trending(a, "IL") == ranked(1.0, 12) and trending(b, "US") == ranked(1.0, 30)
    assert trending(b) == ranked(1.0, 30) and trending(a) == ranked(0.5, 12)


def test_a_country_needs_five_distinct_users_on_the_market_for_local_trending():
    supported, thin = MarketFactory.create_batch(2)
    ingest(burst(supported, 10, country="IL", users=5) + burst(thin, 40, country="IL", users=4), received_at=NOW)
    refresh()
    assert trending(supported, "IL") == ranked(1.0, 10)
    assert trending(thin, "IL") == 0.0
    assert trending(thin) == ranked(1.0, 40)  # the global scope has no minimum


def test_the_minimum_comes_from_the_active_feed_configs():
    thin = MarketFactory()
    ingest(burst(thin, 12, country="IL", users=3), received_at=NOW)
    params = default_params()
    params["features"]["local_min_users"] = 3
    feed_config_save_version(surface="home", params=params, note="small country", created_by=None, activate=True)
    assert refresh()["min_local_users"] == 3
    assert trending(thin, "IL") == ranked(1.0, 12)


def test_local_support_is_the_users_count_of_the_velocity_row():
    m = MarketFactory()
    ingest(burst(m, 10, country="IL", users=5), received_at=NOW)
    market_trending_refresh(now=NOW, min_users=5)  # before any velocity run: no users known there yet
    assert not MarketVelocity.objects.filter(market=m, scope="IL", trending_score__gt=0).exists()
    assert trending(m) == ranked(1.0, 10)
    refresh()
    assert trending(m, "IL") == ranked(1.0, 10)


def test_markets_whose_activity_left_the_window_go_back_to_zero():
    m = MarketFactory()
    ingest(burst(m, 5), received_at=NOW)
    market_trending_refresh(now=NOW, min_users=5)
    assert trending(m) == ranked(1.0, 5)
    market_trending_refresh(now=NOW + timedelta(hours=25), min_users=5)
    assert trending(m) == 0.0


def test_trending_keeps_the_velocity_fields_and_velocity_keeps_trending():
    m = MarketFactory()
    ingest(burst(m, 5), received_at=NOW)
    market_velocity_refresh(now=NOW)
    market_trending_refresh(now=NOW, min_users=5)
    v = MarketVelocity.objects.get(market=m, scope="global")
    assert (v.trending_score, v.unique_users_24h) == (ranked(1.0, 5), 5)
    market_velocity_refresh(now=NOW)
    assert trending(m) == ranked(1.0, 5)


def test_one_click_lifts_a_market_by_a_sixth_of_its_rank_and_a_busy_market_keeps_most_of_it():
    clicked_once, busy = MarketFactory.create_batch(2)
    ingest(burst(clicked_once, 1) + burst(busy, 45), received_at=NOW)
    market_trending_refresh(now=NOW, min_users=5)
    assert trending(clicked_once) == pytest.approx(0.5 / 6)  # rank 1 of 2, one engagement
    assert trending(busy) == pytest.approx(45 / 50)


def test_running_twice_gives_the_same_rows_as_running_once():
    markets = MarketFactory.create_batch(4)
    ingest(burst(markets[0], 8, "IL") + steady(markets[1], 2, country="IL") + burst(markets[2], 3), received_at=NOW)
    market_velocity_refresh(now=NOW)
    market_trending_refresh(now=NOW, min_users=5)
    once = velocity_table(exclude=("id",))
    market_trending_refresh(now=NOW, min_users=5)
    assert velocity_table(exclude=("id",)) == once
    assert any(v["trending_score"] > 0 for v in once.values())
