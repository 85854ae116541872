"""market_velocity_refresh: windows from the activity buckets, odds from snapshots, idempotent overwrite."""
import random
from datetime import timedelta

import pytest

from markets.models import Market, MarketVelocity
from markets.scores import rising_score
from markets.services import CATALOG_VERSION_KEY
from markets.tests.factories import MarketFactory, MarketSnapshotFactory
from tracking import velocity as velocity_module
from tracking.tests.pipeline_data import T0, event, impression, ingest, ingest_impressions, velocity_table
from tracking.velocity import market_velocity_refresh

pytestmark = pytest.mark.django_db
NOW = T0  # 12:00:00, a bucket boundary


def row(market, scope="global"):
    return MarketVelocity.objects.get(market=market, scope=scope)


def test_views_trades_and_users_fall_into_their_windows_by_event_time():
    m = MarketFactory()
    ingest([
        event(m, "u:1", "view_market", NOW - timedelta(minutes=2)),    # 5 min, 1 h, 24 h
        event(m, "u:2", "view_market", NOW - timedelta(minutes=30)),   # 1 h, 24 h
        event(m, "u:2", "participate", NOW - timedelta(minutes=40)),
        event(m, "u:3", "view_market", NOW - timedelta(hours=5)),      # 24 h
        event(m, "u:3", "participate", NOW - timedelta(hours=23)),
        event(m, "u:4", "view_market", NOW - timedelta(hours=25)),     # outside
    ], received_at=NOW)
    market_velocity_refresh(now=NOW)
    v = row(m)
    assert (v.views_5m, v.views_1h, v.views_24h) == (1, 2, 3)
    assert (v.trades_5m, v.trades_1h, v.trades_24h) == (0, 1, 2)
    assert (v.unique_users_5m, v.unique_users_1h, v.unique_users_24h) == (1, 2, 3)
    assert v.computed_at == NOW


def test_a_window_covers_the_bucket_it_started_in():
    # At 12:07 the 5-minute window is (12:02, 12:07]: the 12:00 bucket overlaps it, so an
    # event at 12:01 counts (windows are at least 5 min, at most 10 min of events).
    m = MarketFactory()
    ingest([event(m, "u:1", "view_market", NOW + timedelta(minutes=1))], received_at=NOW + timedelta(minutes=7))
    market_velocity_refresh(now=NOW + timedelta(minutes=7))
    assert row(m).views_5m == 1
    market_velocity_refresh(now=NOW + timedelta(minutes=10, seconds=1))
    assert row(m).views_5m == 0


def test_unique_users_are_distinct_across_buckets_not_summed():
    m = MarketFactory()
    ingest([event(m, "u:1", "click", NOW - timedelta(minutes=k * 10)) for k in range(6)], received_at=NOW)
    market_velocity_refresh(now=NOW)
    assert row(m).unique_users_1h == 1


def test_each_country_gets_its_own_row_beside_the_global_one():
    m = MarketFactory()
    ingest([
        event(m, "u:1", "view_market", NOW - timedelta(minutes=3), country="IL"),
        event(m, "u:2", "view_market", NOW - timedelta(minutes=3), country="IL"),
        event(m, "u:3", "view_market", NOW - timedelta(minutes=3), country="US"),
    ], received_at=NOW)
    market_velocity_refresh(now=NOW)
    assert row(m, "IL").views_5m == 2 and row(m, "IL").unique_users_24h == 2
    assert row(m, "US").views_5m == 1
    assert row(m).views_5m == 3


def test_ctr_is_clicks_over_impressions_in_24_hours():
    m = MarketFactory()
    ingest_impressions([impression(m, f"u:{k}", NOW - timedelta(hours=1)) for k in range(8)], received_at=NOW)
    ingest([event(m, "u:1", "click", NOW - timedelta(hours=1)), event(m, "u:2", "click", NOW - timedelta(hours=2))],
           received_at=NOW)
    market_velocity_refresh(now=NOW)
    assert row(m).ctr_24h == pytest.approx(2 / 8)


def test_odds_changes_compare_the_market_now_with_the_snapshots_1_and_24_hours_ago():
    m = MarketFactory(probability=0.60, volume_total=10_000, participant_count=300)
    MarketSnapshotFactory(market=m, taken_at=NOW - timedelta(hours=30), probability=0.20, volume_total=1_000,
                          participant_count=100)
    MarketSnapshotFactory(market=m, taken_at=NOW - timedelta(hours=24, minutes=5), probability=0.30,
                          volume_total=4_000, participant_count=200)
    MarketSnapshotFactory(market=m, taken_at=NOW - timedelta(hours=1), probability=0.50, volume_total=8_000,
                          participant_count=290)
    MarketSnapshotFactory(market=m, taken_at=NOW, probability=0.60, volume_total=10_000, participant_count=300)
    market_velocity_refresh(now=NOW)
    v = row(m)
    assert v.odds_change_1h == pytest.approx(0.10)
    assert v.odds_change_24h == pytest.approx(0.30)
    assert v.participant_delta_24h == 100


def test_the_backends_volume_and_trades_are_read_from_the_snapshots_in_each_window():
    m = MarketFactory(volume_total=10_000, volume_24h=0, trades_24h=500)
    for ago, total, trades in ((timedelta(hours=24, minutes=5), 4_000, 380), (timedelta(hours=1), 8_000, 470),
                               (timedelta(0), 10_000, 500)):
        MarketSnapshotFactory(market=m, taken_at=NOW - ago, volume_total=total, volume_24h=0, trades_24h=trades)
    market_velocity_refresh(now=NOW)
    v = row(m)
    # Cumulative volume: 6,000 over 24 h 5 min, of which 24 h count; 2,000 in the last hour, and 5 min of it.
    assert v.backend_volume_24h == pytest.approx(6000 * 24 / (24 + 5 / 60))
    assert v.backend_volume_1h == pytest.approx(2000)
    assert v.backend_volume_5m == pytest.approx(2000 / 12)
    # Trades from the rolling 24 h count: 30 more than an hour ago, plus the hour that left the day (470 / 24).
    assert v.backend_trades_24h == 500
    assert v.backend_trades_1h == round(30 + 470 / 24)
    assert v.backend_trades_5m == round((30 + 470 / 24) / 12)


def test_the_backends_usual_day_is_the_mean_day_of_the_last_week_of_history():
    week_old, young, new = (MarketFactory(volume_total=0, volume_24h=0) for _ in range(3))
    for m, history in ((week_old, ((9 * 24, 0), (7 * 24, 1_000), (1 / 12, 15_000))),
                       (young, ((3 * 24, 0), (1 / 12, 6_000))), (new, ((10, 0), (1 / 12, 3_000)))):
        for hours_ago, total in history:
            MarketSnapshotFactory(market=m, taken_at=NOW - timedelta(hours=hours_ago), volume_total=total,
                                  volume_24h=0)
    market_velocity_refresh(now=NOW)
    assert row(week_old).backend_daily_volume_7d == pytest.approx(14_000 / (7 * 24 - 1 / 12) * 24)
    assert row(young).backend_daily_volume_7d == pytest.approx(6_000 / (3 * 24 - 1 / 12) * 24)  # the days it has
    assert row(new).backend_daily_volume_7d == 0  # less than a day of history: no usual day yet


def test_the_backends_rolling_volume_counts_when_the_total_does_not_move():
    m = MarketFactory(volume_total=0, volume_24h=2_400)
    MarketSnapshotFactory(market=m, taken_at=NOW - timedelta(hours=24), volume_total=0, volume_24h=2_400)
    MarketSnapshotFactory(market=m, taken_at=NOW - timedelta(minutes=2), volume_total=0, volume_24h=2_400)
    market_velocity_refresh(now=NOW)
    v = row(m)
    assert v.backend_volume_24h == 2_400
    # A steady day: the hour that came in is as large as the one that dropped out.
    assert v.backend_volume_1h == pytest.approx(100, rel=0.01)


def test_a_market_younger_than_the_window_is_compared_with_its_first_snapshot():
    m = MarketFactory(probability=0.70)
    MarketSnapshotFactory(market=m, taken_at=NOW - timedelta(hours=3), probability=0.40)
    market_velocity_refresh(now=NOW)
    assert row(m).odds_change_24h == pytest.approx(0.30)
    assert row(m).odds_change_1h == pytest.approx(0.30)


def test_the_backends_volume_moves_with_snapshots_not_with_the_clock():
    m = MarketFactory(volume_total=10_000, volume_24h=0)
    MarketSnapshotFactory(market=m, taken_at=NOW - timedelta(hours=25), volume_total=1_000, volume_24h=0)
    MarketSnapshotFactory(market=m, taken_at=NOW - timedelta(minutes=70), volume_total=5_000, volume_24h=0)
    MarketSnapshotFactory(market=m, taken_at=NOW - timedelta(minutes=10), volume_total=9_000, volume_24h=0)
    market_velocity_refresh(now=NOW)
    first = row(m)
    market_velocity_refresh(now=NOW + timedelta(minutes=3))
    again = row(m)
    assert first.backend_volume_1h == pytest.approx(4000)  # the last snapshot stands for now
    assert again.backend_volume_1h == first.backend_volume_1h
    assert again.computed_at == NOW  # nothing changed, so the row was not rewritten


def test_a_market_without_snapshots_has_no_change():
    m = MarketFactory(probability=0.70)
    market_velocity_refresh(now=NOW)
    v = row(m)
    assert (v.odds_change_1h, v.odds_change_24h, v.participant_delta_24h) == (0, 0, 0)
    assert (v.backend_volume_5m, v.backend_volume_1h, v.backend_volume_24h, v.backend_trades_24h) == (0, 0, 0, 0)


def test_rising_is_the_spec_formula_of_the_odds_move_and_the_trades_in_24_hours():
    m = MarketFactory(probability=0.80)
    MarketSnapshotFactory(market=m, taken_at=NOW - timedelta(hours=25), probability=0.40)
    ingest([event(m, f"u:{k}", "participate", NOW - timedelta(hours=2), country="IL") for k in range(9)],
           received_at=NOW)
    market_velocity_refresh(now=NOW)
    expected = float(rising_score(0.80, 0.40, 9))
    assert expected > 0.3
    assert row(m).rising_score == pytest.approx(expected)
    assert row(m, "IL").rising_score == pytest.approx(expected)


def test_open_markets_without_activity_get_a_global_row_and_closed_ones_none():
    quiet = MarketFactory()
    closed = MarketFactory(status=Market.Status.CLOSED)
    market_velocity_refresh(now=NOW)
    assert row(quiet).views_24h == 0
    assert not MarketVelocity.objects.filter(market=closed).exists()


def test_rows_whose_activity_left_the_window_are_deleted():
    m = MarketFactory(status=Market.Status.RESOLVED)
    ingest([event(m, "u:1", "view_market", NOW - timedelta(hours=1), country="IL")], received_at=NOW)
    market_velocity_refresh(now=NOW)
    assert set(MarketVelocity.objects.values_list("scope", flat=True)) == {"global", "IL"}
    market_velocity_refresh(now=NOW + timedelta(hours=24, minutes=6))
    assert not MarketVelocity.objects.exists()


def test_the_trending_score_written_by_the_trending_task_is_kept():
    m = MarketFactory()
    market_velocity_refresh(now=NOW)
    MarketVelocity.objects.filter(market=m).update(trending_score=0.7)
    market_velocity_refresh(now=NOW + timedelta(minutes=1))
    assert row(m).trending_score == 0.7


def _traffic(markets, rng, count=300, until=NOW):
    """Random events of 40 users; user k is always in the same country (or never sends one).

    Ingestion files an event without a country under the user's last known country at the
    time it is stored, which depends on arrival order; fixed countries keep that out of here.
    """
    countries = ["IL", "US", "GB", ""]
    events = []
    for _ in range(count):
        user = rng.randrange(40)
        events.append(event(
            rng.choice(markets), f"u:{user}", rng.choice(["view_market", "click", "participate"]),
            until - timedelta(seconds=rng.randrange(26 * 3600)), country=countries[user % 4],
        ))
    return events


def test_running_twice_gives_the_same_rows_as_running_once():
    markets = MarketFactory.create_batch(5)
    ingest(_traffic(markets, random.Random(1)), received_at=NOW)
    market_velocity_refresh(now=NOW)
    once = velocity_table(exclude=("id",))
    market_velocity_refresh(now=NOW)
    assert velocity_table(exclude=("id",)) == once
    assert len(once) > 5


def test_a_run_that_crashes_half_way_leaves_the_previous_rows_and_the_next_run_is_a_clean_run(monkeypatch):
    markets = MarketFactory.create_batch(4)
    ingest(_traffic(markets, random.Random(2), until=NOW - timedelta(hours=1)), received_at=NOW - timedelta(hours=1))
    market_velocity_refresh(now=NOW - timedelta(hours=1))
    before = velocity_table(exclude=("id",))
    ingest(_traffic(markets, random.Random(3), 100), received_at=NOW)

    real_upsert = velocity_module._velocity_write

    def upsert_then_die(*args, **kwargs):
        real_upsert(*args, **kwargs)  # the rows are written inside the transaction...
        raise ConnectionError("worker lost")  # ...and the process dies before the commit

    monkeypatch.setattr(velocity_module, "_velocity_write", upsert_then_die)
    with pytest.raises(ConnectionError):
        market_velocity_refresh(now=NOW)
    assert velocity_table(exclude=("id",)) == before
    monkeypatch.setattr(velocity_module, "_velocity_write", real_upsert)
    market_velocity_refresh(now=NOW)
    after_crash = velocity_table()
    MarketVelocity.objects.all().delete()
    market_velocity_refresh(now=NOW)
    assert velocity_table() == after_crash


def test_a_replayed_day_of_past_events_gives_the_same_velocity_as_the_same_events_live():
    markets = [MarketFactory(market_id=f"m-{k}") for k in range(4)]
    rng = random.Random(7)
    events = sorted(_traffic(markets, rng, 400), key=lambda e: e["occurred_at"])
    impressions = [impression(rng.choice(markets), f"u:{rng.randrange(40)}",
                              NOW - timedelta(seconds=rng.randrange(24 * 3600))) for _ in range(100)]

    # Live: each event arrives at its own time, and beat refreshes along the way.
    from datetime import datetime

    for e in events:
        at = datetime.fromisoformat(e["occurred_at"])
        ingest([e], received_at=at)
        if rng.random() < 0.02:
            market_velocity_refresh(now=at)
    ingest_impressions(impressions, received_at=NOW)
    market_velocity_refresh(now=NOW)
    live = velocity_table()

    # Replay: the same events sent a day later in shuffled batches, then one refresh as of NOW.
    from tracking.models import Impression, Interaction, MarketActivity, MarketActivityUser

    for model in (MarketVelocity, Interaction, Impression, MarketActivity, MarketActivityUser):
        model.objects.all().delete()
    from personalization.models import TopicAffinity, UserMarketState, UserProfile

    for model in (TopicAffinity, UserMarketState, UserProfile):
        model.objects.all().delete()
    shuffled = events[:]
    rng.shuffle(shuffled)
    for start in range(0, len(shuffled), 50):
        ingest(shuffled[start : start + 50], received_at=NOW + timedelta(days=1))
    ingest_impressions(impressions, received_at=NOW + timedelta(days=1))
    market_velocity_refresh(now=NOW)
    assert velocity_table() == live
    assert sum(v["views_24h"] for v in live.values()) > 50


def test_the_query_count_does_not_grow_with_the_number_of_markets(django_assert_max_num_queries):
    def run(n, now):
        markets = MarketFactory.create_batch(n)
        ingest(_traffic(markets, random.Random(n), 50 * n), received_at=now)
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            market_velocity_refresh(now=now)
        return len(ctx.captured_queries)

    assert run(2, NOW) == run(20, NOW + timedelta(seconds=1))


def test_a_refresh_tells_the_feed_to_reload_its_arrays(django_capture_on_commit_callbacks):
    from django.core.cache import cache

    MarketFactory()
    cache.delete(CATALOG_VERSION_KEY)
    with django_capture_on_commit_callbacks(execute=True):
        market_velocity_refresh(now=NOW)
    assert cache.get(CATALOG_VERSION_KEY) is not None
