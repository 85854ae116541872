"""Frequency caps, fatigue and "changed enough to re-show" , vectorized."""
from dataclasses import dataclass

import numpy as np

HOUR = 3600.0
DAY = 24 * HOUR

# Why a market was left out, in the order the rules are checked.
HIDDEN, FATIGUE, COOLDOWN, CAP_24H = "hidden", "fatigue", "cooldown", "cap_24h"


@dataclass
class Eligibility:
    allowed: np.ndarray  # bool over the catalog
    changed: np.ndarray  # bool: changed enough since last shown (re-show allowed)
    blocked: dict  # catalog index -> rule name, for the markets left out
    change_text: dict  # catalog index -> "Odds moved from 41% to 58% since you last saw this"


def _logit(p):
    p = np.clip(p, 0.01, 0.99)
    return np.log(p / (1 - p))


def changed_enough(catalog, user, params):
    """Bool over the user's seen markets: odds, log-odds or volume moved past the re-show thresholds."""
    idx = user.seen_index
    p_now, p_then = catalog.probability[idx], user.prob_at_last_shown
    v_now, v_then = catalog.volume_24h[idx], user.volume_at_last_shown
    r = params.reshow
    with np.errstate(invalid="ignore"):
        odds = np.abs(p_now - p_then) >= r.min_abs_prob_change - 1e-12
        logit = np.abs(_logit(p_now) - _logit(p_then)) >= r.min_abs_logit_change - 1e-12
        volume = (v_now >= r.volume_ratio * v_then) & (v_now >= r.min_volume)
    return np.nan_to_num(odds | logit | volume).astype(bool), odds | logit


def eligibility(catalog, user, params, now):
    """Which markets may be shown now. The catalog holds open markets only, so status needs no check."""
    n = len(catalog)
    allowed = np.ones(n, dtype=bool)
    changed_all = np.zeros(n, dtype=bool)
    blocked, texts = {}, {}
    idx = user.seen_index
    if not len(idx):
        return Eligibility(allowed, changed_all, blocked, texts)
    c = params.caps
    changed, odds_moved = changed_enough(catalog, user, params)
    extra_left = user.shows_24h < c.max_shows_24h + params.reshow.max_extra_per_day
    reshow = changed & extra_left & ~user.hidden
    since_shown = now - user.last_shown_at
    with np.errstate(invalid="ignore"):
        recent = since_shown < c.cooldown_minutes * 60
        no_positive_since = np.isnan(user.last_positive_at) | (user.last_positive_at < user.first_shown_7d)
        fatigued = (user.shows_7d >= c.fatigue_shows_7d) & no_positive_since
    rules = (
        (HIDDEN, user.hidden),
        (FATIGUE, fatigued),
        (COOLDOWN, recent & ~reshow),
        (CAP_24H, (user.shows_24h >= c.max_shows_24h) & ~reshow),
    )
    for name, mask in rules:  # a market left out by several rules is reported under the first
        blocked.update(dict.fromkeys(idx[mask & allowed[idx]].tolist(), name))
        allowed[idx[mask]] = False
    shown_again = reshow & allowed[idx] & ~np.isnan(user.last_shown_at)
    changed_all[idx[shown_again]] = True
    for position in np.flatnonzero(shown_again):
        i = int(idx[position])
        if odds_moved[position]:
            texts[i] = (
                f"Odds moved from {user.prob_at_last_shown[position]:.0%} to {catalog.probability[i]:.0%} "
                "since you last saw this"
            )
        else:
            texts[i] = "Trading volume jumped since you last saw this"
    return Eligibility(allowed, changed_all, blocked, texts)
