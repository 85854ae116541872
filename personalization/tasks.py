"""Beat entry points for user state and trending: each runs its service under the task's lock.

Trending runs here rather than beside the activity buckets it reads because its local
minimum of users comes from the active feed configs, which live in this app.
"""
from celery import shared_task

from ops.periodic import celery_task_options, task_now
from ops.services import periodic_task_run
from personalization.dashboard import dashboard_refresh as dashboard_compute_store
from personalization.decay import affinities_decay_materialize, sessions_expire
from personalization.experiments import experiment_metrics_refresh
from personalization.services import coengagement_refresh as coengagement_compute_store
from personalization.services import market_trending_refresh_configured
from personalization.training import ranking_model_train


@shared_task(**celery_task_options("markets.trending_refresh"))
def trending_refresh(at=None):
    return periodic_task_run(
        name="markets.trending_refresh", run=market_trending_refresh_configured, now=task_now(at)
    )


@shared_task(**celery_task_options("personalization.session_expiry"))
def session_expiry(at=None):
    return periodic_task_run(name="personalization.session_expiry", run=sessions_expire, now=task_now(at))


@shared_task(**celery_task_options("personalization.affinity_decay"))
def affinity_decay(at=None):
    return periodic_task_run(
        name="personalization.affinity_decay", run=affinities_decay_materialize, now=task_now(at)
    )


@shared_task(**celery_task_options("personalization.experiment_metrics"))
def experiment_metrics(at=None):
    return periodic_task_run(
        name="personalization.experiment_metrics", run=experiment_metrics_refresh, now=task_now(at)
    )


@shared_task(**celery_task_options("personalization.dashboard_refresh"))
def dashboard_refresh(at=None):
    return periodic_task_run(
        name="personalization.dashboard_refresh", run=dashboard_compute_store, now=task_now(at)
    )


@shared_task(**celery_task_options("personalization.coengagement_refresh"))
def coengagement_refresh(at=None):
    return periodic_task_run(
        name="personalization.coengagement_refresh", run=coengagement_compute_store, now=task_now(at)
    )


def _nightly_train(*, now):
    return ranking_model_train(now=now, trigger="nightly")


@shared_task(**celery_task_options("personalization.ranking_model_train"))
def ranking_model_nightly(at=None):
    return periodic_task_run(name="personalization.ranking_model_train", run=_nightly_train, now=task_now(at))


@shared_task(name="personalization.ranking_model_train_now", ignore_result=True)
def ranking_model_train_now(user_id=None):
    """Train on demand (the admin's button), under the nightly run's lock: never two fits at once."""
    return periodic_task_run(
        name="personalization.ranking_model_train",
        run=lambda now: ranking_model_train(now=now, trigger="admin", created_by_id=user_id),
        now=task_now(None),
    )
