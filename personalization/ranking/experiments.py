"""Experiment arithmetic: which arm a user is in, team-draft interleaving of two rankings, and the
statistics that compare arms. Pure."""
import hashlib

import numpy as np
from scipy import stats


def arm_assign(salt, user_key, shares):
    """The index of the user's arm: a hash of (salt, user_key) mapped to [0, 1) and cut by the
    normalised `shares`. The same on every request; another salt gives an independent draw."""
    digest = hashlib.blake2b(f"{salt}|{user_key}".encode(), digest_size=8).digest()
    u = int.from_bytes(digest, "big") / 2**64
    total = float(sum(shares))
    edge = 0.0
    for k, share in enumerate(shares):
        edge += share / total
        if u < edge:
            return k
    return len(shares) - 1  # u within rounding of 1


def team_draft(rankings, *, limit, rng, groups=None, top_n=0):
    """Team-draft interleaving of two rankings (lists of catalog indices, best first) into one feed.

    Each round a coin decides which arm picks first; each arm then adds its best item not yet in
    the feed, credited to it. Returns [(catalog index, arm 0 or 1)]. With `groups`, an item
    whose near-duplicate group is already among the first `top_n` is skipped there (each arm's
    own ranking keeps that rule; the merge must not break it by taking one from each).
    """
    pointers, picks, used, placed_groups = [0, 0], [], set(), set()

    def next_of(arm, hold):
        ranking = rankings[arm]
        while pointers[arm] < len(ranking) and int(ranking[pointers[arm]]) in used:
            pointers[arm] += 1  # what is taken is behind the pointer; a held item stays ahead of it
        for j in range(pointers[arm], len(ranking)):
            i = int(ranking[j])
            held = hold and groups is not None and len(picks) < top_n and int(groups[i]) in placed_groups
            if i not in used and not held:
                return i
        return None

    def draft_round(hold):
        progressed = False
        for arm in (0, 1) if rng.random() < 0.5 else (1, 0):
            if len(picks) >= limit:
                break
            i = next_of(arm, hold)
            if i is None:
                continue
            used.add(i)
            if groups is not None and len(picks) < top_n:
                placed_groups.add(int(groups[i]))
            picks.append((i, arm))
            progressed = True
        return progressed

    # When both arms have only held items left, the rule is relaxed for a round, as the composer does.
    while len(picks) < limit and (draft_round(hold=True) or draft_round(hold=False)):
        pass
    return picks


# ----- statistics of an experiment's arms -------------------------------------------------
# Users are the unit: an arm's CTR is a ratio of per-user sums, so its variance comes from the
# delta method over users (clicks of one user are not independent); per-user means get a normal
# interval. Two-sided 95 % intervals throughout.

Z95 = 1.959963984540054
SRM_ALARM_P = 0.001


def ratio_estimate(numerators, denominators):
    """(ratio of sums, its standard error by the delta method over units). Units: users."""
    x, y = np.asarray(numerators, float), np.asarray(denominators, float)
    n = len(x)
    if n == 0 or y.sum() == 0:
        return 0.0, float("nan")
    mx, my = x.mean(), y.mean()
    r = mx / my
    if n < 2:
        return float(r), float("nan")
    vx, vy, cxy = x.var(ddof=1), y.var(ddof=1), np.cov(x, y, ddof=1)[0, 1]
    variance = (vx - 2 * r * cxy + r * r * vy) / (n * my * my)
    return float(r), float(np.sqrt(max(variance, 0.0)))


def mean_estimate(values):
    """(mean, its standard error)."""
    v = np.asarray(values, float)
    if len(v) == 0:
        return 0.0, float("nan")
    if len(v) < 2:
        return float(v.mean()), float("nan")
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v)))


def difference(estimate, baseline):
    """An arm's estimate against the baseline arm's, independent samples: (diff, low, high, p two-sided)."""
    (a, sa), (b, sb) = estimate, baseline
    diff, se = a - b, float(np.hypot(sa, sb))
    if not np.isfinite(se) or se == 0:
        return diff, float("nan"), float("nan"), float("nan")
    p = float(2 * stats.norm.sf(abs(diff) / se))
    return diff, diff - Z95 * se, diff + Z95 * se, p


# Editors read the metrics every 15 minutes and stop when they look significant: a fixed-horizon p < 0.05
# checked at every look calls far more than 5 % of A/A tests. The verdicts use an always-valid test
# instead, the mixture sequential probability ratio test (Johari et al., "Always valid inference",
# 2017; Howard et al. 2021 for the confidence sequence): its p and its interval hold at every look.
# The mixture's scale tau is the effect the test is tuned to find fastest: a 10 % relative change of
# the first arm's CTR, and a 55 / 45 preference in interleaving. Any tau keeps the guarantee.
CTR_RELATIVE_EFFECT = 0.10
PREFERENCE_EFFECT = 0.05


def always_valid(diff, se, tau, alpha=0.05):
    """The mixture SPRT of diff = 0 with normal mixture scale `tau`: (low, high, p), where [low, high] is the
    (1 - alpha) confidence sequence and p the always-valid p-value, both valid under optional stopping."""
    v, t2 = se * se, tau * tau
    if not (np.isfinite(v) and v > 0 and t2 > 0):
        return float("nan"), float("nan"), float("nan")
    log_lambda = 0.5 * np.log(v / (v + t2)) + t2 * diff * diff / (2 * v * (v + t2))
    p = float(min(1.0, np.exp(-log_lambda)))
    half = float(np.sqrt(v * (v + t2) / t2 * (np.log((v + t2) / v) - 2 * np.log(alpha))))
    return diff - half, diff + half, p


def ctr_always_valid(estimate, baseline):
    """An arm's CTR (value, se) against the baseline arm's by the always-valid test, the mixture scaled to a
    CTR_RELATIVE_EFFECT change of the baseline: (diff, low, high, p)."""
    (a, sa), (b, sb) = estimate, baseline
    diff = a - b
    return (diff, *always_valid(diff, float(np.hypot(sa, sb)), CTR_RELATIVE_EFFECT * b))


def preference_always_valid(wins_first, wins_second):
    """Interleaving's first-arm share of the decided feeds by the always-valid test against 1/2:
    (share, low, high, p), the interval on the share; NaNs without a decided feed."""
    decided = wins_first + wins_second
    if not decided:
        return (float("nan"),) * 4
    share = wins_first / decided
    low, high, p = always_valid(share - 0.5, 0.5 / np.sqrt(decided), PREFERENCE_EFFECT)
    return share, 0.5 + low, 0.5 + high, p


def sample_ratio_mismatch(counts, shares):
    """Chi-square test of the users per arm against the configured shares: (statistic, p, alarm)."""
    counts = np.asarray(counts, float)
    total = counts.sum()
    if total == 0 or len(counts) < 2:
        return 0.0, 1.0, False
    expected = total * np.asarray(shares, float) / float(np.sum(shares))
    statistic, p = stats.chisquare(counts, expected)
    return float(statistic), float(p), bool(p < SRM_ALARM_P)


def preference(wins_first, wins_second):
    """Interleaving's verdict: the first arm's share of the decided feeds, its 95 % Wilson interval, and the
    binomial test's p against 1/2."""
    n = wins_first + wins_second
    if n == 0:
        return float("nan"), float("nan"), float("nan"), float("nan")
    test = stats.binomtest(wins_first, n, 0.5)
    interval = test.proportion_ci(confidence_level=0.95, method="wilson")
    return wins_first / n, float(interval.low), float(interval.high), float(test.pvalue)
