"""Run a periodic task under its lock and record the outcome and its history; register the schedule with beat."""
import inspect
import logging
import time
import traceback

from django.db import transaction
from django.db.models import F
from django.utils.module_loading import autodiscover_modules
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from ops.locks import lock_acquire, lock_release
from ops.models import TaskRun, TaskRunRecord
from ops.periodic import PERIODIC_TASKS

logger = logging.getLogger(__name__)
SKIPPED = {"skipped": "another run holds the lock"}


def periodic_task_run(*, name, run, now):
    """Run `run(now=now)` as the periodic task `name`, unless another run holds it; returns its result dict.

    Each app's task passes its own service as `run`; one that works in chunks takes an
    `on_chunk` argument and is given the lease's renewal for it. Every task recomputes from
    the database as of `now`, so a run that crashed leaves nothing that the next run does
    not redo. An exception is recorded on the TaskRun row, the lock released, and the
    exception re-raised (the Celery task decides on a retry).
    """
    spec = PERIODIC_TASKS[name]
    lease = lock_acquire(name=name, now=now, duration=spec.lease)
    if lease is None:
        logger.info("%s: skipped, another run holds the lock", name)
        _run_record(name=name, started_at=now, outcome=TaskRunRecord.Outcome.SKIPPED)
        return dict(SKIPPED)
    clock = lease.clock
    try:
        chunked = "on_chunk" in inspect.signature(run).parameters
        result = (run(now=now, on_chunk=lease.renew) if chunked else run(now=now)) or {}
    except Exception:
        _record_failure(lease)
        raise
    result = {"as_of": now.isoformat(), **result}
    released = lock_release(
        lease, last_success_at=now, last_finished_at=clock.now(), last_duration_ms=clock.elapsed_ms(),
        last_result=result,
    )
    if not released:
        logger.warning("%s: finished after its lease was taken over by another run", name)
    _run_record(name=name, started_at=now, outcome=TaskRunRecord.Outcome.SUCCESS, finished_at=clock.now(),
                duration_ms=clock.elapsed_ms(), result=result)
    logger.info("%s: done in %d ms %s", name, clock.elapsed_ms(), result)
    return result


def _run_record(*, name, started_at, outcome, finished_at=None, duration_ms=None, result=None, error=""):
    """Append one run to the task's history and drop what is older than its last RECORDS_KEPT runs."""
    TaskRunRecord.objects.create(
        name=name, started_at=started_at, outcome=outcome, finished_at=finished_at, duration_ms=duration_ms,
        result=result or {}, error=error,
    )
    kept = TaskRunRecord.RECORDS_KEPT
    cutoff = list(TaskRunRecord.objects.filter(name=name).order_by("-pk").values_list("pk", flat=True)[kept:kept + 1])
    if cutoff:
        TaskRunRecord.objects.filter(name=name, pk__lte=cutoff[0]).delete()


def _record_failure(lease):
    logger.exception("%s failed", lease.name)
    ended = lease.clock.now()
    error = traceback.format_exc()[-4000:]
    try:
        lock_release(
            lease, last_error_at=ended, last_error=error,
            last_finished_at=ended, last_duration_ms=lease.clock.elapsed_ms(),
            failures_total=F("failures_total") + 1,
        )
        _run_record(name=lease.name, started_at=lease.clock.started_at, outcome=TaskRunRecord.Outcome.FAILED,
                    finished_at=ended, duration_ms=lease.clock.elapsed_ms(), error=error)
    except Exception:  # noqa: BLE001 - the database may be what failed; the lease then runs out
        logger.exception("%s: could not record the failure; the lock frees itself when the lease ends", lease.name)


def periodic_task_run_here(name, *, at=None):
    """Run the Celery task `name` in this process, as the worker would run it: now, or as of `at` (a datetime).

    The apps' `tasks` modules are found by name (as the worker finds them), so ops imports no app.
    """
    from feedproject.celery import app

    autodiscover_modules("tasks")
    return app.tasks[name](**({} if at is None else {"at": at.isoformat()}))


def periodic_tasks_run_here(*, names, at=None, break_lock=False):
    """Run the named tasks once, in the given order, in this process; as of `at`, else each on the wall clock.

    What `run_periodic_tasks` and the replay endpoint run. A failing task is reported and the
    others still run. Returns one dict per task: name, outcome (success, skipped, failed),
    duration_ms, and the task's result (success) or its error (failed).
    """
    report = []
    for name in names:
        if break_lock:
            lock_break(name=name)
        started = time.monotonic()
        try:
            result = periodic_task_run_here(name, at=at)
        except Exception as exc:  # noqa: BLE001 - report it, run the others (periodic_task_run logged it)
            outcome = {"outcome": TaskRunRecord.Outcome.FAILED.value, "error": f"{type(exc).__name__}: {exc}"}
        else:
            skipped = result == SKIPPED
            outcome = {"outcome": (TaskRunRecord.Outcome.SKIPPED if skipped else TaskRunRecord.Outcome.SUCCESS).value,
                       "result": {} if skipped else result}
        report.append({"name": name, "duration_ms": int((time.monotonic() - started) * 1000), **outcome})
    return report


def lock_break(*, name):
    """Free a task whose run died holding it (ops, after checking that no run is alive)."""
    return TaskRun.objects.filter(name=name).update(locked_until=None, locked_by="")


@transaction.atomic
def periodic_tasks_register():
    """Create or update the beat entry of every periodic task; returns (created, updated) names.

    Idempotent. Keeps `enabled` as ops left it, so a task paused in admin stays paused
    when this runs again on the next deploy.
    """
    created, updated = [], []
    for spec in PERIODIC_TASKS.values():
        fields = {"minute": "*", "hour": "*", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*"}
        fields.update(spec.crontab)
        crontab = CrontabSchedule.objects.filter(timezone="UTC", **fields).order_by("pk").first()
        if crontab is None:
            crontab = CrontabSchedule.objects.create(timezone="UTC", **fields)
        defaults = {
            "task": spec.name,
            "crontab": crontab,
            "interval": None,
            "solar": None,
            "clocked": None,
            "expire_seconds": spec.expire_seconds,
            "description": spec.description,
            "one_off": False,
        }
        task, was_created = PeriodicTask.objects.get_or_create(name=spec.name, defaults=defaults)
        if was_created:
            created.append(spec.name)
            continue
        changed = [k for k, v in defaults.items() if getattr(task, k) != v]
        if changed:
            for key in changed:
                setattr(task, key, defaults[key])
            task.save()
            updated.append(spec.name)
    return created, updated
