import os
from datetime import UTC, datetime, timedelta

import pytest

# `FEED_CLOCK_SHIFT_DAYS=365 make test` runs the whole suite with the wall clock moved that far
# ahead (CI does), so code that reads the wall clock where it was given a time, or a test that
# fixes a date and compares it with today, fails on the day it is written, not a year later.
CLOCK_SHIFT_DAYS = int(os.environ.get("FEED_CLOCK_SHIFT_DAYS") or 0)


def pytest_configure(config):
    if CLOCK_SHIFT_DAYS:
        import time_machine

        config._clock_shift = time_machine.travel(datetime.now(UTC) + timedelta(days=CLOCK_SHIFT_DAYS), tick=True)
        config._clock_shift.start()


def pytest_unconfigure(config):
    shift = getattr(config, "_clock_shift", None)
    if shift is not None:
        shift.stop()


def pytest_report_header(config):
    if CLOCK_SHIFT_DAYS:
        return f"wall clock moved {CLOCK_SHIFT_DAYS} days ahead: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    return None


def pytest_collection_modifyitems(config, items):
    """Another process (Chromium, a Procfile server) keeps the real clock: with a moved clock,
    tests that compare times across processes cannot hold, so they skip in that pass only."""
    if not CLOCK_SHIFT_DAYS:
        return
    skip = pytest.mark.skip(reason="another process keeps the real clock; runs in the passes without a shift")
    for item in items:
        if item.get_closest_marker("other_process_clock") or item.get_closest_marker("browser"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with an empty cache and no in-memory catalog, whatever backend the env selects."""
    from django.core.cache import cache

    from feedproject.cache import outage_log
    from personalization.selectors import caches_reset

    try:
        cache.clear()
    except Exception:  # a test that simulates a broken cache must still start
        pass
    caches_reset()
    outage_log.reset()  # an outage logged by an earlier test would hide this test's first failure
    yield
