"""Trending's backend formula on the exact windows of a generated series, in numpy: no database.

    .venv/bin/python bench/trending_replica.py --markets 1000 --days 35 --seeds 1 2 3

The same formula `backtest_trending` runs through the state push and the periodic tasks, on the
series' own hourly volumes (it gives the same medians as the replay), beside the two baselines
and two oracles (the true current rate; the true expected volume of the next day), and a grid of
trending's constants. For docs/trending-backtest.md's ceiling and sensitivity tables; the
constants are not chosen from it.
"""
import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "feedproject.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")


def main():
    import django

    django.setup()
    import markets.scores as scores
    from simulation.backtest import TOP, precision_at, spearman
    from simulation.market_series import HOURS_PER_DAY, market_series_generate, rolling_sum

    parser = argparse.ArgumentParser()
    parser.add_argument("--markets", type=int, default=1000)
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    for seed in args.seeds:
        s = market_series_generate(markets=args.markets, days=args.days, seed=seed)
        v24 = rolling_sum(s.volume, HOURS_PER_DAY)
        tie_break = np.random.default_rng(0).permutation(args.markets)
        table = {}
        for h in range(7 * HOURS_PER_DAY - 1, s.hours - HOURS_PER_DAY, HOURS_PER_DAY):
            live = np.flatnonzero(s.open[h])
            week = slice(max(0, h + 1 - 7 * HOURS_PER_DAY), h + 1)
            history = np.minimum(h + 1 - s.opens_at[live], 7 * HOURS_PER_DAY)
            usual = np.where(history >= 24, s.volume[week][:, live].sum(0) / np.maximum(history, 1) * 24, 0)
            target = s.volume[h + 1 : h + 1 + HOURS_PER_DAY, live].sum(0)
            rankers = {
                "oracle: next day's expected volume": s.rate[h + 1 : h + 1 + HOURS_PER_DAY, live].sum(0),
                "oracle: current rate": s.rate[h, live],
                "volume 24 h": v24[h, live],
                "mean 7 d": s.volume[week][:, live].sum(0) / np.maximum(s.open[week][:, live].sum(0) / 24, 1),
            }
            default = scores.TRENDING_PERSISTENCE
            for persistence in (0.25, 0.5, 0.75, 1.0):
                for half in (1, 5, 25):
                    scores.TRENDING_PERSISTENCE = persistence
                    label = f"persistence {persistence} half {half}"
                    label = "trending" if (persistence, half) == (default, 5) else label
                    rankers[label] = scores.trending_backend_raw(
                        s.volume[h, live], v24[h, live], s.trades[h, live], usual, half=half
                    )
            scores.TRENDING_PERSISTENCE = default
            for name, values in rankers.items():
                cell = table.setdefault(name, ([], []))
                cell[0].append(spearman(values, target))
                cell[1].append(precision_at(values, target, TOP, tie_break[live]))
        print(f"seed {seed}: median Spearman / mean precision@{TOP} over {len(cell[0])} days")
        for name, (rho, precision) in table.items():
            print(f"  {name:40} {np.nanmedian(rho):.3f} / {np.mean(precision):.3f}")


if __name__ == "__main__":
    main()
