"""The periodic tasks: one table of names, schedules, leases and freshness limits, as data.

`setup_periodic_tasks` writes it to django-celery-beat, `/healthz` judges freshness by
it, and each app's `tasks.py` runs its own services under these names through
`ops.services.periodic_task_run`. This module names the tasks and imports none of them.
A name is the task's public identifier (beat entries, TaskRun rows, /healthz, the
runbook): its prefix says what it refreshes, not which module runs it. All crontabs are
in UTC, so daylight-saving changes anywhere cannot move them.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone


@dataclass(frozen=True)
class PeriodicTaskSpec:
    name: str  # the Celery task name, also the django-celery-beat PeriodicTask name
    crontab: dict  # minute / hour fields; the rest are "*"
    interval: timedelta  # how often the crontab fires; `expires` is set to it
    lease: timedelta  # longest a run may hold the lock without renewing it
    stale_after: timedelta  # /healthz fails when the last success is older than this
    description: str

    @property
    def expire_seconds(self):
        return int(self.interval.total_seconds())

    @property
    def short_name(self):
        return self.name.split(".", 1)[1]


MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)

# In the order `run_periodic_tasks` runs them: state first, then what is computed from it.
PERIODIC_TASKS = {
    spec.name: spec
    for spec in (
        PeriodicTaskSpec(
            "markets.snapshots_refresh", {"minute": "*/5"}, 5 * MINUTE, 10 * MINUTE, 35 * MINUTE,
            "Snapshot every open market once per 15-minute slot (tried every 5 min, so one missed run "
            "does not lose a slot).",
        ),
        PeriodicTaskSpec(
            "markets.velocity_refresh", {"minute": "*"}, MINUTE, 5 * MINUTE, 5 * MINUTE,
            "Views / trades / unique users over 5 min, 1 h, 24 h per market and scope, CTR, odds changes, "
            "the trading backend's volume and trades (from the snapshots), participant delta and rising score.",
        ),
        PeriodicTaskSpec(
            "markets.trending_forecast_fit", {"minute": "50", "hour": "0"}, DAY, 10 * MINUTE, 2 * DAY + HOUR,
            "Fit trending's next-day volume forecast on the last week of the backend's state history (the "
            "busiest markets of each day); trending uses it when it forecasts the newest day better than the "
            "reasoned weights.",
        ),
        PeriodicTaskSpec(
            "markets.trending_refresh", {"minute": "*/5"}, 5 * MINUTE, 10 * MINUTE, 20 * MINUTE,
            "Trending score (0-1, by rank within each scope) from the app's engagements and, globally, the "
            "backend's volume forecast; local scopes need the minimum number of engaged users.",
        ),
        PeriodicTaskSpec(
            "personalization.session_expiry", {"minute": "*/5"}, 5 * MINUTE, 5 * MINUTE, 20 * MINUTE,
            "Clear the session-horizon affinities of users whose last event is more than 30 min old.",
        ),
        PeriodicTaskSpec(
            "personalization.affinity_decay", {"minute": "7"}, HOUR, 10 * MINUTE, 3 * HOUR,
            "Store every affinity at its decayed value now and delete those below 0.01.",
        ),
        PeriodicTaskSpec(
            "personalization.coengagement_refresh", {"minute": "1-59/5"}, 5 * MINUTE, 10 * MINUTE, 30 * MINUTE,
            "What the users of each market with 50 engagers or more also engaged with (30 days, decayed), for "
            "the related-markets surface, which would otherwise sum thousands of engagements per request.",
        ),
        PeriodicTaskSpec(
            "personalization.ranking_model_train", {"minute": "15", "hour": "2"}, DAY, 30 * MINUTE, 2 * DAY + HOUR,
            "Fit a new version of the learned ranker on the last 14 days of the served log (rendered items and "
            "what users did with them); activate it when its held-out click AUC is at least the formula's.",
        ),
        PeriodicTaskSpec(
            "personalization.experiment_metrics", {"minute": "*/15"}, 15 * MINUTE, 10 * MINUTE, HOUR,
            "Per-arm metrics of the running experiments (and those ended in the last week) from the served "
            "log: CTR and actions per user with 95% intervals, the sample-ratio check, interleaving preference.",
        ),
        PeriodicTaskSpec(
            "personalization.dashboard_refresh", {"minute": "2-59/15"}, 15 * MINUTE, 10 * MINUTE, HOUR,
            "The admin's live dashboard from the served log of the last 14 days: CTR and engagement per pool, "
            "surface and ranker, coverage, repeat feeds, hides, top markets, running experiments, with charts.",
        ),
        PeriodicTaskSpec(
            "tracking.impressions_retention", {"minute": "30", "hour": "3"}, DAY, 10 * MINUTE, 2 * DAY + HOUR,
            "Delete raw impressions (and per-bucket user sets) older than 30 days; their counts stay in "
            "UserMarketState and MarketActivity.",
        ),
    )
}


def periodic_task_spec(name):
    """The spec for a full name ("markets.velocity_refresh") or a short one ("velocity_refresh")."""
    if name in PERIODIC_TASKS:
        return PERIODIC_TASKS[name]
    matches = [spec for spec in PERIODIC_TASKS.values() if spec.short_name == name]
    if len(matches) != 1:
        raise KeyError(name)
    return matches[0]


def celery_task_options(name):
    """Options of the Celery task `name`: ignore results, expire within the interval, retry only
    database errors that can pass (a dropped connection, a deadlock victim, a locked SQLite file)."""
    from django.db import InterfaceError, OperationalError

    spec = PERIODIC_TASKS[name]
    return {
        "name": name,
        "ignore_result": True,
        "expires": spec.expire_seconds,
        "autoretry_for": (OperationalError, InterfaceError),
        "retry_backoff": 5,
        "retry_backoff_max": 60,
        "retry_jitter": True,
        "max_retries": 3,
    }


def task_now(at=None):
    """A periodic task's `now`: `at` (ISO 8601 with a zone: `run_periodic_tasks --at`, the replay endpoint),
    else the wall clock, read here at the edge as the worker runs it."""
    return timezone.now() if at is None else datetime.fromisoformat(at)
