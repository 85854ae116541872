"""Taste from hits and misses (personalization/ranking/hits.py): per-topic Beta posteriors of the
engagement rate, as the hits_long / hits_session features and in the personal score."""
import math

import numpy as np
import pytest

from personalization.ranking import features, hits
from personalization.ranking.params import FeedParams
from personalization.tests.ranking_data import NOW, make_user, mixed_catalog

PARAMS = FeedParams.from_dict()
CATALOG = mixed_catalog(5)  # Sports, Politics, Crypto, Culture, Science; tags "<category>-<j % 4>" and "<category>-x"


def sports(shown, engaged=0):
    """Counts as user_data_load gives them: `shown` Sports markets (tags sports-0, sports-x), `engaged` of them hits."""
    return {("category", "Sports"): (engaged, shown), ("tag", "sports-0"): (engaged, shown),
            ("tag", "sports-x"): (engaged, shown)}


def politics(shown, engaged):
    return {("category", "Politics"): (engaged, shown), ("tag", "politics-x"): (engaged, shown)}


def lifts(**counts):
    return hits.hit_features(CATALOG, make_user(CATALOG, **counts), PARAMS.interest)


def of(category, values):
    return values[CATALOG.category == CATALOG.category_code[category]]


def test_without_showings_every_market_is_at_the_users_rate():
    long, session = lifts()
    assert not long.any() and not session.any()


def test_misses_lower_a_topic_and_hits_raise_it():
    baseline = politics(40, 4)  # the user's other showings: a rate of 0.1
    missed, _ = lifts(hits_long={**baseline, **sports(50)})
    liked, _ = lifts(hits_long={**baseline, **sports(50, 15)})
    assert (of("Sports", missed) < -0.5).all()
    assert (of("Sports", liked) > 0.2).all()
    assert (of("Crypto", missed) == 0).all()  # never shown: no evidence either way


def test_one_showing_moves_little_and_many_move_more():
    base = politics(200, 20)
    steps = [of("Sports", lifts(hits_long={**base, **sports(n)})[0])[0] for n in (0, 1, 5, 50)]
    assert steps[0] == 0
    assert -0.1 < steps[1] < 0 and steps[2] < steps[1] and steps[3] < steps[2] - 0.3
    # the posterior is (hits + m r) / (trials + m), then the lift tanh(ln(p / r)), with m = 10, r ~ 0.1:
    p = PARAMS.interest
    r = (20 + p.hits_user_mass * p.hits_global_rate) / (201 + p.hits_user_mass)
    p = 10 * r / 11
    assert steps[1] == pytest.approx(math.tanh(math.log(p / r)), abs=1e-9)


def test_the_users_own_rate_is_the_prior_so_a_keen_user_is_not_keen_on_everything():
    # Engaging with 30% of everything shown: a topic at 30% is just the user's usual, not a liking.
    everywhere = {**politics(100, 30), **sports(100, 30)}
    long, _ = lifts(hits_long=everywhere)
    shown = np.isin(CATALOG.category, [CATALOG.category_code["Politics"], CATALOG.category_code["Sports"]])
    assert np.abs(long[shown]).max() < 0.1
    # ... and the user's rate is itself shrunk toward the global prior: two showings are no rate of 100%.
    assert hits.user_rate({("category", "Sports"): (2, 2)}, 0.1, 20) == pytest.approx(4 / 22)


def test_the_session_horizon_reads_only_this_sessions_showings_and_falls_back_to_the_long_term():
    base = politics(60, 6)
    long_only, same = lifts(hits_long={**base, **sports(20, 2)})
    assert np.array_equal(long_only, same)  # no showings this session: the session estimate is the long-term one
    long, session = lifts(hits_long={**base, **sports(20, 2)}, hits_session=sports(20))
    assert np.array_equal(long, long_only)  # this session's showings do not change the long-term feature
    assert (of("Sports", session) < of("Sports", long) - 0.3).all()


def test_the_features_are_bounded_and_untagged_markets_take_the_category():
    long, _ = lifts(hits_long={**politics(10, 0), **sports(10_000, 10_000)})
    assert (np.abs(long) < 1).all()
    catalog = mixed_catalog(2)
    catalog.tags[:] = len(catalog.tag_slugs)  # no tags at all
    catalog.tag_count[:] = 0
    user = make_user(catalog, hits_long={**politics(40, 4), **sports(50)})
    untagged, _ = hits.hit_features(catalog, user, PARAMS.interest)
    rates = hits.rate_tables(user.hits_long, catalog, hits.user_rate(user.hits_long, 0.1, 20), 10)
    expected = math.tanh(math.log(rates[0][catalog.category_code["Sports"]] / hits.user_rate(user.hits_long, 0.1, 20)))
    assert untagged[0] == pytest.approx(expected)


def test_the_personal_score_adds_the_weighted_session_estimate():
    user = make_user(CATALOG, hits_long={**politics(40, 4), **sports(50)})
    scored = features.score(CATALOG, user, PARAMS, NOW)
    before = features.score(CATALOG, make_user(CATALOG), PARAMS, NOW)
    assert "hits_long" in features.COMPONENTS and "hits_session" in features.COMPONENTS
    assert scored.personal == pytest.approx(before.personal + PARAMS.weights.hits * scored.features["hits_session"])
    assert (of("Sports", scored.relevance) < of("Sports", before.relevance)).all()
