"""`manage.py seed_demo`: a demo catalog with 24 h of history, 24 h of simulated browsing, then 24 h of users
served by the real feed (docs/demo-data.md)."""
import time
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from demo.activity import ActivityRejected, activity_simulate, demo_activity_ingest, demo_users
from demo.catalog import demo_catalog_build, demo_catalog_write
from demo.experiment import demo_experiment_ensure, demo_experiment_measure
from demo.traffic import FEEDS_PER_USER, HOURS, demo_feed_traffic, traffic_plan
from markets.models import Market
from personalization.models import RankingModel
from personalization.training import ranking_model_train


def _positive(value):
    number = int(value)
    if number < 1:
        raise ValueError("must be at least 1")
    return number


def _non_negative(value):
    number = int(value)
    if number < 0:
        raise ValueError("must be 0 or more")
    return number


class Command(BaseCommand):
    help = (
        "Load a deterministic demo: markets with snapshots and editorial boosts, then simulated users whose "
        "events go through the real ingestion path. Safe to re-run: the same seed changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--markets", type=_positive, default=300, help="Number of markets (default 300).")
        parser.add_argument("--users", type=_non_negative, default=40, help="Number of simulated users (default 40).")
        parser.add_argument("--seed", type=int, default=42, help="Random seed (default 42).")
        parser.add_argument("--if-empty", action="store_true", help="Do nothing if any market exists.")
        parser.add_argument("--no-activity", action="store_true", help="Load the catalog only.")
        parser.add_argument("--feeds", type=_positive, default=None,
                            help=f"About this many feeds served by the real ranking over the last {HOURS} h "
                                 f"(default {FEEDS_PER_USER} per user).")
        parser.add_argument("--no-feed-traffic", action="store_true",
                            help="No feeds from the real ranking: 48 h of simulated browsing only.")

    def handle(self, *args, markets, users, seed, if_empty, no_activity, feeds, no_feed_traffic, **options):
        if if_empty and Market.objects.exists():
            self.stdout.write("seed_demo: markets already exist, nothing to do (--if-empty).")
            return
        started = time.monotonic()
        now = timezone.now()
        catalog = demo_catalog_build(seed=seed, count=markets, now=now)
        written = demo_catalog_write(catalog=catalog, now=now)
        self.stdout.write(
            f"Catalog (seed {seed}, anchored at {catalog.anchor:%Y-%m-%d %H:%M} UTC): "
            f"{len(catalog.markets)} markets ({written.created} created, {written.updated} updated, "
            f"{written.unchanged} unchanged), {written.tags} tags, {written.snapshots} snapshots written, "
            f"{written.boosts} editorial boosts created."
        )
        if no_activity or users == 0:
            self.stdout.write(f"Activity: skipped. Done in {time.monotonic() - started:.1f} s.")
            return
        people = demo_users(count=users, seed=seed)
        # The real feed serves the last HOURS; the made-up browsing fills the 24 h before them.
        until = None if no_feed_traffic else catalog.anchor - timedelta(hours=HOURS)
        hours = 48 if no_feed_traffic else 48 - HOURS
        streams = activity_simulate(catalog=catalog, users=people, hours=hours, until=until)
        try:
            activity = demo_activity_ingest(catalog=catalog, streams=streams)
        except ActivityRejected as error:
            raise CommandError(f"ingestion rejected demo events (nothing was kept): {error}") from error
        self.stdout.write(
            f"Activity: {activity.users} users, {activity.impressions} impressions and {activity.interactions} "
            f"interactions over {hours} h; {activity.accepted} accepted, {activity.duplicate} already stored, "
            f"{activity.rejected} rejected ({activity.batches} ingestion batches)."
        )
        if not no_feed_traffic:
            experiment = demo_experiment_ensure(start=catalog.anchor - timedelta(hours=HOURS))
            try:
                plan = traffic_plan(catalog=catalog, users=people, feeds=feeds or FEEDS_PER_USER * users)
                traffic = demo_feed_traffic(catalog=catalog, plan=plan)
            except ActivityRejected as error:
                raise CommandError(f"ingestion rejected feed-traffic events (no traffic was kept): {error}") from error
            if traffic.already_served:
                self.stdout.write(f"Feed traffic: 0 feeds served ({traffic.already_served} of {traffic.planned} "
                                  "planned feeds already in the served log).")
            else:
                self.stdout.write(
                    f"Feed traffic: {traffic.feeds} feeds served, {traffic.impressions} impressions, "
                    f"{traffic.clicks} clicks over {HOURS} h ({traffic.served} items served, {traffic.empty} empty "
                    f"feeds, {traffic.interactions} interactions; {traffic.accepted} accepted, {traffic.duplicate} "
                    f"already stored, {traffic.rejected} rejected, {traffic.batches} ingestion batches)."
                )
                self._first_model(now)
            demo_experiment_measure(now=now)  # and the live dashboard
            if experiment is not None:
                experiment.refresh_from_db()
                self.stdout.write(f"Experiment: {experiment.name!r} ({', '.join(a.name for a in experiment.arms.all())}"
                                  f"): {experiment.metrics.get('verdict', 'no metrics')}")
        self.stdout.write(f"Done in {time.monotonic() - started:.1f} s.")

    def _first_model(self, now):
        """The first ranking model, from the served log the traffic just wrote (docs/learning.md). The demo's
        home configs ask for it (demo/experiment.py), so the demo ranks with what it learned."""
        result = ranking_model_train(now=now, trigger="demo")
        model = RankingModel.objects.get(version=result["version"])
        click = model.report.get("outcomes", {}).get("click", {})
        verdict = "activated" if result["activated"] else (model.reason or "not activated")
        aucs = (f"; held-out click AUC {click['auc']:.3f}, the formula's {click['formula_auc']:.3f}"
                if click.get("auc") is not None and click.get("formula_auc") is not None else "")
        self.stdout.write(f"Ranking model: v{model.version} {model.get_status_display()} on {result['rows']:,} "
                          f"rendered items{aucs}; {verdict}.")
