"""Velocity, rising and trending of every market per scope, recomputed from the activity buckets and
the trading backend's state history.

Both refreshes are idempotent by construction: they read the 5-minute MarketActivity
buckets (keyed by the events' own time) and MarketSnapshot as of `now`, and overwrite
MarketVelocity in one transaction. A late or replayed event counts in the window of
its own time; running twice, or again after a crash, gives the same rows. Work is
set-based and stays in the database where it can: the window aggregates go to a
temporary table, only per-market values travel to numpy and back, and one INSERT ... ON
CONFLICT writes the rows whose values changed, whatever the number of markets. See docs/pipeline.md.
"""
from datetime import timedelta
from typing import NamedTuple

import numpy as np
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, Subquery, Value

from feedproject.db import (
    Epoch,
    is_distinct_from,
    seconds_between,
    sql_datetime,
    sql_name,
    sql_table,
    temporary_table_analyze,
    temporary_table_create,
    temporary_table_index,
    transaction_jit_off,
)
from markets.models import Market, MarketSnapshot, MarketVelocity, TrendingForecast
from markets.scores import (
    backend_evidence,
    backend_window,
    evidence_weight,
    rank_normalise,
    rising_move,
    rising_support_sql,
    trending_backend_raw,
    trending_backend_terms,
    trending_forecast_fit,
    trending_raw,
)
from markets.services import catalog_version_bump
from ops.locks import table_writers_serialize
from tracking.models import MarketActivity, MarketActivityUser

GLOBAL = "global"
BUCKET = timedelta(seconds=MarketActivity.BUCKET_SECONDS)
WINDOWS = {"5m": timedelta(minutes=5), "1h": timedelta(hours=1), "24h": timedelta(hours=24)}
# The trading backend's usual level is read over a week of its state history (trending's baseline).
BASELINE = timedelta(days=7)
# Both refreshes rewrite MarketVelocity; one writer at a time keeps their row locks from crossing.
WRITERS_KEY = "markets.marketvelocity"


def catalog_hours(resolves, listed, now):
    """(hours from `now` to each resolution date, hours from each listing to `now`) as float arrays, from
    epoch seconds (None: unknown, NaN): the catalog's terms of trending's forecast (trending_backend_terms)."""
    now_s = now.timestamp()
    to_close = np.array([np.nan if t is None else (t - now_s) / 3600.0 for t in resolves], dtype=float)
    since = np.array([np.nan if t is None else (now_s - t) / 3600.0 for t in listed], dtype=float)
    return to_close, since


def window_starts(now):
    """Exclusive lower bounds on bucket_start: a window holds every bucket that overlaps
    (now - W, now], so it covers at least W and at most W + 5 min of events."""
    return {name: now - length - BUCKET for name, length in WINDOWS.items()}


COUNT_COLUMNS = (
    "views_5m", "views_1h", "views_24h", "trades_5m", "trades_1h", "trades_24h", "clicks_24h", "impressions_24h",
    "unique_users_5m", "unique_users_1h", "unique_users_24h", "engaged_users_24h",
)


def _window_counts_store(cursor, now):
    """Fill the temporary table velocity_counts: one row per market and scope with a bucket in
    the last 24 h, and a global row of zeros for every other open market (the feed reads its
    rising score from it). Stays in the database: nothing per row travels to Python."""
    starts = window_starts(now)
    s5, s1h, s24 = sql_datetime(starts["5m"]), sql_datetime(starts["1h"]), sql_datetime(starts["24h"])
    until = sql_datetime(now)
    temporary_table_create(
        cursor, "velocity_counts",
        {"market_id": "bigint", "scope": "varchar(8)", **{name: "bigint" for name in COUNT_COLUMNS}},
    )
    # One distinct count per window, each over its own index range: a CASE inside COUNT(DISTINCT)
    # would sort the whole day's user sets once per window.
    users = f"""
        SELECT market_id, scope, COUNT(DISTINCT user_key) AS n{{engaged}} FROM {sql_table(MarketActivityUser)}
        WHERE bucket_start > {{since}} AND bucket_start <= %s GROUP BY market_id, scope"""
    # Local support: users who engaged, not those who were only shown the market (the feed's own
    # pushes would otherwise make a market locally trending). Counted in the 24 h scan already made.
    engaged = ", COUNT(DISTINCT CASE WHEN engagements > 0 THEN user_key END) AS engaged"
    cursor.execute(
        f"""
        INSERT INTO velocity_counts
        SELECT c.market_id, c.scope, c.v5, c.v1h, c.v24, c.t5, c.t1h, c.t24, c.clicks, c.impressions,
               COALESCE(u5.n, 0), COALESCE(u1h.n, 0), COALESCE(u24.n, 0), COALESCE(u24.engaged, 0)
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
            FROM {sql_table(MarketActivity)}
            WHERE bucket_start > %s AND bucket_start <= %s
            GROUP BY market_id, scope
        ) c
        LEFT JOIN ({users.format(since="%s", engaged=engaged)}) u24
               ON u24.market_id = c.market_id AND u24.scope = c.scope
        LEFT JOIN ({users.format(since="%s", engaged="")}) u1h ON u1h.market_id = c.market_id AND u1h.scope = c.scope
        LEFT JOIN ({users.format(since="%s", engaged="")}) u5 ON u5.market_id = c.market_id AND u5.scope = c.scope
        """,
        [s5, s1h, s5, s1h, s24, until, s24, until, s1h, until, s5, until],
    )
    temporary_table_index(cursor, "velocity_counts", ["market_id", "scope"])
    cursor.execute(
        f"""
        INSERT INTO velocity_counts
        SELECT m.id, %s, {", ".join(["0"] * len(COUNT_COLUMNS))} FROM {sql_table(Market)} m
        WHERE m.status = %s
          AND NOT EXISTS (SELECT 1 FROM velocity_counts c WHERE c.market_id = m.id AND c.scope = %s)
        """,
        [GLOBAL, Market.Status.OPEN, GLOBAL],
    )
    temporary_table_analyze(cursor, "velocity_counts")


def _market_states(now, closed_since=None):
    """Per market (sorted by pk): odds and participants now and as of 5 min, 1 h and 24 h ago, and
    what the trading backend traded in each window (markets.scores.backend_window), as numpy arrays.

    The markets: the open ones and those with app activity in 24 h; with `closed_since` (a past day
    the forecast fit reads), also those closed since then that have a snapshot after it, and then
    "listed" says which were open at `now` (open still, or pushed after `now`: a market's last push
    or snapshot is its close); without it every market is "listed". "volume_total" is the
    backend's cumulative volume as of `now`.

    Odds and participants "now" are the market's current state. "Then" is the last snapshot at
    or before now - W; a market younger than that uses its first snapshot; a market without
    snapshots uses its current state (no change) and has traded nothing in the windows. The
    backend's amounts run between snapshots (the last one stands for now), so they change when a
    snapshot is taken, not every minute.
    """
    snapshots = MarketSnapshot.objects.filter(market=OuterRef("pk"), taken_at__lte=now)
    active = MarketActivity.objects.filter(
        market=OuterRef("pk"), bucket_start__gt=window_starts(now)["24h"], bucket_start__lte=now
    )
    included, listed = Q(status=Market.Status.OPEN) | Exists(active), Value(True)
    if closed_since is not None:  # the fit's read; velocity's own (every minute) needs neither subquery
        included |= Exists(MarketSnapshot.objects.filter(market=OuterRef("pk"), taken_at__gt=closed_since))
        listed = Q(status=Market.Status.OPEN) | Exists(
            MarketSnapshot.objects.filter(market=OuterRef("pk"), taken_at__gt=now)
        )
    rows = list(
        Market.objects.filter(included)
        .annotate(
            **{
                f"at_{label}": Subquery(
                    snapshots.filter(taken_at__lte=now - length).order_by("-taken_at").values("pk")[:1]
                )
                for label, length in WINDOWS.items()
            },
            first=Subquery(snapshots.order_by("taken_at").values("pk")[:1]),
            last=Subquery(snapshots.order_by("-taken_at").values("pk")[:1]),
            at_7d=Subquery(snapshots.filter(taken_at__lte=now - BASELINE).order_by("-taken_at").values("pk")[:1]),
        )
        .order_by("pk")
        .values_list(
            "pk", "probability", "participant_count", *(f"at_{label}" for label in WINDOWS), "first", "last", "at_7d",
            Epoch("resolution_date"), Epoch("created_at"), listed,
        )
    )
    wanted = sorted({pk for row in rows for pk in row[3:9] if pk is not None})
    snaps = {}
    for start in range(0, len(wanted), 10_000):  # SQLite's parameter limit; 1-4 queries at 10k markets
        for pk, taken_at, *values in MarketSnapshot.objects.filter(pk__in=wanted[start : start + 10_000]).values_list(
            "pk", "taken_at", "probability", "volume_total", "participant_count", "volume_24h", "trades_24h"
        ):
            snaps[pk] = (taken_at.timestamp() / 3600.0, *values)

    n = len(rows)
    none = (np.nan,) * 6

    def column(snapshots_of_rows, k):
        return np.fromiter((t[k] for t in snapshots_of_rows), dtype=float, count=n)

    state = {"pk": np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)}
    state["p_now"] = np.fromiter((r[1] for r in rows), dtype=float, count=n)
    state["n_now"] = np.fromiter((r[2] for r in rows), dtype=float, count=n)
    state["hours_to_close"], state["hours_listed"] = catalog_hours([r[9] for r in rows], [r[10] for r in rows], now)
    state["listed"] = np.fromiter((bool(r[11]) for r in rows), dtype=bool, count=n)
    last = [snaps.get(r[7], none) for r in rows]
    last_hour, last_total, last_volume, last_trades = (np.nan_to_num(column(last, k)) for k in (0, 2, 4, 5))
    state["volume_total"] = last_total
    now_hour = now.timestamp() / 3600.0
    for position, (label, length) in enumerate(WINDOWS.items(), start=3):
        then = [snaps.get(r[position]) or snaps.get(r[6], none) for r in rows]
        p_then, n_then = column(then, 1), column(then, 3)
        state[f"p_{label}"] = np.where(np.isnan(p_then), state["p_now"], p_then)
        state[f"n_{label}"] = np.where(np.isnan(n_then), state["n_now"], n_then)
        hours, total, volume, trades = (np.nan_to_num(column(then, k)) for k in (0, 2, 4, 5))
        window_h = length.total_seconds() / 3600.0
        state[f"backend_volume_{label}"] = backend_window(
            window_h, now_hour, hours, last_hour, volume, last_volume, total, last_total
        )
        state[f"backend_trades_{label}"] = backend_window(window_h, now_hour, hours, last_hour, trades, last_trades)
    # The usual level: the mean day of the last week of cumulative volume (of the history there is,
    # at least a day's worth). A source that keeps no cumulative volume has none: 0.
    week = [snaps.get(r[8]) or snaps.get(r[6], none) for r in rows]
    week_hours, week_total = (np.nan_to_num(column(week, k)) for k in (0, 2))
    covered = np.minimum(last_hour - week_hours, BASELINE.total_seconds() / 3600.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        state["backend_daily_volume_7d"] = np.where(
            (covered >= 24) & (last_hour > now_hour - 24),
            np.maximum(last_total - week_total, 0) / np.maximum(last_hour - week_hours, 1) * 24.0, 0.0,
        )
    for kind in ("volume", "trades"):
        day = state[f"backend_{kind}_24h"]
        for label in ("5m", "1h"):
            state[f"backend_{kind}_{label}"] = np.minimum(state[f"backend_{kind}_{label}"], day)
        for label in WINDOWS:
            if kind == "trades":
                state[f"backend_{kind}_{label}"] = np.rint(state[f"backend_{kind}_{label}"]).astype(np.int64)
    return state


VELOCITY_COUNTS = (
    "views_5m", "views_1h", "views_24h", "trades_5m", "trades_1h", "trades_24h",
    "unique_users_5m", "unique_users_1h", "unique_users_24h", "engaged_users_24h",
)
BACKEND_FIELDS = (
    *(f"backend_{kind}_{label}" for kind in ("volume", "trades") for label in WINDOWS), "backend_daily_volume_7d",
)
VELOCITY_FIELDS = (
    *VELOCITY_COUNTS, "ctr_24h", "odds_change_1h", "odds_change_24h", *BACKEND_FIELDS,
    "participant_delta_24h", "rising_score", "computed_at",
)


@transaction.atomic
def market_velocity_refresh(*, now):
    """Recompute every MarketVelocity row except trending_score as of `now`; returns counts.

    Rows: every scope with activity in the last 24 h, and a global row for every open
    market; rows outside that set are deleted. A row whose values did not change is not
    rewritten (most rows, minute to minute), so its computed_at is when its values last
    changed; the run's own time is the task's last success (ops.TaskRun, /healthz).
    """
    table_writers_serialize(WRITERS_KEY)
    # Compiling these one-off aggregates costs more than it saves (1.3 s of 3.6 s on the
    # velocity aggregate in bench/pipeline.py).
    transaction_jit_off()
    with connection.cursor() as cursor:
        _window_counts_store(cursor, now)
        state = _market_states(now)
        _market_values_store(cursor, state)
        written = _velocity_write(cursor, now)
        cursor.execute("SELECT COUNT(*), COUNT(DISTINCT market_id) FROM velocity_counts")
        rows, markets = cursor.fetchone()
        for temporary in ("velocity_counts", "velocity_markets"):
            cursor.execute(f"DROP TABLE {temporary}")
    gone = MarketActivity.objects.filter(
        market=OuterRef("market"), scope=OuterRef("scope"), bucket_start__gt=window_starts(now)["24h"],
        bucket_start__lte=now,
    )
    deleted, _ = (
        MarketVelocity.objects.exclude(Exists(gone)).exclude(scope=GLOBAL, market__status=Market.Status.OPEN).delete()
    )
    transaction.on_commit(catalog_version_bump)
    return {"rows": rows, "written": written, "deleted": deleted, "markets": markets}


def _market_values_store(cursor, state):
    """The market-level velocity values (odds changes, the backend's activity, participant delta, the
    odds part of rising) into a temporary table velocity_markets.

    Rising (markets.scores.rising_score) is the market's odds move times the support of the trades
    behind it, the app's in the row's scope plus, on the global row, the backend's in 24 h: the move is per market
    (numpy, here), the support per row (SQL, in _velocity_write), so no per-scope row travels to
    Python. A move with no trade at all still rises: pushed odds are news on their own."""
    backend = {name: state[name].tolist() for name in BACKEND_FIELDS}
    temporary_table_create(
        cursor, "velocity_markets",
        {"market_id": "bigint", "odds_1h": "double precision", "odds_24h": "double precision",
         **{name: "double precision" if "volume" in name else "bigint" for name in BACKEND_FIELDS},
         "participants": "bigint", "move": "double precision"},
        values={"market_id": state["pk"].tolist(), "odds_1h": (state["p_now"] - state["p_1h"]).tolist(),
                "odds_24h": (state["p_now"] - state["p_24h"]).tolist(), **backend,
                "participants": (state["n_now"] - state["n_24h"]).astype(np.int64).tolist(),
                "move": rising_move(state["p_now"], state["p_24h"]).tolist()},
        key=["market_id"],
    )


def _velocity_write(cursor, now):
    """Insert new MarketVelocity rows and rewrite those whose values changed, in one statement
    from the temporary tables; returns how many rows were written. Unchanged rows are filtered
    out before the insert, so they are neither rewritten nor locked."""
    table = sql_table(MarketVelocity)
    # The backend knows no country: its activity is on the global row only. On every row it would
    # make each snapshot rewrite all of a market's country rows (22 a market in the bench).
    is_global = f"c.scope = '{GLOBAL}'"
    trades = f"(c.trades_24h + CASE WHEN {is_global} THEN m.backend_trades_24h ELSE 0 END)"
    compared = [name for name in VELOCITY_FIELDS if name != "computed_at"]
    new = f"""
        SELECT c.market_id, c.scope, {", ".join(f"c.{name}" for name in VELOCITY_COUNTS)},
               CASE WHEN c.impressions_24h > 0
                    THEN CAST(c.clicks_24h AS DOUBLE PRECISION) / c.impressions_24h ELSE 0.0 END AS ctr_24h,
               m.odds_1h AS odds_change_1h, m.odds_24h AS odds_change_24h,
               {", ".join(f"CASE WHEN {is_global} THEN m.{name} ELSE 0 END AS {name}" for name in BACKEND_FIELDS)},
               m.participants AS participant_delta_24h,
               CASE WHEN m.move > 0 THEN m.move * {rising_support_sql(trades)} ELSE 0.0 END AS rising_score
        FROM velocity_counts c
        JOIN velocity_markets m ON m.market_id = c.market_id"""
    stored = ", ".join(f"v.{sql_name(name)}" for name in compared)
    incoming = ", ".join(f"n.{name}" for name in compared)
    updates = ", ".join(f"{sql_name(name)} = excluded.{sql_name(name)}" for name in VELOCITY_FIELDS)
    cursor.execute(
        f"""
        INSERT INTO {table} (market_id, scope, {", ".join(sql_name(n) for n in compared)}, computed_at, trending_score)
        SELECT n.market_id, n.scope, {incoming}, %s, 0.0
        FROM ({new}) n
        LEFT JOIN {table} v ON v.market_id = n.market_id AND v.scope = n.scope
        WHERE v.id IS NULL OR {is_distinct_from(f"({stored})", f"({incoming})")}
        ON CONFLICT (market_id, scope) DO UPDATE SET {updates}
        """,
        [sql_datetime(now)],
    )
    return cursor.rowcount


class TrendingRow(NamedTuple):
    """The inputs of one market's trending score in one scope."""

    market_pk: int
    scope: str
    activity_1h: int  # app engagements in the last hour
    activity_24h: int
    users_24h: int  # distinct users who engaged in 24 h (local support)
    backend_volume_1h: float  # the trading backend's, on global rows only (it knows no country)
    backend_volume_24h: float
    backend_trades_1h: int
    backend_trades_24h: int
    backend_daily_volume_7d: float
    hours_to_close: float | None  # the catalog's: hours from now to the resolution date (None: none set)
    hours_listed: float | None  # hours since the market was listed


def trending_inputs(now, market_pks=None, scope=None, traded=True):
    """Tuples in the order of TrendingRow's fields (plain tuples: there are 100,000s), one per market
    and scope with app engagements in 24 h, and per market with backend volume in 24 h (global
    scope), as of `now`.

    App activity is `engagements`: interactions with a positive weight (views, clicks, trades,
    shares, comments, bookmarks...), summed from the buckets as of `now`. Users and the backend's
    activity are the row's as of the last velocity run (at most a minute old): the very numbers
    the feed checks local support against, without counting a day of user sets or snapshots again.
    The catalog's hours to the resolution date and since listing are as of `now`.
    Two queries; one with `traded=False`, which leaves out the markets with backend volume only.
    """
    starts = window_starts(now)
    s1h, s24, until = sql_datetime(starts["1h"]), sql_datetime(starts["24h"]), sql_datetime(now)
    where, params = "", []
    if market_pks is not None:
        where += f" AND market_id IN ({', '.join(['%s'] * len(market_pks))})"
        params += list(market_pks)
    if scope is not None:
        where += " AND scope = %s"
        params.append(scope)
    backend = ", ".join(f"COALESCE(v.{name}, 0)" for name in TRENDING_BACKEND)
    to_close, to_close_params = seconds_between("m.resolution_date", now)
    listed, listed_params = seconds_between(now, "m.created_at")
    sql = f"""
        SELECT a.market_id, a.scope, a.e1h, a.e24, COALESCE(v.engaged_users_24h, 0), {backend},
               {to_close} / 3600.0, {listed} / 3600.0
        FROM (
            SELECT market_id, scope,
                   SUM(CASE WHEN bucket_start > %s THEN engagements ELSE 0 END) AS e1h,
                   SUM(engagements) AS e24
            FROM {sql_table(MarketActivity)}
            WHERE bucket_start > %s AND bucket_start <= %s{where}
            GROUP BY market_id, scope
            HAVING SUM(engagements) > 0
        ) a
        LEFT JOIN {sql_table(MarketVelocity)} v ON v.market_id = a.market_id AND v.scope = a.scope
        JOIN {sql_table(Market)} m ON m.id = a.market_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*to_close_params, *listed_params, s1h, s24, until, *params])
        rows = cursor.fetchall()
    if traded and scope in (None, GLOBAL):
        engaged = {row[0] for row in rows if row[1] == GLOBAL}
        backend_only = MarketVelocity.objects.filter(scope=GLOBAL).filter(
            Q(backend_volume_24h__gt=0) | Q(backend_volume_1h__gt=0)
        )
        if market_pks is not None:
            backend_only = backend_only.filter(market_id__in=market_pks)
        now_s = now.timestamp()
        rows += [(pk, GLOBAL, 0, 0, *values,
                  None if resolves is None else (resolves - now_s) / 3600.0, (now_s - listed) / 3600.0)
                 for pk, *values, resolves, listed in backend_only.values_list(
                     "market_id", "engaged_users_24h", *TRENDING_BACKEND,
                     Epoch("market__resolution_date"), Epoch("market__created_at"))
                 if pk not in engaged]
    return rows


TRENDING_BACKEND = (
    "backend_volume_1h", "backend_volume_24h", "backend_trades_1h", "backend_trades_24h", "backend_daily_volume_7d",
)


class TrendingScores(NamedTuple):
    app_raw: np.ndarray  # markets.scores.trending_raw of the app's engagements
    app: np.ndarray  # its rank share in the scope times its evidence
    backend_raw: np.ndarray  # markets.scores.trending_backend_raw of the backend's volume
    backend: np.ndarray
    score: np.ndarray  # the mean of app and backend over the sources the scope has


def trending_scores(rows, min_users, forecast=None):
    """TrendingScores for rows of trending_inputs: each source's raw score ranked within the scope and weighted by
    the evidence behind it, then averaged over the sources that have any activity in the scope.

    `forecast`: the coefficients of the backend's next-day forecast (trending_forecast_current).
    A scope where only the app has activity (every country, or a site without a trading backend)
    scores by the app alone; a scope where only the backend has (a replayed history, or a market
    nobody opened in the app) by the backend alone; both, by their mean. A country scope ranks
    only markets with at least `min_users` users who engaged there in 24 h.
    """
    if not rows:
        empty = np.zeros(0)
        return TrendingScores(empty, empty, empty, empty, empty)
    _, scopes, e1h, e24, users, v1h, v24, t1h, t24, week, to_close, listed = (
        np.asarray(c) for c in zip(*rows, strict=True)
    )
    scopes = scopes.astype(str)
    e24 = e24.astype(float)
    app_raw = trending_raw(e1h.astype(float), e24)
    supported = (scopes == GLOBAL) | (users >= min_users)
    app = rank_normalise(app_raw, scopes, eligible=supported) * evidence_weight(e24)
    backend_raw = np.where(scopes == GLOBAL, trending_backend_raw(
        v1h, v24, t1h, week, coefficients=forecast, hours_to_close=to_close.astype(float),
        hours_listed=listed.astype(float),
    ), 0.0)
    backend = rank_normalise(backend_raw, scopes) * backend_evidence(t24, v24)
    sources = np.zeros(len(rows))
    for values in (app, backend):
        sources += np.isin(scopes, np.unique(scopes[values > 0]))
    score = np.where(sources > 0, (app + backend) / np.maximum(sources, 1), 0.0)
    return TrendingScores(app_raw, app, backend_raw, backend, score)


@transaction.atomic
def market_trending_refresh(*, now, min_users):
    """Recompute trending_score of every market and scope as of `now`; returns counts.

    A country scope ranks only markets with at least `min_users` distinct users who engaged there
    in 24 h (the caller reads it from the active feed configs); the global scope has no minimum.
    The global scope adds the trading backend's volume (trending_scores).
    """
    table_writers_serialize(WRITERS_KEY)
    transaction_jit_off()  # one-off aggregates, as in market_velocity_refresh
    rows = trending_inputs(now)
    scores = trending_scores(rows, min_users, trending_forecast_current(now)).score
    scored = {(row[0], row[1]): score for row, score in zip(rows, scores.tolist(), strict=True) if score > 0}
    current = {
        (pk, scope): score for pk, scope, score in
        MarketVelocity.objects.filter(trending_score__gt=0).values_list("market_id", "scope", "trending_score")
    }
    # Rows trending before and not now go back to 0; rows whose score did not move are not written.
    changed = {key: scored.get(key, 0.0) for key in scored.keys() | current.keys()}
    changed = {key: score for key, score in changed.items() if current.get(key, 0.0) != score}
    keys = sorted(changed)
    with connection.cursor() as cursor:
        temporary_table_create(
            cursor, "trending_scores", {"market_id": "bigint", "scope": "varchar(8)", "score": "double precision"},
            values={"market_id": [k[0] for k in keys], "scope": [k[1] for k in keys],
                    "score": [changed[k] for k in keys]},
        )
        # A row velocity has not written yet starts with zeros; velocity fills it within a minute.
        zeros = ", ".join(["0"] * (len(VELOCITY_FIELDS) - 1))
        others = ", ".join(name for name in VELOCITY_FIELDS if name != "computed_at")
        cursor.execute(
            f"""
            INSERT INTO {sql_table(MarketVelocity)} (market_id, scope, {others}, computed_at, trending_score)
            SELECT market_id, scope, {zeros}, %s, score FROM trending_scores WHERE true
            ON CONFLICT (market_id, scope) DO UPDATE SET trending_score = excluded.trending_score
            """,
            [sql_datetime(now)],
        )
        cursor.execute("DROP TABLE trending_scores")
    transaction.on_commit(catalog_version_bump)
    return {"scored": len(scored), "written": len(changed), "reset": len(current.keys() - scored.keys()),
            "min_local_users": min_users}


# A fit older than this is stale (the daily task stopped): trending falls back to the reasoned forecast.
FORECAST_MAX_AGE = timedelta(days=3)
FORECAST_HISTORY_DAYS = 8  # days of state history a fit reads: seven days, each with the day after it


def trending_forecast_current(now):
    """The coefficients trending weighs the backend's terms with at `now`: the newest fit at or
    before `now`, if trending may use it and it is fresh; else None (the reasoned forecast)."""
    latest = TrendingForecast.objects.filter(fitted_at__lte=now, fitted_at__gt=now - FORECAST_MAX_AGE).first()
    return latest.coefficients if latest else None


def trending_forecast_refit(*, now):
    """Fit trending's next-day forecast on the last week of the backend's state history; returns counts.

    For each of the last seven day ends t = now - k days: the forecast's terms of every market as
    of t (the same windows velocity computes, from the snapshots as of t; the catalog's hours to the
    resolution date and since listing as of t) and what it traded in the 24 h after t (the 24 h
    window as of t + 1 day). The markets of a day are those open at t, the ones that closed since
    included. markets.scores.trending_forecast_fit fits and judges; the result is a
    TrendingForecast row, used or not, with its reason.
    """
    # Each day's read includes the markets closed since the day before it: a day's rows are the markets
    # open at its end, the ones that closed within the next day (which trade less) included, and those
    # are in the next day's read too.
    ends = [now - timedelta(days=k) for k in range(FORECAST_HISTORY_DAYS - 1, -1, -1)]
    states = [_market_states(end, closed_since=end - timedelta(days=1)) for end in ends]
    days = []
    for then, after in zip(states[:-1], states[1:], strict=True):
        # What each traded after the day's end: the next day's 24 h volume, capped by its cumulative volume's
        # rise where the backend keeps one (a market that closed within the day last pushed a 24 h figure
        # that reaches back before the day's end).
        then_total = dict(zip(then["pk"].tolist(), then["volume_total"].tolist(), strict=True))
        next_volume = {
            pk: min(day, max(total - then_total[pk], 0.0)) if total > 0 and pk in then_total else day
            for pk, day, total in zip(after["pk"].tolist(), after["backend_volume_24h"].tolist(),
                                      after["volume_total"].tolist(), strict=True)
        }
        traded = (then["backend_volume_24h"] > 0) & then["listed"]
        if not traded.any():
            continue
        terms = trending_backend_terms(*(then[name][traded] for name in (
            "backend_volume_1h", "backend_volume_24h", "backend_trades_1h", "backend_daily_volume_7d",
        )), hours_to_close=then["hours_to_close"][traded], hours_listed=then["hours_listed"][traded])
        target = np.array([next_volume.get(pk, 0.0) for pk in then["pk"][traded].tolist()])
        days.append((terms, target, then["backend_volume_24h"][traded]))
    coefficients, report = trending_forecast_fit(days)
    names = TrendingForecast.COEFFICIENTS
    # One row per fit time: a run repeated for the same `now` (a retry, a replay) rewrites it.
    TrendingForecast.objects.update_or_create(fitted_at=now, defaults=dict(
        used=coefficients is not None, days=report["days"], rows=report["rows"],
        held_out_error=report.get("held_out_error"), reasoned_error=report.get("reasoned_error"),
        note=report.get("note", ""), **dict(zip(names, coefficients or (None,) * len(names), strict=True)),
    ))
    return {"used": coefficients is not None, "days": report["days"], "rows": report["rows"],
            **({"coefficients": [round(c, 4) for c in coefficients]} if coefficients else {"note": report["note"]})}
