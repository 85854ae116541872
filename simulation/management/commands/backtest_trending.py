"""`manage.py backtest_trending`: does trending rank the markets that will be busiest next better than volume?

Replays a generated trading series through the state push, runs the periodic tasks on the replayed
clock and prints, per period, Spearman's correlation and precision@20 of trending, the current 24 h
volume and the 7-day mean volume against the next period's volume. docs/trending-backtest.md.
"""
import json
import logging
import time

from django.core.management.base import BaseCommand, CommandError

from markets.models import Market
from simulation.backtest import PREFIX, RANKERS, TOP, backtest_run, medians
from simulation.market_series import market_series_generate

PERIODS = {"hour": 1, "day": 24}


class Command(BaseCommand):
    help = (
        "Backtest trending against the next period's volume on a generated series of markets (heavy-tailed "
        "volumes, listings and resolutions, news spikes that decay over days). It writes markets, snapshots "
        "and task runs: use a scratch database (it refuses one that holds markets of its own)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--markets", type=int, default=150)
        parser.add_argument("--days", type=int, default=28)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--period", choices=sorted(PERIODS), default="day",
                            help="What is predicted: the next hour's or the next day's volume (default day).")
        parser.add_argument("--step", choices=sorted(PERIODS), default="hour",
                            help="How often the backend pushes state (default every hour).")
        parser.add_argument("--warmup-days", type=int, default=7, help="Days replayed before the first period.")
        parser.add_argument("--json", dest="json_path", metavar="PATH", help="Also write the per-period results here.")

    def handle(self, *args, markets, days, seed, period, step, warmup_days, json_path, **options):
        if markets < TOP or warmup_days < 1 or days <= warmup_days + 1:
            raise CommandError(f"Needs at least {TOP} markets, --warmup-days of at least 1, and more days than "
                               "--warmup-days + 1.")
        if Market.objects.exclude(market_id__startswith=PREFIX).exists():
            raise CommandError("This database holds markets that are not the backtest's: run it on a scratch one, "
                               "e.g. DATABASE_URL=sqlite:///backtest.sqlite3 (migrate it first).")
        Market.objects.filter(market_id__startswith=PREFIX).delete()
        series = market_series_generate(markets=markets, days=days, seed=seed)
        self.stdout.write(f"{markets} markets over {days} days (seed {seed}); pushes every {step}, "
                          f"predicting the next {period}; Spearman / precision@{TOP}")
        self.stdout.write("period end       | open | " + " | ".join(f"{name:>13}" for name in RANKERS))
        started = time.monotonic()
        logging.getLogger("ops.services").setLevel(logging.WARNING)  # a line per task run would bury the table
        results = backtest_run(series, period_hours=PERIODS[period], step_hours=PERIODS[step],
                               warmup_days=warmup_days, log=self.stdout.write)
        summary = medians(results)
        self.stdout.write("median           |      | " + " | ".join(
            f"{summary['spearman'][n]:.3f} / {summary['precision'][n]:.2f}" for n in RANKERS))
        for name, wins in summary["wins"].items():
            self.stdout.write(f"trending beats {name} in {wins['spearman']}/{len(results)} periods on Spearman, "
                              f"{wins['precision']}/{len(results)} on precision@{TOP} "
                              f"(ties {wins['precision_ties']})")
        self.stdout.write(f"{time.monotonic() - started:.0f} s")
        if json_path:
            _write(json_path, results, summary)


def _write(path, results, summary):
    rows = [{"at": r.at.isoformat(), "markets": r.markets, "spearman": r.spearman, "precision": r.precision}
            for r in results]
    with open(path, "w") as out:
        json.dump({"periods": rows, "median": summary}, out, indent=1)
