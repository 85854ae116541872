"""Beat entry points for user state and trending: each runs its service under the task's lock.

Trending runs here rather than beside the activity buckets it reads because its local
minimum of users comes from the active feed configs, which live in this app.
"""
from celery import shared_task

from ops.periodic import celery_task_options, task_now
from ops.services import periodic_task_run
from personalization.decay import affinities_decay_materialize, sessions_expire
from personalization.services import market_trending_refresh_configured


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
