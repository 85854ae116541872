"""`manage.py import_markets PATH [PATH ...]`: idempotent upsert of the market catalog from files."""
import csv
import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from markets.import_files import FORMAT_LABELS, FORMATS_BY_NAME, ImportFileError, file_rows_read
from markets.importers import MarketImportResult, markets_import, rows_fresh_dates
from markets.selectors import category_aliases
from markets.services import catalog_version_bump

REJECTS_SHOWN = 50


class Command(BaseCommand):
    help = (
        "Create or update markets and their events from the project's JSON/CSV format, Polymarket Gamma, "
        "Kalshi, Manifold or PredictIt files (.gz read transparently). Writes only what changed. "
        "See docs/market-import.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument(
            "--format", choices=sorted(FORMATS_BY_NAME), help="Read every file as this format instead of detecting it."
        )
        parser.add_argument("--dry-run", action="store_true", help="Parse and compare, write nothing.")
        parser.add_argument("--limit", type=int, metavar="N", help="Only the first N rows of each file.")
        parser.add_argument(
            "--fresh-dates",
            action="store_true",
            help="Shift all dates so the newest created_at is now; reopen markets whose resolution date is then ahead.",
        )
        parser.add_argument(
            "--rejects-file", metavar="CSV", help="Write every rejected row (file, where, market_id, reason)."
        )
        parser.add_argument("--chunk-size", type=int, default=1000, help="Rows per transaction (default 1000).")

    def handle(self, *args, paths, format, dry_run, limit, fresh_dates, rejects_file, chunk_size, **options):
        if limit is not None and limit < 0:
            raise CommandError("--limit must be >= 0")
        if chunk_size < 1:
            raise CommandError("--chunk-size must be >= 1")
        now = timezone.now()
        aliases = category_aliases()
        total = MarketImportResult()
        rejects = []
        failed = True
        try:
            for path in paths:
                result = self._import_file(
                    path, now=now, format=format, aliases=aliases, dry_run=dry_run, limit=limit,
                    fresh_dates=fresh_dates, chunk_size=chunk_size, rejects=rejects,
                )
                total.add(result)
            failed = False
        finally:
            # Chunks committed before a failure stay committed: caches must hear about them too.
            if not dry_run and (failed or total.written):
                catalog_version_bump()
            if rejects_file:
                self._rejects_write(rejects_file, rejects)
        if len(paths) > 1:
            self.stdout.write(self._counts_line("total", total, dry_run=dry_run))

    def _rejects_write(self, rejects_file, rejects):
        with open(rejects_file, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["file", "where", "market_id", "reason"])
            writer.writerows([path, row.where, row.market_id, row.reason] for path, row in rejects)
        self.stdout.write(f"{len(rejects)} rejected rows written to {rejects_file}")

    def _import_file(self, path, *, now, format, aliases, dry_run, limit, fresh_dates, chunk_size, rejects):
        started = time.monotonic()
        try:
            kind, rows = file_rows_read(path, format=format, aliases=aliases)
            rows = list(rows if limit is None else (row for _, row in zip(range(limit), rows, strict=False)))
        except (OSError, EOFError, UnicodeDecodeError, ImportFileError) as exc:  # EOFError: a cut .gz
            raise CommandError(f"{path}: {exc}") from exc
        if fresh_dates:
            rows = rows_fresh_dates(rows, now=now)
        self.stdout.write(f"{path}: {FORMAT_LABELS[kind]}, {len(rows)} rows{' (dry run)' if dry_run else ''}")
        # tqdm needs the raw stream: Django's OutputWrapper would add a newline to every redraw.
        stream = getattr(self.stderr, "_out", sys.stderr)
        with tqdm(rows, desc="import", unit="row", file=stream, dynamic_ncols=True) as progress:
            result = markets_import(rows=progress, chunk_size=chunk_size, dry_run=dry_run, now=now)
        elapsed = time.monotonic() - started
        self.stdout.write(self._counts_line(path, result, dry_run=dry_run) + f" in {elapsed:.1f}s")
        for row in result.rejected[:REJECTS_SHOWN]:
            market = f" [{row.market_id}]" if row.market_id else ""
            self.stdout.write(f"  rejected {row.where}{market}: {row.reason}")
        if len(result.rejected) > REJECTS_SHOWN:
            self.stdout.write(
                f"  ... {len(result.rejected) - REJECTS_SHOWN} more rejected rows "
                f"({len(result.rejected)} in total; --rejects-file writes them all)"
            )
        rejects.extend((path, row) for row in result.rejected)
        if not result.imported and limit != 0:
            raise CommandError(f"{path}: {self._nothing_imported(kind, result)}")
        return result

    def _nothing_imported(self, kind, result):
        looks_like = FORMAT_LABELS[kind]
        if not result.rejected:
            return f"no rows imported: the file looks like {looks_like}, with no market in it"
        first = result.rejected[0]
        return (
            f"no rows imported: the file looks like {looks_like}, and all {len(result.rejected)} of its rows "
            f"were rejected (first, {first.where}: {first.reason})"
        )

    def _counts_line(self, label, result, *, dry_run):
        verb = "would write" if dry_run else "wrote"
        return (
            f"{label}: created {result.created}, updated {result.updated}, unchanged {result.unchanged}, "
            f"rejected {len(result.rejected)}; {verb} {result.snapshots} snapshots"
            + ("" if dry_run else f", {result.tags_created} new tags")
            + f", {result.events_created} new events"
        )
