"""The trending backtest: its series generator, its metrics and the `backtest_trending` command."""
import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from markets.models import Market, MarketSnapshot
from markets.tests.factories import MarketFactory
from ops.models import TaskRun
from simulation import backtest
from simulation.backtest import precision_at, spearman
from simulation.market_series import market_series_generate, rolling_sum


def test_the_series_is_the_same_for_a_seed_and_differs_between_seeds():
    a, b, c = (market_series_generate(markets=40, days=10, seed=s) for s in (3, 3, 4))
    assert np.array_equal(a.volume, b.volume) and np.array_equal(a.probability, b.probability)
    assert not np.array_equal(a.volume, c.volume)


def test_the_series_has_heavy_tailed_volumes_listings_and_resolutions():
    s = market_series_generate(markets=400, days=30, seed=1)
    daily = s.volume.reshape(30, 24, 400).sum(axis=1)
    sizes = daily.sum(axis=0)[s.open.sum(axis=0) > 24 * 10]
    # The top 1 % of markets trade far more than the median one.
    assert np.percentile(sizes, 99) > 30 * np.median(sizes)
    assert (s.opens_at > 0).sum() > 100 and (s.closes_at < s.hours).sum() > 50
    assert not s.open[:, s.opens_at > 0][0].any()  # a market that lists later is not open at the start
    assert (np.diff(s.participants, axis=0) >= 0).all()
    assert ((s.probability >= 0) & (s.probability <= 1)).all()


def test_the_series_has_news_spikes_that_decay_over_days():
    s = market_series_generate(markets=400, days=30, seed=2)
    daily = s.volume.reshape(30, 24, 400).sum(axis=1)
    open_days = s.open.reshape(30, 24, 400).all(axis=1)
    ratio = np.where(open_days[1:] & open_days[:-1] & (daily[:-1] > 0), daily[1:] / np.maximum(daily[:-1], 1), np.nan)
    # Some days are several times the day before (news), and most big jumps are followed by a fall.
    jumps = np.argwhere(ratio > 4)
    assert len(jumps) > 20
    after = [ratio[d + 1, m] for d, m in jumps if d + 1 < ratio.shape[0] and not np.isnan(ratio[d + 1, m])]
    assert np.median(after) < 1


def test_rolling_sum_sums_the_last_rows():
    assert rolling_sum(np.array([[1], [2], [3], [4]]), 2).ravel().tolist() == [1, 3, 5, 7]


def test_precision_at_k_counts_the_shared_top_and_breaks_score_ties_by_the_given_order():
    target = np.array([10, 9, 8, 1, 0])
    assert precision_at(np.array([5, 4, 3, 2, 1]), target, 2, np.arange(5)) == 1.0
    assert precision_at(np.array([0, 0, 0, 0, 9]), target, 2, np.array([4, 3, 2, 1, 0])) == 0.0
    assert precision_at(np.array([0, 0, 0, 0, 9]), target, 2, np.array([0, 1, 2, 3, 4])) == 0.5


def test_spearman_is_nan_for_a_constant_ranker():
    assert np.isnan(spearman(np.zeros(5), np.arange(5)))
    assert spearman(np.arange(5), np.arange(5) ** 2) == pytest.approx(1.0)


@pytest.mark.django_db
def test_the_command_replays_the_series_through_the_state_push_and_scores_each_period(tmp_path, monkeypatch):
    writes = []
    real = backtest.state_write

    def counting(pushes, *, at):
        writes.append((at, len(pushes)))
        return real(pushes, at=at)

    monkeypatch.setattr(backtest, "state_write", counting)
    out = StringIO()
    path = tmp_path / "result.json"
    call_command("backtest_trending", markets=30, days=10, warmup_days=7, json_path=str(path), stdout=out)
    result = json.loads(path.read_text())
    # The ends of days 7, 8 and 9 (the warm-up is 7 days; day 10 has no next day to score against).
    assert [p["at"][:10] for p in result["periods"]] == ["2026-09-08", "2026-09-09", "2026-09-10"]
    for period in result["periods"]:
        assert set(period["spearman"]) == {"trending", "volume_24h", "mean_7d"}
        assert period["markets"] > 5
    # Hourly pushes on the replayed clock, and the periodic tasks ran on it too.
    assert len(writes) == 10 * 24
    assert writes[1][0] - writes[0][0] == backtest.timedelta(hours=1)
    assert TaskRun.objects.get(name="markets.trending_refresh").last_success_at.isoformat() == (
        result["periods"][-1]["at"])
    assert MarketSnapshot.objects.filter(market__market_id__startswith="backtest-").count() > 1000
    assert "median" in out.getvalue()
    # Trending was computed from the backend alone: there is no app event in the replay.
    assert result["periods"][-1]["spearman"]["trending"] > 0.3


@pytest.mark.django_db
def test_the_command_refuses_a_database_with_markets_of_its_own():
    MarketFactory(market_id="real-market")
    with pytest.raises(CommandError, match="scratch"):
        call_command("backtest_trending", markets=30, days=10, stdout=StringIO())
    assert Market.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("options", [{"markets": 5}, {"days": 8}, {"warmup_days": 0}])
def test_the_command_refuses_a_run_too_small_to_score(options):
    with pytest.raises(CommandError, match="Needs at least"):
        call_command("backtest_trending", **options, stdout=StringIO())


@pytest.mark.django_db
def test_the_replay_fits_trendings_forecast_once_a_day_and_trending_uses_the_current_fit(tmp_path):
    from markets.models import MarketVelocity, TrendingForecast
    from tracking.velocity import trending_forecast_current, trending_inputs, trending_scores

    path = tmp_path / "result.json"
    call_command("backtest_trending", markets=60, days=12, warmup_days=7, json_path=str(path), stdout=StringIO())
    ends = [p["at"] for p in json.loads(path.read_text())["periods"]]
    fits = list(TrendingForecast.objects.order_by("fitted_at"))
    # One fit per day's end, each on the week before it (up to seven days, each with its next day).
    assert [f.fitted_at.isoformat() for f in fits] == ends
    assert [f.days for f in fits[:2]] == [6, 7] and all(f.rows > 6 * 10 for f in fits)  # the replay starts at day 0
    assert all(f.used == (f.held_out_error < f.reasoned_error) and (f.used or f.note) for f in fits)
    assert fits[-1].used, [(f.used, f.note) for f in fits]
    # Trending at the last period end weighs the backend's terms with the fit current then.
    last = fits[-1].fitted_at
    assert trending_forecast_current(last) == fits[-1].coefficients
    rows = [row for row in trending_inputs(last) if row[1] == "global"]
    expected = dict(zip([row[0] for row in rows], trending_scores(rows, 5, fits[-1].coefficients).score, strict=True))
    stored = dict(MarketVelocity.objects.filter(scope="global", trending_score__gt=0)
                  .values_list("market_id", "trending_score"))
    assert stored == pytest.approx({pk: s for pk, s in expected.items() if s > 0})
