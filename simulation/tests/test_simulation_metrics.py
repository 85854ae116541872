"""The simulation's metrics on hand-made logs (pure: no database)."""
import pytest

from simulation.metrics import (
    DAY,
    RunLog,
    Showing,
    changed_enough,
    coverage,
    ctr,
    distinct_categories,
    intent_speed,
    repeated_feeds,
    summarize,
)

HOUR = 3600.0


def show(at, feed, *, user=1, market=7, p=0.5, volume=100.0, pool="personal", clicked=False):
    return Showing(user, market, at, p, volume, feed, pool, clicked)


def test_ctr_is_clicks_per_impression_and_zero_without_impressions():
    assert ctr(200, 10) == 0.05
    assert ctr(0, 0) == 0.0


@pytest.mark.parametrize(
    ("p_then", "p_now", "v_then", "v_now", "expected"),
    [
        (0.41, 0.58, 100, 100, True),  # odds moved 17 points
        (0.50, 0.55, 100, 100, False),
        (0.02, 0.05, 100, 100, True),  # small in points, large in log-odds
        (0.50, 0.50, 1_000, 2_500, True),  # volume more than doubled, above 1,000
        (0.50, 0.50, 300, 900, False),  # tripled, but under the 1,000 floor
    ],
)
def test_changed_enough_follows_spec_7(p_then, p_now, v_then, v_now, expected):
    assert changed_enough(p_then, p_now, v_then, v_now) is expected


def test_the_fourth_unchanged_showing_in_24_hours_flags_its_feed():
    showings = [show(0, 1), show(2 * HOUR, 2), show(4 * HOUR, 3), show(6 * HOUR, 4)]
    assert repeated_feeds(showings) == {4}


def test_three_showings_in_24_hours_are_allowed():
    assert repeated_feeds([show(0, 1), show(2 * HOUR, 2), show(4 * HOUR, 3)]) == set()


def test_a_showing_after_the_window_slides_is_not_a_repeat():
    showings = [show(0, 1), show(2 * HOUR, 2), show(4 * HOUR, 3), show(DAY + 1, 4)]
    assert repeated_feeds(showings) == set()


def test_a_fourth_showing_after_the_odds_moved_is_not_a_repeat_but_a_fifth_without_move_is():
    showings = [show(0, 1), show(HOUR, 2), show(2 * HOUR, 3), show(3 * HOUR, 4, p=0.7), show(4 * HOUR, 5, p=0.7)]
    assert repeated_feeds(showings) == {5}


def test_repeats_are_counted_per_user_and_market():
    showings = [show(h * HOUR, h, user=h % 2, market=h % 3) for h in range(8)]
    assert repeated_feeds(showings) == set()


def test_coverage_counts_distinct_markets_over_the_open_ones():
    assert coverage([1, 2, 2, 3], 10) == 0.3
    assert coverage([], 0) == 0.0


def test_distinct_categories():
    assert distinct_categories(["Sports", "Sports", "Crypto"]) == 2


def test_intent_speed_reads_the_feeds_after_the_signal():
    next_feed, to_show, sessions = intent_speed([[True], [False, True], [False, False], []])
    assert sessions == 3  # a session with no feed after its signal does not count
    assert next_feed == pytest.approx(1 / 3)
    assert to_show == pytest.approx((1 + 2) / 2)


def test_summarize_on_a_hand_made_log():
    log = RunLog(days=2, users=4, open_markets=[10, 8])
    log.feeds = [(0, 0, 1, ["A", "A", "B"]), (1, 0, 2, ["A"]), (2, 1, 1, ["A", "B", "C"])]
    log.showings = [
        show(0, 0, market=1, clicked=True), show(1, 0, market=2),
        show(2, 1, user=2, market=1, pool="trending_global"),
        show(DAY + 5, 2, market=3, pool="exploration", clicked=True),
    ]
    log.engaged = [(0, 3), (0, 0), (1, 1)]
    log.intents = [(0, [True]), (1, [False, True])]
    result = summarize(log)
    overall, day0, day1 = result["overall"], *result["per_day"]
    assert overall["impressions"] == 4 and overall["clicks"] == 2 and overall["ctr"] == 0.5
    assert overall["engaged_per_user_day"] == 4 / 8
    assert overall["coverage"] == 3 / 10
    assert overall["diversity_top9"] == pytest.approx((2 + 1 + 3) / 3)
    assert overall["intent_next_feed"] == 0.5
    assert day0["ctr"] == pytest.approx(1 / 3) and day0["engaged_per_user_day"] == 3 / 4
    assert day1["coverage"] == 1 / 8 and day1["feeds"] == 1
    assert overall["pool_ctr"]["personal"] == {"impressions": 2, "clicks": 1, "ctr": 0.5}
    assert overall["pool_ctr"]["trending"]["clicks"] == 0
    assert overall["pool_ctr"]["exploration"]["ctr"] == 1.0
    assert overall["repeated_feed_share"] == 0.0
