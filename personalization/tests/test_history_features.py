"""The user's history with each market as learned-ranker components (features.history_features): whether
the user engaged with it before, and how often it was shown in 7 days. The formula does not sum them; a
model learns what they are worth."""
import numpy as np

from personalization.ranking import features, learned, rank
from personalization.ranking.params import FeedParams
from personalization.tests.ranking_data import HOUR, NOW, make_user, mixed_catalog

PARAMS = FeedParams.from_dict({"ranker": {"model": 1}})
CATALOG = mixed_catalog(5)


def test_engaged_and_showings_are_read_from_the_users_seen_markets():
    user = make_user(CATALOG, seen={
        0: dict(last_shown_at=NOW - 30 * HOUR, positive_at=NOW - 30 * HOUR, shows_24h=0, shows_7d=2),
        1: dict(last_shown_at=NOW - 2 * HOUR, shows_24h=1, shows_7d=9),
    })
    engaged, shows = features.history_features(CATALOG, user)
    assert engaged[0] == 1.0 and engaged[1] == 0.0 and not engaged[2:].any()
    assert shows[0] == 0.4 and shows[1] == 1.0 and not shows[2:].any()  # showings / 5, at most 1
    scored = features.score(CATALOG, user, PARAMS, NOW)
    assert scored.features["engaged"][0] == 1.0 and scored.features["shows_7d"][1] == 1.0
    assert {"engaged", "shows_7d"} <= set(features.COMPONENTS)  # logged with every served item, so trained on


def test_the_formula_ignores_them():
    seen = {1: dict(last_shown_at=NOW - 40 * HOUR, positive_at=NOW - 40 * HOUR, shows_24h=0, shows_7d=4)}
    with_history = features.score(CATALOG, make_user(CATALOG, seen=seen), PARAMS, NOW)
    engaged, shows = features.history_features(CATALOG, make_user(CATALOG, seen=seen))
    assert engaged[1] and shows[1]
    # Unshown markets score the same as for a user with no history of market 1.
    plain = features.score(CATALOG, make_user(CATALOG), PARAMS, NOW)
    assert np.allclose(with_history.final[2:], plain.final[2:])


def test_a_model_that_learned_repeats_do_not_convert_ranks_a_shown_market_below_a_fresh_twin():
    """Rows where a market shown often in the week is rarely clicked: the model learns the term and, at
    serving, puts the much-shown market below an unshown one the user likes as much."""
    rng = np.random.default_rng(5)
    n = 6000
    interest, shows = rng.random(n), rng.choice([0.0, 0.2, 0.4, 0.6, 0.8, 1.0], n)
    clicked = rng.random(n) < 1 / (1 + np.exp(-(-2.0 + 2.0 * interest - 3.0 * shows)))
    rows = learned.Rows(
        components={"interest": interest, "shows_7d": shows}, pool=np.array(["personal"] * n, dtype=object),
        position=np.zeros(n), formula_score=interest, served_at=np.arange(n, dtype=float),
        events=[{"click"} if c else set() for c in clicked],
    )
    payload, _ = learned.fit(rows, names=["interest", "shows_7d"])
    coef = dict(zip(payload["features"], payload["outcomes"]["click"]["coef"], strict=True))
    assert coef["shows_7d"] < -2.0
    # Markets 0 and 4 are twins (Sports, tags sports-0 and sports-x); 0 was shown 5 times this week.
    user = make_user(CATALOG, seen={0: dict(last_shown_at=NOW - 26 * HOUR, shows_24h=0, shows_7d=5)},
                     long={("category", "Sports"): 8.0})
    scored = rank.scores(CATALOG, user, PARAMS, NOW, model=learned.Model(1, payload))
    assert scored.features["interest"][0] == scored.features["interest"][4] > 0
    assert scored.final[0] < scored.final[4]
