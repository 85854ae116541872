"""A worker process killed (SIGKILL) in the middle of a periodic task: nothing half-written stays,
the task is not run again until the dead run's lease ends, and the rerun equals a clean run."""
import multiprocessing
import os
import signal
from datetime import datetime
from datetime import timezone as dt_timezone

import pytest

from ops.periodic import PERIODIC_TASKS
from ops.services import SKIPPED
from ops.tests import contenders

NOW = datetime(2026, 11, 26, 12, 7, tzinfo=dt_timezone.utc)
LEASE = PERIODIC_TASKS["markets.velocity_refresh"].lease


def in_process(target, *args, timeout=120):
    context = multiprocessing.get_context("spawn")
    process = context.Process(target=target, args=args)
    process.start()
    process.join(timeout)
    assert process.exitcode == 0, f"{target.__name__} failed"


@pytest.mark.django_db(transaction=True)
def test_a_run_killed_mid_transaction_leaves_nothing_and_the_rerun_after_the_lease_is_a_clean_run(shared_database):
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    in_process(contenders.seed, shared_database, NOW)

    written = context.Queue()
    victim = context.Process(target=contenders.velocity_killed_mid_write, args=(shared_database, NOW, written))
    victim.start()
    assert written.get(timeout=120)
    os.kill(victim.pid, signal.SIGKILL)
    victim.join(30)
    assert victim.exitcode == -signal.SIGKILL

    in_process(contenders.velocity_run, shared_database, None, results)
    after_kill = results.get(timeout=5)
    assert after_kill["rows"] == []  # the uncommitted rows died with the process
    assert after_kill["locked_until"] == NOW + LEASE  # the dead run still holds the task

    in_process(contenders.velocity_run, shared_database, NOW.replace(minute=8), results)
    assert results.get(timeout=5)["result"] == SKIPPED

    later = NOW + LEASE
    in_process(contenders.velocity_run, shared_database, later, results)
    rerun = results.get(timeout=5)
    assert rerun["result"]["rows"] > 8 and rerun["locked_until"] is None
    in_process(contenders.velocity_run, shared_database, later, results, True)
    assert results.get(timeout=5)["rows"] == rerun["rows"]
