"""`manage.py run_periodic_tasks [--only NAME] [--at ISO]`: run the periodic tasks once, in this process."""
from django.core.management.base import BaseCommand, CommandError
from rest_framework.exceptions import ValidationError

from feedproject.api import AwareDateTimeField
from ops.periodic import PERIODIC_TASKS, periodic_task_spec
from ops.services import periodic_tasks_run_here


class Command(BaseCommand):
    help = (
        "Run the periodic tasks once, in this process, under the same locks as the Celery "
        "worker (a task that is running elsewhere is skipped). For ops, demos, backfills after an outage, "
        "and replays (--at)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--only", action="append", metavar="NAME",
            help="Run only this task (full or short name, e.g. velocity_refresh); repeatable.",
        )
        parser.add_argument(
            "--at", metavar="ISO",
            help="Run as of this time (ISO 8601 with a time zone, e.g. 2026-11-26T10:00:00Z) instead of now: "
            "replays and evaluators, on a replay database (docs/replay.md).",
        )
        parser.add_argument(
            "--list", dest="list_tasks", action="store_true", help="List the tasks and their schedules, run nothing."
        )
        parser.add_argument(
            "--break-lock", action="store_true",
            help="First free the lock of the selected tasks. Only when the run holding it is known to be dead.",
        )

    def handle(self, *args, only, at, list_tasks, break_lock, **options):
        if list_tasks:
            for spec in PERIODIC_TASKS.values():
                self.stdout.write(f"{spec.name:34} {_cron(spec.crontab):14} UTC  {spec.description}")
            return
        try:
            specs = [periodic_task_spec(name) for name in only] if only else list(PERIODIC_TASKS.values())
        except KeyError as exc:
            raise CommandError(f"Unknown task {exc.args[0]!r}; see --list.") from None
        if at is not None:
            try:
                at = AwareDateTimeField().run_validation(at)
            except ValidationError as exc:
                raise CommandError(f"--at: {exc.detail[0]}") from None
        report = periodic_tasks_run_here(names=[spec.name for spec in specs], at=at, break_lock=break_lock)
        for run in report:
            name, outcome = run["name"], run["outcome"]
            if outcome == "failed":
                self.stderr.write(f"{name}: FAILED {run['error']}")
            elif outcome == "skipped":
                self.stdout.write(f"{name}: skipped, another run holds the lock")
            else:
                details = ", ".join(f"{k}={v}" for k, v in run["result"].items() if k != "as_of")
                as_of = f" as of {run['result']['as_of']}" if at is not None else ""
                self.stdout.write(f"{name}: ok in {run['duration_ms'] / 1000:.2f} s{as_of} ({details})")
        failed = [run["name"] for run in report if run["outcome"] == "failed"]
        if failed:
            raise CommandError(f"{len(failed)} task(s) failed: {', '.join(failed)}")


def _cron(crontab):
    return " ".join(
        str(crontab.get(k, "*")) for k in ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
    )
