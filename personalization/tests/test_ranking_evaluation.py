"""MIND's impression metrics and the SNIPS estimate, against hand-computed values (no database)."""
import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from personalization.ranking.evaluation import feed_auc, feed_metrics, feed_mrr, feed_ndcg, snips_ctr


def test_auc_is_the_share_of_click_non_click_pairs_ranked_right_ties_half():
    # Clicks at 0.9 and 0.5, non-clicks at 0.8 and 0.1: 3 of 4 pairs in the right order.
    assert feed_auc([1, 0, 0, 1], [0.9, 0.8, 0.1, 0.5]) == 0.75
    # A clicked item tied with a non-clicked one is half right.
    assert feed_auc([1, 0, 0], [0.5, 0.5, 0.1]) == 0.75
    assert feed_auc([1, 0], [0.0, 1.0]) == 0.0


def test_auc_agrees_with_sklearn_on_random_feeds_with_ties():
    rng = np.random.default_rng(4)
    for _ in range(200):
        n = int(rng.integers(2, 15))
        y = rng.random(n) < 0.3
        if y.all() or not y.any():
            continue
        s = rng.integers(0, 4, n).astype(float)  # few values: many ties
        assert feed_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_a_feed_with_no_click_or_only_clicks_has_no_auc():
    assert feed_auc([0, 0, 0], [3, 2, 1]) is None
    assert feed_auc([1, 1], [3, 2]) is None


def test_mrr_is_the_mean_reciprocal_rank_of_the_clicked_items():
    assert feed_mrr([0, 1, 0], [3, 2, 1]) == 0.5
    assert feed_mrr([1, 0, 1], [3, 2, 1]) == pytest.approx((1 + 1 / 3) / 2)
    assert feed_mrr([0, 0], [2, 1]) is None
    assert feed_mrr([1, 1, 1], [3, 2, 1]) == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)  # all clicks


def test_ties_count_as_every_order_equally_likely():
    # Two items tied at the top, one clicked: rank 1 or 2 with equal chance.
    assert feed_mrr([1, 0], [1.0, 1.0]) == pytest.approx(0.75)
    assert feed_ndcg([1, 0], [1.0, 1.0], 10) == pytest.approx((1 + 1 / math.log2(3)) / 2)
    # A constant scorer is not credited with the order the rows came in.
    assert feed_mrr([1, 0, 0, 0], [0, 0, 0, 0]) == feed_mrr([0, 0, 0, 1], [0, 0, 0, 0])


def test_ndcg_discounts_by_log2_of_one_plus_rank_over_the_ideal_order():
    # The click at rank 2: DCG 1/log2(3), ideal 1.
    assert feed_ndcg([0, 1, 0], [3, 2, 1], 10) == pytest.approx(1 / math.log2(3))
    # Clicks at ranks 1 and 3: (1 + 1/2) / (1 + 1/log2(3)).
    assert feed_ndcg([1, 0, 1], [3, 2, 1], 10) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    assert feed_ndcg([1, 1], [5, 1], 10) == 1.0  # all clicks: any order is ideal
    assert feed_ndcg([0, 0], [5, 1], 10) is None


def test_ndcg_at_k_counts_only_the_top_k():
    labels = [0] * 5 + [1]
    scores = list(range(6, 0, -1))  # the click is ranked 6th
    assert feed_ndcg(labels, scores, 5) == 0.0
    assert feed_ndcg(labels, scores, 10) == pytest.approx(1 / math.log2(7))


def test_feed_metrics_average_over_the_feeds_where_each_metric_is_defined():
    feeds = ["a", "a", "b", "b", "c", "c", "c"]
    labels = [1, 0, 0, 0, 1, 1, 0]
    scores = [0.2, 0.3, 0.9, 0.1, 0.5, 0.1, 0.2]
    m = feed_metrics(feeds, labels, scores)
    assert (m.rows, m.feeds, m.auc_feeds) == (7, 2, 2)  # "b" has no click
    # a: AUC 0, MRR 1/2. c: clicks at ranks 1 and 3, AUC 1/2, MRR (1 + 1/3) / 2.
    assert m.auc == pytest.approx((0 + 0.5) / 2)
    assert m.mrr == pytest.approx((0.5 + 2 / 3) / 2)
    ndcg_a = 1 / math.log2(3)
    ndcg_c = 1.5 / (1 + 1 / math.log2(3))
    assert m.ndcg10 == pytest.approx((ndcg_a + ndcg_c) / 2) == pytest.approx(m.ndcg5)
    # The rows' order does not matter.
    order = [6, 0, 3, 5, 1, 4, 2]
    assert feed_metrics(np.take(feeds, order), np.take(labels, order), np.take(scores, order)) == m


def test_feed_metrics_without_a_click_have_nothing_to_average():
    m = feed_metrics(["a", "a"], [0, 0], [1, 2])
    assert (m.feeds, m.auc_feeds, m.auc, m.mrr, m.ndcg10) == (0, 0, None, None, None)
    assert feed_metrics([], [], []).rows == 0


def test_a_scorer_that_knows_the_clicks_beats_noise():
    rng = np.random.default_rng(0)
    feeds = np.repeat(np.arange(200), 8)
    labels = rng.random(len(feeds)) < 0.2
    informed = labels + rng.normal(0, 0.5, len(feeds))
    good, noise = feed_metrics(feeds, labels, informed), feed_metrics(feeds, labels, rng.random(len(feeds)))
    assert good.auc > 0.8 > 0.6 > noise.auc
    assert good.mrr > noise.mrr and good.ndcg10 > noise.ndcg10


def test_snips_at_tilt_zero_is_the_logged_ctr_with_every_slot_counted():
    s = snips_ctr([1, 0, 0, 1], [0.3, 0.1, 0.2, 0.9], tilt=0.0)
    assert (s.ctr, s.ess, s.slots) == (0.5, 4.0, 4)


def test_snips_weights_each_slot_by_exp_tilt_times_the_standardised_score():
    # Scores 1, 2, 3 standardise to -√1.5, 0, √1.5; clicks on the first and the last.
    w = np.exp([-math.sqrt(1.5), 0.0, math.sqrt(1.5)])
    s = snips_ctr([1, 0, 1], [1, 2, 3], tilt=1.0)
    assert s.ctr == pytest.approx((w[0] + w[2]) / w.sum())
    assert s.ess == pytest.approx(w.sum() ** 2 / (w ** 2).sum())
    # Leaning toward what was clicked raises the estimate; leaning away lowers it; fewer slots count.
    clicks, scores = [0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]
    up, down = snips_ctr(clicks, scores, tilt=2.0), snips_ctr(clicks, scores, tilt=-2.0)
    assert up.ctr > 0.5 > down.ctr and up.ess < 4
    # Scores that are all alike tilt nothing; no slots, no estimate.
    assert snips_ctr([1, 0], [5, 5], tilt=3.0).ctr == 0.5
    assert snips_ctr([], [], tilt=1.0).ctr is None


def test_snips_stays_finite_for_a_steep_tilt():
    s = snips_ctr([1, 0, 0], [1e6, 0, -1e6], tilt=10.0)
    assert s.ctr == pytest.approx(1.0, abs=1e-4) and s.ess == pytest.approx(1.0, abs=1e-4)
