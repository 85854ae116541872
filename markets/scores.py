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


def ratio_of_rates(delta_recent, span_recent_h, delta_base, span_base_h):
    """(delta_recent / span_recent) / (delta_base / span_base), 0 where the base rate is not positive.

    Used for the volume spike: volume traded per hour in the last hour against the mean
    hourly volume of the last 24 h. Spans are the hours between the snapshots compared.
    """
    delta_recent, span_recent = np.asarray(delta_recent, float), np.asarray(span_recent_h, float)
    delta_base, span_base = np.asarray(delta_base, float), np.asarray(span_base_h, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        recent = np.where(span_recent > 0, np.maximum(delta_recent, 0) / span_recent, 0.0)
        base = np.where(span_base > 0, delta_base / span_base, 0.0)
        return np.where(base > 0, recent / base, 0.0)


def rising_score(p_now, p_24h_ago, trades_24h):
    """How much the odds moved in 24 h, backed by trades.

    min(1, |logit(p_now) - logit(p_24h)| / 1.5) * min(1, ln(1 + trades) / ln(51)).

    Vectorized. A move of 1.5 in logit (e.g. 50% -> 82%) with 50 trades scores 1; odds are
    clipped to [0.01, 0.99] so a market at 0% or 100% does not score an infinite move.
    """
    p_now = np.clip(np.asarray(p_now, dtype=float), 0.01, 0.99)
    p_old = np.clip(np.asarray(p_24h_ago, dtype=float), 0.01, 0.99)
    logit_change = np.abs(np.log(p_now / (1 - p_now)) - np.log(p_old / (1 - p_old)))
    support = np.minimum(1.0, np.log1p(np.asarray(trades_24h, dtype=float)) / np.log(51))
    return np.minimum(1.0, logit_change / 1.5) * support
