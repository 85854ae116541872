"""`manage.py seed_demo`: a demo catalog with 24 h of history and 48 h of simulated users (docs/demo-data.md)."""
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from demo.activity import ActivityRejected, activity_simulate, demo_activity_ingest, demo_users
from demo.catalog import demo_catalog_build, demo_catalog_write
from markets.models import Market


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

    def handle(self, *args, markets, users, seed, if_empty, no_activity, **options):
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
        streams = activity_simulate(catalog=catalog, users=people)
        try:
            activity = demo_activity_ingest(catalog=catalog, streams=streams)
        except ActivityRejected as error:
            raise CommandError(f"ingestion rejected demo events (nothing was kept): {error}") from error
        self.stdout.write(
            f"Activity: {activity.users} users, {activity.impressions} impressions and {activity.interactions} "
            f"interactions over 48 h; {activity.accepted} accepted, {activity.duplicate} already stored, "
            f"{activity.rejected} rejected ({activity.batches} ingestion batches). "
            f"Done in {time.monotonic() - started:.1f} s."
        )
