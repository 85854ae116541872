"""`manage.py simulate`: offline evaluation of feed configs against baselines on simulated users.

See docs/simulation.md for the model, the metrics and the results of the tuned config.
"""
import argparse
import time
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from simulation.compare import (
    DEFAULT_START,
    ConfigError,
    arms_plan,
    comparison_run,
    config_resolve,
    pool_table,
    results_table,
)
from simulation.strategies import ORACLE, ORIGINAL, POPULAR, RANDOM
from simulation.world import USER_MODELS

# What --skip can leave out: config B, or a baseline arm (by its kind).
SKIPPABLE = {"b": "b", "original": ORIGINAL, "random": RANDOM, "popular": POPULAR, "oracle": ORACLE}


class Command(BaseCommand):
    help = (
        "Simulate users browsing the feed for some days under two FeedConfigs, three baselines "
        "(random, most popular, the original fixed formula without caps or quotas) and an oracle that knows "
        "the users' hidden tastes, with the same seed; print the metrics (also as a share of the oracle) and "
        "write results.json and metrics_by_day.png. The project's database is only read "
        "(for --config-a/--config-b versions): every arm runs on its own scratch SQLite file."
    )

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=1000)
        parser.add_argument("--days", type=int, default=7)
        parser.add_argument("--markets", type=int, default=2000, help="Open markets in the catalog.")
        parser.add_argument("--catalog", metavar="PATH",
                            help="Market file (Polymarket Gamma CSV, or any import_markets format); "
                                 "default: the demo generator.")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--config-a", default="default",
                            help="'default' (the parameters' defaults), 'active', 'tuned', a home FeedConfig version, "
                                 "or a JSON file.")
        parser.add_argument("--config-b", default="tuned", help="Same choices as --config-a.")
        parser.add_argument("--out", default="var/simulation", metavar="DIR", help="Where results go.")
        parser.add_argument("--jobs", type=int, default=3,
                            help="Arms run side by side (default 3: the three that drive the system at once).")
        parser.add_argument("--user-model", default="default", choices=sorted(USER_MODELS),
                            help="How simulated users are drawn and behave (docs/simulation.md); default: default.")
        parser.add_argument("--learned", action=argparse.BooleanOptionalAction, default=True,
                            help="Add the learned-ranker arm (v1 + a model trained every simulated night).")
        parser.add_argument("--skip", action="append", default=[], choices=sorted(SKIPPABLE), metavar="ARM",
                            help=f"Leave out an arm ({', '.join(SKIPPABLE)}); repeatable. Saves time on a long run.")
        parser.add_argument("--start", help="Simulated start (ISO date-time, UTC); default: Monday 2026-01-05 00:00.")

    def handle(self, *args, users, days, markets, catalog, seed, config_a, config_b, out, jobs, start,
               user_model, learned, skip, **options):
        if users < 1 or days < 1 or markets < 10:
            raise CommandError("--users and --days must be >= 1, --markets >= 10")
        try:
            arms = arms_plan(config_resolve(config_a), config_resolve(config_b), learned=learned)
            left_out = {SKIPPABLE[name] for name in skip}
            arms = [arm for k, arm in enumerate(arms) if not ({arm[1], "b" if k == 1 else None} & left_out)]
        except ConfigError as exc:
            raise CommandError(str(exc)) from exc
        if start:
            try:
                parsed = datetime.fromisoformat(start)
            except ValueError as exc:
                raise CommandError(f"--start: {exc}") from exc
            start_ts = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
        else:
            start_ts = DEFAULT_START.timestamp()
        world = {"users": users, "days": days, "markets": markets, "seed": seed, "start": start_ts,
                 "catalog": catalog, "user_model": user_model}
        self.stdout.write(f"Simulating {users} users x {days} days on {markets} markets "
                          f"({catalog or 'demo generator'}), seed {seed}, user model {user_model}, "
                          f"{len(arms)} arms, {jobs} at a time")
        started = time.monotonic()
        try:
            document = comparison_run(world=world, arms=arms, out_dir=out, jobs=jobs,
                                      log=lambda message: self.stdout.write(f"  {message}"))
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write("")
        self.stdout.write(results_table(document))
        self.stdout.write("")
        self.stdout.write(pool_table(document))
        self.stdout.write("")
        self.stdout.write(f"Written {out}/results.json and {out}/metrics_by_day.png "
                          f"in {time.monotonic() - started:.0f}s")
