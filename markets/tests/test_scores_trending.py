"""markets/scores.py: the trending formula, rank normalisation and rate ratios (no database)."""
import math

import numpy as np
import pytest

from markets.models import TrendingForecast
from markets.scores import (
    FORECAST_HEAD,
    backend_evidence,
    backend_window,
    odds_move,
    rank_normalise,
    rising_score,
    trending_backend_raw,
    trending_backend_terms,
    trending_forecast_fit,
    trending_persistence_coefficients,
    trending_raw,
)


def test_a_spike_above_the_24_hour_rate_scores_its_chi_square_term_plus_the_log_of_the_day():
    # 48 in 24 h -> 2 expected per hour; 10 observed -> (10 - 2)^2 / 2 = 32
    assert trending_raw([10], [48])[0] == pytest.approx(32 + math.log(49))


def test_an_hour_at_or_below_the_baseline_scores_only_the_log_of_the_day():
    assert trending_raw([2, 0], [48, 48]).tolist() == pytest.approx([math.log(49)] * 2)


def test_expected_activity_has_a_floor_of_one_per_hour_so_one_stray_event_is_no_spike():
    assert trending_raw([1], [1])[0] == pytest.approx(math.log(2))
    assert trending_raw([5], [5])[0] == pytest.approx(16 + math.log(6))


def test_no_activity_scores_zero():
    assert trending_raw([0], [0])[0] == 0


def test_rank_normalise_is_the_share_of_the_scope_at_or_below_each_value():
    values = [3.0, 1.0, 2.0, 10.0, 5.0]
    groups = ["global", "global", "global", "IL", "IL"]
    assert rank_normalise(values, groups).tolist() == pytest.approx([1.0, 1 / 3, 2 / 3, 1.0, 0.5])


def test_ties_share_the_higher_rank_and_zero_stays_zero():
    assert rank_normalise([2.0, 2.0, 1.0, 0.0], ["g"] * 4).tolist() == pytest.approx([1.0, 1.0, 1 / 3, 0.0])


def test_ineligible_values_neither_score_nor_count_in_their_scope():
    out = rank_normalise([5.0, 4.0, 3.0], ["IL"] * 3, eligible=[True, False, True])
    assert out.tolist() == pytest.approx([1.0, 0.0, 0.5])


def test_rank_normalise_of_nothing_is_empty():
    assert rank_normalise(np.zeros(0), np.zeros(0, dtype=str)).tolist() == []


def test_the_backend_window_is_the_cumulative_volume_between_the_snapshots_prorated_to_the_window():
    # Snapshots at -2.5 h (total 1,000) and at -0.5 h (total 5,000): the window's hour of that span
    # (ending at the last snapshot, which stands for now) counts for 2,000. The rolling figure says
    # less and the larger one wins.
    got = backend_window(1.0, 100.0, 97.5, 99.5, [500], [600], [1000], [5000])
    assert got.tolist() == pytest.approx([2000.0])
    # The same snapshots a minute later give the same amount: it moves with snapshots, not the clock.
    assert backend_window(1.0, 100.0 + 1 / 60, 97.5, 99.5, [500], [600], [1000], [5000]).tolist() == got.tolist()


def test_the_backend_window_reads_a_rolling_24_hour_figure_with_what_left_the_window():
    # trades_24h went from 240 to 250 in one hour: 10 more came in than dropped out; the hour that
    # dropped out is estimated at 240 / 24 = 10, so 20 trades were made in the hour.
    assert backend_window(1.0, 100.0, 99.0, 100.0, [240], [250]).tolist() == pytest.approx([20.0])
    # A daily push: the hour is its share of the day's trades.
    assert backend_window(1.0, 100.0, 76.0, 100.0, [240], [480]).tolist() == pytest.approx([480 / 24])


def test_the_backend_24_hour_window_is_at_least_the_backends_own_figure_while_it_is_current():
    assert backend_window(24.0, 100.0, 70.0, 99.0, [0], [900]).tolist() == [900.0]
    # The last snapshot is more than a day old: nothing was traded in the window.
    assert backend_window(24.0, 100.0, 40.0, 70.0, [0], [900]).tolist() == [0.0]
    assert backend_window(1.0, 100.0, 40.0, 70.0, [0], [900], [0], [5000]).tolist() == [0.0]


def test_backend_trending_is_the_days_volume_when_the_hour_has_no_trades():
    assert trending_backend_raw([500], [1000], [0]).tolist() == pytest.approx([math.log(1001)])
    assert trending_backend_raw([0], [0], [0]).tolist() == [0.0]


def test_backend_trending_moves_half_way_to_the_hours_rate_with_strong_evidence():
    # 1,000 trades in the hour: weight 0.5 * 1000 / 1005 towards ln(1 + 24 * 200)
    weight = 0.5 * 1000 / 1005
    expected = math.log(1001) + weight * (math.log(1 + 24 * 200) - math.log(1001))
    assert trending_backend_raw([200], [1000], [1000]).tolist() == pytest.approx([expected])
    # A market accelerating now outranks one of the same day that is slowing down.
    hot, cooling = trending_backend_raw([200, 5], [1000, 1000], [50, 50])
    assert hot > math.log(1001) > cooling


def test_backend_evidence_shrinks_by_trades_and_is_whole_without_a_trade_count():
    assert backend_evidence([5, 45, 0, 0], [100, 100, 100, 0]).tolist() == pytest.approx([0.5, 0.9, 1.0, 0.0])


def test_a_near_decided_move_rises_well_below_a_collapse_from_the_middle():
    near_decided, collapse = rising_score([0.002, 0.006], [0.06, 0.43], [20, 20])
    assert near_decided < 0.75 * collapse
    assert odds_move(0.002, 0.06) == pytest.approx(math.sqrt(0.058 * math.log((0.06 / 0.94) / (0.002 / 0.998))))


def test_a_small_move_at_the_edge_does_not_outrank_a_real_move_in_the_middle():
    edge, middle = rising_score([0.96, 0.55], [0.98, 0.40], [30, 30])
    assert edge < middle
    assert rising_score(0.96, 0.98, 0) < rising_score(0.55, 0.40, 0)


def test_rising_fires_without_trades_and_grows_with_them():
    none, some, many = rising_score([0.005] * 3, [0.38] * 3, [0, 10, 50])
    assert 0 < none < some < many
    assert none == pytest.approx(many / 3)


def test_rising_does_not_saturate_near_0_and_1():
    # Odds moved further keep scoring higher, down to the clamp at 0.1 %.
    moves = rising_score([0.2, 0.05, 0.01, 0.002], [0.5] * 4, [50] * 4)
    assert all(np.diff(moves) > 0) and moves[-1] < 1


def test_backend_trending_is_halfway_between_the_current_rate_and_the_usual_week():
    # A market whose news of yesterday is fading: a big day, a quiet last hour, a usual week of 1,000 a day.
    w = 100 / 105
    now = (1 - w) * math.log(1 + 9000) + w * math.log(1 + 24 * 50)
    got = trending_backend_raw([50], [9000], [100], [1000])
    assert got.tolist() == pytest.approx([0.5 * math.log(1001) + 0.5 * now])
    # It ranks below a market with the same day that is still as busy as its day.
    steady = trending_backend_raw([375], [9000], [100], [9000])
    assert steady[0] > got[0]


def forecast_days(coefficients, days=6, markets=300, seed=0, noise=0.3):
    """Days of (terms, next-day volume, 24 h volume) whose next day follows `coefficients` in logs.

    A quarter of the markets have no resolution date; the others end 1 h to ~60 days on, and the
    markets were listed 1 h to 60 days ago (log-uniform: as many new ones as old)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(days):
        v24 = np.exp(rng.normal(7, 2, markets))
        week = v24 * np.exp(rng.normal(0, 0.5, markets))
        v1 = v24 / 24 * np.exp(rng.normal(0, 0.7, markets))
        to_close = np.where(rng.random(markets) < 0.25, np.nan, np.exp(rng.uniform(0, np.log(1500), markets)))
        listed = np.exp(rng.uniform(0, np.log(60 * 24), markets))
        terms = trending_backend_terms(v1, v24, np.full(markets, 1000.0), week, hours_to_close=to_close,
                                       hours_listed=listed)
        intercept, *weights = coefficients
        weights = np.pad(np.array(weights, float), (0, terms.shape[1] - len(weights)))
        next_day = np.expm1(intercept + terms @ weights + rng.normal(0, noise, markets))
        out.append((terms, next_day, v24))
    return out


def test_the_forecast_fit_learns_the_persistence_of_the_platforms_own_history():
    truth = (0.1, 0.2, 0.8, 0.7)  # trades near the current rate: a deviation mostly lasts; no date matters
    coefficients, report = trending_forecast_fit(forecast_days(truth))
    assert len(coefficients) == len(TrendingForecast.COEFFICIENTS)
    assert coefficients[1:4] == pytest.approx(truth[1:], abs=0.08)  # the intercept trades off with them a little
    assert coefficients[0] == pytest.approx(truth[0], abs=0.3)
    assert coefficients[4:] == pytest.approx((0, 0, 0), abs=0.15)  # terms that do not matter get next to nothing
    assert report["days"] == 6 and report["rows"] == 6 * FORECAST_HEAD  # the busiest markets of each day only
    assert report["held_out_error"] < report["reasoned_error"]
    # Used by trending, it ranks by those weights, not the reasoned halfway.
    hot_hour, steady = trending_backend_raw([400, 40], [960, 960], [1000, 1000], [960, 960], coefficients=coefficients)
    w = 1000 / (1000 + 5)  # the hour's evidence
    assert hot_hour - steady == pytest.approx(coefficients[3] * w * (math.log1p(9600) - math.log1p(960)), rel=1e-6)


def test_the_forecast_fit_learns_what_the_resolution_and_listing_dates_say():
    # A platform where markets trade only until they close, gather attention before it and after listing.
    truth = (0.0, 0.4, 0.6, 0.5, 1.0, 0.8, 0.6)
    coefficients, report = trending_forecast_fit(forecast_days(truth))
    assert coefficients[4:] == pytest.approx(truth[4:], abs=0.12)
    assert coefficients[1:4] == pytest.approx(truth[1:4], abs=0.08)
    assert report["held_out_error"] < report["reasoned_error"]
    # Used by trending: of two markets alike but for the dates, the one closing in two days and the one
    # listed yesterday forecast more, the one closing in three hours (an eighth of the next day) less.
    alike = dict(volume_1h=[40] * 4, volume_24h=[960] * 4, trades_1h=[100] * 4, daily_volume_7d=[960] * 4)
    far, closing, listed, ending = trending_backend_raw(
        **alike, coefficients=coefficients, hours_to_close=[np.nan, 48, np.nan, 3], hours_listed=[900, 900, 24, 900],
    )
    assert closing - far == pytest.approx(coefficients[5] / 3, rel=1e-6)
    assert listed - far == pytest.approx(coefficients[6] * (1 / 2 - 1 / (1 + 900 / 24)), rel=1e-6)
    assert ending < far


def test_the_catalogs_terms_read_the_resolution_and_listing_dates():
    terms = trending_backend_terms(
        [10] * 6, [240] * 6, [5] * 6, [240] * 6,
        hours_to_close=[np.nan, 240, 24, 6, -5, 0.2], hours_listed=[np.nan, 0, 24, 48, 24 * 99, -1],
    )
    open_share, closing, listing = terms[:, 3], terms[:, 4], terms[:, 5]
    # Unknown: 0. Open through the next day: 0. Closing in 6 h: a quarter of the day. Past its date, or in
    # minutes: the floor of one hour.
    assert open_share.tolist() == pytest.approx([0, 0, 0, math.log(0.25), math.log(1 / 24), math.log(1 / 24)])
    assert closing.tolist() == pytest.approx([0, 1 / 11, 1 / 2, 1 / 1.25, 1, 1 / (1 + 0.2 / 24)])
    assert listing.tolist() == pytest.approx([0, 1, 1 / 2, 1 / 3, 1 / 100, 1])
    # Without dates, the catalog's terms are 0 and the other three as before.
    assert trending_backend_terms([10], [240], [5], [240])[0].tolist() == pytest.approx([*terms[0, :3], 0, 0, 0])


def test_the_reasoned_forecast_and_an_older_fit_give_the_dates_no_weight():
    args = ([200, 200], [1000, 1000], [50, 50], [800, 800])
    dates = dict(hours_to_close=[np.nan, 5], hours_listed=[np.nan, 2])
    reasoned = trending_backend_raw(*args)
    assert trending_backend_raw(*args, **dates).tolist() == pytest.approx(reasoned.tolist())
    assert trending_persistence_coefficients()[4:] == (0, 0, 0)
    # A fit of the first four coefficients (a row recorded before the dates were terms) forecasts as it did.
    old = (0.2, 0.3, 0.6, 0.4)
    assert trending_backend_raw(*args, coefficients=old, **dates).tolist() == pytest.approx(
        trending_backend_raw(*args, coefficients=(*old, 0, 0, 0)).tolist()
    )
    assert trending_backend_raw(*args, coefficients=(*old, 1.0, 0, 0), **dates)[1] < trending_backend_raw(
        *args, coefficients=old, **dates)[1]


def test_a_fit_with_too_little_history_or_no_better_than_the_reasoned_forecast_is_not_used():
    coefficients, report = trending_forecast_fit(forecast_days((0, 0.5, 0.5, 0.5), days=2))
    assert coefficients is None and "fewer than 3 days" in report["note"]
    # The newest day behaves as the reasoned forecast says and the older ones do not: the fit loses on it.
    days = forecast_days((3.0, 0.0, 0.2, 0.0), days=5, noise=0.05)
    days += forecast_days((0, 0.5, 0.5, 0.5), days=1, noise=0.05)
    coefficients, report = trending_forecast_fit(days)
    assert coefficients is None and report["held_out_error"] > report["reasoned_error"]
    assert "no better" in report["note"]


def test_the_reasoned_forecast_is_the_fit_with_its_own_coefficients():
    args = ([200, 5, 0], [1000, 1000, 0], [50, 50, 0], [800, 0, 0])
    assert trending_backend_raw(*args).tolist() == pytest.approx(
        trending_backend_raw(*args, coefficients=trending_persistence_coefficients()).tolist()
    )
    # A fit whose forecast is negative for a thin market keeps it above one that did not trade.
    thin = trending_backend_raw([0, 0], [2, 0], [0, 0], coefficients=(-5.0, 0.0, 1.0, 0.0))
    assert thin[0] > 0 and thin[1] == 0
