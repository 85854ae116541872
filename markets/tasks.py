"""Beat entry points for the catalog: thin wrappers that run a periodic task under its lock."""
from celery import shared_task
from django.utils import timezone

from ops.periodic import celery_task_options
from ops.services import periodic_task_run


@shared_task(**celery_task_options("markets.snapshots_refresh"))
def snapshots_refresh():
    return periodic_task_run(name="markets.snapshots_refresh", now=timezone.now())


@shared_task(**celery_task_options("markets.velocity_refresh"))
def velocity_refresh():
    return periodic_task_run(name="markets.velocity_refresh", now=timezone.now())


@shared_task(**celery_task_options("markets.trending_refresh"))
def trending_refresh():
    return periodic_task_run(name="markets.trending_refresh", now=timezone.now())
