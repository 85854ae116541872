"""Velocity, trending and rising from the trading backend's pushed state, alone and beside app events."""
import math
from datetime import timedelta

import pytest

from markets.models import MarketVelocity
from markets.scores import backend_evidence, evidence_weight, rising_score
from markets.services import market_states_update
from markets.tests.factories import MarketFactory
from markets.validation import StateUpdate
from tracking.tests.pipeline_data import T0, event, impression, ingest, ingest_impressions
from tracking.velocity import market_trending_refresh, market_velocity_refresh

pytestmark = pytest.mark.django_db
NOW = T0


def push(market, hours_ago, **state):
    """The trading backend's push, through the service PATCH /api/markets/{id} and POST /api/markets/state call."""
    at = NOW - timedelta(hours=hours_ago)
    [result] = market_states_update(updates=[StateUpdate(market.market_id, at, state)], now=at)
    assert result["status"] != "rejected", result


def trade_day(market, per_hour, last_hour=None, trades_per_hour=20):
    """Hourly pushes over a day: `per_hour` volume an hour (the last hour `last_hour`), cumulative and rolling."""
    hourly = []
    for h in range(24, -1, -1):
        hourly.append(per_hour if h > 0 or last_hour is None else last_hour)
        push(market, h, volume_total=sum(hourly), volume_24h=sum(hourly[-24:]), trades_24h=trades_per_hour * 24)


def row(market, scope="global"):
    return MarketVelocity.objects.get(market=market, scope=scope)


def refresh(min_users=5):
    market_velocity_refresh(now=NOW)
    return market_trending_refresh(now=NOW, min_users=min_users)


def test_global_trending_works_on_backend_data_alone():
    big, accelerating, small = (MarketFactory(volume_total=0, volume_24h=0, trades_24h=0) for _ in range(3))
    trade_day(big, 1_000)
    trade_day(accelerating, 500, last_hour=5_000)
    trade_day(small, 10)
    result = refresh()
    assert result["scored"] == 3
    assert row(big).backend_volume_24h > row(accelerating).backend_volume_24h > row(small).backend_volume_24h
    assert row(accelerating).backend_volume_1h == pytest.approx(5_000)
    # No app event at all: the backend alone ranks them, the market trading fastest now first.
    scores = {name: row(m).trending_score for name, m in (("big", big), ("acc", accelerating), ("small", small))}
    assert scores["acc"] > scores["big"] > scores["small"] > 0
    assert scores["acc"] == pytest.approx(1.0 * float(backend_evidence(row(accelerating).backend_trades_24h, 1)))


def test_global_trending_works_on_app_events_alone():
    clicked, quiet = MarketFactory.create_batch(2)
    ingest([event(clicked, f"u:{k}", "click", NOW - timedelta(minutes=3 + k)) for k in range(8)], received_at=NOW)
    refresh()
    assert row(clicked).trending_score == pytest.approx(float(evidence_weight(8)))
    assert row(quiet).trending_score == 0


def test_with_both_sources_a_market_busy_on_both_outranks_one_busy_on_either():
    both, backend_only, app_only = (MarketFactory(volume_total=0, volume_24h=0, trades_24h=0) for _ in range(3))
    trade_day(both, 500)
    trade_day(backend_only, 500)
    ingest([event(m, f"u:{m.pk}-{k}", "click", NOW - timedelta(minutes=3 + k)) for m in (both, app_only)
            for k in range(8)], received_at=NOW)
    refresh()
    assert row(both).trending_score > row(backend_only).trending_score > 0
    assert row(both).trending_score > row(app_only).trending_score > 0
    # The mean of the two evidence-weighted ranks: the app's rank is shared by the two clicked markets.
    app, backend = float(evidence_weight(8)), float(backend_evidence(row(both).backend_trades_24h, 1))
    assert row(both).trending_score == pytest.approx((app + backend) / 2)
    assert row(app_only).trending_score == pytest.approx(app / 2)


def test_local_scopes_stay_app_based_and_count_only_users_who_engaged():
    shown, engaged = MarketFactory.create_batch(2)
    # Six users known in Israel were shown `shown` (the feed's own pushes) and one clicked it; five clicked `engaged`.
    elsewhere = MarketFactory()
    ingest([event(elsewhere, f"u:{k}", "view_market", NOW - timedelta(hours=3), country="IL") for k in range(6)],
           received_at=NOW - timedelta(hours=3))
    ingest([event(shown, "u:0", "click", NOW - timedelta(minutes=5), country="IL")], received_at=NOW)
    ingest_impressions([impression(shown, f"u:{k}", NOW - timedelta(minutes=4)) for k in range(6)], received_at=NOW)
    ingest([event(engaged, f"u:{k}", "click", NOW - timedelta(minutes=5), country="IL") for k in range(10, 15)],
           received_at=NOW)
    trade_day(shown, 5_000)  # the backend's volume does not make a market trend in a country
    refresh()
    assert row(shown, "IL").unique_users_24h == 6 and row(shown, "IL").engaged_users_24h == 1
    assert row(engaged, "IL").engaged_users_24h == 5
    assert row(shown, "IL").trending_score == 0
    assert row(engaged, "IL").trending_score == pytest.approx(float(evidence_weight(5)))
    # The backend's activity is on the global row only (it knows no country).
    assert row(shown).backend_volume_24h > 0 and row(shown, "IL").backend_volume_24h == 0


def test_rising_fires_on_pushed_odds_with_no_app_trade():
    m = MarketFactory(probability=0.5, volume_total=0, volume_24h=0, trades_24h=0)
    push(m, 30, probability=0.38)
    push(m, 2, probability=0.005)
    market_velocity_refresh(now=NOW)
    assert row(m).trades_24h == 0 and row(m).backend_trades_24h == 0
    assert row(m).rising_score == pytest.approx(float(rising_score(0.005, 0.38, 0)))
    assert row(m).rising_score > 0.15


def test_rising_is_weighted_by_the_backends_trades():
    quiet, traded = (MarketFactory(probability=0.5, volume_total=0, volume_24h=0, trades_24h=0) for _ in range(2))
    for m, trades in ((quiet, 0), (traded, 60)):
        push(m, 30, probability=0.38)
        push(m, 2, probability=0.10, trades_24h=trades)
    market_velocity_refresh(now=NOW)
    assert row(traded).rising_score == pytest.approx(float(rising_score(0.10, 0.38, 60)))
    assert row(traded).rising_score == pytest.approx(3 * row(quiet).rising_score)


def test_a_near_decided_market_rises_well_below_a_collapse_from_the_middle():
    near, collapse = (MarketFactory(volume_total=0, volume_24h=0) for _ in range(2))
    for m, before, after in ((near, 0.06, 0.002), (collapse, 0.43, 0.006)):
        push(m, 30, probability=before, trades_24h=40)
        push(m, 2, probability=after, trades_24h=40)
    market_velocity_refresh(now=NOW)
    assert row(near).rising_score < 0.75 * row(collapse).rising_score


def test_a_trading_day_of_the_backend_is_computed_in_a_fixed_number_of_queries(django_assert_max_num_queries):
    markets = [MarketFactory(volume_total=0, volume_24h=0, trades_24h=0) for _ in range(6)]
    for k, m in enumerate(markets):
        trade_day(m, 100 * (k + 1))
    with django_assert_max_num_queries(40):
        market_velocity_refresh(now=NOW)
    assert MarketVelocity.objects.filter(backend_volume_24h__gt=0).count() == 6


def test_risings_trade_support_in_sql_is_the_numpy_formula():
    from django.db import connection

    from markets.scores import rising_support, rising_support_sql

    trades = [0, 1, 2, 9, 49, 50, 51, 1000]
    with connection.cursor() as cursor:
        got = []
        for t in trades:
            cursor.execute(f"SELECT {rising_support_sql(str(t))}")
            got.append(cursor.fetchone()[0])
    assert got == pytest.approx(rising_support(trades).tolist(), rel=1e-12)


def test_the_trending_api_lists_a_market_traded_only_on_the_backend_with_its_backend_inputs():
    from rest_framework.test import APIClient

    m = MarketFactory(market_id="traded-only", volume_total=0, volume_24h=0, trades_24h=0)
    trade_day(m, 300)
    refresh()
    body = APIClient().get("/api/trending").json()
    assert [r["market_id"] for r in body["results"]] == ["traded-only"]
    item = body["results"][0]
    assert item["backend_volume_24h"] == pytest.approx(300 * 24) and item["backend_trades_1h"] == 20
    assert item["inputs"]["activity_24h"] == 0 and item["inputs"]["backend_raw"] > 0
    assert item["trending_score"] == pytest.approx(item["inputs"]["backend_evidence"])


def test_trending_weighs_the_catalogs_dates_with_the_current_fit_and_not_without_one():
    from rest_framework.test import APIClient

    from markets.models import TrendingForecast
    from tracking.velocity import trending_inputs, trending_scores

    old = NOW - timedelta(days=90)
    plain = MarketFactory(market_id="plain", created_at=old, volume_total=0, volume_24h=0, trades_24h=0)
    closing = MarketFactory(market_id="closing", created_at=old, resolution_date=NOW + timedelta(days=2),
                            volume_total=0, volume_24h=0, trades_24h=0)
    new = MarketFactory(market_id="new", created_at=NOW - timedelta(days=1), volume_total=0, volume_24h=0,
                        trades_24h=0)
    for m in (plain, closing, new):
        trade_day(m, 500)
    refresh()
    # The reasoned forecast gives the dates no weight: three markets that trade alike score alike.
    assert row(plain).trending_score == row(closing).trending_score == row(new).trending_score > 0
    inputs = {r[0]: r for r in trending_inputs(NOW)}
    assert inputs[closing.pk][-2] == pytest.approx(48) and inputs[plain.pk][-2] is None
    assert inputs[new.pk][-1] == pytest.approx(24) and inputs[plain.pk][-1] == pytest.approx(90 * 24)

    TrendingForecast.objects.create(fitted_at=NOW - timedelta(hours=1), used=True, days=7, rows=700, intercept=0.0,
                                    usual=0.5, day=0.5, deviation=0.5, open_share=1.0, closing=2.0, listing=1.0)
    refresh()
    assert row(closing).trending_score > row(plain).trending_score
    assert row(new).trending_score > row(plain).trending_score
    # The API's inputs recompute the backend's raw score with the same dates and fit.
    rows = trending_inputs(NOW)
    raw = dict(zip([r[0] for r in rows], trending_scores(rows, 5, TrendingForecast.objects.get().coefficients)
                   .backend_raw.tolist(), strict=True))
    items = {i["market_id"]: i for i in APIClient().get("/api/trending").json()["results"]}
    for m in (plain, closing, new):
        assert items[m.market_id]["inputs"]["backend_raw"] == pytest.approx(raw[m.pk], abs=5e-5)  # rounded to 4
    assert raw[closing.pk] - raw[plain.pk] == pytest.approx(2.0 / 3, rel=1e-6)


def test_a_fit_recorded_before_the_catalogs_terms_loads_and_weighs_them_0():
    from markets.models import TrendingForecast

    old = TrendingForecast.objects.create(fitted_at=NOW, used=True, days=7, rows=700, intercept=0.1, usual=0.3,
                                          day=0.6, deviation=0.4)
    assert TrendingForecast.objects.get(pk=old.pk).coefficients == (0.1, 0.3, 0.6, 0.4, 0.0, 0.0, 0.0)


def test_the_forecast_refit_reads_each_days_terms_with_the_dates_as_of_that_day(monkeypatch):
    import tracking.velocity as velocity

    m = MarketFactory(created_at=NOW - timedelta(days=10), resolution_date=NOW + timedelta(days=3),
                      volume_total=0, volume_24h=0, trades_24h=0)
    total = 0.0
    for h in range(8 * 24, -1, -1):
        total += 100
        push(m, h, volume_total=total, volume_24h=min(total, 2400), trades_24h=24)
    seen = []
    monkeypatch.setattr(velocity, "trending_forecast_fit", lambda days: (seen.extend(days), (None, {
        "days": len(days), "rows": len(days), "note": "captured"}))[1])
    velocity.trending_forecast_refit(now=NOW)
    assert len(seen) == 7
    # Oldest first: day i ends 7 - i days before now, when the market had 10 - (7 - i) days behind it and
    # 3 + (7 - i) ahead.
    for i, (terms, _, _) in enumerate(seen):
        ago = 7 - i
        assert terms[0, 4] == pytest.approx(1 / (1 + 3 + ago)) and terms[0, 3] == 0
        assert terms[0, 5] == pytest.approx(1 / (1 + 10 - ago))


def test_the_forecast_refit_learns_from_a_market_that_closed_since_with_what_it_traded_until_its_close(monkeypatch):
    import tracking.velocity as velocity
    from markets.models import Market

    # Trades 100 an hour until it closes 6 h after the end of the day four days ago.
    closes = NOW - timedelta(days=4) + timedelta(hours=6)
    m = MarketFactory(created_at=NOW - timedelta(days=30), resolution_date=closes, volume_total=0, volume_24h=0,
                      trades_24h=0)
    total, hourly = 0.0, []
    for h in range(8 * 24, 4 * 24 - 7, -1):
        total += 100
        hourly.append(100)
        state = dict(volume_total=total, volume_24h=sum(hourly[-24:]), trades_24h=24)
        push(m, h, **state, **({"status": Market.Status.CLOSED} if h == 4 * 24 - 6 else {}))
    assert Market.objects.get(pk=m.pk).status == Market.Status.CLOSED
    seen = []
    monkeypatch.setattr(velocity, "trending_forecast_fit", lambda days: (seen.extend(days), (None, {
        "days": len(days), "rows": len(days), "note": "captured"}))[1])
    velocity.trending_forecast_refit(now=NOW)
    # Days ending 7, 6, 5 and 4 days ago have it (closed now, but open then); the later ones do not.
    assert len(seen) == 4
    terms, target, _ = seen[-1]
    # Its next day: the 6 h it still traded (not the 24 h figure of its last push, which reaches back
    # into the day before), and the terms knew it would close a quarter into the day.
    assert target.tolist() == pytest.approx([600])
    assert terms[0, 3] == pytest.approx(math.log(0.25)) and terms[0, 4] == pytest.approx(1 / 1.25)
    assert [t.tolist() for _, t, _ in seen[:3]] == [pytest.approx([2400])] * 3
