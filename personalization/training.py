"""Training, activating and rolling back the learned ranker (RankingModel); the math is in ranking/learned.py.

`ranking_model_train` reads the served log of the last RANKING_MODEL_WINDOW_DAYS (the items that
were rendered, and what the user did with each), fits the models, and stores a new version with
its held-out report. A version with too little data is stored too, with the reason, so the
admin page says why the formula still serves. The nightly run activates a ready version whose
held-out click AUC is at least the formula's on the same rows; an editor can activate any ready
version (the rollback) or none (the formula serves everywhere).
"""
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Max

from feedproject.cache import cache_set
from personalization.models import RankingModel
from personalization.ranking import learned
from personalization.ranking.features import COMPONENTS
from tracking.selectors import served_outcomes

ACTIVE_MODEL_KEY = "rankingmodel:active"
# Outcomes need time to happen: items served in the last hour are not yet labelled.
SETTLE = timedelta(hours=1)
HOLDOUT_SHARE = 0.2


@dataclass
class TrainingSettings:
    window_days: int
    min_rows: int
    min_positives: int
    auto_activate: bool

    @classmethod
    def current(cls):
        return cls(settings.RANKING_MODEL_WINDOW_DAYS, settings.RANKING_MODEL_MIN_ROWS,
                   settings.RANKING_MODEL_MIN_POSITIVES, settings.RANKING_MODEL_AUTO_ACTIVATE)


def training_rows(*, start, end):
    """The served log of [start, end) as learned.Rows (rendered items only)."""
    kinds = [kind for group in learned.OUTCOMES.values() for kind in group]
    rows = list(served_outcomes(start=start, end=end, event_types=kinds))
    return learned_rows(rows)


def learned_rows(rows):
    """tracking.selectors.ServedOutcome rows as learned.Rows."""
    components = {name: np.array([r.components.get(name, 0.0) for r in rows], dtype=float) for name in COMPONENTS}
    return learned.Rows(
        components=components,
        pool=np.array([r.pool for r in rows], dtype=object),
        position=np.array([r.position for r in rows], dtype=float),
        formula_score=np.array([r.score for r in rows], dtype=float),
        served_at=np.array([r.served_at for r in rows], dtype=float),
        events=[r.events for r in rows],
    )


@dataclass
class Fitted:
    rows: int
    payload: dict  # {} when there was too little data
    report: dict
    reason: str  # why it cannot serve ("" when it can)


def ranking_model_fit(*, start, end, config):
    """Fit the models on the served log of [start, end), storing nothing (training, and offline comparison)."""
    rows = training_rows(start=start, end=end)
    payload, report = {}, {"rows": {"train": 0, "held_out": 0}, "outcomes": {}}
    reason = ""
    if len(rows) < config.min_rows:
        reason = f"too little data: {len(rows):,} rendered served items, the minimum is {config.min_rows:,}"
    else:
        payload, report = learned.fit(rows, names=list(COMPONENTS), holdout_share=HOLDOUT_SHARE,
                                      min_positives=config.min_positives)
        if "click" not in payload["outcomes"]:
            clicks = report["outcomes"]["click"]["positives"]
            reason = (f"too few clicks: {clicks['train']:,} in training and {clicks['held_out']:,} held out, "
                      f"the minimum is {config.min_positives:,} in each")
    report["settings"] = {"window_days": config.window_days, "min_rows": config.min_rows,
                          "min_positives": config.min_positives}
    return Fitted(len(rows), payload if not reason else {}, report, reason)


def ranking_model_train(*, now, trigger="command", created_by_id=None, config=None):
    """Fit a new RankingModel version on the served log up to `now`; returns a summary dict."""
    config = config or TrainingSettings.current()
    end = now - SETTLE
    start = now - timedelta(days=config.window_days)
    fitted = ranking_model_fit(start=start, end=end, config=config)
    payload, report, reason = fitted.payload, fitted.report, fitted.reason
    status = RankingModel.Status.TOO_LITTLE_DATA if reason else RankingModel.Status.READY
    with transaction.atomic():
        version = (RankingModel.objects.select_for_update().aggregate(v=Max("version"))["v"] or 0) + 1
        model = RankingModel.objects.create(
            version=version, status=status, reason=reason, trained_at=now, window_start=start, window_end=end,
            trigger=trigger, created_by_id=created_by_id, report=report, payload=payload if not reason else {},
        )
    activated = False
    if status == RankingModel.Status.READY and config.auto_activate:
        blocker = activation_blocker(report)
        if blocker:
            model.reason = f"not activated: {blocker}"
            model.save(update_fields=["reason"])
        else:
            ranking_model_activate(model=model, now=now)
            activated = True
    return {"version": model.version, "status": model.status, "rows": fitted.rows, "activated": activated}


def activation_blocker(report):
    """Why a ready model should not replace what serves ("" if nothing): it must rank held-out clicks
    at least as well as the formula did on the same rows."""
    click = report["outcomes"]["click"]
    if click.get("auc") is None:
        return "its held-out rows have no click, or only clicks: nothing to compare"
    if click["formula_auc"] is not None and click["auc"] < click["formula_auc"]:
        return f"held-out click AUC {click['auc']:.3f} is below the formula's {click['formula_auc']:.3f}"
    return ""


def _publish(version):
    # Feed processes compare this stamp with the model they hold (personalization.selectors).
    cache_set(ACTIVE_MODEL_KEY, version, None)


@transaction.atomic
def ranking_model_activate(*, model, now):
    """Make `model` the one that ranks for every FeedConfig whose ranker is the learned model."""
    if model.status != RankingModel.Status.READY:
        raise ValueError(f"ranking model v{model.version} is not ready to serve: {model.reason}")
    RankingModel.objects.filter(is_active=True).exclude(pk=model.pk).update(is_active=False)
    RankingModel.objects.filter(pk=model.pk).update(is_active=True, activated_at=now)
    model.is_active, model.activated_at = True, now
    transaction.on_commit(lambda: _publish(model.version))
    return model


@transaction.atomic
def ranking_model_deactivate():
    """No model is active: the formula ranks everywhere until one is activated again."""
    RankingModel.objects.filter(is_active=True).update(is_active=False)
    transaction.on_commit(lambda: _publish(0))
