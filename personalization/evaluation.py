"""Comparing rankers offline on the served log (`manage.py evaluate_rankers`); the metrics are in ranking/evaluation.py.

The logged feeds of a window are replayed: each rendered item is scored by the formula (the score
it was served with) and by learned models (stored versions, or a candidate fitted on the days
before the window and kept nowhere), and each scorer is judged on what the users then clicked.
Nothing is written and nothing is activated.
"""
from dataclasses import dataclass, field, replace
from datetime import timedelta

import numpy as np

from personalization.models import RankingModel
from personalization.ranking import evaluation, learned
from personalization.selectors import feed_params_current
from personalization.training import TrainingSettings, learned_rows, ranking_model_fit
from tracking.selectors import served_outcomes


class ComparisonError(ValueError):
    """The comparison cannot run as asked (the message says why)."""


@dataclass
class ScorerResult:
    name: str
    metrics: evaluation.FeedMetrics
    snips: evaluation.Snips


@dataclass
class Comparison:
    since: object
    until: object
    tilt: float
    rows: int
    feeds: int
    clicks: int
    logged: evaluation.Snips  # the exploration slots' CTR as logged (tilt 0)
    results: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


def rankers_compare(*, since, until, versions=(), candidate_days=None, tilt=1.0, seed=0):
    """Judge the formula, each RankingModel of `versions` and (with `candidate_days`) a candidate fitted
    on the served log of [since − candidate_days, since) on the feeds served in [since, until)."""
    if since >= until:
        raise ComparisonError(f"the window is empty: since {since.isoformat()} is not before until {until.isoformat()}")
    models = []
    for version in versions:
        model = RankingModel.objects.filter(version=version).first()
        if model is None:
            raise ComparisonError(f"there is no ranking model v{version}")
        if model.status != RankingModel.Status.READY:
            raise ComparisonError(f"ranking model v{version} cannot rank: {model.reason}")
        models.append((f"model v{version}", model.payload))
    comparison_warnings = [
        f"model v{m.version} was trained on {m.window_start:%Y-%m-%d %H:%M} – {m.window_end:%Y-%m-%d %H:%M}, "
        "which overlaps the evaluated window: its numbers are flattered (leakage); compare a model trained "
        "before the window (--candidate)"
        for m in RankingModel.objects.filter(version__in=versions, window_start__lt=until, window_end__gt=since)
    ]
    if candidate_days is not None:
        config = replace(TrainingSettings.current(), window_days=candidate_days)
        start = since - timedelta(days=candidate_days)
        fitted = ranking_model_fit(start=start, end=since, config=config)
        if fitted.reason:
            raise ComparisonError(
                f"cannot train a candidate on {start:%Y-%m-%d %H:%M} – {since:%Y-%m-%d %H:%M}: {fitted.reason}"
            )
        models.append((f"candidate ({candidate_days} d before)", fitted.payload))

    kinds = [kind for group in learned.OUTCOMES.values() for kind in group]
    served = list(served_outcomes(start=since, end=until, event_types=kinds))
    if not served:
        raise ComparisonError(
            f"no rendered served items in {since:%Y-%m-%d %H:%M} – {until:%Y-%m-%d %H:%M}: nothing to compare on"
        )
    rows = learned_rows(served)
    clicks = rows.label("click")
    feed_ids = np.array([r.feed_request_id for r in served])
    explore = np.array([r.propensity is not None for r in served])
    by_model = sum(1 for r in served if r.model_version is not None)
    if by_model:
        comparison_warnings.append(
            f"{by_model:,} of the {len(served):,} items were ranked by a learned model: "
            "their logged score is the model's, not the formula's"
        )

    # The values of the events are the home config's, as at serving (docs/learning.md).
    event_values = feed_params_current("home", now=until).events
    scorers = [("served (logged score)" if by_model else "formula (logged score)", rows.formula_score)]
    for name, payload in models:
        scores, _ = learned.value(payload, rows.components, len(rows), event_values)
        scorers.append((name, scores))
    scorers.append(("random (reference)", np.random.default_rng(seed).random(len(rows))))

    comparison = Comparison(
        since, until, tilt, len(rows), len(set(feed_ids.tolist())), int(clicks.sum()),
        evaluation.snips_ctr(clicks[explore], rows.formula_score[explore], tilt=0.0), warnings=comparison_warnings,
    )
    for name, scores in scorers:
        comparison.results.append(ScorerResult(
            name, evaluation.feed_metrics(feed_ids, clicks, scores),
            evaluation.snips_ctr(clicks[explore], scores[explore], tilt=tilt),
        ))
    return comparison
