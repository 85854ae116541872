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
