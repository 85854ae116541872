"""Database task locks: one holder at a time, across threads and connections; leases end."""
import multiprocessing
import os
import threading
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import connection

from ops.locks import LeaseLost, lock_acquire, lock_release
from ops.models import TaskRun
from ops.tests.contenders import contend

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=dt_timezone.utc)
LEASE = timedelta(minutes=5)


@pytest.mark.django_db
def test_a_held_task_cannot_be_taken_until_released():
    first = lock_acquire(name="t", now=NOW, duration=LEASE)
    assert first is not None
    assert lock_acquire(name="t", now=NOW + timedelta(minutes=4), duration=LEASE) is None
    assert lock_release(first) == 1
    assert lock_acquire(name="t", now=NOW + timedelta(minutes=4), duration=LEASE) is not None
    run = TaskRun.objects.get(name="t")
    assert (run.runs_total, run.skipped_total) == (2, 1)


@pytest.mark.django_db
def test_the_lease_of_a_run_that_died_ends_and_the_task_can_be_taken_again():
    dead = lock_acquire(name="t", now=NOW, duration=LEASE)
    assert lock_acquire(name="t", now=NOW + LEASE - timedelta(seconds=1), duration=LEASE) is None
    taker = lock_acquire(name="t", now=NOW + LEASE, duration=LEASE)
    assert taker is not None
    assert lock_release(dead) == 0  # the dead run's late release cannot free the new holder
    assert TaskRun.objects.get(name="t").locked_by == taker.token


@pytest.mark.django_db
def test_a_run_that_lost_its_lease_learns_it_when_renewing():
    first = lock_acquire(name="t", now=NOW, duration=LEASE)
    first.renew()
    lock_acquire(name="t", now=NOW + timedelta(days=1), duration=LEASE)
    with pytest.raises(LeaseLost):
        first.renew()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("sqlite") or not os.environ.get("DATABASE_URL"),
    reason="the in-memory SQLite test database fails concurrent writers instead of queueing them; "
    "the multi-process test below covers SQLite on a file, as deployed",
)
def test_concurrent_callers_on_their_own_connections_get_the_lock_once():
    TaskRun.objects.create(name="t")
    callers = 8
    barrier = threading.Barrier(callers)
    results, errors = [], []

    def take():
        try:
            barrier.wait()
            results.append(lock_acquire(name="t", now=NOW, duration=LEASE))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=take) for _ in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(r is not None for r in results) == 1
    assert TaskRun.objects.get(name="t").skipped_total == callers - 1



@pytest.mark.django_db(transaction=True)
def test_processes_racing_for_a_task_get_it_once(shared_database):
    context = multiprocessing.get_context("spawn")
    processes = 4
    barrier, results = context.Barrier(processes), context.Queue()
    workers = [
        context.Process(target=contend, args=(shared_database, barrier, results, "race", NOW, 300))
        for _ in range(processes)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert [w.exitcode for w in workers] == [0] * processes
    outcomes = [results.get(timeout=5) for _ in range(processes)]
    assert sorted(outcomes) == [False] * (processes - 1) + [True]

