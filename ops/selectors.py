"""Health of the system for /healthz: database, cache, broker, and freshness of each periodic task."""
import logging
import time

from django.db import connection

from feedproject.cache import cache_get, cache_set
from ops.models import TaskRun
from ops.periodic import PERIODIC_TASKS

logger = logging.getLogger(__name__)
HEALTH_KEY = "ops:healthz"


def _timed(check):
    started = time.monotonic()
    ok, detail = check()
    return {"ok": ok, "ms": round((time.monotonic() - started) * 1000, 1), **({"error": detail} if detail else {})}


def _database():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True, None
    except Exception as exc:  # noqa: BLE001 - reported, never raised
        logger.warning("healthz: database check failed", exc_info=True)
        return False, type(exc).__name__


def _cache():
    stamp = time.time_ns()
    if not cache_set(HEALTH_KEY, stamp, 60):
        return False, "cache unreachable"
    value, ok = cache_get(HEALTH_KEY)
    return (True, None) if ok and value == stamp else (False, "cache unreachable")


def _broker():
    from feedproject.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=1)
        return True, None
    except Exception as exc:  # noqa: BLE001
        logger.warning("healthz: broker check failed", exc_info=True)
        return False, type(exc).__name__


def _tasks(now):
    from django_celery_beat.models import PeriodicTask

    runs = {run.name: run for run in TaskRun.objects.filter(name__in=list(PERIODIC_TASKS))}
    enabled = dict(PeriodicTask.objects.filter(name__in=list(PERIODIC_TASKS)).values_list("name", "enabled"))
    report = {}
    for name, spec in PERIODIC_TASKS.items():
        run = runs.get(name)
        success = run.last_success_at if run else None
        age = (now - success).total_seconds() if success else None
        paused = enabled.get(name) is False
        entry = {
            "last_success_at": success.isoformat() if success else None,
            "age_seconds": round(age, 1) if age is not None else None,
            "stale_after_seconds": int(spec.stale_after.total_seconds()),
            "registered": name in enabled,
            "paused": paused,
            "running": bool(run and run.locked_until and run.locked_until > now),
            "last_error_at": run.last_error_at.isoformat() if run and run.last_error_at else None,
        }
        fresh = age is not None and age <= spec.stale_after.total_seconds()
        # A task ops paused in admin is reported but does not fail the check: they chose it.
        entry["ok"] = fresh or paused
        entry["state"] = "paused" if paused else "fresh" if fresh else "never_run" if success is None else "stale"
        report[name] = entry
    return report


def health_report(*, now):
    """(healthy, report). Healthy needs the database and every enabled task fresh; a cache or
    broker that is down makes the report "degraded" (the site still works without Redis)."""
    checks = {"database": _timed(_database), "cache": _timed(_cache), "broker": _timed(_broker)}
    tasks = {}
    if checks["database"]["ok"]:
        try:
            tasks = _tasks(now)
        except Exception:  # noqa: BLE001
            logger.warning("healthz: task check failed", exc_info=True)
            checks["database"] = {"ok": False, "error": "task table unreadable"}
    healthy = checks["database"]["ok"] and bool(tasks) and all(t["ok"] for t in tasks.values())
    degraded = not (checks["cache"]["ok"] and checks["broker"]["ok"])
    status = "unhealthy" if not healthy else "degraded" if degraded else "ok"
    return healthy, {"status": status, "checked_at": now.isoformat(), "checks": checks, "tasks": tasks}
