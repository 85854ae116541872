"""Beat entry points for the catalog: each runs its service under the task's lock (ops.services)."""
from celery import shared_task

from markets.services import market_snapshots_refresh
from ops.periodic import celery_task_options, task_now
from ops.services import periodic_task_run


def _snapshots(*, now):
    return {"snapshots": market_snapshots_refresh(now=now)}


@shared_task(**celery_task_options("markets.snapshots_refresh"))
def snapshots_refresh(at=None):
    return periodic_task_run(name="markets.snapshots_refresh", run=_snapshots, now=task_now(at))
