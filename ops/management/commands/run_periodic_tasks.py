"""`manage.py run_periodic_tasks [--only NAME]`: run the periodic tasks once, in this process."""
import time

from django.core.management.base import BaseCommand, CommandError

from ops.periodic import PERIODIC_TASKS, periodic_task_spec
from ops.services import SKIPPED, lock_break, periodic_task_run_here


class Command(BaseCommand):
    help = (
        "Run the periodic tasks once, in this process, under the same locks as the Celery "
        "worker (a task that is running elsewhere is skipped). For ops, demos and backfills after an outage."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--only", action="append", metavar="NAME",
            help="Run only this task (full or short name, e.g. velocity_refresh); repeatable.",
        )
        parser.add_argument(
            "--list", dest="list_tasks", action="store_true", help="List the tasks and their schedules, run nothing."
        )
        parser.add_argument(
            "--break-lock", action="store_true",
            help="First free the lock of the selected tasks. Only when the run holding it is known to be dead.",
        )

    def handle(self, *args, only, list_tasks, break_lock, **options):
        if list_tasks:
            for spec in PERIODIC_TASKS.values():
                self.stdout.write(f"{spec.name:34} {_cron(spec.crontab):14} UTC  {spec.description}")
            return
        try:
            specs = [periodic_task_spec(name) for name in only] if only else list(PERIODIC_TASKS.values())
        except KeyError as exc:
            raise CommandError(f"Unknown task {exc.args[0]!r}; see --list.") from None
        failed = []
        for spec in specs:
            if break_lock:
                lock_break(name=spec.name)
            started = time.monotonic()
            try:
                result = periodic_task_run_here(spec.name)
            except Exception as exc:  # noqa: BLE001 - report it, run the others, fail at the end
                failed.append(spec.name)
                self.stderr.write(f"{spec.name}: FAILED {type(exc).__name__}: {exc}")
                continue
            seconds = time.monotonic() - started
            if result == SKIPPED:
                self.stdout.write(f"{spec.name}: skipped, another run holds the lock")
            else:
                details = ", ".join(f"{k}={v}" for k, v in result.items() if k != "as_of")
                self.stdout.write(f"{spec.name}: ok in {seconds:.2f} s ({details})")
        if failed:
            raise CommandError(f"{len(failed)} task(s) failed: {', '.join(failed)}")



def _cron(crontab):
    return " ".join(
        str(crontab.get(k, "*")) for k in ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
    )
