"""periodic_task_run and the Celery tasks: locked, recorded, idempotent, safe to kill and rerun."""
import random
import threading
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import connection

from markets.models import MarketSnapshot, MarketVelocity, TrendingForecast
from markets.tasks import snapshots_refresh
from markets.tests.factories import MarketFactory, MarketSnapshotFactory
from ops.models import TaskRun
from ops.periodic import PERIODIC_TASKS
from ops.services import SKIPPED, periodic_task_run
from personalization.models import TopicAffinity
from personalization.tasks import (
    affinity_decay,
    coengagement_refresh,
    dashboard_refresh,
    experiment_metrics,
    ranking_model_nightly,
    session_expiry,
    trending_refresh,
)
from tracking.models import Impression, MarketActivityUser
from tracking.tasks import impressions_retention, trending_forecast_fit, velocity_refresh
from tracking.tests.pipeline_data import event, impression, ingest, ingest_impressions
from tracking.velocity import market_velocity_refresh

NOW = datetime(2026, 11, 26, 12, 7, 30, tzinfo=dt_timezone.utc)


@pytest.fixture
def frozen(monkeypatch):
    """timezone.now() is NOW everywhere, as if every call happened at the same instant."""
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    return NOW


@pytest.fixture
def traffic(db):
    rng = random.Random(3)
    markets = MarketFactory.create_batch(6)
    for m in markets:
        MarketSnapshotFactory(market=m, taken_at=NOW - timedelta(hours=25), probability=rng.random())
    old = NOW - timedelta(days=40)
    ingest_impressions([impression(rng.choice(markets), f"u:{k}", old) for k in range(20)], received_at=old)
    for hours_ago in (48, 3, 0.2):
        at = NOW - timedelta(hours=hours_ago)
        ingest([event(rng.choice(markets), f"u:{rng.randrange(12)}", rng.choice(["click", "participate"]),
                      at - timedelta(minutes=rng.randrange(30)), country=rng.choice(["IL", "US"]))
                for _ in range(150)], received_at=at)
    return markets


def state():
    """Everything the periodic tasks write, without row ids."""
    return {
        "velocity": sorted(MarketVelocity.objects.values_list(
            "market_id", "scope", "views_24h", "trades_1h", "unique_users_24h", "odds_change_24h", "rising_score",
            "trending_score", "computed_at")),
        "snapshots": sorted(MarketSnapshot.objects.values_list("market_id", "taken_at", "probability")),
        "affinities": sorted(TopicAffinity.objects.values_list(
            "user_key", "horizon", "topic_type", "topic_value", "score", "updated_at")),
        "forecasts": sorted(TrendingForecast.objects.values_list("fitted_at", "used", "days", "rows")),
        "impressions": Impression.objects.count(),
        "user_sets": MarketActivityUser.objects.count(),
    }


ALL_TASKS = (snapshots_refresh, velocity_refresh, trending_forecast_fit, trending_refresh, session_expiry,
             affinity_decay, coengagement_refresh, ranking_model_nightly, experiment_metrics, dashboard_refresh,
             impressions_retention)


@pytest.mark.django_db
def test_every_task_run_twice_leaves_the_state_of_one_run(traffic, frozen):
    for task in ALL_TASKS:
        task()
    once = state()
    for task in ALL_TASKS:
        task()
    assert state() == once
    assert once["velocity"] and once["affinities"] and len(once["snapshots"]) == 12
    assert once["impressions"] == 0  # all were 40 days old
    assert len(once["forecasts"]) == 1
    assert TaskRun.objects.filter(last_success_at=NOW).count() == len(ALL_TASKS)


@pytest.mark.django_db
def test_the_celery_tasks_have_stable_names_and_the_beat_options():
    names = {task.name for task in ALL_TASKS}
    assert names == set(PERIODIC_TASKS)
    for task in ALL_TASKS:
        spec = PERIODIC_TASKS[task.name]
        assert task.ignore_result is True
        assert 0 < task.expires <= spec.interval.total_seconds()
        assert {exc.__name__ for exc in task.autoretry_for} == {"OperationalError", "InterfaceError"}


@pytest.mark.django_db
def test_a_successful_run_records_its_time_result_and_frees_the_lock(traffic):
    result = periodic_task_run(name="markets.velocity_refresh", run=market_velocity_refresh, now=NOW)
    run = TaskRun.objects.get(name="markets.velocity_refresh")
    assert run.last_success_at == NOW and run.locked_until is None
    assert run.last_result == result and result["rows"] > 0
    assert run.last_duration_ms is not None and run.runs_total == 1


@pytest.mark.django_db
def test_a_failing_run_records_the_error_frees_the_lock_and_raises(traffic):
    def broken(*, now):
        raise ValueError("bad data")

    with pytest.raises(ValueError):
        periodic_task_run(name="markets.velocity_refresh", run=broken, now=NOW)
    run = TaskRun.objects.get(name="markets.velocity_refresh")
    assert run.locked_until is None and run.last_success_at is None
    assert run.failures_total == 1 and "bad data" in run.last_error


@pytest.mark.django_db
def test_a_run_killed_midway_blocks_the_task_until_its_lease_ends_then_a_rerun_is_a_clean_run(traffic, monkeypatch):
    import tracking.velocity as velocity

    real_upsert = velocity._velocity_write

    def killed(*args, **kwargs):
        real_upsert(*args, **kwargs)
        raise SystemExit("SIGKILL")  # not an Exception: nothing is recorded, the lock stays held

    monkeypatch.setattr(velocity, "_velocity_write", killed)
    with pytest.raises(SystemExit):
        periodic_task_run(name="markets.velocity_refresh", run=market_velocity_refresh, now=NOW)
    assert not MarketVelocity.objects.exists()  # the transaction died with the process
    monkeypatch.setattr(velocity, "_velocity_write", real_upsert)

    lease = PERIODIC_TASKS["markets.velocity_refresh"].lease
    assert periodic_task_run(
        name="markets.velocity_refresh", run=market_velocity_refresh, now=NOW + timedelta(minutes=1)
    ) == SKIPPED
    periodic_task_run(name="markets.velocity_refresh", run=market_velocity_refresh, now=NOW + lease)
    rerun = state()["velocity"]
    MarketVelocity.objects.all().delete()
    periodic_task_run(name="markets.velocity_refresh", run=market_velocity_refresh, now=NOW + lease)
    assert state()["velocity"] == rerun


@pytest.mark.django_db(transaction=True)
def test_a_second_call_while_the_first_runs_is_skipped_not_run_alongside():
    started, release = threading.Event(), threading.Event()
    running, overlaps = [], []

    def slow(*, now):
        if running:
            overlaps.append(now)
        running.append(now)
        started.set()
        release.wait(timeout=30)
        running.pop()
        return {"done": 1}

    outcome = {}

    def first():
        try:
            outcome["first"] = periodic_task_run(name="markets.trending_refresh", run=slow, now=NOW)
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    assert started.wait(timeout=30)
    try:
        outcome["second"] = periodic_task_run(name="markets.trending_refresh", run=slow, now=NOW + timedelta(seconds=1))
    finally:
        release.set()
        thread.join(timeout=30)
    assert outcome["second"] == SKIPPED
    assert outcome["first"]["done"] == 1
    assert overlaps == []
    run = TaskRun.objects.get(name="markets.trending_refresh")
    assert (run.runs_total, run.skipped_total, run.locked_until) == (1, 1, None)
