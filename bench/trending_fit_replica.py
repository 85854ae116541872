"""Trending's fitted forecast on the exact windows of a generated series, in numpy: no database.

    .venv/bin/python bench/trending_fit_replica.py --markets 600 --days 35 --seeds 1 2 3

What `backtest_trending` runs through the state push and the periodic tasks, on the series' own
hourly volumes: at each day's end, markets.scores.trending_forecast_fit on the last seven days (the
terms of trending_backend_terms, the catalog's dates as the replay lists them: the end date when the
market closes inside the series, the listing hour), its gate, then the forecast's precision@20 and
Spearman against the next day. `--drop` leaves terms out of the fit (their columns set to 0), for the
ablations of docs/trending-backtest.md. Its medians are within 0.007 of the replay's; the replay's
table is the one reported.
"""
import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "feedproject.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")
TERMS = ("usual", "day", "deviation", "open_share", "closing", "listing")


def main():
    import django

    django.setup()
    from markets.scores import (
        FORECAST_FLOOR,
        trending_backend_terms,
        trending_forecast,
        trending_forecast_fit,
        trending_persistence_coefficients,
    )
    from simulation.backtest import TOP, precision_at, spearman
    from simulation.market_series import HOURS_PER_DAY as DAY
    from simulation.market_series import market_series_generate, rolling_sum

    parser = argparse.ArgumentParser()
    parser.add_argument("--markets", type=int, default=600)
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--drop", nargs="*", default=[], choices=TERMS)
    args = parser.parse_args()
    dropped = [TERMS.index(t) for t in args.drop]
    for seed in args.seeds:
        s = market_series_generate(markets=args.markets, days=args.days, seed=seed)
        v24 = rolling_sum(s.volume, DAY)
        tie_break = np.random.default_rng(0).permutation(args.markets)

        def day_end(h, s=s, v24=v24):
            """(markets open in hour h, their terms, what they trade in the next 24 h, their 24 h volume)."""
            live = np.flatnonzero(s.open[h])
            week = slice(max(0, h + 1 - 7 * DAY), h + 1)
            usual = s.volume[week][:, live].sum(0) / np.maximum(s.open[week][:, live].sum(0) / DAY, 1)
            to_close = np.where(s.closes_at[live] < s.hours, s.closes_at[live] - (h + 1), np.nan)
            terms = trending_backend_terms(s.volume[h, live], v24[h, live], s.trades[h, live], usual,
                                           hours_to_close=to_close, hours_listed=h + 1 - s.opens_at[live])
            terms[:, dropped] = 0.0
            return live, terms, s.volume[h + 1 : h + 1 + DAY, live].sum(0), v24[h, live]

        rho, precision, baseline, used = [], [], [], 0
        for h in range(7 * DAY - 1, s.hours - DAY, DAY):
            history = [day_end(h - k * DAY)[1:] for k in range(7, 0, -1) if h - k * DAY >= DAY - 1]
            traded = [(t[v > 0], n[v > 0], v[v > 0]) for t, n, v in history]
            coefficients, _ = trending_forecast_fit(traded)
            used += coefficients is not None
            live, terms, target, volume = day_end(h)
            coefficients = coefficients or trending_persistence_coefficients()
            score = np.where(volume > 0, np.maximum(trending_forecast(coefficients, terms), FORECAST_FLOOR), 0.0)
            rho.append(spearman(score, target))
            precision.append(precision_at(score, target, TOP, tie_break[live]))
            baseline.append(precision_at(volume, target, TOP, tie_break[live]))
        print(f"seed {seed} (dropped: {', '.join(args.drop) or 'none'}; {used}/{len(rho)} fits used): "
              f"trending {np.nanmedian(rho):.3f} / {np.mean(precision):.3f}, "
              f"volume 24 h P@{TOP} {np.mean(baseline):.3f}")


if __name__ == "__main__":
    main()
