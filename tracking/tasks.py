"""Beat entry points for the raw event log: thin wrappers that run a periodic task under its lock."""
from celery import shared_task
from django.utils import timezone

from ops.periodic import celery_task_options
from ops.services import periodic_task_run


@shared_task(**celery_task_options("tracking.impressions_retention"))
def impressions_retention():
    return periodic_task_run(name="tracking.impressions_retention", now=timezone.now())
