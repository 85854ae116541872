"""Non-blocking task locks kept in the database, and a mutex for writers of one table.

Why not `cache.add`: on the embedded defaults the cache is local memory, one per
process, so the worker's lock is invisible to a second worker or to
`run_periodic_tasks`; and with Redis down every `add` fails. The database is shared
by every process and is the one thing a task cannot run without anyway.

A lock is a lease on the task's TaskRun row, taken by one conditional UPDATE
(`... WHERE locked_until IS NULL OR locked_until <= now`): the database applies it
to one caller at a time on SQLite and PostgreSQL alike, without holding a
transaction open while the task runs. A run that dies without releasing (killed,
machine lost) blocks the task until its lease ends; chunked tasks renew the lease
as they go, so the lease can stay short.
"""
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import F, Q

from feedproject.db import transaction_lock
from ops.models import TaskRun


class LeaseLost(RuntimeError):
    """The run outlived its lease and another run took the task: stop writing."""


@dataclass(frozen=True)
class RunClock:
    """The time of a run: the `now` it was given, moved on by the time it has been running.

    A run on a replayed or simulated clock keeps to that clock (the wall clock is never
    read), and a long run still moves forward, so renewing a lease extends it.
    """

    started_at: datetime
    _monotonic_start: float = field(default_factory=time.monotonic, compare=False)

    def now(self):
        return self.started_at + timedelta(seconds=time.monotonic() - self._monotonic_start)

    def elapsed_ms(self):
        return int((time.monotonic() - self._monotonic_start) * 1000)


@dataclass
class Lease:
    name: str
    token: str
    duration: timedelta
    clock: RunClock

    def renew(self):
        """Push the lease end forward on the run's clock; raises LeaseLost if another run holds the task now."""
        renewed = TaskRun.objects.filter(name=self.name, locked_by=self.token).update(
            locked_until=self.clock.now() + self.duration
        )
        if not renewed:
            raise LeaseLost(f"{self.name}: the lease of run {self.token} has been taken over")


def lock_acquire(*, name, now, duration):
    """A Lease if the task was free (or its lease had ended), else None. Never waits."""
    TaskRun.objects.bulk_create([TaskRun(name=name)], ignore_conflicts=True)
    token = uuid.uuid4().hex
    taken = TaskRun.objects.filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now), name=name).update(
        locked_until=now + duration, locked_by=token, last_started_at=now, runs_total=F("runs_total") + 1
    )
    if not taken:
        TaskRun.objects.filter(name=name).update(skipped_total=F("skipped_total") + 1)
        return None
    return Lease(name=name, token=token, duration=duration, clock=RunClock(now))


def lock_release(lease, **fields):
    """Free the task (only if this run still holds it) and record `fields` of the outcome."""
    return TaskRun.objects.filter(name=lease.name, locked_by=lease.token).update(
        locked_until=None, locked_by="", **fields
    )


def table_writers_serialize(key):
    """Inside a transaction: wait until no other transaction that called this with `key` is open.

    A transaction-scoped advisory lock on PostgreSQL; nothing on SQLite, whose writing
    transactions already run one at a time (feedproject.db.transaction_lock).
    """
    transaction_lock(key)
