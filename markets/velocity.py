"""Velocity, rising and trending of every market per scope, recomputed from the activity buckets.

Both refreshes are idempotent by construction: they read the 5-minute MarketActivity
buckets (keyed by the events' own time) and MarketSnapshot as of `now`, and overwrite
MarketVelocity in one transaction. A late or replayed event counts in the window of
its own time; running twice, or again after a crash, gives the same rows. Work is
set-based: one aggregate statement over the window, one bulk upsert, whatever the
number of markets. See docs/pipeline.md.
"""
from datetime import timedelta

import numpy as np
from django.db import connection, transaction
from django.db.models import OuterRef, Q, Subquery

from feedproject.db import bulk_upsert
from markets.models import Market, MarketSnapshot, MarketVelocity
from markets.scores import MIN_EXPECTED_PER_HOUR, rank_normalise, ratio_of_rates, trending_raw
from markets.services import catalog_version_bump
from ops.locks import table_writers_serialize
from personalization.ranking.features import rising_score
from tracking.models import MarketActivity, MarketActivityUser

GLOBAL = "global"
BUCKET = timedelta(seconds=MarketActivity.BUCKET_SECONDS)
WINDOWS = {"5m": timedelta(minutes=5), "1h": timedelta(hours=1), "24h": timedelta(hours=24)}
# Both refreshes rewrite MarketVelocity; one writer at a time keeps their row locks from crossing.
WRITERS_KEY = "markets.marketvelocity"
LOCAL_MIN_USERS_DEFAULT = 5  # SPEC 5; the feed configs' features.local_min_users overrides it


def window_starts(now):
    """Exclusive lower bounds on bucket_start: a window holds every bucket that overlaps
    (now - W, now], so it covers at least W and at most W + 5 min of events."""
    return {name: now - length - BUCKET for name, length in WINDOWS.items()}


def _adapt(value):
    return connection.ops.adapt_datetimefield_value(value)


def _table(model):
    return connection.ops.quote_name(model._meta.db_table)


def _window_counts(now):
    """Rows (market_pk, scope, views 5m/1h/24h, trades 5m/1h/24h, clicks 24h, impressions 24h,
    users 5m/1h/24h) for every market and scope with a bucket in the last 24 h."""
    starts = window_starts(now)
    s5, s1h, s24 = _adapt(starts["5m"]), _adapt(starts["1h"]), _adapt(starts["24h"])
    until = _adapt(now)
    sql = f"""
        SELECT c.market_id, c.scope, c.v5, c.v1h, c.v24, c.t5, c.t1h, c.t24, c.clicks, c.impressions,
               COALESCE(u.u5, 0), COALESCE(u.u1h, 0), COALESCE(u.u24, 0)
        FROM (
            SELECT market_id, scope,
                   SUM(CASE WHEN bucket_start > %s THEN views ELSE 0 END) AS v5,
                   SUM(CASE WHEN bucket_start > %s THEN views ELSE 0 END) AS v1h,
                   SUM(views) AS v24,
                   SUM(CASE WHEN bucket_start > %s THEN trades ELSE 0 END) AS t5,
                   SUM(CASE WHEN bucket_start > %s THEN trades ELSE 0 END) AS t1h,
                   SUM(trades) AS t24,
                   SUM(clicks) AS clicks,
                   SUM(impressions) AS impressions
            FROM {_table(MarketActivity)}
            WHERE bucket_start > %s AND bucket_start <= %s
            GROUP BY market_id, scope
        ) c
        LEFT JOIN (
            SELECT market_id, scope,
                   COUNT(DISTINCT CASE WHEN bucket_start > %s THEN user_key END) AS u5,
                   COUNT(DISTINCT CASE WHEN bucket_start > %s THEN user_key END) AS u1h,
                   COUNT(DISTINCT user_key) AS u24
            FROM {_table(MarketActivityUser)}
            WHERE bucket_start > %s AND bucket_start <= %s
            GROUP BY market_id, scope
        ) u ON u.market_id = c.market_id AND u.scope = c.scope
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [s5, s1h, s5, s1h, s24, until, s5, s1h, s24, until])
        return cursor.fetchall()


def _market_states(now, market_pks_active):
    """Per market (sorted by pk): state now and as of 1 h and 24 h ago, as numpy arrays.

    "Then" is the last snapshot at or before now - W; a market younger than that uses its
    first snapshot; a market without snapshots uses its current state (no change).
    """
    snapshots = MarketSnapshot.objects.filter(market=OuterRef("pk"), taken_at__lte=now)
    rows = list(
        Market.objects.filter(Q(status=Market.Status.OPEN) | Q(pk__in=market_pks_active))
        .annotate(
            at_1h=Subquery(snapshots.filter(taken_at__lte=now - WINDOWS["1h"]).order_by("-taken_at").values("pk")[:1]),
            at_24h=Subquery(snapshots.filter(taken_at__lte=now - WINDOWS["24h"]).order_by("-taken_at").values("pk")[:1]),
            first=Subquery(snapshots.order_by("taken_at").values("pk")[:1]),
        )
        .order_by("pk")
        .values_list("pk", "probability", "volume_total", "participant_count", "at_1h", "at_24h", "first")
    )
    wanted = {pk for row in rows for pk in row[4:] if pk is not None}
    snaps = {}
    wanted = sorted(wanted)
    for start in range(0, len(wanted), 10_000):  # SQLite's parameter limit; 1-3 queries at 10k markets
        for pk, taken_at, probability, volume_total, participants in MarketSnapshot.objects.filter(
            pk__in=wanted[start : start + 10_000]
        ).values_list("pk", "taken_at", "probability", "volume_total", "participant_count"):
            snaps[pk] = ((now - taken_at).total_seconds() / 3600.0, probability, volume_total, participants)

    n = len(rows)
    state = {"pk": np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)}
    state["p_now"] = np.fromiter((r[1] for r in rows), dtype=float, count=n)
    state["v_now"] = np.fromiter((r[2] for r in rows), dtype=float, count=n)
    state["n_now"] = np.fromiter((r[3] for r in rows), dtype=float, count=n)
    for label, column in (("1h", 4), ("24h", 5)):
        then = [snaps.get(r[column]) or snaps.get(r[6]) or (0.0, r[1], r[2], r[3]) for r in rows]
        state[f"hours_{label}"] = np.fromiter((t[0] for t in then), dtype=float, count=n)
        state[f"p_{label}"] = np.fromiter((t[1] for t in then), dtype=float, count=n)
        state[f"v_{label}"] = np.fromiter((t[2] for t in then), dtype=float, count=n)
        state[f"n_{label}"] = np.fromiter((t[3] for t in then), dtype=float, count=n)
    return state


VELOCITY_COUNTS = (
    "views_5m", "views_1h", "views_24h", "trades_5m", "trades_1h", "trades_24h",
    "unique_users_5m", "unique_users_1h", "unique_users_24h",
)
VELOCITY_FIELDS = (
    *VELOCITY_COUNTS, "ctr_24h", "odds_change_1h", "odds_change_24h", "volume_spike_ratio",
    "participant_delta_24h", "rising_score", "computed_at",
)


@transaction.atomic
def market_velocity_refresh(*, now):
    """Recompute every MarketVelocity row except trending_score as of `now`; returns counts.

    Rows: every scope with activity in the last 24 h, and a global row for every open
    market. Rows outside that set are deleted.
    """
    table_writers_serialize(WRITERS_KEY)
    counts = _window_counts(now)
    active_pks = sorted({row[0] for row in counts})
    state = _market_states(now, MarketActivity.objects.filter(
        bucket_start__gt=window_starts(now)["24h"], bucket_start__lte=now
    ).values("market_id"))

    # Open markets without activity still get a global row of zeros: the feed reads rising from it.
    seen_global = {row[0] for row in counts if row[1] == GLOBAL}
    zero = (0,) * 11
    counts.extend((pk, GLOBAL, *zero) for pk in state["pk"].tolist() if pk not in seen_global)
    if not counts:
        deleted, _ = MarketVelocity.objects.all().delete()
        return {"rows": 0, "deleted": deleted, "active_markets": 0}

    columns = list(zip(*counts))
    market_pk = np.asarray(columns[0], dtype=np.int64)
    scope = list(columns[1])
    c = {name: np.asarray(columns[i + 2], dtype=np.int64) for i, name in enumerate(
        ("views_5m", "views_1h", "views_24h", "trades_5m", "trades_1h", "trades_24h", "clicks", "impressions",
         "unique_users_5m", "unique_users_1h", "unique_users_24h")
    )}
    at = np.searchsorted(state["pk"], market_pk)  # every counted market is in `state` (same window)
    with np.errstate(divide="ignore", invalid="ignore"):
        ctr = np.where(c["impressions"] > 0, c["clicks"] / c["impressions"], 0.0)
    odds_1h = (state["p_now"] - state["p_1h"])[at]
    odds_24h = (state["p_now"] - state["p_24h"])[at]
    spike = ratio_of_rates(
        state["v_now"] - state["v_1h"], state["hours_1h"], state["v_now"] - state["v_24h"], state["hours_24h"]
    )[at]
    participants = (state["n_now"] - state["n_24h"]).astype(np.int64)[at]
    rising = rising_score(state["p_now"][at], state["p_24h"][at], c["trades_24h"])

    values = [market_pk.tolist(), scope]
    values += [c[name].tolist() for name in VELOCITY_COUNTS]
    values += [ctr.tolist(), odds_1h.tolist(), odds_24h.tolist(), spike.tolist(), participants.tolist(),
               rising.tolist(), [now] * len(scope), [0.0] * len(scope)]
    bulk_upsert(
        MarketVelocity,
        ("market", "scope", *VELOCITY_FIELDS, "trending_score"),
        list(zip(*values)),
        conflict=("market", "scope"),
        replace=VELOCITY_FIELDS,
    )
    deleted, _ = MarketVelocity.objects.exclude(computed_at=now).delete()
    transaction.on_commit(catalog_version_bump)
    return {"rows": len(scope), "deleted": deleted, "active_markets": len(active_pks)}


def _trending_inputs(now, market_pks=None, scope=None):
    """Rows (market_pk, scope, activity last hour, activity 24 h, users 24 h) with activity in 24 h.

    Activity is `engagements`: interactions with a positive weight (views, clicks, trades,
    shares, comments, bookmarks...). Users are counted for local scopes only (the global
    scope needs no minimum support); the global rows get 0.
    """
    starts = window_starts(now)
    s1h, s24, until = _adapt(starts["1h"]), _adapt(starts["24h"]), _adapt(now)
    where, params = "", []
    if market_pks is not None:
        where += f" AND market_id IN ({', '.join(['%s'] * len(market_pks))})"
        params += list(market_pks)
    if scope is not None:
        where += " AND scope = %s"
        params.append(scope)
    sql = f"""
        SELECT a.market_id, a.scope, a.e1h, a.e24, COALESCE(u.users, 0)
        FROM (
            SELECT market_id, scope,
                   SUM(CASE WHEN bucket_start > %s THEN engagements ELSE 0 END) AS e1h,
                   SUM(engagements) AS e24
            FROM {_table(MarketActivity)}
            WHERE bucket_start > %s AND bucket_start <= %s{where}
            GROUP BY market_id, scope
            HAVING SUM(engagements) > 0
        ) a
        LEFT JOIN (
            SELECT market_id, scope, COUNT(DISTINCT user_key) AS users
            FROM {_table(MarketActivityUser)}
            WHERE bucket_start > %s AND bucket_start <= %s AND scope <> %s{where}
            GROUP BY market_id, scope
        ) u ON u.market_id = a.market_id AND u.scope = a.scope
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [s1h, s24, until, *params, s24, until, GLOBAL, *params])
        return cursor.fetchall()


def local_min_users():
    """The smallest `features.local_min_users` of the active feed configs (SPEC 5 default: 5).

    Local trending is ranked among markets with at least that many users; a surface that
    asks for more applies its own threshold to unique_users_24h when it ranks.
    """
    from personalization.models import FeedConfig

    values = [
        params.get("features", {}).get("local_min_users")
        for params in FeedConfig.objects.filter(is_active=True).values_list("params", flat=True)
    ]
    values = [int(v) for v in values if isinstance(v, (int, float))]
    return min(values) if values else LOCAL_MIN_USERS_DEFAULT


def trending_scores(rows, min_users):
    """(raw, score) arrays for rows of _trending_inputs: SPEC 9 raw score, ranked within each scope."""
    if not rows:
        return np.zeros(0), np.zeros(0)
    _, scopes, e1h, e24, users = zip(*rows)
    raw = trending_raw(np.asarray(e1h, float), np.asarray(e24, float))
    scopes = np.asarray(scopes, dtype=object)
    supported = (scopes == GLOBAL) | (np.asarray(users) >= min_users)
    return raw, rank_normalise(raw, scopes.astype(str), eligible=supported)


@transaction.atomic
def market_trending_refresh(*, now):
    """Recompute trending_score of every market and scope as of `now`; returns counts."""
    table_writers_serialize(WRITERS_KEY)
    min_users = local_min_users()
    rows = _trending_inputs(now)
    _, scores = trending_scores(rows, min_users)
    scored = {(row[0], row[1]): score for row, score in zip(rows, scores.tolist()) if score > 0}
    # Rows trending before and not now go back to 0 in the same write.
    for key in MarketVelocity.objects.filter(trending_score__gt=0).values_list("market_id", "scope"):
        scored.setdefault(key, 0.0)
    zeros = (0,) * len(VELOCITY_COUNTS) + (0.0,) * 5 + (0,)  # the rest of a row velocity has not written yet
    bulk_upsert(
        MarketVelocity,
        ("market", "scope", *VELOCITY_COUNTS, "ctr_24h", "odds_change_1h", "odds_change_24h",
         "volume_spike_ratio", "rising_score", "participant_delta_24h", "trending_score", "computed_at"),
        [(pk, scope, *zeros, score, now) for (pk, scope), score in sorted(scored.items())],
        conflict=("market", "scope"),
        replace=("trending_score",),
    )
    transaction.on_commit(catalog_version_bump)
    trending = sum(1 for s in scored.values() if s > 0)
    return {"scored": trending, "reset": len(scored) - trending, "min_local_users": min_users}


def market_trending_list(*, scope, limit):
    """(as_of, items) for GET /api/trending: the open markets trending in `scope`, best first.

    Each item is (MarketVelocity with its market and tags, inputs) where inputs are the
    trending formula's terms recomputed from the buckets as of the last trending run, so a
    reader can see why a market ranks where it does. Four queries whatever `limit` is.
    """
    from ops.models import TaskRun

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
        for pk, _, e1h, e24, users in _trending_inputs(as_of, market_pks=[r.market_id for r in rows], scope=scope):
            inputs[pk] = (e1h, e24, users)
    items = []
    for row in rows:
        e1h, e24, _ = inputs.get(row.market_id, (0, 0, 0))
        raw, log_term = float(trending_raw(e1h, e24)), float(np.log1p(e24))
        items.append((row, {
            "activity_1h": e1h, "activity_24h": e24, "expected_1h": max(e24 / 24.0, MIN_EXPECTED_PER_HOUR),
            "spike": raw - log_term, "log_activity_24h": log_term, "raw": raw,
        }))
    return as_of, items
