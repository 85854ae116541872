"""Beat entry points for user state: thin wrappers that run a periodic task under its lock."""
from celery import shared_task
from django.utils import timezone

from ops.periodic import celery_task_options
from ops.services import periodic_task_run


@shared_task(**celery_task_options("personalization.session_expiry"))
def session_expiry():
    return periodic_task_run(name="personalization.session_expiry", now=timezone.now())


@shared_task(**celery_task_options("personalization.affinity_decay"))
def affinity_decay():
    return periodic_task_run(name="personalization.affinity_decay", now=timezone.now())
