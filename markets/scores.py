"""Trending, rising and market-movement math: pure numpy, no Django.

tracking/velocity.py loads the window counts and snapshot states, calls these, and
writes MarketVelocity.
"""
import numpy as np

# Floor of the expected activity in one hour. Without it a market whose first and only
# engagement of the day happened in the last hour scores (1 - 1/24)^2 / (1/24) = 22, above
# a market with a steady 100 an hour; with it one stray event scores 0 and a real burst
# from nothing (5 in the hour) still scores 16 + ln 6. A pseudo-count, docs/pipeline.md.
MIN_EXPECTED_PER_HOUR = 1.0


def trending_raw(observed_1h, activity_24h, min_expected=MIN_EXPECTED_PER_HOUR):
    """Trending before ranking: (o - e)^2 / e when o > e, else 0, plus ln(1 + activity_24h).

    `e` is the 24 h activity scaled to one hour (never below `min_expected`).
    """
    observed = np.asarray(observed_1h, dtype=float)
    total = np.asarray(activity_24h, dtype=float)
    expected = np.maximum(total / 24.0, min_expected)
    spike = np.where(observed > expected, (observed - expected) ** 2 / expected, 0.0)
    return spike + np.log1p(total)


# Engagements in 24 h at which a trending score keeps half of its rank share: a pseudo-count, so
# one click is no trend (1/6 of its rank) and a market with forty engagements keeps almost all
# of it (40/45). Counted in the same row as the score, so it is never staler than the score.
TRENDING_EVIDENCE_HALF = 5.0


def evidence_weight(activity_24h, half=TRENDING_EVIDENCE_HALF):
    """activity / (activity + half): the share of its rank a market's trending score keeps."""
    activity = np.maximum(np.asarray(activity_24h, dtype=float), 0)
    return activity / (activity + half)


def rank_normalise(values, groups, eligible=None):
    """Each value's rank within its group as a share: (#values <= it in the group) / (group size).

    Only eligible values above 0 take part; the rest get 0. So the top market of a scope
    scores 1, the median about 0.5, and ties share the higher rank (a cumulative distribution).
    """
    values = np.asarray(values, dtype=float)
    groups = np.asarray(groups)
    out = np.zeros(len(values))
    take = values > 0
    if eligible is not None:
        take &= np.asarray(eligible, dtype=bool)
    index = np.flatnonzero(take)
    if not len(index):
        return out
    order = index[np.lexsort((values[index], groups[index]))]
    sorted_groups, sorted_values = groups[order], values[order]
    bounds = np.flatnonzero(sorted_groups[1:] != sorted_groups[:-1]) + 1
    for start, end in zip(np.r_[0, bounds], np.r_[bounds, len(order)], strict=True):  # one pass per scope
        group_values = sorted_values[start:end]
        out[order[start:end]] = np.searchsorted(group_values, group_values, side="right") / (end - start)
    return out


def backend_window(window_h, now_h, then_h, last_h, rolling_then, rolling_last, total_then=None, total_last=None):
    """What the trading backend traded in (now - window, now], from two points of its state history.

    `then` is the last snapshot at or before now - window (the first one for a younger market),
    `last` the latest; times in hours. `rolling` is a 24 h figure the backend pushes (volume_24h,
    trades_24h); `total` a cumulative one (volume_total), when there is one. Between the two
    snapshots the amount is, from the cumulative figure, total_last - total_then; from the rolling
    one, R_last - R_then plus what left the 24 h window meanwhile, estimated at R_then's mean rate
    (R(t) - R(t - s) counts what came in during s minus what dropped out). The larger of the two
    counts (a source may keep only one of them up to date), prorated to a window's length of the
    span (trading assumed even between snapshots) that ends at the last snapshot. The last
    snapshot stands for now while it is inside the window (every push writes one, and the snapshot
    task takes one every 15 minutes); older, the window traded nothing. The caller caps a short
    window at the 24 h amount.
    """
    now_h, then_h, last_h = (np.asarray(x, dtype=float) for x in (now_h, then_h, last_h))
    r_then, r_last = np.asarray(rolling_then, dtype=float), np.asarray(rolling_last, dtype=float)
    span = np.maximum(last_h - then_h, 0.0)
    # The last snapshot stands for now while it is inside the window, so a value changes when a
    # snapshot is taken, not every minute (most velocity rows are then not rewritten minute to minute).
    inside = np.where(last_h > now_h - window_h, float(window_h), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(span > 0, np.minimum(inside, span) / span, 0.0)
    dropped = r_then * np.minimum(span, 24.0) / 24.0
    amount = np.maximum(r_last - r_then + dropped, 0.0)
    if total_last is not None:
        amount = np.maximum(amount, np.maximum(np.asarray(total_last, float) - np.asarray(total_then, float), 0.0))
    amount = amount * share
    if window_h >= 24:
        # The backend's own 24 h figure, while it is current (a snapshot inside the day).
        return np.maximum(amount, np.where(inside > 0, r_last, 0.0))
    return amount


# How much of a deviation of the current rate from the market's usual level is expected to last over
# the next day. Attention to a news item decays with a half-life of hours to about a day; with a
# half-life of 12 h the mean of what remains of it over the next 24 h is 0.54, with 24 h 0.72,
# with 6 h 0.36. One half, chosen before any backtest (docs/pipeline.md#trending).
TRENDING_PERSISTENCE = 0.5


# The forecast's horizon: the next day. A market that closes within it trades only until it closes; one
# closing within the hour counts as open for that hour (the share's floor), so its log stays finite.
FORECAST_HORIZON_H = 24.0
FORECAST_SHARE_FLOOR = 1 / FORECAST_HORIZON_H


def trending_backend_terms(volume_1h, volume_24h, trades_1h, daily_volume_7d=0.0, half=None, hours_to_close=None,
                           hours_listed=None):
    """The terms a next-day forecast combines, as an (n, 6) array (TrendingForecast.COEFFICIENTS after the intercept):

        usual       ln(1 + B)                   B = the 7-day mean day (V_24h without one)
        day         ln(1 + V_24h)
        deviation   w (ln(1 + 24 V_1h) - day)   w = trades_1h / (trades_1h + half)
        open_share  ln(s)                       s = the share of the next day the market is still open, in [1/24, 1]
        closing     1 / (1 + days to close)     attention gathers before resolution
        listing     1 / (1 + days listed)       attention builds after listing

    The last hour counts by its evidence w (one trade in the hour says little, fifty say a lot);
    without trade counts the current rate is the day's. Without a week of history B is the day.
    The catalog's times come as hours from now to the resolution date and from the listing to now
    (NaN or None when unknown): an unknown date makes its terms 0, as a far one does (a market
    past its resolution date but still open counts as closing now). The last three terms weigh 0
    in the reasoned forecast: only a fit (trending_forecast_fit) gives them a weight.
    """
    half = TRENDING_EVIDENCE_HALF if half is None else half
    v1, v24 = np.maximum(np.asarray(volume_1h, float), 0), np.maximum(np.asarray(volume_24h, float), 0)
    week = np.maximum(np.asarray(daily_volume_7d, float), 0)
    n1 = np.maximum(np.asarray(trades_1h, float), 0)
    w = n1 / (n1 + half)
    day, hour = np.log1p(v24), np.log1p(24.0 * v1)
    usual = np.where(week > 0, np.log1p(week), day)
    left = np.maximum(np.asarray(np.nan if hours_to_close is None else hours_to_close, float), 0) / FORECAST_HORIZON_H
    listed = np.maximum(np.asarray(np.nan if hours_listed is None else hours_listed, float), 0) / 24.0
    with np.errstate(invalid="ignore"):  # NaN (unknown) compares false: its terms are 0
        open_share = np.where(left < 1, np.log(np.clip(left, FORECAST_SHARE_FLOOR, 1.0)), 0.0)
        closing = np.where(np.isnan(left), 0.0, 1.0 / (1.0 + np.nan_to_num(left)))
        listing = np.where(np.isnan(listed), 0.0, 1.0 / (1.0 + np.nan_to_num(listed)))
    return np.stack(np.broadcast_arrays(usual, day, w * (hour - day), open_share, closing, listing), axis=-1)


def trending_persistence_coefficients():
    """(intercept, usual, day, deviation, open_share, closing, listing) of the reasoned forecast: halfway
    between how fast the market trades now and how much it usually trades, ln F = (1 - P) usual + P now,
    now = day + deviation; the catalog's terms weigh 0 until a fit weighs them."""
    p = TRENDING_PERSISTENCE
    return (0.0, 1.0 - p, p, p, 0.0, 0.0, 0.0)


def trending_forecast(coefficients, terms):
    """ln F of each row of `terms` (trending_backend_terms) under (intercept, weights...).

    Weights missing at the end weigh 0: a fit recorded before a term existed forecasts as it did."""
    intercept, *weights = coefficients
    terms = np.asarray(terms, float)
    weights = np.pad(np.asarray(weights, float), (0, terms.shape[-1] - len(weights)))
    return intercept + terms @ weights


def trending_backend_raw(volume_1h, volume_24h, trades_1h, daily_volume_7d=0.0, half=None, coefficients=None,
                         hours_to_close=None, hours_listed=None):
    """The log of the volume the next day is expected to trade, from the backend's last hour, day and week
    and the catalog's resolution and listing dates.

    `coefficients` (TrendingForecast.COEFFICIENTS) weigh the terms of trending_backend_terms: a
    forecast fitted on the platform's own history (trending_forecast_fit), or by default the
    reasoned one — a deviation (news) half persists over the next day (TRENDING_PERSISTENCE), the
    usual level is the mean day of the last week, the dates weigh nothing. 0 for a market that
    traded nothing; a traded market's forecast is kept above 0, so it never ranks below one that did
    not trade.
    """
    terms = trending_backend_terms(volume_1h, volume_24h, trades_1h, daily_volume_7d, half, hours_to_close,
                                   hours_listed)
    forecast = trending_forecast(trending_persistence_coefficients() if coefficients is None else coefficients, terms)
    traded = (np.asarray(volume_24h, float) > 0) | (np.asarray(volume_1h, float) > 0)
    return np.where(traded, np.maximum(forecast, FORECAST_FLOOR), 0.0)


FORECAST_FLOOR = 1e-6  # a traded market's smallest forecast: above every market that did not trade
# The markets a fit learns from, per day: the busiest by 24 h volume, those that compete for the top of
# the trending list (a page shows 20). Fitting the whole catalog would fit the thin markets' noise, which
# decides nothing at the top.
FORECAST_HEAD = 100
FORECAST_MIN_DAYS = 3  # days of history (each with its next day) before a fit may replace the reasoned forecast
# L2 strength; the terms are logs or shares of order 1, and each day adds 100 rows: it barely shrinks a term the
# history supports, whatever the catalog's size.
FORECAST_RIDGE = 1.0


def trending_forecast_fit(days):
    """Fit the forecast's coefficients on the platform's own history; returns (coefficients or None, report).

    `days`: oldest first, per day (terms, next-day volume, 24 h volume) over the markets that
    traded: trending_backend_terms as of a day's end, what each then traded in the 24 h after,
    and the 24 h volume that picks the day's head. A ridge regression of ln(1 + next-day volume) on
    the terms of the FORECAST_HEAD busiest markets of each day. It is judged on the newest day,
    held out, against the reasoned forecast (mean squared error in logs, on that day's head); it
    replaces the reasoned one only when it forecasts that day better, and is then refitted on every
    day. With fewer than FORECAST_MIN_DAYS days there is nothing to judge: None.
    """
    from sklearn.linear_model import Ridge

    heads = []
    for terms, next_volume, volume_24h in days:
        head = np.argsort(-np.asarray(volume_24h, float), kind="stable")[:FORECAST_HEAD]
        if len(head):
            next_log = np.log1p(np.maximum(np.asarray(next_volume, float)[head], 0))
            heads.append((np.asarray(terms, float)[head], next_log))
    report = {"days": len(heads), "rows": int(sum(len(y) for _, y in heads))}
    if len(heads) < FORECAST_MIN_DAYS:
        report["note"] = f"fewer than {FORECAST_MIN_DAYS} days of history with their next day"
        return None, report

    def fitted(parts):
        x = np.vstack([t for t, _ in parts])
        y = np.concatenate([v for _, v in parts])
        model = Ridge(alpha=FORECAST_RIDGE).fit(x, y)
        return (float(model.intercept_), *(float(c) for c in model.coef_))

    def error(coefficients, terms, y):
        return float(np.mean((trending_forecast(coefficients, terms) - y) ** 2))

    held_terms, held_y = heads[-1]
    candidate = fitted(heads[:-1])
    report["held_out_error"] = error(candidate, held_terms, held_y)
    report["reasoned_error"] = error(trending_persistence_coefficients(), held_terms, held_y)
    if report["held_out_error"] >= report["reasoned_error"]:
        report["note"] = "the fit forecast the newest day no better than the reasoned forecast"
        return None, report
    return fitted(heads), report


def backend_evidence(trades_24h, volume_24h, half=TRENDING_EVIDENCE_HALF):
    """The share of its rank a backend trending score keeps: trades / (trades + half) as for app
    engagements; 1 for a market that trades but whose backend sends no trade count (nothing to
    shrink by: a market without volume ranks last anyway)."""
    trades = np.maximum(np.asarray(trades_24h, float), 0)
    return np.where((trades == 0) & (np.asarray(volume_24h, float) > 0), 1.0, trades / (trades + half))


# A move of this size (the geometric mean below) scores half: 50 % -> 70 %, or 20 % -> 38 %.
RISING_HALF_MOVE = 0.4
# The share of its score an odds move keeps when no trade is counted at all (a backend that pushes
# odds but no trade count, on a market nobody traded in the app): a move is news on its own.
RISING_NO_TRADES = 1 / 3
# Clamp of the odds, so 0 % and 100 % are finite in log-odds (0.1 % is 6.9 from even).
RISING_CLAMP = 0.001


def odds_move(p_now, p_then):
    """sqrt(|p_now - p_then| * |logit(p_now) - logit(p_then)|): the geometric mean of the move in
    probability points and in log-odds.

    Points alone make 98 % -> 96 % and 50 % -> 48 % the same, and miss that 6 % -> 0.2 % is
    near-certain news; log-odds alone make 6 % -> 0.2 % (3.5) as big as 43 % -> 0.6 % (4.8), and grow
    without bound near 0 and 1. The mean keeps both: 6 % -> 0.2 % is 0.45, 43 % -> 0.6 % 1.43,
    98 % -> 96 % 0.12, 40 % -> 55 % 0.30.
    """
    p_now = np.clip(np.asarray(p_now, dtype=float), RISING_CLAMP, 1 - RISING_CLAMP)
    p_old = np.clip(np.asarray(p_then, dtype=float), RISING_CLAMP, 1 - RISING_CLAMP)
    logit = np.abs(np.log(p_now / (1 - p_now)) - np.log(p_old / (1 - p_old)))
    return np.sqrt(np.abs(p_now - p_old) * logit)


# Trades in 24 h at which a move gets its full weight.
RISING_FULL_TRADES = 50


def rising_move(p_now, p_24h_ago):
    """The odds part of rising: m / (m + RISING_HALF_MOVE), m = odds_move; 0..1, a bigger move always more."""
    move = odds_move(p_now, p_24h_ago)
    return move / (move + RISING_HALF_MOVE)


def rising_support(trades_24h):
    """The trading part of rising: f + (1 - f) * min(1, ln(1 + trades) / ln(1 + RISING_FULL_TRADES)),
    f = RISING_NO_TRADES. tracking/velocity.py computes the same in SQL (rising_support_sql)."""
    trades = np.maximum(np.asarray(trades_24h, dtype=float), 0)
    return RISING_NO_TRADES + (1 - RISING_NO_TRADES) * np.minimum(1.0, np.log1p(trades) / np.log1p(RISING_FULL_TRADES))


def rising_support_sql(trades):
    """rising_support of the SQL expression `trades` (an integer >= 0), for PostgreSQL and SQLite alike."""
    f = RISING_NO_TRADES
    # In double precision: PostgreSQL would take LN of a bigint plus a literal in numeric, ~10x slower.
    t = f"CAST({trades} AS DOUBLE PRECISION)"
    return (f"({f!r} + {1 - f!r} * CASE WHEN {t} >= {RISING_FULL_TRADES} THEN 1.0 "
            f"ELSE LN(1 + {t}) / LN(CAST({1 + RISING_FULL_TRADES} AS DOUBLE PRECISION)) END)")


def rising_score(p_now, p_24h_ago, trades_24h):
    """How much the odds moved in 24 h, weighted by the trading behind the move; 0..1, never saturated.

        rising = m / (m + RISING_HALF_MOVE) * (f + (1 - f) * min(1, ln(1 + trades) / ln 51))

    m = odds_move(p_now, p_24h_ago), f = RISING_NO_TRADES, trades = the backend's trades in 24 h
    plus the app's in the scope. A move with no trade counted still scores a third; fifty trades
    give it its full weight. Vectorized.
    """
    return rising_move(p_now, p_24h_ago) * rising_support(trades_24h)
