"""Reads of velocity and trending (what GET /api/trending lists, with the inputs of each score), and the
served log joined with what users did with it (what the learned ranker learns from)."""
from collections import defaultdict
from typing import NamedTuple

import numpy as np

from feedproject.db import Epoch
from markets.models import Market, MarketVelocity
from markets.scores import (
    MIN_EXPECTED_PER_HOUR,
    backend_evidence,
    evidence_weight,
    trending_backend_raw,
    trending_raw,
)
from ops.models import TaskRun
from tracking.models import Impression, Interaction, ServedItem
from tracking.velocity import TrendingRow, trending_forecast_current, trending_inputs

CHUNK = 5000


def market_movers_list(*, limit):
    """(as_of, items) for GET /api/trending?kind=movers: the open markets whose odds moved most in 24 h, weighted
    by their trading activity (the global rising score, markets/scores.py), best first; items have no inputs.
    Three queries whatever `limit` is."""
    as_of, rows = _scored_velocities(scope="global", score="rising_score", task="markets.velocity_refresh",
                                     limit=limit)
    return as_of, [(row, None) for row in rows]


def _scored_velocities(*, scope, score, task, limit):
    """(as_of, rows): the open markets of `scope` with `score` above 0, best first, with their markets and tags;
    as of the last success of the task that computes the score. Three queries."""
    rows = list(
        MarketVelocity.objects.filter(scope=scope, **{f"{score}__gt": 0}, market__status=Market.Status.OPEN)
        .select_related("market")
        .prefetch_related("market__tags")
        .order_by(f"-{score}", "market__market_id")[:limit]
    )
    run = TaskRun.objects.filter(name=task).values_list("last_success_at", flat=True).first()
    return run or max((r.computed_at for r in rows), default=None), rows


def market_trending_list(*, scope, limit):
    """(as_of, items) for GET /api/trending: the open markets trending in `scope`, best first.

    Each item is (MarketVelocity with its market and tags, inputs) where inputs are the
    trending formula's terms recomputed from the buckets as of the last trending run, so a
    reader can see why a market ranks where it does. Four queries whatever `limit` is.
    """
    as_of, rows = _scored_velocities(scope=scope, score="trending_score", task="markets.trending_refresh",
                                     limit=limit)
    inputs = {}
    if rows and as_of:
        for values in trending_inputs(as_of, market_pks=[r.market_id for r in rows], scope=scope, traded=False):
            inputs[values[0]] = TrendingRow(*values)
    forecast = trending_forecast_current(as_of) if rows and as_of and scope == "global" else None
    items = []
    for row in rows:
        got = inputs.get(row.market_id)
        e1h, e24 = (got.activity_1h, got.activity_24h) if got else (0, 0)
        raw, log_term = float(trending_raw(e1h, e24)), float(np.log1p(e24))
        # The backend's terms from the velocity row itself, which trending read them from.
        backend = (row.backend_volume_1h, row.backend_volume_24h, row.backend_trades_1h, row.backend_daily_volume_7d)
        resolves, listed = row.market.resolution_date, row.market.created_at
        catalog = {"hours_to_close": None if resolves is None else (resolves - as_of).total_seconds() / 3600.0,
                   "hours_listed": (as_of - listed).total_seconds() / 3600.0}
        items.append((row, {
            "activity_1h": e1h, "activity_24h": e24, "expected_1h": max(e24 / 24.0, MIN_EXPECTED_PER_HOUR),
            "spike": raw - log_term, "log_activity_24h": log_term, "raw": raw,
            "evidence": float(evidence_weight(e24)),
            "backend_raw": float(trending_backend_raw(*backend, coefficients=forecast, **catalog))
            if scope == "global" else 0.0,
            "backend_evidence": float(backend_evidence(row.backend_trades_24h, row.backend_volume_24h))
            if scope == "global" else 0.0,
        }))
    return as_of, items


class ServedOutcome(NamedTuple):
    """A rendered served item and the event kinds the user did on it from that feed."""

    served_at: float  # epoch seconds
    feed_request_id: str
    user_key: str
    position: int
    pool: str
    score: float
    components: dict
    propensity: float | None  # the chance of a randomized pick (exploration), None for a ranked one
    model_version: int | None  # the learned model that ranked it, None for the formula
    events: set
    market_pk: int = 0
    arm: str = ""  # the experiment arm that placed it ("" outside an experiment)
    surface: str = ""
    config_version: int = 0


def served_outcomes(*, start, end, event_types, experiment_id=None):
    """The served items of [start, end) that were rendered, each with the event kinds done on it from that feed.

    An item was rendered when an impression carries its feed_request_id and market; an interaction
    carrying both (of `event_types`) is its outcome. Yields ServedOutcome rows, oldest feed first,
    each feed's items in position order; with `experiment_id`, only that experiment's feeds. Three
    queries whatever the window. Impressions and
    interactions are read from `start` on with no end, so an item served just before `end` still
    gets the outcome that came after it.
    """
    rendered = set(
        Impression.objects.filter(shown_at__gte=start, feed_request_id__isnull=False)
        .values_list("feed_request_id", "market_id").iterator(chunk_size=CHUNK)
    )
    done = defaultdict(set)
    for request_id, market_pk, event_type in (
        Interaction.objects.filter(occurred_at__gte=start, feed_request_id__isnull=False, event_type__in=event_types)
        .values_list("feed_request_id", "market_id", "event_type").iterator(chunk_size=CHUNK)
    ):
        done[(request_id, market_pk)].add(event_type)
    served = ServedItem.objects.filter(served_at__gte=start, served_at__lt=end)
    if experiment_id is not None:
        served = served.filter(experiment_id=experiment_id)
    for (request_id, market_pk, served_at, user_key, position, pool, score, components, propensity, model, arm,
         surface, config_version) in (
        served.order_by("served_at", "feed_request_id", "position")
        .values_list("feed_request_id", "market_id", Epoch("served_at"), "user_key", "position", "pool", "score",
                     "components", "propensity", "model_version", "arm", "surface", "config_version")
        .iterator(chunk_size=CHUNK)
    ):
        key = (request_id, market_pk)
        if key in rendered:
            yield ServedOutcome(float(served_at), str(request_id), user_key, position, pool, score, components,
                                propensity, model, done.get(key, set()), market_pk, arm, surface, config_version)


def served_feed_get(*, feed_request_id):
    """The served log of one feed (tracking.ServedItem rows as dicts), in position order; [] when never served."""
    return list(
        ServedItem.objects.filter(feed_request_id=feed_request_id).order_by("position").values(
            "market_id", "user_key", "surface", "served_at", "config_version", "model_version", "position", "pool",
            "reason", "reason_text", "components",
        )
    )
