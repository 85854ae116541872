"""Hourly trading series of a catalog of prediction markets, for the trending backtest.

What the trading backend would push: per market and hour, the volume and trades of the hour, the
odds at its end, the participants so far, and whether the market is open. Pure numpy, seeded:
the same arguments give the same series. How each part is drawn, and why, is in
docs/trending-backtest.md.
"""
from dataclasses import dataclass

import numpy as np

HOURS_PER_DAY = 24


@dataclass(frozen=True)
class MarketSeries:
    volume: np.ndarray  # (hours, markets) volume traded in each hour
    trades: np.ndarray  # (hours, markets) trades in each hour
    probability: np.ndarray  # (hours, markets) odds at the end of each hour
    participants: np.ndarray  # (hours, markets) distinct traders so far
    open: np.ndarray  # (hours, markets) bool: the market is open during the hour
    opens_at: np.ndarray  # (markets,) first open hour
    closes_at: np.ndarray  # (markets,) first hour closed (the series' length if it never closes in it)
    rate: np.ndarray  # (hours, markets) the expected volume of each hour, before the draw of its trades

    @property
    def hours(self):
        return self.volume.shape[0]

    @property
    def markets(self):
        return self.volume.shape[1]


def market_series_generate(*, markets, days, seed):
    """A MarketSeries of `markets` markets over `days` days, drawn from `seed`."""
    rng = np.random.default_rng(seed)
    hours = days * HOURS_PER_DAY
    t = np.arange(hours)[:, None]

    # Size: heavy-tailed. Daily volume of a market at its usual level is lognormal (median 2,000,
    # sigma 1.8 in ln: the top 1 % trade ~65x the median, the bottom 1 % 1/65 of it), like the spread
    # between a presidential market and a local question on a real platform.
    base_daily = 2000.0 * np.exp(rng.normal(0.0, 1.8, markets))

    # Life: a third of the catalog is open from the start, the rest opens during the series; a
    # market lives 5 to 120 days (lognormal, median 25), so some close inside the series.
    opens_at = np.where(rng.random(markets) < 1 / 3, 0, rng.integers(0, hours, markets))
    lifetime = np.clip(np.exp(rng.normal(np.log(25), 0.9, markets)), 5, 120) * HOURS_PER_DAY
    born_before = opens_at == 0
    age_at_start = np.where(born_before, rng.uniform(0, 1, markets) * lifetime, 0.0)
    closes_at = np.minimum(opens_at + (lifetime - age_at_start).astype(int), hours)
    closes_at = np.maximum(closes_at, opens_at + HOURS_PER_DAY)
    is_open = (t >= opens_at) & (t < closes_at)
    age = t - opens_at + age_at_start
    to_close = (opens_at + lifetime - age_at_start) - t  # hours left to resolution (may lie past the series)

    # Lifecycle: attention builds over the first days after listing (half in ~1 day) and gathers
    # again in the last days before resolution (x3 at the end, fading over ~2 days before).
    ramp_up = 1 - np.exp(-np.maximum(age, 0) / 36.0)
    endgame = 1 + 2.0 * np.exp(-np.maximum(to_close, 0) / 48.0)

    # Drift: a market's usual level wanders (a daily random walk in ln, sigma 0.12), so last week is
    # a fair but imperfect guide to next week.
    walk = np.cumsum(rng.normal(0, 0.12, (days, markets)), axis=0)
    drift = np.exp(np.repeat(walk, HOURS_PER_DAY, axis=0))

    # News: on average one story per market every 12 days, at a random hour; it multiplies the rate
    # by 1 + size (size lognormal, median 3, up to ~40) and decays exponentially with a half-life of
    # 3 h to 3 days (lognormal, median 16 h). Stories stack.
    news = np.zeros((hours, markets))
    odds_jumps = np.zeros((hours, markets))
    count = rng.poisson(hours / (12 * HOURS_PER_DAY), markets)
    for m in np.flatnonzero(count):
        for start in rng.integers(0, hours, count[m]):
            size = np.exp(rng.normal(np.log(3), 0.9))
            half_life = np.clip(np.exp(rng.normal(np.log(16), 0.8)), 3, 72)
            after = np.arange(hours - start)
            news[start:, m] += size * 0.5 ** (after / half_life)
            odds_jumps[start, m] += rng.normal(0, 1.0) * min(2.5, 0.4 + size / 4)

    # Day and night: one global cycle (x0.5 at 04:00 UTC to x1.5 at 16:00).
    diurnal = 1 + 0.5 * np.sin(2 * np.pi * (t - 10) / HOURS_PER_DAY)

    rate = base_daily / HOURS_PER_DAY * ramp_up * endgame * drift * (1 + news) * diurnal
    rate = np.where(is_open, rate, 0.0)

    # Trades: Poisson at rate / mean trade size (lognormal, median 40, per market); the hour's volume
    # is the sum of its trades' sizes, with sizes of coefficient of variation ~1.3 (a Gamma of shape
    # 0.6 per trade), so a thin hour can be one whale.
    trade_size = 40.0 * np.exp(rng.normal(0, 0.5, markets))
    trades = rng.poisson(rate / trade_size)
    shape = 0.6
    volume = np.where(trades > 0, rng.gamma(np.maximum(trades, 1) * shape, trade_size / shape), 0.0)

    # Odds: a random walk in log-odds, faster with more trading, plus the news jumps; a market drifts
    # towards its outcome over its last week, so odds near 0 and 1 are common as in real catalogs.
    outcome = rng.random(markets) < 0.5
    start_logit = rng.normal(0, 1.2, markets)
    steps = rng.normal(0, 1, (hours, markets)) * 0.04 * np.sqrt(1 + trades / 5) + odds_jumps
    steps = np.where(is_open, steps, 0.0)
    pull = np.where(outcome, 1.0, -1.0) * np.where(to_close < 7 * HOURS_PER_DAY, 0.03, 0.0)
    logit = start_logit + np.cumsum(steps + np.where(is_open, pull, 0.0), axis=0)
    probability = np.round(1 / (1 + np.exp(-np.clip(logit, -7, 7))), 4)

    # Participants: a new trader for about one trade in four.
    participants = np.cumsum(rng.binomial(trades, 0.25), axis=0)
    return MarketSeries(
        volume=np.round(volume, 2), trades=trades, probability=probability, participants=participants,
        open=is_open, opens_at=opens_at, closes_at=closes_at, rate=rate,
    )


def rolling_sum(values, window):
    """Sum over the last `window` rows, the row itself included (the first rows sum what there is)."""
    cumulative = np.cumsum(values, axis=0)
    shifted = np.zeros_like(cumulative)
    shifted[window:] = cumulative[:-window]
    return cumulative - shifted
