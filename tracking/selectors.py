"""Reads of velocity and trending: what GET /api/trending lists, with the inputs of each score."""
import numpy as np

from markets.models import Market, MarketVelocity
from markets.scores import MIN_EXPECTED_PER_HOUR, evidence_weight, trending_raw
from ops.models import TaskRun
from tracking.velocity import trending_inputs


def market_trending_list(*, scope, limit):
    """(as_of, items) for GET /api/trending: the open markets trending in `scope`, best first.

    Each item is (MarketVelocity with its market and tags, inputs) where inputs are the
    trending formula's terms recomputed from the buckets as of the last trending run, so a
    reader can see why a market ranks where it does. Four queries whatever `limit` is.
    """
    rows = list(
        MarketVelocity.objects.filter(scope=scope, trending_score__gt=0, market__status=Market.Status.OPEN)
        .select_related("market")
        .prefetch_related("market__tags")
        .order_by("-trending_score", "market__market_id")[:limit]
    )
    run = TaskRun.objects.filter(name="markets.trending_refresh").values_list("last_success_at", flat=True).first()
    as_of = run or max((r.computed_at for r in rows), default=None)
    inputs = {}
    if rows and as_of:
        for pk, _, e1h, e24, users in trending_inputs(as_of, market_pks=[r.market_id for r in rows], scope=scope):
            inputs[pk] = (e1h, e24, users)
    items = []
    for row in rows:
        e1h, e24, _ = inputs.get(row.market_id, (0, 0, 0))
        raw, log_term = float(trending_raw(e1h, e24)), float(np.log1p(e24))
        items.append((row, {
            "activity_1h": e1h, "activity_24h": e24, "expected_1h": max(e24 / 24.0, MIN_EXPECTED_PER_HOUR),
            "spike": raw - log_term, "log_activity_24h": log_term, "raw": raw,
            "evidence": float(evidence_weight(e24)),
        }))
    return as_of, items
