"""Beat entry points for the event log and its activity: each runs its service under the task's lock."""
from celery import shared_task

from ops.periodic import celery_task_options, task_now
from ops.services import periodic_task_run
from tracking.services import raw_events_retention_apply
from tracking.velocity import market_velocity_refresh, trending_forecast_refit


@shared_task(**celery_task_options("markets.velocity_refresh"))
def velocity_refresh(at=None):
    return periodic_task_run(name="markets.velocity_refresh", run=market_velocity_refresh, now=task_now(at))


@shared_task(**celery_task_options("tracking.impressions_retention"))
def impressions_retention(at=None):
    return periodic_task_run(
        name="tracking.impressions_retention", run=raw_events_retention_apply, now=task_now(at)
    )


@shared_task(**celery_task_options("markets.trending_forecast_fit"))
def trending_forecast_fit(at=None):
    return periodic_task_run(name="markets.trending_forecast_fit", run=trending_forecast_refit, now=task_now(at))
