"""markets/scores.py: the trending formula, rank normalisation and rate ratios (no database)."""
import math

import numpy as np
import pytest

from markets.scores import rank_normalise, ratio_of_rates, trending_raw


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


def test_ratio_of_rates_compares_the_recent_rate_with_the_base_rate():
    assert ratio_of_rates([100], [1], [1200], [24]).tolist() == pytest.approx([2.0])


def test_ratio_of_rates_is_zero_without_a_positive_base():
    assert ratio_of_rates([100, 100], [1, 0], [0, 100], [24, 24]).tolist() == [0.0, 0.0]
