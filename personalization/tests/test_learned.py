"""The learned ranker's math (ranking/learned.py) on rows whose truth is known."""
import numpy as np
import pytest

from personalization.ranking import learned


def rows_from(rng, n, click_logit, *, components, pool=None, position=None, formula=None):
    """Rows whose click chance is sigmoid(click_logit); a few engagements among the clicks."""
    clicked = rng.random(n) < 1 / (1 + np.exp(-click_logit))
    events = []
    for c in clicked:
        kinds = set()
        if c:
            kinds.add("click")
            if rng.random() < 0.3:
                kinds.add(rng.choice(["participate", "bookmark"]))
        elif rng.random() < 0.02:
            kinds.add("hide")
        events.append(kinds)
    return learned.Rows(
        components=components,
        pool=np.array(pool if pool is not None else ["personal"] * n, dtype=object),
        position=np.asarray(position if position is not None else np.zeros(n), dtype=float),
        formula_score=np.asarray(formula if formula is not None else rng.random(n)),
        served_at=np.arange(n, dtype=float),
        events=events,
    )


def test_the_model_learns_what_drives_clicks_and_beats_a_formula_that_does_not_know_it():
    rng = np.random.default_rng(1)
    n = 6000
    taste, noise = rng.random(n), rng.random(n)
    rows = rows_from(rng, n, -3 + 3 * taste, components={"interest": taste, "freshness": noise}, formula=noise)
    payload, report = learned.fit(rows, names=["interest", "freshness"])
    click = report["outcomes"]["click"]
    assert click["auc"] > 0.65 > click["formula_auc"] + 0.1
    coef = dict(zip(payload["features"], payload["outcomes"]["click"]["coef"], strict=True))
    assert 2.0 < coef["interest"] < 4.0 and abs(coef["freshness"]) < 0.5
    assert report["rows"] == {"train": 4800, "held_out": 1200}
    # Calibrated: each held-out decile's mean prediction is near its observed rate.
    for b in click["calibration"]:
        assert abs(b["predicted"] - b["observed"]) < 0.08
    assert sum(b["count"] for b in click["calibration"]) == 1200


def test_position_is_learned_as_its_own_term_and_left_out_at_serving():
    """Clicks fall with position only: the model puts it on the position term, not on the components."""
    rng = np.random.default_rng(2)
    n = 8000
    position = rng.integers(0, 20, n)
    taste = rng.random(n)
    rows = rows_from(rng, n, -1.5 - 0.8 * np.log1p(position), components={"interest": taste}, position=position)
    payload, _ = learned.fit(rows, names=["interest"])
    coef = dict(zip(payload["features"], payload["outcomes"]["click"]["coef"], strict=True))
    assert coef[learned.POSITION] < -0.5 and abs(coef["interest"]) < 0.3
    # At serving every market is scored at the reference position: the same taste, the same P.
    p = learned.probabilities(payload, {"interest": np.array([0.5, 0.5])}, 2)["click"]
    assert p[0] == p[1] == pytest.approx(1 / (1 + np.exp(-payload["outcomes"]["click"]["intercept"]
                                                        - 0.5 * coef["interest"])))


def test_the_score_is_the_sum_of_event_values_times_probabilities():
    payload = {
        "components": ["interest"], "features": ["interest"],
        "outcomes": {
            "click": {"coef": [2.0], "intercept": -2.0, "mix": {"click": 1.0}},
            "engage": {"coef": [1.0], "intercept": -4.0, "mix": {"participate": 0.5, "bookmark": 0.5}},
            "reject": {"coef": [-1.0], "intercept": -3.0, "mix": {"hide": 1.0}},
        },
    }
    values = {"click": 2.0, "participate": 6.0, "bookmark": 4.0, "hide": -6.0}
    total, p = learned.value(payload, {"interest": np.array([0.0, 1.0])}, 2, values)
    expected = 2.0 * p["click"] + 5.0 * p["engage"] - 6.0 * p["reject"]
    assert np.allclose(total, expected) and total[1] > total[0]
    # An editor who values bets more moves the score by the engage term only.
    more, _ = learned.value(payload, {"interest": np.array([0.0, 1.0])}, 2, {**values, "participate": 12.0})
    assert np.allclose(more - total, 3.0 * p["engage"])


def test_an_outcome_with_too_few_positives_is_left_out_and_says_why():
    rng = np.random.default_rng(3)
    n = 1000
    taste = rng.random(n)
    rows = rows_from(rng, n, -2 + 2 * taste, components={"interest": taste})
    payload, report = learned.fit(rows, names=["interest"], min_positives=30)
    assert "click" in payload["outcomes"]
    assert "reject" not in payload["outcomes"] and "fewer than 30" in report["outcomes"]["reject"]["skipped"]
    assert report["outcomes"]["reject"]["positives"]["train"] < 30


def test_the_held_out_rows_are_the_newest():
    rows = learned.Rows(components={}, pool=np.array(["personal"] * 10, dtype=object), position=np.zeros(10),
                        formula_score=np.zeros(10), served_at=np.array([9, 8, 7, 6, 5, 4, 3, 2, 1, 0.0]),
                        events=[set()] * 10)
    train, held = learned.split(rows, 0.2)
    assert sorted(rows.served_at[held]) == [8, 9] and max(rows.served_at[train]) == 7
