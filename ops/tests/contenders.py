"""Run in separate processes by test_locks.py: each is a beat or worker process of its own."""
import os


def contend(env, barrier, results, name, now, lease_seconds):
    """Set up Django on the shared database, wait for the others, try to take the task."""
    if "DATABASE_URL" not in env:
        os.environ.pop("DATABASE_URL", None)
    os.environ.update(env)
    import django

    django.setup()
    from datetime import timedelta

    from ops.locks import lock_acquire

    barrier.wait(timeout=60)
    results.put(lock_acquire(name=name, now=now, duration=timedelta(seconds=lease_seconds)) is not None)


def _setup(env):
    if "DATABASE_URL" not in env:
        os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    os.environ.update(env)
    import django

    django.setup()


def seed(env, now):
    """A catalog with a day of traffic, ingested as live traffic at `now`."""
    _setup(env)
    import random
    from datetime import timedelta

    from markets.tests.factories import MarketFactory, MarketSnapshotFactory
    from tracking.tests.pipeline_data import event, ingest

    rng = random.Random(5)
    markets = MarketFactory.create_batch(8)
    for m in markets:
        MarketSnapshotFactory(market=m, taken_at=now - timedelta(hours=25), probability=rng.random())
    ingest([event(rng.choice(markets), f"u:{rng.randrange(30)}", rng.choice(["click", "view_market", "participate"]),
                  now - timedelta(seconds=rng.randrange(86_000)), country=["IL", "US", ""][k % 3])
            for k in range(600)], received_at=now)


def velocity_killed_mid_write(env, now, written):
    """Run the velocity task and stop dead inside its transaction, after the rows are written."""
    _setup(env)
    import threading

    import tracking.velocity as velocity
    from ops.services import periodic_task_run
    from tracking.velocity import market_velocity_refresh

    real_upsert = velocity._velocity_write

    def write_then_hang(*args, **kwargs):
        real_upsert(*args, **kwargs)
        written.put("rows written, not committed")
        threading.Event().wait()  # until the parent kills this process

    velocity._velocity_write = write_then_hang
    periodic_task_run(name="markets.velocity_refresh", run=market_velocity_refresh, now=now)


def velocity_run(env, now, results, from_scratch=False):
    """Run the velocity task at `now`; report its result, the table and the lock."""
    _setup(env)
    from markets.models import MarketVelocity
    from ops.models import TaskRun
    from ops.services import periodic_task_run
    from tracking.velocity import market_velocity_refresh

    if from_scratch:
        MarketVelocity.objects.all().delete()
    result = periodic_task_run(name="markets.velocity_refresh", run=market_velocity_refresh, now=now) if now else None
    results.put({
        "result": result,
        "rows": sorted(MarketVelocity.objects.values_list(
            "market_id", "scope", "views_5m", "views_1h", "views_24h", "trades_24h", "unique_users_24h",
            "odds_change_24h", "rising_score", "ctr_24h", "computed_at")),
        "locked_until": TaskRun.objects.filter(name="markets.velocity_refresh").values_list(
            "locked_until", flat=True).first(),
    })
